//! Adaptive-bitrate renditions: the source is decoded once; every video rung scales the same
//! decoded pictures on its own thread and encodes them with IDR frames at the same
//! timestamps; every audio stream becomes AAC stereo. Each track is written as CMAF
//! (fragmented MP4) segments into its own folder. Manifests are not written here.
//!
//! A render farm encodes video in chunks ([`EncodeRange`]): each chunk decodes from the key
//! frame before its pre-roll, encodes the pre-roll only to warm up rate control (its packets
//! are dropped: the chunk's first picture is an IDR frame, as in a whole encode, since chunks
//! start on segment boundaries, which are GOP boundaries) and then its range. Its timestamps
//! start at 0; the shift back to the whole-input timeline is reported for the caller to
//! write into the segments.

mod audio;
mod segmenter;
mod video;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use ffmpeg_next as ffmpeg;
use reelforge_core::{ProgressSink, ProgressUnit};

use crate::decode::open_video_decoder;
use crate::error::MediaError;
use crate::open::open_input;
use segmenter::SegmentLayout;
use video::{SharedPicture, run_rung};

pub use audio::AUDIO_RATE as RENDITION_AUDIO_RATE;

/// Pictures in flight per rung: enough to keep encoders busy, little memory.
const QUEUE: usize = 4;

/// Video codec of a rung.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenditionCodec {
    H264,
    Hevc,
    Av1,
}

/// One video rung to encode.
#[derive(Clone, Debug)]
pub struct VideoRungSpec {
    /// Names the rung in progress events, e.g. "v0 640x360".
    pub label: String,
    /// Folder for its init and media segments (created).
    pub dir: PathBuf,
    pub width: u32,
    pub height: u32,
    pub codec: RenditionCodec,
    /// Average, VBV maximum (bit/s) and VBV buffer (bits).
    pub bitrate: u64,
    pub max_rate: u64,
    pub buffer_size: u64,
    /// Filled in from the source frame rate; callers leave it 0.
    gop_frames: u32,
    /// Clockwise quarter turns that show the source upright, filled in from its display
    /// matrix; callers leave it 0.
    turns: u8,
}

impl VideoRungSpec {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        label: String,
        dir: PathBuf,
        width: u32,
        height: u32,
        codec: RenditionCodec,
        bitrate: u64,
        max_rate: u64,
        buffer_size: u64,
    ) -> Self {
        Self { label, dir, width, height, codec, bitrate, max_rate, buffer_size, gop_frames: 0, turns: 0 }
    }
}

/// One audio stream of the source to encode.
#[derive(Clone, Debug)]
pub struct AudioRenditionSpec {
    /// Container index of the source audio stream.
    pub stream_index: usize,
    pub dir: PathBuf,
    pub bitrate: u64,
    /// ISO 639 code written into the track.
    pub language: Option<String>,
}

/// Everything one encode needs.
#[derive(Clone, Debug)]
pub struct RenditionJob {
    pub video: Vec<VideoRungSpec>,
    pub audio: Vec<AudioRenditionSpec>,
    pub gop_seconds: f64,
    pub segment_seconds: f64,
    /// Extra IDR frames (seconds from the start), e.g. at shot cuts.
    pub extra_key_times: Vec<f64>,
    /// x264/x265 preset name.
    pub preset: String,
    pub init_name: String,
    /// printf-style media segment name, e.g. "seg_%05d.m4s".
    pub segment_pattern: String,
    /// Encode only this part of the video (no audio); `None` encodes the whole input.
    pub range: Option<EncodeRange>,
}

/// A time range of the input for a chunk of video. Both ends should be segment boundaries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeRange {
    /// Seconds from the first video frame of the input.
    pub start_seconds: f64,
    /// Pictures from here on are not encoded; `None` runs to the end of the input.
    pub end_seconds: Option<f64>,
    /// The number the first segment file gets (files carry whole-input numbers).
    pub first_segment: u64,
    /// Seconds before the start that are encoded and thrown away, so that the bit rate
    /// control starts the chunk as warmed up as a whole encode is there (a cold start spends
    /// too few bits at first and costs about a decibel of PSNR); a whole number of GOPs.
    pub preroll_seconds: f64,
}

/// How far a chunk's timestamps (which start at 0) lie before the whole-input timeline:
/// `ticks` of `time_base_num / time_base_den` seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeShift {
    pub ticks: i64,
    pub time_base_num: i32,
    pub time_base_den: i32,
}

/// What was encoded, per video rung in job order.
#[derive(Clone, Debug)]
pub struct RenditionsOutput {
    pub video: Vec<EncodedRung>,
    pub frame_rate: f64,
    /// Video frames decoded (once).
    pub frames_decoded: u64,
    /// For a range: where its start lies on the whole-input timeline.
    pub shift: TimeShift,
}

#[derive(Clone, Debug)]
pub struct EncodedRung {
    /// The encoder's global header (SPS/PPS for H.264), for codec strings.
    pub extradata: Vec<u8>,
    pub frames: u64,
}

/// Source timing every rung shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SourceTiming {
    time_base: ffmpeg::Rational,
    frame_rate: ffmpeg::Rational,
    /// One frame in `time_base` units.
    frame_duration: i64,
    estimated_frames: Option<u64>,
}

/// Decodes `input` once and encodes every rung and audio stream of `job` side by side.
pub fn encode_renditions(
    input: &Path,
    job: &RenditionJob,
    progress: &dyn ProgressSink,
) -> Result<RenditionsOutput, MediaError> {
    if job.range.is_some() && !job.audio.is_empty() {
        return Err(MediaError::Failed {
            path: input.to_path_buf(),
            doing: "encoding a chunk".into(),
            reason: "audio is encoded whole, never in chunks (AAC priming would glitch at every edge)".into(),
        });
    }
    let mut source = open_input(input)?;
    let video_index = crate::open::picture_stream(&source)
        .ok_or_else(|| MediaError::NoVideoStream { path: input.to_path_buf() })?;
    let turns = crate::open::display_turns(&source, video_index);
    let mut video_decoder = open_video_decoder(input, &source, video_index)?;
    let mut audio_decoders = Vec::new();
    for spec in &job.audio {
        audio_decoders.push((spec.stream_index, open_audio(input, &source, spec.stream_index)?));
    }
    for mut stream in source.streams_mut() {
        let index = stream.index();
        let wanted = if index == video_index {
            !job.video.is_empty()
        } else {
            job.audio.iter().any(|a| a.stream_index == index)
        };
        if !wanted {
            // SAFETY: setting `discard` before reading packets is how FFmpeg skips a stream.
            unsafe { (*stream.as_mut_ptr()).discard = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
    let timing = source_timing(input, &source, video_index)?;
    let fps = f64::from(timing.frame_rate.numerator()) / f64::from(timing.frame_rate.denominator().max(1));
    let gop_frames = (job.gop_seconds * fps).round().max(1.0) as u32;
    let layout = |dir: &Path| SegmentLayout {
        dir: dir.to_path_buf(),
        segment_seconds: job.segment_seconds,
        init_name: job.init_name.clone(),
        segment_pattern: job.segment_pattern.clone(),
        first_number: job.range.map_or(0, |range| range.first_segment),
    };
    let mut window = None;
    if let Some(range) = job.range {
        let first_pts = first_video_pts(input, video_index)?;
        let seconds_to_ticks = |seconds: f64| {
            (seconds * f64::from(timing.time_base.denominator())
                / f64::from(timing.time_base.numerator().max(1)))
            .round() as i64
        };
        // Seek a little early: the demuxer lands on the key frame at or before the target.
        let encode_from = (range.start_seconds - range.preroll_seconds).max(0.0);
        let target = first_pts + seconds_to_ticks(encode_from) - timing.frame_duration;
        let target_us = ffmpeg::Rescale::rescale(&target, timing.time_base, ffmpeg::rescale::TIME_BASE);
        if encode_from > 0.0 {
            source
                .seek(target_us, ..target_us)
                .map_err(|e| MediaError::ffmpeg(input, "seeking to the chunk start", e))?;
        }
        window = Some(Window {
            first_pts,
            encode_from: seconds_to_ticks(encode_from),
            start: seconds_to_ticks(range.start_seconds),
            end: range.end_seconds.map(seconds_to_ticks),
            pictures: 0,
        });
    }
    let decode_task = "renditions decode";
    progress.started(decode_task, timing.estimated_frames, ProgressUnit::Frames);

    let outcome = std::thread::scope(|scope| {
        let mut video_senders: Vec<SyncSender<SharedPicture>> = Vec::new();
        let mut video_workers = Vec::new();
        for spec in &job.video {
            let (sender, receiver): (_, Receiver<SharedPicture>) = sync_channel(QUEUE);
            let spec = VideoRungSpec { gop_frames, turns, ..spec.clone() };
            let layout = layout(&spec.dir);
            let preset = job.preset.as_str();
            video_senders.push(sender);
            video_workers.push(
                scope.spawn(move || run_rung(input, &spec, &layout, timing, preset, receiver, progress)),
            );
        }
        let mut audio_senders = Vec::new();
        let mut audio_workers = Vec::new();
        for spec in &job.audio {
            let (sender, receiver) = sync_channel::<ffmpeg::frame::Audio>(QUEUE * 8);
            let layout = layout(&spec.dir);
            audio_senders.push((spec.stream_index, sender));
            audio_workers.push(scope.spawn(move || audio::run_audio(input, spec, &layout, receiver)));
        }
        let mut keys = KeySchedule::new(job.gop_seconds, &job.extra_key_times, timing);
        let mut decode = DecodeLoop {
            path: input,
            video_senders,
            audio_senders,
            keys: &mut keys,
            frames: 0,
            first_pts: window.map(|window| window.first_pts),
            last_pts: None,
            timing,
            window,
        };
        let decoded = decode.run(
            &mut source,
            video_index,
            &mut video_decoder,
            &mut audio_decoders,
            progress,
            decode_task,
        );
        let frames_decoded = decode.frames;
        let origin = decode.window.map_or(0, |window| window.start);
        let empty_range = decode.window.is_some_and(|window| window.pictures == 0);
        // Closing the channels lets every worker flush its encoder and finish its segments.
        drop(decode);
        let mut encoded = Vec::new();
        let mut first_error = None;
        for worker in video_workers {
            match worker.join() {
                Ok(Ok(result)) => {
                    encoded.push(EncodedRung { extradata: result.extradata, frames: result.frames })
                }
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(MediaError::Failed {
                        path: input.to_path_buf(),
                        doing: "encoding a rung".into(),
                        reason: "the encoder thread panicked".into(),
                    });
                }
            }
        }
        for worker in audio_workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(MediaError::Failed {
                        path: input.to_path_buf(),
                        doing: "encoding audio".into(),
                        reason: "the encoder thread panicked".into(),
                    });
                }
            }
        }
        // A worker's own error explains a stopped decode better than the closed channel does.
        if let Some(error) = first_error {
            return Err(error);
        }
        decoded?;
        if let (true, Some(range)) = (empty_range, job.range) {
            // The planner saw a longer input (or the plan was edited): nothing to encode here.
            return Err(MediaError::Truncated {
                path: input.to_path_buf(),
                detail: format!(
                    "no picture at or after {:.3} s, where this chunk starts",
                    range.start_seconds
                ),
            });
        }
        Ok((encoded, frames_decoded, origin))
    });
    progress.finished(decode_task);
    let (video, frames_decoded, origin) = outcome?;
    let shift = TimeShift {
        ticks: origin,
        time_base_num: timing.time_base.numerator(),
        time_base_den: timing.time_base.denominator(),
    };
    Ok(RenditionsOutput { video, frame_rate: fps, frames_decoded, shift })
}

/// The timestamp of the first decoded video frame: the origin a whole encode rebases to.
fn first_video_pts(path: &Path, index: usize) -> Result<i64, MediaError> {
    let mut input = open_input(path)?;
    let mut decoder = open_video_decoder(path, &input, index)?;
    let mut packet = ffmpeg::Packet::empty();
    let mut frame = ffmpeg::frame::Video::empty();
    loop {
        if decoder.receive_frame(&mut frame).is_ok() {
            return Ok(frame.timestamp().or(frame.pts()).unwrap_or(0));
        }
        if !crate::extract::feed_next_packet(path, &mut input, &mut packet, index, &mut decoder, "the start")?
        {
            if decoder.receive_frame(&mut frame).is_ok() {
                return Ok(frame.timestamp().or(frame.pts()).unwrap_or(0));
            }
            return Err(MediaError::Failed {
                path: path.to_path_buf(),
                doing: "finding the first video frame".into(),
                reason: "no frame decodes".into(),
            });
        }
    }
}

fn open_audio(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<ffmpeg::decoder::Audio, MediaError> {
    let available = input.streams().filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio).count();
    let stream = input
        .stream(index)
        .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
        .ok_or_else(|| MediaError::NoAudioStream {
            path: path.to_path_buf(),
            wanted: format!("audio stream {index}"),
            available,
        })?;
    let mut decoder = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .map_err(|e| MediaError::ffmpeg(path, "setting up an audio decoder", e))?
        .decoder();
    decoder.set_packet_time_base(stream.time_base());
    decoder.audio().map_err(|e| MediaError::Undecodable {
        path: path.to_path_buf(),
        stream: index,
        codec: stream.parameters().id().name().to_owned(),
        reason: e.to_string(),
    })
}

fn source_timing(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<SourceTiming, MediaError> {
    let stream = input.stream(index).ok_or_else(|| MediaError::NoVideoStream { path: path.to_path_buf() })?;
    let time_base = stream.time_base();
    let mut frame_rate = stream.avg_frame_rate();
    if frame_rate.numerator() <= 0 || frame_rate.denominator() <= 0 {
        frame_rate = stream.rate();
    }
    if frame_rate.numerator() <= 0 || frame_rate.denominator() <= 0 {
        frame_rate = ffmpeg::Rational::new(25, 1);
    }
    let frame_seconds = f64::from(frame_rate.denominator()) / f64::from(frame_rate.numerator());
    let tick = f64::from(time_base.numerator()) / f64::from(time_base.denominator().max(1));
    let frame_duration = (frame_seconds / tick).round().max(1.0) as i64;
    let duration = if input.duration() > 0 {
        input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    let estimated_frames = (duration > 0.0).then(|| (duration / frame_seconds).round() as u64);
    Ok(SourceTiming { time_base, frame_rate, frame_duration, estimated_frames })
}

/// Decides, from timestamps alone, which pictures start a GOP: one every `gop_seconds`, plus
/// the extra times (shot cuts). Decided once, so every rung gets the same IDR frames.
struct KeySchedule {
    gop_seconds: f64,
    next_gop: f64,
    extra: Vec<f64>,
    next_extra: usize,
    half_frame: f64,
}

impl KeySchedule {
    fn new(gop_seconds: f64, extra: &[f64], timing: SourceTiming) -> Self {
        let mut extra: Vec<f64> = extra.iter().copied().filter(|t| t.is_finite() && *t > 0.0).collect();
        extra.sort_by(f64::total_cmp);
        let frame_seconds =
            f64::from(timing.frame_rate.denominator()) / f64::from(timing.frame_rate.numerator().max(1));
        Self { gop_seconds, next_gop: 0.0, extra, next_extra: 0, half_frame: frame_seconds / 2.0 }
    }

    fn is_key(&mut self, seconds: f64) -> bool {
        let reach = seconds + self.half_frame;
        let mut key = false;
        if reach >= self.next_gop {
            key = true;
            self.next_gop = ((reach / self.gop_seconds).floor() + 1.0) * self.gop_seconds;
        }
        while self.next_extra < self.extra.len() && self.extra[self.next_extra] <= reach {
            key = true;
            self.next_extra += 1;
        }
        key
    }
}

/// The pictures a chunk encodes, in source ticks from the first frame of the input.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// Timestamp of the input's first video frame.
    first_pts: i64,
    /// The pre-roll's start: pictures from here to `start` are encoded with negative
    /// timestamps, which the rungs drop after encoding.
    encode_from: i64,
    /// The chunk's start, its timestamp 0.
    start: i64,
    end: Option<i64>,
    /// Pictures from the start on, sent to the rungs.
    pictures: u64,
}

struct DecodeLoop<'a> {
    path: &'a Path,
    video_senders: Vec<SyncSender<SharedPicture>>,
    audio_senders: Vec<(usize, SyncSender<ffmpeg::frame::Audio>)>,
    keys: &'a mut KeySchedule,
    frames: u64,
    first_pts: Option<i64>,
    last_pts: Option<i64>,
    timing: SourceTiming,
    window: Option<Window>,
}

impl DecodeLoop<'_> {
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        input: &mut ffmpeg::format::context::Input,
        video_index: usize,
        video: &mut ffmpeg::decoder::Video,
        audio: &mut [(usize, ffmpeg::decoder::Audio)],
        progress: &dyn ProgressSink,
        task: &str,
    ) -> Result<(), MediaError> {
        for (stream, packet) in input.packets() {
            let index = stream.index();
            if index == video_index {
                // A damaged packet is skipped; the decoder resynchronises on the next one.
                if video.send_packet(&packet).is_ok() && !self.receive_video(video)? {
                    return Ok(());
                }
                if self.frames.is_multiple_of(25) {
                    progress.advanced(task, self.frames);
                }
            } else if let Some(slot) = audio.iter().position(|(i, _)| *i == index)
                && audio[slot].1.send_packet(&packet).is_ok()
                && !self.receive_audio(slot, &mut audio[slot].1)
            {
                return Ok(());
            }
        }
        // Flush order: decoders first; the encoders flush when their channels close.
        if video.send_eof().is_ok() {
            self.receive_video(video)?;
        }
        for (slot, (_, decoder)) in audio.iter_mut().enumerate() {
            if decoder.send_eof().is_ok() {
                self.receive_audio(slot, decoder);
            }
        }
        progress.advanced(task, self.frames);
        Ok(())
    }

    /// Sends every ready picture to every rung; `false` when a rung has stopped (its error
    /// is reported by its thread).
    fn receive_video(&mut self, decoder: &mut ffmpeg::decoder::Video) -> Result<bool, MediaError> {
        let mut frame = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let raw_pts = frame.timestamp().or(frame.pts());
            let pts = match (raw_pts, self.last_pts) {
                // Timestamps must grow for the encoders; a repeat or missing one gets the next slot.
                (Some(pts), Some(last)) if pts <= last => last + self.timing.frame_duration,
                (Some(pts), _) => pts,
                (None, Some(last)) => last + self.timing.frame_duration,
                (None, None) => 0,
            };
            self.last_pts = Some(pts);
            let first = *self.first_pts.get_or_insert(pts);
            let mut rebased = pts - first;
            let tick = f64::from(self.timing.time_base.numerator())
                / f64::from(self.timing.time_base.denominator().max(1));
            let key = if let Some(window) = &mut self.window {
                // The picture nearest each end belongs to the later chunk, as the key schedule
                // puts a boundary's key frame on the picture nearest to it.
                let reach = rebased + self.timing.frame_duration / 2;
                if reach < window.encode_from {
                    continue;
                }
                if window.end.is_some_and(|end| reach >= end) {
                    return Ok(false);
                }
                let key = self.keys.is_key(rebased as f64 * tick);
                rebased -= window.start;
                if rebased >= 0 {
                    window.pictures += 1;
                }
                key
            } else {
                self.keys.is_key(rebased as f64 * tick)
            };
            for sender in &self.video_senders {
                let shared = share_picture(&frame).ok_or_else(|| MediaError::Failed {
                    path: self.path.to_path_buf(),
                    doing: "sharing a decoded picture".into(),
                    reason: "out of memory".into(),
                })?;
                if sender.send(SharedPicture { frame: shared, pts: rebased, key }).is_err() {
                    return Ok(false);
                }
            }
            self.frames += 1;
        }
        Ok(true)
    }

    fn receive_audio(&mut self, slot: usize, decoder: &mut ffmpeg::decoder::Audio) -> bool {
        let mut frame = ffmpeg::frame::Audio::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let moved = std::mem::replace(&mut frame, ffmpeg::frame::Audio::empty());
            if self.audio_senders[slot].1.send(moved).is_err() {
                return false;
            }
        }
        true
    }
}

/// A new reference to the same decoded picture (no pixel copy).
fn share_picture(frame: &ffmpeg::frame::Video) -> Option<ffmpeg::frame::Video> {
    // SAFETY: av_frame_clone only adds references to the source's buffers; the wrapper owns
    // the new frame and frees it on drop.
    unsafe {
        let clone = ffmpeg::ffi::av_frame_clone(frame.as_ptr());
        (!clone.is_null()).then(|| ffmpeg::frame::Video::wrap(clone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(fps: i32) -> SourceTiming {
        SourceTiming {
            time_base: ffmpeg::Rational::new(1, 15360),
            frame_rate: ffmpeg::Rational::new(fps, 1),
            frame_duration: i64::from(15360 / fps),
            estimated_frames: None,
        }
    }

    #[test]
    fn keys_every_gop_and_at_extra_times_from_timestamps() {
        let mut keys = KeySchedule::new(2.0, &[3.0, 0.0], timing(25));
        let key_frames: Vec<u32> = (0..150).filter(|&n| keys.is_key(f64::from(n) / 25.0)).collect();
        assert_eq!(key_frames, vec![0, 50, 75, 100]);
        // Jittered timestamps (VFR) still land on the frame nearest each boundary.
        let mut keys = KeySchedule::new(2.0, &[], timing(30));
        let times = [0.0, 1.97, 1.999, 2.03, 3.99, 4.1];
        let marked: Vec<bool> = times.iter().map(|&t| keys.is_key(t)).collect();
        assert_eq!(marked, vec![true, false, true, false, true, false]);
    }
}
