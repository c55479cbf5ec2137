//! The MP4 writer of the sample: libx264 video and two AAC tracks, interleaved as they are made.

use std::ffi::CString;
use std::path::Path;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use crate::error::MediaError;

use super::speech::{AUDIO_RATE, Language};

const CRF: &str = "26";
const PRESET: &str = "veryfast";
const AUDIO_BIT_RATE: usize = 96_000;

pub(crate) struct EpisodeWriter<'a> {
    path: &'a Path,
    output: ffmpeg::format::context::Output,
    video: ffmpeg::encoder::Video,
    video_stream: usize,
    video_time_base: ffmpeg::Rational,
    audio: Vec<AudioTrack>,
}

/// One language: its whole mono track and how far it has been encoded.
struct AudioTrack {
    encoder: ffmpeg::encoder::Audio,
    stream: usize,
    samples: Vec<f32>,
    encoded: usize,
    frame_size: usize,
    small_last_frame: bool,
}

impl<'a> EpisodeWriter<'a> {
    /// Opens `staged` (an .mp4 path) and sets up the encoders; `path` names the file in errors.
    pub(crate) fn create(
        path: &'a Path,
        staged: &Path,
        width: u32,
        height: u32,
        fps: u32,
        tracks: Vec<(&Language, Vec<f32>)>,
    ) -> Result<Self, MediaError> {
        let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
        let mut output = ffmpeg::format::output(staged).map_err(failed("creating the MP4"))?;
        // GOP of at most 2 s so seeking and segmenting stay cheap; x264 caps min-keyint at
        // keyint/2+1.
        let keyint = 2 * fps;
        let min_keyint = fps.min(keyint / 2 + 1);
        let x264_params = format!("keyint={keyint}:min-keyint={min_keyint}");
        let setup = X264Setup {
            width,
            height,
            frame_rate: ffmpeg::Rational::new(fps as i32, 1),
            preset: PRESET,
            crf: CRF,
            gop: Some((keyint, &x264_params)),
        };
        let (video, video_stream) = add_x264_stream(path, &mut output, &setup)?;
        let video_time_base = setup.time_base();

        let mut audio = Vec::new();
        for (ordinal, (language, samples)) in tracks.into_iter().enumerate() {
            let (encoder, stream) = add_aac_stream(path, &mut output, AUDIO_RATE, AUDIO_BIT_RATE)?;
            let mut metadata = ffmpeg::Dictionary::new();
            metadata.set("language", language.code);
            metadata.set("title", language.title);
            if let Some(mut stream) = output.stream_mut(stream) {
                stream.set_metadata(metadata);
                // Only the first language is the default track; players pick it first.
                let disposition = if ordinal == 0 { ffi::AV_DISPOSITION_DEFAULT } else { 0 };
                // SAFETY: disposition may be set by the caller before the header is written.
                unsafe { (*stream.as_mut_ptr()).disposition = disposition };
            }
            let frame_size = (encoder.frame_size() as usize).max(1);
            let small_last_frame = encoder.codec().is_some_and(|c| {
                c.capabilities().contains(ffmpeg::codec::capabilities::Capabilities::SMALL_LAST_FRAME)
            });
            audio.push(AudioTrack { encoder, stream, samples, encoded: 0, frame_size, small_last_frame });
        }

        let mut options = ffmpeg::Dictionary::new();
        // Index first, so the file plays (and probes) while it is still being copied.
        options.set("movflags", "+faststart");
        output.write_header_with(options).map_err(failed("writing the MP4 header"))?;
        Ok(Self { path, output, video, video_stream, video_time_base, audio })
    }

    /// Encodes picture number `index`, then the audio up to the end of that picture.
    pub(crate) fn write_picture(
        &mut self,
        mut frame: ffmpeg::frame::Video,
        index: u64,
        fps: u32,
    ) -> Result<(), MediaError> {
        frame.set_pts(Some(index as i64));
        frame.set_kind(ffmpeg::picture::Type::None);
        self.video.send_frame(&frame).map_err(|e| MediaError::ffmpeg(self.path, "encoding video", e))?;
        self.drain_video()?;
        let audio_end = ((index + 1) * u64::from(AUDIO_RATE) / u64::from(fps)) as usize;
        for track in 0..self.audio.len() {
            self.encode_audio_until(track, audio_end, false)?;
        }
        Ok(())
    }

    /// Encodes what is left, flushes every encoder and finishes the file.
    pub(crate) fn finish(mut self) -> Result<(), MediaError> {
        let path = self.path;
        let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
        self.video.send_eof().map_err(failed("flushing the video encoder"))?;
        self.drain_video()?;
        for track in 0..self.audio.len() {
            let end = self.audio[track].samples.len();
            self.encode_audio_until(track, end, true)?;
            self.audio[track].encoder.send_eof().map_err(failed("flushing the audio encoder"))?;
            self.drain_audio(track)?;
        }
        self.output.write_trailer().map_err(failed("finishing the MP4"))
    }

    fn drain_video(&mut self) -> Result<(), MediaError> {
        let (stream, time_base) = (self.video_stream, self.video_time_base);
        write_packets(self.path, &mut self.video, &mut self.output, stream, time_base, "writing video")
    }

    /// Encodes whole encoder frames of `track` up to sample `end` (and a last short one when
    /// `last` is set).
    fn encode_audio_until(&mut self, track: usize, end: usize, last: bool) -> Result<(), MediaError> {
        loop {
            let state = &self.audio[track];
            let start = state.encoded;
            let available = end.min(state.samples.len()).saturating_sub(start);
            let count = if available >= state.frame_size {
                state.frame_size
            } else if last && available > 0 {
                available
            } else {
                return Ok(());
            };
            // Without small-last-frame support the final frame is padded with silence.
            let frame_len = if state.small_last_frame { count } else { state.frame_size };
            let mut frame =
                stereo_frame(&state.samples[start..start + count], frame_len).ok_or_else(|| {
                    MediaError::Failed {
                        path: self.path.to_path_buf(),
                        doing: "allocating an audio frame".into(),
                        reason: "out of memory".into(),
                    }
                })?;
            frame.set_pts(Some(start as i64));
            let state = &mut self.audio[track];
            state.encoded += count;
            state
                .encoder
                .send_frame(&frame)
                .map_err(|e| MediaError::ffmpeg(self.path, "encoding audio", e))?;
            self.drain_audio(track)?;
        }
    }

    fn drain_audio(&mut self, track: usize) -> Result<(), MediaError> {
        let state = &mut self.audio[track];
        let time_base = ffmpeg::Rational::new(1, AUDIO_RATE as i32);
        write_packets(
            self.path,
            &mut state.encoder,
            &mut self.output,
            state.stream,
            time_base,
            "writing audio",
        )
    }
}

/// A planar stereo float frame of `len` samples with `mono` in both channels (rest silent).
fn stereo_frame(mono: &[f32], len: usize) -> Option<ffmpeg::frame::Audio> {
    // SAFETY: the frame is allocated and described field by field as av_frame_get_buffer
    // requires (format, sample count, channel layout) before its buffers are requested.
    unsafe {
        let mut frame = ffmpeg::frame::Audio::empty();
        let raw = frame.as_mut_ptr();
        if raw.is_null() {
            return None;
        }
        (*raw).format = ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP as i32;
        (*raw).nb_samples = len as i32;
        (*raw).sample_rate = AUDIO_RATE as i32;
        ffi::av_channel_layout_default(&mut (*raw).ch_layout, 2);
        if ffi::av_frame_get_buffer(raw, 0) < 0 {
            return None;
        }
        for channel in 0..2 {
            let plane = frame.plane_mut::<f32>(channel);
            plane[..mono.len()].copy_from_slice(mono);
            plane[mono.len()..].fill(0.0);
        }
        Some(frame)
    }
}

/// What a libx264 encode needs; the sample and the trailer differ only in these.
pub(crate) struct X264Setup<'a> {
    pub width: u32,
    pub height: u32,
    pub frame_rate: ffmpeg::Rational,
    pub preset: &'a str,
    pub crf: &'a str,
    /// GOP length and the `x264-params` that go with it; `None` leaves x264's defaults.
    pub gop: Option<(u32, &'a str)>,
}

impl X264Setup<'_> {
    /// One tick per frame: a picture's pts is its number.
    pub(crate) fn time_base(&self) -> ffmpeg::Rational {
        ffmpeg::Rational::new(self.frame_rate.denominator(), self.frame_rate.numerator())
    }
}

/// Whether `output`'s format keeps codec parameter sets in its header (MP4 does).
fn wants_global_header(output: &ffmpeg::format::context::Output) -> bool {
    output.format().flags().contains(ffmpeg::format::Flags::GLOBAL_HEADER)
}

/// Opens libx264 (YUV 4:2:0, square pixels) and adds its stream to `output`, before the
/// header is written; returns the encoder and the stream's index.
pub(crate) fn add_x264_stream(
    path: &Path,
    output: &mut ffmpeg::format::context::Output,
    setup: &X264Setup<'_>,
) -> Result<(ffmpeg::encoder::Video, usize), MediaError> {
    let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
    let x264 = crate::ffi_util::find_encoder(path, "libx264")?;
    let mut video = ffmpeg::codec::Context::new_with_codec(x264)
        .encoder()
        .video()
        .map_err(failed("setting up the video encoder"))?;
    video.set_width(setup.width);
    video.set_height(setup.height);
    video.set_format(ffmpeg::format::Pixel::YUV420P);
    video.set_aspect_ratio(ffmpeg::Rational::new(1, 1));
    video.set_time_base(setup.time_base());
    video.set_frame_rate(Some(setup.frame_rate));
    if let Some((keyint, _)) = setup.gop {
        video.set_gop(keyint);
    }
    if wants_global_header(output) {
        video.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    }
    // SAFETY: priv_data of an allocated, unopened libx264 context holds its options.
    unsafe {
        let private = (*video.as_mut_ptr()).priv_data;
        set_option(path, private, "preset", setup.preset)?;
        set_option(path, private, "crf", setup.crf)?;
        if let Some((_, params)) = setup.gop {
            set_option(path, private, "x264-params", params)?;
        }
    }
    let video = video.open_as(x264).map_err(failed("opening libx264"))?;
    let mut stream = output.add_stream(x264).map_err(failed("adding the video stream"))?;
    stream.set_parameters(&video);
    stream.set_time_base(setup.time_base());
    stream.set_avg_frame_rate(setup.frame_rate);
    Ok((video, stream.index()))
}

/// Opens FFmpeg's AAC encoder for stereo float audio at `rate` Hz and adds its stream to
/// `output`; returns the encoder and the stream's index.
pub(crate) fn add_aac_stream(
    path: &Path,
    output: &mut ffmpeg::format::context::Output,
    rate: u32,
    bit_rate: usize,
) -> Result<(ffmpeg::encoder::Audio, usize), MediaError> {
    let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
    let aac = crate::ffi_util::find_encoder(path, "aac")?;
    let mut audio = ffmpeg::codec::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .map_err(failed("setting up the audio encoder"))?;
    audio.set_rate(rate as i32);
    audio.set_format(ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar));
    audio.set_bit_rate(bit_rate);
    audio.set_time_base(ffmpeg::Rational::new(1, rate as i32));
    // SAFETY: sets the (FFmpeg >= 5.1) channel layout field of the unopened context.
    unsafe { ffi::av_channel_layout_default(&mut (*audio.as_mut_ptr()).ch_layout, 2) };
    if wants_global_header(output) {
        audio.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    }
    let audio = audio.open_as(aac).map_err(failed("opening the AAC encoder"))?;
    let mut stream = output.add_stream(aac).map_err(failed("adding an audio stream"))?;
    stream.set_parameters(&audio);
    stream.set_time_base(ffmpeg::Rational::new(1, rate as i32));
    Ok((audio, stream.index()))
}

/// Moves every packet `encoder` has ready into `output`'s stream `stream`, from the encoder's
/// `time_base` to the one the muxer chose for the stream.
pub(crate) fn write_packets(
    path: &Path,
    encoder: &mut ffmpeg::encoder::Encoder,
    output: &mut ffmpeg::format::context::Output,
    stream: usize,
    time_base: ffmpeg::Rational,
    doing: &'static str,
) -> Result<(), MediaError> {
    // The muxer may change a stream's time base when writing the header: ask it.
    let stream_time_base = output.stream(stream).map_or(ffmpeg::Rational::new(1, 1), |s| s.time_base());
    let mut packet = ffmpeg::Packet::empty();
    while encoder.receive_packet(&mut packet).is_ok() {
        // libx264 on FFmpeg 5.1 leaves durations at 0; the muxer needs them.
        if packet.duration() == 0 {
            packet.set_duration(1);
        }
        packet.set_stream(stream);
        packet.rescale_ts(time_base, stream_time_base);
        packet.write_interleaved(output).map_err(|e| MediaError::ffmpeg(path, doing, e))?;
    }
    Ok(())
}

/// Sets an encoder private option, failing loudly on a typo instead of silently ignoring it.
///
/// # Safety
/// `object` must be an AVOptions-enabled struct (an encoder's `priv_data`).
pub(crate) unsafe fn set_option(
    path: &Path,
    object: *mut std::ffi::c_void,
    name: &str,
    value: &str,
) -> Result<(), MediaError> {
    let failed = |reason: String| MediaError::Failed {
        path: path.to_path_buf(),
        doing: format!("setting encoder option {name}={value}"),
        reason,
    };
    let (c_name, c_value) = match (CString::new(name), CString::new(value)) {
        (Ok(n), Ok(v)) => (n, v),
        _ => return Err(failed("contains a NUL byte".into())),
    };
    // SAFETY: forwarded from the caller; the strings live across the call.
    let result = unsafe { ffi::av_opt_set(object, c_name.as_ptr(), c_value.as_ptr(), 0) };
    if result < 0 { Err(failed(ffmpeg::Error::from(result).to_string())) } else { Ok(()) }
}
