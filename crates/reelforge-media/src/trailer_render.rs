//! Assembles a trailer from source ranges: each clip is found by seeking and decoded, clips
//! are joined with cuts or cross-dissolves, an optional title card closes it, the audio gets
//! short crossfades at every join and a fade-out, is normalised to a loudness target (EBU R128
//! integrated, with a peak limiter) and everything is encoded to H.264 + AAC in MP4 with
//! exactly the planned frame count.

mod title_card;

use std::path::Path;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use reelforge_core::{ProgressSink, ProgressUnit, Rational};

use crate::decode::{open_audio_decoder, open_video_decoder};
use crate::error::MediaError;
use crate::extract::feed_next_packet;
use crate::open::open_input;
use crate::resample::ToInterleavedF32;
use crate::sample::{X264Setup, add_aac_stream, add_x264_stream, write_packets};

const TASK: &str = "trailer render";
const AUDIO_RATE: u32 = 48_000;
const CHANNELS: usize = 2;
const AUDIO_BIT_RATE: usize = 160_000;
/// Visually transparent for review copies while staying fast on small machines.
const CRF: &str = "20";
const PRESET: &str = "veryfast";
/// The limiter's true-peak ceiling: streaming services ask for at most -1 dBTP, and AAC
/// encoding adds a few tenths of overshoot.
const TRUE_PEAK_CEILING_DBTP: f64 = -1.5;
/// Gain passes to settle the loudness after limiting (each pass is a full measurement).
const NORMALISE_PASSES: usize = 4;
/// Loud enough: within this many LU of the target stops the passes.
const LOUDNESS_TOLERANCE: f64 = 0.1;
/// No quiet source is amplified by more than this (it would only raise the noise floor).
const MAX_GAIN_DB: f64 = 30.0;

/// One clip of the trailer as the renderer needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailerClipRange {
    /// Presentation time (stream seconds) of the clip's first source frame.
    pub source_start_seconds: f64,
    /// Frames the clip occupies in the trailer.
    pub frames: u64,
    /// Frames at the clip's start that dissolve from the previous clip's handle (0 = cut).
    pub dissolve_in_frames: u64,
    /// Source frames after the clip's out-point shown under the next clip's dissolve.
    pub handle_after_frames: u64,
}

/// What to render.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailerRenderSpec {
    pub clips: Vec<TrailerClipRange>,
    /// The trailer's frame rate (the source's).
    pub frame_rate: Rational,
    pub loudness_target_lufs: f64,
    pub audio_crossfade_ms: u32,
    /// The sound fades out over this long before it ends.
    pub fade_out_seconds: f64,
    pub title_card: Option<TitleCardSpec>,
}

/// The card that ends a trailer, after the last clip.
#[derive(Clone, Debug, PartialEq)]
pub struct TitleCardSpec {
    /// Drawn white on black, a centred line per line.
    pub text: String,
    pub frames: u64,
    /// Source frames after the last clip's out-point whose sound plays under the card (at
    /// most `frames`); the rest of the card is silent.
    pub audio_run_on_frames: u64,
}

impl TrailerRenderSpec {
    fn clip_frames(&self) -> u64 {
        self.clips.iter().map(|c| c.frames).sum()
    }

    fn card_frames(&self) -> u64 {
        self.title_card.as_ref().map_or(0, |card| card.frames)
    }
}

/// What the render measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TrailerRenderReport {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    /// Integrated loudness of the assembled audio before normalising; `None` in silence.
    pub source_loudness_lufs: Option<f64>,
    /// Total gain applied to reach the target, in dB.
    pub gain_db: f64,
    /// Integrated loudness of the audio that was encoded; `None` in silence.
    pub loudness_lufs: Option<f64>,
    /// Highest sample peak of the encoded audio, in dBFS.
    pub true_peak_dbtp: f64,
}

/// Renders `spec` from `input` into `output` (an .mp4 path).
pub fn render_trailer(
    input: &Path,
    output: &Path,
    spec: &TrailerRenderSpec,
    progress: &dyn ProgressSink,
) -> Result<TrailerRenderReport, MediaError> {
    let rate = spec.frame_rate;
    if rate.num <= 0 || rate.den <= 0 || spec.clips.is_empty() {
        return Err(MediaError::InvalidSpec {
            path: output.to_path_buf(),
            reason: "a trailer needs clips and a positive frame rate".into(),
        });
    }
    let total_frames = spec.clip_frames() + spec.card_frames();
    progress.started(TASK, Some(total_frames), ProgressUnit::Frames);
    let mut audio = assemble_audio(input, spec)?;
    let (source_loudness, gain_db, loudness, peak) = normalise(input, &mut audio, spec.loudness_target_lufs)?;

    let mut source = open_input(input)?;
    let video_index = crate::open::picture_stream(&source)
        .ok_or_else(|| MediaError::NoVideoStream { path: input.to_path_buf() })?;
    for mut stream in source.streams_mut() {
        if stream.index() != video_index {
            // SAFETY: setting `discard` before reading packets is how FFmpeg skips a stream.
            unsafe { (*stream.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
    let mut decoder = open_video_decoder(input, &source, video_index)?;
    let time_base = source.stream(video_index).map_or(ffmpeg::Rational::new(1, 1), |s| s.time_base());
    // 4:2:0 needs even dimensions.
    // The trailer shows the picture upright: a turned source swaps its sides.
    let turns = crate::open::display_turns(&source, video_index);
    let (stored_width, stored_height) = (decoder.width() & !1, decoder.height() & !1);
    let (width, height) =
        if turns % 2 == 1 { (stored_height, stored_width) } else { (stored_width, stored_height) };
    let mut writer = TrailerWriter::create(output, width, height, rate, audio)?;
    let mut converter = Converter { context: None, width: stored_width, height: stored_height, turns };

    let mut handle: Vec<ffmpeg::frame::Video> = Vec::new();
    let mut written = 0u64;
    for clip in &spec.clips {
        let wanted = clip.frames + clip.handle_after_frames;
        let pictures = decode_range(input, &mut source, &mut decoder, video_index, time_base, clip, wanted)?;
        let mut pictures = pictures.into_iter();
        let mut last: Option<ffmpeg::frame::Video> = None;
        let mut converted = Vec::with_capacity(wanted as usize);
        for _ in 0..wanted {
            // A source that ends early repeats its last picture: the length stays exact.
            let picture = match (pictures.next(), &last) {
                (Some(p), _) => converter.convert(input, &p)?,
                (None, Some(previous)) => copy_picture(previous, width, height),
                (None, None) => {
                    return Err(MediaError::Truncated {
                        path: input.to_path_buf(),
                        detail: format!("no picture decodes at {:.2} s", clip.source_start_seconds),
                    });
                }
            };
            last = Some(copy_picture(&picture, width, height));
            converted.push(picture);
        }
        let next_handle = converted.split_off(clip.frames as usize);
        for (i, mut picture) in converted.into_iter().enumerate() {
            let i = i as u64;
            if i < clip.dissolve_in_frames
                && let Some(outgoing) = handle.get(i as usize)
            {
                let incoming_share = (i + 1) as f32 / (clip.dissolve_in_frames + 1) as f32;
                blend(&mut picture, outgoing, incoming_share, width, height);
            }
            writer.write_picture(picture, written)?;
            written += 1;
            progress.advanced(TASK, written);
        }
        handle = next_handle;
    }
    if let Some(card_spec) = &spec.title_card {
        let card = title_card::draw_title_card(output, &card_spec.text, width, height)?;
        for _ in 0..card_spec.frames {
            writer.write_picture(copy_picture(&card, width, height), written)?;
            written += 1;
            progress.advanced(TASK, written);
        }
    }
    writer.finish()?;
    progress.finished(TASK);
    Ok(TrailerRenderReport {
        frames: written,
        width,
        height,
        source_loudness_lufs: source_loudness,
        gain_db,
        loudness_lufs: loudness,
        true_peak_dbtp: peak,
    })
}

/// Audio sample index (at 48 kHz) where trailer frame `frame` starts.
fn sample_at(frame: u64, rate: Rational) -> usize {
    let (num, den) = (rate.num.max(1) as u128, rate.den.max(1) as u128);
    ((u128::from(frame) * u128::from(AUDIO_RATE) * den + num / 2) / num) as usize
}

/// The whole trailer's audio, interleaved stereo at 48 kHz, crossfaded and faded out.
fn assemble_audio(input: &Path, spec: &TrailerRenderSpec) -> Result<Vec<f32>, MediaError> {
    let rate = spec.frame_rate;
    let clip_frames = spec.clip_frames();
    let total = sample_at(clip_frames + spec.card_frames(), rate);
    // The last clip's sound runs on under the title card; the fade-out ends with it.
    let run_on = spec.title_card.as_ref().map_or(0, |card| card.audio_run_on_frames.min(card.frames));
    let sound_end = sample_at(clip_frames + run_on, rate);
    let mut out = vec![0.0f32; total * CHANNELS];
    let mut source = open_input(input)?;
    let Some(index) = source.streams().best(ffmpeg::media::Type::Audio).map(|s| s.index()) else {
        // A silent source makes a silent trailer; the AAC track is still there for players.
        return Ok(out);
    };
    for mut stream in source.streams_mut() {
        if stream.index() != index {
            // SAFETY: setting `discard` before reading packets is how FFmpeg skips a stream.
            unsafe { (*stream.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
    let mut decoder = open_audio_decoder(input, &source, index)?;
    let time_base = source.stream(index).map_or(ffmpeg::Rational::new(1, 1), |s| s.time_base());
    let crossfade = (u64::from(spec.audio_crossfade_ms) * u64::from(AUDIO_RATE) / 1000) as usize;

    let mut record = 0u64;
    let mut head = 0usize;
    for (k, clip) in spec.clips.iter().enumerate() {
        let start = sample_at(record, rate);
        record += clip.frames;
        let is_last = k + 1 == spec.clips.len();
        let length = sample_at(record + if is_last { run_on } else { 0 }, rate) - start;
        // The join into the next clip: as long as its dissolve, or a short crossfade at a cut.
        let tail = match spec.clips.get(k + 1) {
            None => 0,
            Some(next) if next.dissolve_in_frames > 0 => sample_at(next.dissolve_in_frames, rate),
            Some(_) => crossfade,
        };
        let samples = read_audio(input, &mut source, &mut decoder, index, time_base, clip, length + tail)?;
        for i in 0..length + tail {
            // Equal-power curves: a fading-out and a fading-in clip sum to steady loudness.
            let gain = if i < head {
                (std::f32::consts::FRAC_PI_2 * (i as f32 + 0.5) / head as f32).sin()
            } else if i >= length {
                (std::f32::consts::FRAC_PI_2 * ((i - length) as f32 + 0.5) / tail as f32).cos()
            } else {
                1.0
            };
            let at = (start + i) * CHANNELS;
            if at + CHANNELS > out.len() {
                break;
            }
            for c in 0..CHANNELS {
                out[at + c] += gain * samples[i * CHANNELS + c];
            }
        }
        head = tail;
    }
    let fade = ((spec.fade_out_seconds.max(0.0) * f64::from(AUDIO_RATE)) as usize).min(sound_end);
    for i in 0..fade {
        let gain = 1.0 - (i as f32 + 1.0) / fade as f32;
        let at = (sound_end - fade + i) * CHANNELS;
        for sample in &mut out[at..at + CHANNELS] {
            *sample *= gain;
        }
    }
    Ok(out)
}

/// Exactly `count` interleaved stereo samples from the clip's start (silence where the
/// stream has none).
fn read_audio(
    path: &Path,
    input: &mut ffmpeg::format::context::Input,
    decoder: &mut ffmpeg::decoder::Audio,
    index: usize,
    time_base: ffmpeg::Rational,
    clip: &TrailerClipRange,
    count: usize,
) -> Result<Vec<f32>, MediaError> {
    // Clip times count from the timeline origin; FFmpeg's timestamps do not.
    let start = clip.source_start_seconds.max(0.0) + crate::open::timeline_origin(input);
    let target = (start * f64::from(ffi::AV_TIME_BASE)) as i64;
    // A failed seek (unseekable input) just means decoding from where we are.
    let _ = input.seek(target, ..target);
    decoder.flush();
    let mut resampler = ToInterleavedF32::new(AUDIO_RATE, CHANNELS as u16);
    let mut pending: Vec<f32> = Vec::new();
    // Where `pending` starts, in seconds; known from the first decoded frame.
    let mut first_seconds: Option<f64> = None;
    let tb = f64::from(time_base.numerator()) / f64::from(time_base.denominator().max(1));
    let needed = |first: f64, have: usize| {
        let offset = ((start - first) * f64::from(AUDIO_RATE)).round() as i64;
        have as i64 >= (offset + count as i64) * CHANNELS as i64
    };
    let mut packet = ffmpeg::Packet::empty();
    let mut frame = ffmpeg::frame::Audio::empty();
    let mut more = true;
    while more && !first_seconds.is_some_and(|first| needed(first, pending.len())) {
        more = feed_next_packet(path, input, &mut packet, index, decoder, &format!("{start:.1} s (audio)"))?;
        while decoder.receive_frame(&mut frame).is_ok() {
            if first_seconds.is_none() {
                first_seconds = Some(frame.pts().or(frame.timestamp()).map_or(start, |pts| pts as f64 * tb));
            }
            resampler
                .convert(&frame, &mut pending)
                .map_err(|e| MediaError::ffmpeg(path, "resampling audio", e))?;
        }
    }
    let first = first_seconds.unwrap_or(start);
    let offset = ((start - first) * f64::from(AUDIO_RATE)).round() as i64;
    let mut samples = vec![0.0f32; count * CHANNELS];
    for (i, slot) in samples.chunks_exact_mut(CHANNELS).enumerate() {
        let from = offset + i as i64;
        if from >= 0 {
            let from = from as usize * CHANNELS;
            if let Some(source) = pending.get(from..from + CHANNELS) {
                slot.copy_from_slice(source);
            }
        }
    }
    Ok(samples)
}

/// Integrated loudness of interleaved stereo, or `None` for silence.
fn integrated(path: &Path, audio: &[f32]) -> Result<(Option<f64>, f64), MediaError> {
    let failed = |e: ebur128::Error| MediaError::Failed {
        path: path.to_path_buf(),
        doing: "measuring loudness".into(),
        reason: e.to_string(),
    };
    let mut meter =
        ebur128::EbuR128::new(CHANNELS as u32, AUDIO_RATE, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK)
            .map_err(failed)?;
    meter.add_frames_f32(audio).map_err(failed)?;
    let loudness = meter.loudness_global().map_err(failed)?;
    let peak = (0..CHANNELS as u32).filter_map(|c| meter.true_peak(c).ok()).fold(0.0f64, f64::max);
    Ok((loudness.is_finite().then_some(loudness), 20.0 * peak.max(1e-10).log10()))
}

/// Brings `audio` to `target` LUFS integrated with a peak limiter; returns (loudness before,
/// gain applied in dB, loudness after, true peak after in dBTP).
fn normalise(
    path: &Path,
    audio: &mut [f32],
    target: f64,
) -> Result<(Option<f64>, f64, Option<f64>, f64), MediaError> {
    let (before, mut peak) = integrated(path, audio)?;
    let Some(mut current) = before else { return Ok((None, 0.0, None, peak)) };
    let mut total_gain = 0.0;
    for _ in 0..NORMALISE_PASSES {
        if (current - target).abs() <= LOUDNESS_TOLERANCE {
            break;
        }
        let gain_db = (target - current).min(MAX_GAIN_DB - total_gain);
        total_gain += gain_db;
        let gain = 10f32.powf(gain_db as f32 / 20.0);
        audio.iter_mut().for_each(|s| *s *= gain);
        crate::true_peak::limit_true_peak(audio, CHANNELS, AUDIO_RATE, TRUE_PEAK_CEILING_DBTP);
        let (after, after_peak) = integrated(path, audio)?;
        peak = after_peak;
        match after {
            Some(loudness) => current = loudness,
            None => break,
        }
    }
    Ok((before, total_gain, Some(current), peak))
}

/// Seeks to the clip and decodes `wanted` pictures from its first frame on (fewer when the
/// stream ends first).
fn decode_range(
    path: &Path,
    input: &mut ffmpeg::format::context::Input,
    decoder: &mut ffmpeg::decoder::Video,
    index: usize,
    time_base: ffmpeg::Rational,
    clip: &TrailerClipRange,
    wanted: u64,
) -> Result<Vec<ffmpeg::frame::Video>, MediaError> {
    // Clip times count from the timeline origin; FFmpeg's timestamps do not.
    let seconds = clip.source_start_seconds.max(0.0) + crate::open::timeline_origin(input);
    let target = (seconds * f64::from(ffi::AV_TIME_BASE)) as i64;
    // A failed seek (unseekable input) just means decoding from where we are.
    let _ = input.seek(target, ..target);
    decoder.flush();
    let tb = f64::from(time_base.numerator()) / f64::from(time_base.denominator().max(1));
    // Half a tick of slack: timestamps are rounded to the time base.
    let reached = |frame: &ffmpeg::frame::Video| {
        frame.pts().or(frame.timestamp()).is_none_or(|pts| (pts as f64 + 0.5) * tb >= seconds)
    };
    let mut pictures = Vec::with_capacity(wanted as usize);
    let mut packet = ffmpeg::Packet::empty();
    let mut picture = ffmpeg::frame::Video::empty();
    let mut more = true;
    while more && (pictures.len() as u64) < wanted {
        more = feed_next_packet(path, input, &mut packet, index, decoder, &format!("{seconds:.1} s"))?;
        while (pictures.len() as u64) < wanted && decoder.receive_frame(&mut picture).is_ok() {
            if reached(&picture) {
                pictures.push(std::mem::replace(&mut picture, ffmpeg::frame::Video::empty()));
            }
        }
    }
    Ok(pictures)
}

/// Decoded pictures to YUV 4:2:0 at the trailer's size (a format change, no resize normally).
struct Converter {
    context: Option<(ffmpeg::software::scaling::Context, (ffmpeg::format::Pixel, u32, u32))>,
    /// The stored picture's size, converted to before turning.
    width: u32,
    height: u32,
    /// Clockwise quarter turns that show the picture upright.
    turns: u8,
}

impl Converter {
    fn convert(
        &mut self,
        path: &Path,
        frame: &ffmpeg::frame::Video,
    ) -> Result<ffmpeg::frame::Video, MediaError> {
        let source = (frame.format(), frame.width(), frame.height());
        let context = match &mut self.context {
            Some((context, made_for)) if *made_for == source => context,
            slot => {
                let context = ffmpeg::software::scaling::Context::get(
                    source.0,
                    source.1,
                    source.2,
                    ffmpeg::format::Pixel::YUV420P,
                    self.width,
                    self.height,
                    ffmpeg::software::scaling::Flags::BICUBIC,
                )
                .map_err(|e| MediaError::ffmpeg(path, "setting up the scaler", e))?;
                &mut slot.insert((context, source)).0
            }
        };
        // A new picture each time: the encoder may still hold a reference to the last one.
        let mut out = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, self.width, self.height);
        context.run(frame, &mut out).map_err(|e| MediaError::ffmpeg(path, "converting a picture", e))?;
        Ok(if self.turns.is_multiple_of(4) { out } else { crate::scale::turn_yuv420(&out, self.turns) })
    }
}

/// The visible bytes of each YUV 4:2:0 plane: (plane, bytes per row, rows).
fn planes(width: u32, height: u32) -> [(usize, usize, usize); 3] {
    let (w, h) = (width as usize, height as usize);
    [(0, w, h), (1, w / 2, h / 2), (2, w / 2, h / 2)]
}

fn copy_picture(picture: &ffmpeg::frame::Video, width: u32, height: u32) -> ffmpeg::frame::Video {
    let mut copy = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, width, height);
    for (plane, row_bytes, rows) in planes(width, height) {
        let (from_stride, to_stride) = (picture.stride(plane), copy.stride(plane));
        for y in 0..rows {
            let row = &picture.data(plane)[y * from_stride..y * from_stride + row_bytes];
            copy.data_mut(plane)[y * to_stride..y * to_stride + row_bytes].copy_from_slice(row);
        }
    }
    copy
}

/// Mixes `outgoing` into `incoming` in place: `incoming_share` of the new picture.
fn blend(
    incoming: &mut ffmpeg::frame::Video,
    outgoing: &ffmpeg::frame::Video,
    incoming_share: f32,
    width: u32,
    height: u32,
) {
    for (plane, row_bytes, rows) in planes(width, height) {
        let (in_stride, out_stride) = (incoming.stride(plane), outgoing.stride(plane));
        for y in 0..rows {
            let old = &outgoing.data(plane)[y * out_stride..y * out_stride + row_bytes];
            let new = &mut incoming.data_mut(plane)[y * in_stride..y * in_stride + row_bytes];
            for (n, o) in new.iter_mut().zip(old) {
                let mixed = f32::from(*n) * incoming_share + f32::from(*o) * (1.0 - incoming_share);
                *n = mixed.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// libx264 + AAC into MP4, audio interleaved with the pictures as they are written.
struct TrailerWriter<'a> {
    path: &'a Path,
    output: ffmpeg::format::context::Output,
    video: ffmpeg::encoder::Video,
    audio: ffmpeg::encoder::Audio,
    video_time_base: ffmpeg::Rational,
    frame_rate: Rational,
    samples: Vec<f32>,
    encoded: usize,
    frame_size: usize,
}

impl<'a> TrailerWriter<'a> {
    fn create(
        path: &'a Path,
        width: u32,
        height: u32,
        rate: Rational,
        samples: Vec<f32>,
    ) -> Result<Self, MediaError> {
        let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
        let mut output = ffmpeg::format::output_as(path, "mp4").map_err(failed("creating the MP4"))?;
        let setup = X264Setup {
            width,
            height,
            frame_rate: ffmpeg::Rational::new(rate.num, rate.den),
            preset: PRESET,
            crf: CRF,
            gop: None,
        };
        let (video, _) = add_x264_stream(path, &mut output, &setup)?;
        let video_time_base = setup.time_base();
        let (audio, _) = add_aac_stream(path, &mut output, AUDIO_RATE, AUDIO_BIT_RATE)?;
        let frame_size = (audio.frame_size() as usize).max(1);

        let mut options = ffmpeg::Dictionary::new();
        // Index first, so the trailer starts playing before it has fully downloaded.
        options.set("movflags", "+faststart");
        output.write_header_with(options).map_err(failed("writing the MP4 header"))?;
        Ok(Self {
            path,
            output,
            video,
            audio,
            video_time_base,
            frame_rate: rate,
            samples,
            encoded: 0,
            frame_size,
        })
    }

    /// Encodes picture number `index`, then the audio up to the end of that picture.
    fn write_picture(&mut self, mut frame: ffmpeg::frame::Video, index: u64) -> Result<(), MediaError> {
        frame.set_pts(Some(index as i64));
        frame.set_kind(ffmpeg::picture::Type::None);
        self.video.send_frame(&frame).map_err(|e| MediaError::ffmpeg(self.path, "encoding video", e))?;
        self.drain_video()?;
        self.encode_audio_until(sample_at(index + 1, self.frame_rate), false)
    }

    /// Flushes in FFmpeg's order: video encoder, the rest of the audio, audio encoder, trailer.
    fn finish(mut self) -> Result<(), MediaError> {
        let path = self.path;
        let failed = |doing: &'static str| move |e| MediaError::ffmpeg(path, doing, e);
        self.video.send_eof().map_err(failed("flushing the video encoder"))?;
        self.drain_video()?;
        self.encode_audio_until(self.samples.len() / CHANNELS, true)?;
        self.audio.send_eof().map_err(failed("flushing the audio encoder"))?;
        self.drain_audio()?;
        self.output.write_trailer().map_err(failed("finishing the MP4"))
    }

    fn drain_video(&mut self) -> Result<(), MediaError> {
        write_packets(self.path, &mut self.video, &mut self.output, 0, self.video_time_base, "writing video")
    }

    /// Encodes whole AAC frames up to sample `end` (and a last short one when `last`).
    fn encode_audio_until(&mut self, end: usize, last: bool) -> Result<(), MediaError> {
        let available_total = self.samples.len() / CHANNELS;
        loop {
            let available = end.min(available_total).saturating_sub(self.encoded);
            let count = if available >= self.frame_size {
                self.frame_size
            } else if last && available > 0 {
                available
            } else {
                return Ok(());
            };
            let mut frame = ffmpeg::frame::Audio::new(
                ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar),
                self.frame_size,
                ffmpeg::ChannelLayout::STEREO,
            );
            frame.set_rate(AUDIO_RATE);
            let interleaved = &self.samples[self.encoded * CHANNELS..(self.encoded + count) * CHANNELS];
            for channel in 0..CHANNELS {
                let plane = frame.plane_mut::<f32>(channel);
                // The native AAC encoder wants full frames: a short last one is padded.
                plane.fill(0.0);
                for (out, sample) in plane.iter_mut().zip(interleaved.iter().skip(channel).step_by(CHANNELS))
                {
                    *out = *sample;
                }
            }
            frame.set_pts(Some(self.encoded as i64));
            self.encoded += count;
            self.audio.send_frame(&frame).map_err(|e| MediaError::ffmpeg(self.path, "encoding audio", e))?;
            self.drain_audio()?;
        }
    }

    fn drain_audio(&mut self) -> Result<(), MediaError> {
        let time_base = ffmpeg::Rational::new(1, AUDIO_RATE as i32);
        write_packets(self.path, &mut self.audio, &mut self.output, 1, time_base, "writing audio")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_positions_follow_the_frame_rate_exactly() {
        assert_eq!(sample_at(25, Rational::new(25, 1)), 48_000);
        assert_eq!(sample_at(1, Rational::new(24, 1)), 2_000);
        assert_eq!(sample_at(24_000, Rational::new(24_000, 1001)), 48_048_000);
    }

    #[test]
    fn normalising_reaches_the_target_loudness() {
        // Pink-ish test signal: a 440 Hz tone with a short loud click every second.
        let mut audio: Vec<f32> = (0..AUDIO_RATE as usize * 6)
            .flat_map(|i| {
                let t = i as f32 / AUDIO_RATE as f32;
                let click = if i % AUDIO_RATE as usize == 0 { 0.9 } else { 0.0 };
                let v = 0.05 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() + click;
                [v, v]
            })
            .collect();
        let (before, gain, after, peak) = normalise(Path::new("t"), &mut audio, -16.0).unwrap();
        assert!(before.unwrap() < -20.0);
        assert!(gain > 4.0);
        assert!((after.unwrap() + 16.0).abs() <= 0.1, "{after:?}");
        assert!(peak <= TRUE_PEAK_CEILING_DBTP + 0.1, "true peak {peak} dBTP");
    }
}
