//! The one decode pass: every analyzer sees every frame and sample of one demux/decode run.
//!
//! Threads: the calling thread demuxes and decodes, and decides which frames a sampled request
//! gets. Each analyzer runs on its own thread, which also scales its frames unless other
//! analyzers share its `FrameRequest` (then a scaler thread serves them all); each distinct
//! `AudioRequest` gets a resampler thread. All hand-offs are bounded channels,
//! so memory stays flat however long the file is and a slow analyzer slows the pass down
//! instead of filling memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use reelforge_core::{
    AudioAnalyzer, AudioBlock, AudioInfo, AudioRequest, AudioStreamChoice, FrameRequest, PixelLayout,
    ProgressSink, ProgressUnit, Rational, Timestamp, VideoAnalyzer, VideoFrame, VideoInfo,
};
use serde::Serialize;

use crate::error::MediaError;
use crate::ffi_util::{from_ffmpeg_rational, ts_seconds};
use crate::open::open_input;
use crate::resample::ToInterleavedF32;
use crate::scale::FrameScaler;

/// Decoded frames waiting for a scaler; each holds a reference to a decoder buffer.
const DECODED_QUEUE: usize = 4;
/// Scaled frames waiting for one analyzer.
const ANALYZER_QUEUE: usize = 8;
/// Audio frames (about 20 ms each) or blocks waiting for the next stage.
const AUDIO_QUEUE: usize = 64;
/// Progress is reported at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
const TASK: &str = "decode";

/// What one decode pass saw.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeSummary {
    pub frames_decoded: u64,
    /// From the first decoded picture's start to the last one's end; `None` if video was not decoded.
    pub video_seconds: Option<f64>,
    pub audio: Vec<AudioSummary>,
    /// Decode errors per stream (decoding carried on, as FFmpeg's CLI does); empty for an
    /// undamaged file.
    pub damage: Vec<StreamDamage>,
    pub wall_seconds: f64,
}

/// Damage found in one stream while decoding: packets the decoder rejected and pictures it
/// had to conceal errors in (FFmpeg's CLI counts the same as "decode errors").
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StreamDamage {
    /// The stream's index in the file.
    pub stream_index: usize,
    pub errors: u64,
    /// Timeline seconds of the first error (where decoding had got to).
    pub first_seconds: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AudioSummary {
    pub request: AudioRequest,
    pub stream_index: usize,
    /// Sample frames delivered at the requested rate.
    pub samples: u64,
}

/// Decode speed of one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecodeBench {
    /// `None`: decode only; `Some(w)`: plus scaling every frame to a `w`-wide Gray8 picture.
    pub analysis_width: Option<u32>,
    pub frames: u64,
    pub seconds: f64,
    pub frames_per_second: f64,
}

/// Decodes `path` once and feeds every analyzer. Video is decoded when a video analyzer is
/// given or when no analyzer at all is (decode only); audio streams only when asked for.
///
/// Analyzers are called from worker threads, each in order: `configure`, `analyze` per frame
/// or block, then `finish` (also when the pass stops early on an error).
pub fn decode_pass(
    path: &Path,
    video: &mut [&mut dyn VideoAnalyzer],
    audio: &mut [&mut dyn AudioAnalyzer],
    progress: &dyn ProgressSink,
) -> Result<DecodeSummary, MediaError> {
    let started = Instant::now();
    let mut input = open_input(path)?;
    let decode_video = !video.is_empty() || audio.is_empty();
    let plan = Plan::new(path, &input, decode_video, audio)?;
    discard_unused_streams(&mut input, &plan);

    let mut video_decoder = match plan.video_stream {
        Some(index) => Some(open_video_decoder(path, &input, index)?),
        None => None,
    };
    let mut audio_decoders = HashMap::new();
    for stream in &plan.audio_streams {
        audio_decoders.insert(stream.index, open_audio_decoder(path, &input, stream.index)?);
    }

    let video_info = match (&plan.video_stream, &video_decoder) {
        (Some(index), Some(decoder)) => Some(video_info(&input, *index, decoder)),
        _ => None,
    };
    let frame_requests: Vec<FrameRequest> = match &video_info {
        Some(info) => video.iter_mut().map(|a| a.configure(info)).collect(),
        None => Vec::new(),
    };
    for (analyzer, &slot) in audio.iter_mut().zip(&plan.audio_slot_of_analyzer) {
        let stream = &plan.audio_streams[plan.audio_requests[slot].1];
        analyzer.configure(&stream.info);
    }

    let total_frames = video_info.as_ref().and_then(|i| i.estimated_frames);
    let (unit, total) = if decode_video {
        (ProgressUnit::Frames, total_frames)
    } else {
        (ProgressUnit::Seconds, duration_seconds(&input).map(|d| d.ceil() as u64))
    };
    progress.started(TASK, total, unit);

    let outcome = std::thread::scope(|scope| {
        let turns = plan.video_stream.map_or(0, |index| crate::open::display_turns(&input, index));
        let video_senders = spawn_video_workers(scope, path, video, &frame_requests, turns);
        let audio_senders = spawn_audio_workers(scope, path, audio, &plan);
        let mut decoder_run = DecoderRun {
            path,
            video_senders: video_senders.senders,
            audio_senders: audio_senders.senders,
            progress,
            unit,
            last_progress: Instant::now(),
            frames: 0,
            damage: BTreeMap::new(),
            video_span: Span::default(),
            audio_spans: HashMap::new(),
            next_pts: None,
            origin_seconds: plan.origin_seconds,
        };
        let decoded = decoder_run.run(&mut input, &plan, video_decoder.as_mut(), &mut audio_decoders);
        // Closing the channels lets every worker drain its queue and call `finish`.
        decoder_run.video_senders.clear();
        decoder_run.audio_senders.clear();
        let scaled = join_all(video_senders.workers);
        let audio_samples = join_all(audio_senders.workers);
        // A worker's own error explains a stopped pass better than the decode loop can.
        scaled?;
        let audio_samples = audio_samples?;
        decoded?;
        let DecoderRun { frames, damage, video_span, audio_spans, .. } = decoder_run;
        Ok((frames, damage, video_span, audio_spans, audio_samples))
    });
    progress.finished(TASK);
    let (frames, damage, video_span, audio_spans, audio_samples) = outcome?;
    let damage: Vec<StreamDamage> = damage.into_values().collect();
    let damaged_packets: u64 = damage.iter().map(|d| d.errors).sum();

    if decode_video && frames == 0 && damaged_packets > 0 {
        let stream = plan.video_stream.unwrap_or_default();
        return Err(MediaError::Undecodable {
            path: path.to_path_buf(),
            stream,
            codec: codec_name(&input, stream),
            reason: format!("all {damaged_packets} packets were rejected as damaged"),
        });
    }
    for stream in &damage {
        let text = format!(
            "stream {}: {} decode errors, the first at {:.1} s; the file is damaged there (decoding carried on)",
            stream.stream_index, stream.errors, stream.first_seconds
        );
        tracing::warn!("{}: {text}", path.display());
        progress.message(TASK, &text);
    }
    if let Some(index) = plan.video_stream {
        check_complete(path, &input, index, video_span.seconds())?;
    }
    for stream in &plan.audio_streams {
        let span = audio_spans.get(&stream.index).copied().unwrap_or_default();
        check_complete(path, &input, stream.index, span.seconds())?;
    }

    let audio = plan
        .audio_requests
        .iter()
        .zip(audio_samples)
        .map(|(&(request, stream_slot), samples)| AudioSummary {
            request,
            stream_index: plan.audio_streams[stream_slot].index,
            samples,
        })
        .collect();
    Ok(DecodeSummary {
        frames_decoded: frames,
        video_seconds: plan.video_stream.map(|_| video_span.seconds()),
        audio,
        damage,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Measures decode speed: decode only (`analysis_width: None`), or decode plus scaling every
/// frame for one Gray8 analyzer `analysis_width` pixels wide.
pub fn bench_decode(
    path: &Path,
    analysis_width: Option<u32>,
    progress: &dyn ProgressSink,
) -> Result<DecodeBench, MediaError> {
    let summary = match analysis_width {
        None => decode_pass(path, &mut [], &mut [], progress)?,
        Some(width) => {
            let mut analyzer = ScaledFrameSink { width };
            decode_pass(path, &mut [&mut analyzer], &mut [], progress)?
        }
    };
    let seconds = summary.wall_seconds;
    Ok(DecodeBench {
        analysis_width,
        frames: summary.frames_decoded,
        seconds,
        frames_per_second: if seconds > 0.0 { summary.frames_decoded as f64 / seconds } else { 0.0 },
    })
}

/// The benchmark's analyzer: asks for Gray8 frames and ignores them.
struct ScaledFrameSink {
    width: u32,
}

impl VideoAnalyzer for ScaledFrameSink {
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
        FrameRequest::fit_width(source, self.width, PixelLayout::Gray8)
    }

    fn analyze(&mut self, _frame: &VideoFrame) {}
}

/// Which streams the pass decodes, and which analyzer gets what.
struct Plan {
    video_stream: Option<usize>,
    audio_streams: Vec<AudioSource>,
    /// Distinct requests with the slot of their stream in `audio_streams`.
    audio_requests: Vec<(AudioRequest, usize)>,
    /// For each audio analyzer, its slot in `audio_requests`.
    audio_slot_of_analyzer: Vec<usize>,
    /// The file's timeline origin in seconds (`open::timeline_origin`).
    origin_seconds: f64,
}

struct AudioSource {
    index: usize,
    time_base: Rational,
    info: AudioInfo,
}

impl Plan {
    fn new(
        path: &Path,
        input: &ffmpeg::format::context::Input,
        decode_video: bool,
        audio: &[&mut dyn AudioAnalyzer],
    ) -> Result<Self, MediaError> {
        let video_stream = if decode_video {
            let best = crate::open::picture_stream(input);
            Some(best.ok_or_else(|| MediaError::NoVideoStream { path: path.to_path_buf() })?)
        } else {
            None
        };
        let audio_indices: Vec<usize> = input
            .streams()
            .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
            .map(|s| s.index())
            .collect();
        let mut plan = Plan {
            video_stream,
            audio_streams: Vec::new(),
            audio_requests: Vec::new(),
            audio_slot_of_analyzer: Vec::new(),
            origin_seconds: crate::open::timeline_origin(input),
        };
        for analyzer in audio {
            let request = analyzer.request();
            let slot = match plan.audio_requests.iter().position(|(r, _)| *r == request) {
                Some(slot) => slot,
                None => {
                    let index = resolve_audio(path, input, &audio_indices, request.stream)?;
                    let stream_slot = match plan.audio_streams.iter().position(|s| s.index == index) {
                        Some(slot) => slot,
                        None => {
                            let time_base = input
                                .stream(index)
                                .map_or(Rational::new(1, 1), |s| from_ffmpeg_rational(s.time_base()));
                            let info = audio_info(input, index, &audio_indices);
                            plan.audio_streams.push(AudioSource { index, time_base, info });
                            plan.audio_streams.len() - 1
                        }
                    };
                    plan.audio_requests.push((request, stream_slot));
                    plan.audio_requests.len() - 1
                }
            };
            plan.audio_slot_of_analyzer.push(slot);
        }
        Ok(plan)
    }

    fn uses(&self, index: usize) -> bool {
        self.video_stream == Some(index) || self.audio_streams.iter().any(|s| s.index == index)
    }
}

fn resolve_audio(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    audio_indices: &[usize],
    choice: AudioStreamChoice,
) -> Result<usize, MediaError> {
    let found = match choice {
        AudioStreamChoice::Best => input.streams().best(ffmpeg::media::Type::Audio).map(|s| s.index()),
        AudioStreamChoice::Ordinal(n) => audio_indices.get(n).copied(),
    };
    found.ok_or_else(|| MediaError::NoAudioStream {
        path: path.to_path_buf(),
        wanted: match choice {
            AudioStreamChoice::Best => "audio stream".to_owned(),
            AudioStreamChoice::Ordinal(n) => format!("audio stream #{n} (0-based)"),
        },
        available: audio_indices.len(),
    })
}

fn audio_info(input: &ffmpeg::format::context::Input, index: usize, audio_indices: &[usize]) -> AudioInfo {
    let stream = input.stream(index);
    let (rate, channels, language, duration) = match &stream {
        Some(stream) => {
            // SAFETY: codecpar of an open stream is valid while the input is open.
            let par = unsafe { &*(*stream.as_ptr()).codecpar };
            let duration = ts_seconds(stream.duration(), from_ffmpeg_rational(stream.time_base()))
                .or_else(|| duration_seconds(input));
            (
                par.sample_rate.max(0) as u32,
                par.ch_layout.nb_channels.clamp(0, i32::from(u16::MAX)) as u16,
                stream.metadata().get("language").map(str::to_owned),
                duration,
            )
        }
        None => (0, 0, None, None),
    };
    AudioInfo {
        stream_index: index,
        audio_ordinal: audio_indices.iter().position(|&i| i == index).unwrap_or_default(),
        language,
        source_sample_rate: rate,
        source_channels: channels,
        duration,
    }
}

/// Tells the demuxer to drop packets of streams nobody decodes (less work, less memory).
fn discard_unused_streams(input: &mut ffmpeg::format::context::Input, plan: &Plan) {
    for mut stream in input.streams_mut() {
        if !plan.uses(stream.index()) {
            // SAFETY: setting `discard` before reading packets is how FFmpeg skips a stream.
            unsafe { (*stream.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
}

fn decoder_context(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<ffmpeg::decoder::Decoder, MediaError> {
    let stream = input.stream(index).ok_or_else(|| MediaError::NotMedia { path: path.to_path_buf() })?;
    let mut context = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .map_err(|e| MediaError::ffmpeg(path, "setting up a decoder", e))?;
    let (width, height) = {
        let parameters = stream.parameters();
        // SAFETY: the parameters belong to the stream, which lives as long as `input`.
        let parameters = unsafe { &*parameters.as_ptr() };
        (parameters.width.max(0) as u32, parameters.height.max(0) as u32)
    };
    context.set_threading(ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: decoder_threads(width, height),
        ..Default::default()
    });
    // Its error lines are counted as damage (`init::log_line`).
    // SAFETY: the context is ours and not open yet.
    crate::init::tag_decoder(unsafe { context.as_mut_ptr() });
    let mut decoder = context.decoder();
    decoder.set_packet_time_base(stream.time_base());
    Ok(decoder)
}

/// Pictures smaller than this decode on one thread.
const FRAME_THREADS_MIN_PIXELS: u32 = 640 * 360;
/// FFmpeg's own cap on frame threads it picks itself.
const MAX_FRAME_THREADS: usize = 16;

/// Frame threads for a video decoder: one per core for pictures of 640×360 and up, without
/// FFmpeg's automatic extra thread, because the analyzers need the cores' spare time. Smaller
/// pictures decode faster in total on one thread and leave the other cores to the analyzers
/// (shots on a 320×180 clip, 2 cores: 0.22 s against 0.27 s with FFmpeg's automatic count).
/// Audio streams (0×0) get one thread; their decoders do not frame-thread anyway.
fn decoder_threads(width: u32, height: u32) -> usize {
    if width.saturating_mul(height) < FRAME_THREADS_MIN_PIXELS {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |cores| cores.get().min(MAX_FRAME_THREADS))
}

fn decoder_open_error(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
    error: ffmpeg::Error,
) -> MediaError {
    let codec = codec_name(input, index);
    let unknown_codec = input.stream(index).is_some_and(|s| s.parameters().id() == ffmpeg::codec::Id::None);
    match error {
        // No codec id at all: the header naming it is damaged, not a decoder missing.
        ffmpeg::Error::DecoderNotFound if unknown_codec => MediaError::Undecodable {
            path: path.to_path_buf(),
            stream: index,
            codec,
            reason: "its header names no known codec (damaged file?); re-copy or re-export it".into(),
        },
        ffmpeg::Error::DecoderNotFound => MediaError::MissingCodec {
            path: path.to_path_buf(),
            what: format!("a decoder for {codec} (stream {index})"),
            hint: "install an FFmpeg build that includes it".into(),
        },
        other => MediaError::Undecodable {
            path: path.to_path_buf(),
            stream: index,
            codec,
            reason: other.to_string(),
        },
    }
}

pub(crate) fn open_video_decoder(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<ffmpeg::decoder::Video, MediaError> {
    decoder_context(path, input, index)?.video().map_err(|e| decoder_open_error(path, input, index, e))
}

pub(crate) fn open_audio_decoder(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<ffmpeg::decoder::Audio, MediaError> {
    decoder_context(path, input, index)?.audio().map_err(|e| decoder_open_error(path, input, index, e))
}

fn codec_name(input: &ffmpeg::format::context::Input, index: usize) -> String {
    input
        .stream(index)
        .map(|s| s.parameters().id().name().to_owned())
        .unwrap_or_else(|| "unknown codec".into())
}

fn duration_seconds(input: &ffmpeg::format::context::Input) -> Option<f64> {
    ts_seconds(input.duration(), Rational::new(1, ffi::AV_TIME_BASE)).filter(|d| *d > 0.0)
}

pub(crate) fn video_info(
    input: &ffmpeg::format::context::Input,
    index: usize,
    decoder: &ffmpeg::decoder::Video,
) -> VideoInfo {
    let stream = input.stream(index);
    let (time_base, frame_rate, duration, nb_frames, sar) = match &stream {
        Some(stream) => {
            let time_base = from_ffmpeg_rational(stream.time_base());
            let avg = from_ffmpeg_rational(stream.avg_frame_rate());
            let frame_rate = if avg.as_f64() > 0.0 { avg } else { from_ffmpeg_rational(stream.rate()) };
            let duration = ts_seconds(stream.duration(), time_base).or_else(|| duration_seconds(input));
            // SAFETY: both pointers come from the open input; FFmpeg only reads them.
            let sar = unsafe {
                ffi::av_guess_sample_aspect_ratio(
                    input.as_ptr() as *mut ffi::AVFormatContext,
                    stream.as_ptr() as *mut ffi::AVStream,
                    std::ptr::null_mut(),
                )
            };
            (time_base, frame_rate, duration, stream.frames(), Rational::new(sar.num, sar.den))
        }
        None => (Rational::new(1, 1), Rational::new(0, 1), None, 0, Rational::new(0, 1)),
    };
    let estimated_frames = u64::try_from(nb_frames).ok().filter(|&n| n > 0).or_else(|| {
        duration.filter(|_| frame_rate.as_f64() > 0.0).map(|d| (d * frame_rate.as_f64()).round() as u64)
    });
    // Analyzers see the picture as it is shown: a turned stream swaps its sides.
    let turned = crate::open::display_turns(input, index) % 2 == 1;
    let (width, height) =
        if turned { (decoder.height(), decoder.width()) } else { (decoder.width(), decoder.height()) };
    let sar = if turned && sar.num > 0 { Rational::new(sar.den, sar.num) } else { sar };
    VideoInfo { width, height, sample_aspect_ratio: sar, frame_rate, time_base, duration, estimated_frames }
}

/// The presentation span decoded from one stream, in seconds.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    first: Option<f64>,
    end: Option<f64>,
}

impl Span {
    fn add(&mut self, start: f64, end: f64) {
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.end = Some(self.end.map_or(end, |e| e.max(end)));
    }

    fn seconds(&self) -> f64 {
        match (self.first, self.end) {
            (Some(first), Some(end)) => (end - first).max(0.0),
            _ => 0.0,
        }
    }
}

/// A decoded stream that ends well before the container says it does was cut short.
fn check_complete(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    index: usize,
    decoded: f64,
) -> Result<(), MediaError> {
    let declared = input
        .stream(index)
        .and_then(|s| ts_seconds(s.duration(), from_ffmpeg_rational(s.time_base())))
        .filter(|d| *d > 0.0)
        .or_else(|| duration_seconds(input));
    match declared {
        Some(declared) if decoded < 0.9 * declared && declared - decoded > 1.0 => {
            Err(MediaError::Truncated {
                path: path.to_path_buf(),
                detail: format!(
                    "media data of stream {index} ends at {decoded:.1} s but the container declares {declared:.1} s"
                ),
            })
        }
        _ => Ok(()),
    }
}

struct VideoWorkers<'scope> {
    /// One per distinct frame request: where decoded frames go, and which of them it wants.
    senders: Vec<(SyncSender<DecodedPicture>, SampleGrid)>,
    workers: Vec<ScopedJoinHandle<'scope, Result<(), MediaError>>>,
}

struct DecodedPicture {
    index: u64,
    time: Timestamp,
    frame: ffmpeg::frame::Video,
}

/// Which frames a sampled request gets: the first at or after each step of a fixed grid, so
/// sampled times do not drift with frame timing. Decided on the decoding thread, so frames a
/// request skips never wake its worker.
struct SampleGrid {
    step_seconds: f64,
    next_due: f64,
}

impl SampleGrid {
    fn new(request: &FrameRequest) -> Self {
        Self { step_seconds: f64::from(request.sample_every_ms) / 1000.0, next_due: f64::NEG_INFINITY }
    }

    fn wants(&mut self, seconds: f64) -> bool {
        if self.step_seconds <= 0.0 {
            return true;
        }
        if seconds < self.next_due {
            return false;
        }
        self.next_due = ((seconds / self.step_seconds).floor() + 1.0) * self.step_seconds;
        true
    }
}

/// Each distinct request scales each picture once. A request with one analyzer scales on
/// that analyzer's thread: statistics frames cost little to scale, and the hand-off saved
/// per frame is a thread wake-up (shots on a 320×180 clip: a third of the context switches,
/// 5-15 % less CPU). A request shared by several analyzers gets a scaler thread that hands
/// each picture to every analyzer's own thread.
fn spawn_video_workers<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    path: &'env Path,
    analyzers: &'env mut [&mut dyn VideoAnalyzer],
    requests: &[FrameRequest],
    turns: u8,
) -> VideoWorkers<'scope> {
    let mut groups: Vec<(FrameRequest, Vec<&'env mut dyn VideoAnalyzer>)> = Vec::new();
    for (analyzer, request) in analyzers.iter_mut().zip(requests) {
        match groups.iter_mut().find(|(r, _)| r == request) {
            Some((_, group)) => group.push(&mut **analyzer),
            None => groups.push((*request, vec![&mut **analyzer])),
        }
    }
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for (request, group) in groups {
        let (sender, pictures) = sync_channel::<DecodedPicture>(DECODED_QUEUE);
        senders.push((sender, SampleGrid::new(&request)));
        let group = match <[_; 1]>::try_from(group) {
            Ok([analyzer]) => {
                workers.push(scope.spawn(move || {
                    scale_frames(path, request, turns, pictures, |frame| {
                        analyzer.analyze(&frame);
                        Some(frame.data)
                    })?;
                    analyzer.finish();
                    Ok(())
                }));
                continue;
            }
            Err(group) => group,
        };
        let mut outputs = Vec::new();
        for analyzer in group {
            let (output, frames) = sync_channel::<Arc<VideoFrame>>(ANALYZER_QUEUE);
            outputs.push(output);
            workers.push(scope.spawn(move || {
                for frame in frames {
                    analyzer.analyze(&frame);
                }
                analyzer.finish();
                Ok(())
            }));
        }
        workers.push(scope.spawn(move || {
            scale_frames(path, request, turns, pictures, |frame| {
                let frame = Arc::new(frame);
                for output in &outputs {
                    // A closed channel means that analyzer's thread is gone; the others carry on.
                    let _ = output.send(Arc::clone(&frame));
                }
                None
            })
        }));
    }
    VideoWorkers { senders, workers }
}

/// Scales each decoded picture once and hands the result on; `deliver` gives the frame's
/// buffer back when nothing else holds it.
fn scale_frames(
    path: &Path,
    request: FrameRequest,
    turns: u8,
    pictures: Receiver<DecodedPicture>,
    mut deliver: impl FnMut(VideoFrame) -> Option<Vec<u8>>,
) -> Result<(), MediaError> {
    let mut scaler = FrameScaler::upright(request, turns);
    for picture in pictures {
        let data =
            scaler.scale(&picture.frame).map_err(|e| MediaError::ffmpeg(path, "scaling a frame", e))?;
        let returned = deliver(VideoFrame {
            index: picture.index,
            time: picture.time,
            width: request.width,
            height: request.height,
            layout: request.layout,
            data,
        });
        if let Some(data) = returned {
            scaler.recycle(data);
        }
    }
    Ok(())
}

struct AudioWorkers<'scope> {
    /// Per audio stream index, the resampler inputs of the requests on it.
    senders: HashMap<usize, Vec<SyncSender<ffmpeg::frame::Audio>>>,
    /// Resamplers (returning the samples they delivered), in `Plan::audio_requests` order,
    /// then the analyzers (returning 0).
    workers: Vec<ScopedJoinHandle<'scope, Result<u64, MediaError>>>,
}

type AudioChunk = (u64, Arc<Vec<f32>>);

fn spawn_audio_workers<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    path: &'env Path,
    analyzers: &'env mut [&mut dyn AudioAnalyzer],
    plan: &Plan,
) -> AudioWorkers<'scope> {
    let mut outputs: Vec<Vec<SyncSender<AudioChunk>>> = vec![Vec::new(); plan.audio_requests.len()];
    let mut analyzer_workers = Vec::new();
    for (analyzer, &slot) in analyzers.iter_mut().zip(&plan.audio_slot_of_analyzer) {
        let (sender, receiver) = sync_channel::<AudioChunk>(AUDIO_QUEUE);
        outputs[slot].push(sender);
        let (rate, channels) =
            (plan.audio_requests[slot].0.sample_rate, plan.audio_requests[slot].0.channels);
        analyzer_workers.push(scope.spawn(move || {
            for (first_sample, samples) in receiver {
                analyzer.analyze(&AudioBlock {
                    first_sample,
                    sample_rate: rate,
                    channels,
                    samples: &samples,
                });
            }
            analyzer.finish();
            Ok(0)
        }));
    }
    let mut senders: HashMap<usize, Vec<SyncSender<ffmpeg::frame::Audio>>> = HashMap::new();
    let mut workers = Vec::new();
    for (&(request, stream_slot), outputs) in plan.audio_requests.iter().zip(outputs) {
        let (sender, receiver) = sync_channel::<ffmpeg::frame::Audio>(AUDIO_QUEUE);
        let stream = &plan.audio_streams[stream_slot];
        senders.entry(stream.index).or_default().push(sender);
        let (time_base, origin) = (stream.time_base, plan.origin_seconds);
        workers
            .push(scope.spawn(move || resample_frames(path, request, time_base, origin, receiver, outputs)));
    }
    workers.extend(analyzer_workers);
    AudioWorkers { senders, workers }
}

/// Resamples one stream for one request. Positions are counted from time 0 of the stream's
/// timeline, like video timestamps: a stream starting at 0.5 s delivers its first block at
/// sample `0.5 × rate`; samples before 0 (a negative start for encoder priming) are dropped.
/// After the first frame, blocks are contiguous. Returns the sample frames delivered.
fn resample_frames(
    path: &Path,
    request: AudioRequest,
    time_base: Rational,
    origin_seconds: f64,
    frames: Receiver<ffmpeg::frame::Audio>,
    outputs: Vec<SyncSender<AudioChunk>>,
) -> Result<u64, MediaError> {
    let mut converter = ToInterleavedF32::new(request.sample_rate, request.channels);
    let channels = usize::from(request.channels.max(1));
    let mut position: Option<u64> = None;
    let mut to_drop = 0usize;
    let mut delivered = 0u64;
    let mut deliver = |mut samples: Vec<f32>, position: &mut u64, to_drop: &mut usize| {
        let dropped = (*to_drop).min(samples.len() / channels);
        *to_drop -= dropped;
        samples.drain(..dropped * channels);
        if samples.is_empty() {
            return;
        }
        let count = (samples.len() / channels) as u64;
        let chunk = Arc::new(samples);
        for output in &outputs {
            let _ = output.send((*position, Arc::clone(&chunk)));
        }
        *position += count;
        delivered += count;
    };
    let resample_error = |e| MediaError::ffmpeg(path, "resampling audio", e);
    for frame in frames {
        let position = position.get_or_insert_with(|| {
            let start = frame.pts().or(frame.timestamp()).and_then(|pts| ts_seconds(pts, time_base));
            let start = start.map_or(0.0, |start| start - origin_seconds);
            let first = (start * f64::from(request.sample_rate)).round() as i64;
            to_drop = usize::try_from(-first).unwrap_or(0);
            first.max(0) as u64
        });
        let mut samples = Vec::new();
        converter.convert(&frame, &mut samples).map_err(resample_error)?;
        deliver(samples, position, &mut to_drop);
    }
    if let Some(position) = position.as_mut() {
        let mut samples = Vec::new();
        converter.flush(&mut samples).map_err(resample_error)?;
        deliver(samples, position, &mut to_drop);
    }
    Ok(delivered)
}

/// The demux/decode loop on the calling thread.
struct DecoderRun<'a> {
    path: &'a Path,
    video_senders: Vec<(SyncSender<DecodedPicture>, SampleGrid)>,
    audio_senders: HashMap<usize, Vec<SyncSender<ffmpeg::frame::Audio>>>,
    progress: &'a dyn ProgressSink,
    unit: ProgressUnit,
    last_progress: Instant,
    frames: u64,
    /// Per stream index.
    damage: BTreeMap<usize, StreamDamage>,
    video_span: Span,
    audio_spans: HashMap<usize, Span>,
    /// Where the next picture is expected, for frames that carry no timestamp at all.
    next_pts: Option<i64>,
    /// The file's timeline origin (`open::timeline_origin`), taken off every timestamp.
    origin_seconds: f64,
}

/// A worker stopped taking input; its own error (returned when joined) explains why.
struct WorkerGone;

impl DecoderRun<'_> {
    fn run(
        &mut self,
        input: &mut ffmpeg::format::context::Input,
        plan: &Plan,
        mut video_decoder: Option<&mut ffmpeg::decoder::Video>,
        audio_decoders: &mut HashMap<usize, ffmpeg::decoder::Audio>,
    ) -> Result<(), MediaError> {
        let video_timing = plan.video_stream.and_then(|i| input.stream(i)).map(|s| {
            let time_base = from_ffmpeg_rational(s.time_base());
            let rate = from_ffmpeg_rational(s.avg_frame_rate());
            let rate = if rate.as_f64() > 0.0 { rate } else { from_ffmpeg_rational(s.rate()) };
            FrameTiming::new(time_base, rate, plan.origin_seconds)
        });
        let audio_time_bases: HashMap<usize, Rational> = plan
            .audio_streams
            .iter()
            .filter_map(|a| input.stream(a.index).map(|s| (a.index, from_ffmpeg_rational(s.time_base()))))
            .collect();
        let mut packet = ffmpeg::Packet::empty();
        let mut picture = ffmpeg::frame::Video::empty();
        let mut sound = ffmpeg::frame::Audio::empty();
        loop {
            match packet.read(input) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => break,
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => continue,
                // Anything but a clean end of file means the data stops or breaks early.
                Err(error) => {
                    return Err(MediaError::Truncated {
                        path: self.path.to_path_buf(),
                        detail: format!(
                            "reading failed after {:.1} s of media ({error})",
                            self.position_seconds()
                        ),
                    });
                }
            }
            let index = packet.stream();
            let delivered = if let (Some(decoder), Some(timing)) =
                (video_decoder.as_deref_mut().filter(|_| plan.video_stream == Some(index)), &video_timing)
            {
                if decoder.send_packet(&packet).is_err() {
                    self.damaged(index);
                }
                let drained = self.drain_video(index, decoder, &mut picture, timing);
                self.count_logged_errors(index, decoder);
                drained
            } else if let Some(decoder) = audio_decoders.get_mut(&index) {
                if decoder.send_packet(&packet).is_err() {
                    self.damaged(index);
                }
                let time_base = audio_time_bases.get(&index).copied().unwrap_or(Rational::new(1, 1));
                let drained = self.drain_audio(index, decoder, &mut sound, time_base);
                self.count_logged_errors(index, decoder);
                drained
            } else {
                Ok(())
            };
            if delivered.is_err() {
                return Ok(());
            }
            self.report_progress(false);
        }
        // End of input: flush every decoder so its last frames come out.
        if let (Some(decoder), Some(timing), Some(stream)) = (video_decoder, &video_timing, plan.video_stream)
        {
            let _ = decoder.send_eof();
            if self.drain_video(stream, decoder, &mut picture, timing).is_err() {
                return Ok(());
            }
        }
        for (&index, decoder) in audio_decoders.iter_mut() {
            let _ = decoder.send_eof();
            let time_base = audio_time_bases.get(&index).copied().unwrap_or(Rational::new(1, 1));
            if self.drain_audio(index, decoder, &mut sound, time_base).is_err() {
                return Ok(());
            }
        }
        self.report_progress(true);
        Ok(())
    }

    /// Adds the error lines `decoder` logged (concealed damage) to stream `index`'s count.
    fn count_logged_errors(&mut self, index: usize, decoder: &ffmpeg::codec::Context) {
        // SAFETY: reads the tag `decoder_context` put in the open context.
        let tag = unsafe { (*decoder.as_ptr()).opaque as usize };
        for _ in 0..crate::init::take_decoder_errors(tag) {
            self.damaged(index);
        }
    }

    /// Counts one decode error in stream `index`, placed where decoding has got to.
    fn damaged(&mut self, index: usize) {
        let at = match self.audio_spans.get(&index) {
            Some(span) => span.end,
            None => self.video_span.end,
        };
        let entry = self.damage.entry(index).or_insert_with(|| StreamDamage {
            stream_index: index,
            errors: 0,
            first_seconds: at.unwrap_or(0.0).max(0.0),
        });
        entry.errors += 1;
    }

    fn drain_video(
        &mut self,
        stream: usize,
        decoder: &mut ffmpeg::decoder::Video,
        picture: &mut ffmpeg::frame::Video,
        timing: &FrameTiming,
    ) -> Result<(), WorkerGone> {
        loop {
            match decoder.receive_frame(picture) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => return Ok(()),
                Err(_) => {
                    self.damaged(stream);
                    return Ok(());
                }
            }
            // SAFETY: reads two fields of the frame the decoder just filled.
            let concealed = unsafe {
                let frame = picture.as_ptr();
                (*frame).decode_error_flags != 0 || (*frame).flags & ffi::AV_FRAME_FLAG_CORRUPT != 0
            };
            if concealed {
                self.damaged(stream);
            }
            let raw = picture.pts().or(picture.timestamp()).or(self.next_pts).unwrap_or(0);
            self.next_pts = Some(raw + timing.step);
            let pts = raw - timing.origin;
            let start = pts as f64 * timing.time_base.as_f64();
            self.video_span.add(start, start + timing.step_seconds);
            let index = self.frames;
            self.frames += 1;
            let time = Timestamp { pts, time_base: timing.time_base };
            for (sender, grid) in &mut self.video_senders {
                if !grid.wants(time.seconds()) {
                    continue;
                }
                let frame = share_picture(picture).ok_or(WorkerGone)?;
                sender.send(DecodedPicture { index, time, frame }).map_err(|_| WorkerGone)?;
            }
        }
    }

    fn drain_audio(
        &mut self,
        index: usize,
        decoder: &mut ffmpeg::decoder::Audio,
        sound: &mut ffmpeg::frame::Audio,
        time_base: Rational,
    ) -> Result<(), WorkerGone> {
        loop {
            match decoder.receive_frame(sound) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => return Ok(()),
                Err(_) => {
                    self.damaged(index);
                    return Ok(());
                }
            }
            if let Some(start) = sound.pts().or(sound.timestamp()).and_then(|p| ts_seconds(p, time_base)) {
                let start = start - self.origin_seconds;
                let length =
                    if sound.rate() > 0 { sound.samples() as f64 / f64::from(sound.rate()) } else { 0.0 };
                self.audio_spans.entry(index).or_default().add(start, start + length);
            }
            for sender in self.audio_senders.get(&index).into_iter().flatten() {
                let frame = share_sound(sound).ok_or(WorkerGone)?;
                sender.send(frame).map_err(|_| WorkerGone)?;
            }
        }
    }

    fn position_seconds(&self) -> f64 {
        let audio_end = self.audio_spans.values().filter_map(|s| s.end).fold(0.0, f64::max);
        self.video_span.end.unwrap_or(0.0).max(audio_end)
    }

    fn report_progress(&mut self, force: bool) {
        if !force && self.last_progress.elapsed() < PROGRESS_INTERVAL {
            return;
        }
        self.last_progress = Instant::now();
        let position = match self.unit {
            ProgressUnit::Frames => self.frames,
            _ => self.position_seconds() as u64,
        };
        self.progress.advanced(TASK, position);
    }
}

/// Timestamp arithmetic for one video stream.
struct FrameTiming {
    time_base: Rational,
    /// One frame's duration in time-base units (1 when the rate is unknown).
    step: i64,
    step_seconds: f64,
    /// The timeline origin in time-base units, taken off every timestamp.
    origin: i64,
}

impl FrameTiming {
    fn new(time_base: Rational, rate: Rational, origin_seconds: f64) -> Self {
        let step_seconds = if rate.as_f64() > 0.0 { 1.0 / rate.as_f64() } else { 0.0 };
        let ticks = |seconds: f64| {
            if time_base.as_f64() > 0.0 { (seconds / time_base.as_f64()).round() as i64 } else { 0 }
        };
        Self { time_base, step: ticks(step_seconds).max(1), step_seconds, origin: ticks(origin_seconds) }
    }
}

/// A new reference to the same decoded picture (no pixel copy).
fn share_picture(frame: &ffmpeg::frame::Video) -> Option<ffmpeg::frame::Video> {
    // SAFETY: av_frame_clone only adds references to the source's buffers; the wrapper takes
    // ownership of the new frame and frees it on drop.
    unsafe {
        let clone = ffi::av_frame_clone(frame.as_ptr());
        (!clone.is_null()).then(|| ffmpeg::frame::Video::wrap(clone))
    }
}

fn share_sound(frame: &ffmpeg::frame::Audio) -> Option<ffmpeg::frame::Audio> {
    // SAFETY: as in `share_picture`.
    unsafe {
        let clone = ffi::av_frame_clone(frame.as_ptr());
        (!clone.is_null()).then(|| ffmpeg::frame::Audio::wrap(clone))
    }
}

fn join_all<T: Default>(
    workers: Vec<ScopedJoinHandle<'_, Result<T, MediaError>>>,
) -> Result<Vec<T>, MediaError> {
    let mut results = Vec::with_capacity(workers.len());
    let mut first_error = None;
    for worker in workers {
        match worker.join() {
            Ok(Ok(value)) => results.push(value),
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
                results.push(T::default());
            }
            // An analyzer bug, not a media problem: keep its panic as is.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(results),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use reelforge_core::{NoProgress, ProgressEvent, ProgressKind};

    use super::*;
    use crate::test_support::{SMALL, small_sample, small_truth};

    /// Checks order and layout of every frame it sees.
    struct FrameChecker {
        width: u32,
        layout: PixelLayout,
        request: Option<FrameRequest>,
        frames: u64,
        last_seconds: f64,
        finished: bool,
    }

    impl FrameChecker {
        fn new(width: u32, layout: PixelLayout) -> Self {
            Self { width, layout, request: None, frames: 0, last_seconds: f64::NEG_INFINITY, finished: false }
        }
    }

    impl VideoAnalyzer for FrameChecker {
        fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
            let request = FrameRequest::fit_width(source, self.width, self.layout);
            self.request = Some(request);
            request
        }

        fn analyze(&mut self, frame: &VideoFrame) {
            let request = self.request.unwrap();
            assert_eq!(frame.index, self.frames, "frames arrive in order, indexed from 0");
            assert!(frame.time.seconds() > self.last_seconds, "timestamps increase");
            assert_eq!(
                (frame.width, frame.height, frame.layout),
                (request.width, request.height, request.layout)
            );
            assert_eq!(frame.data.len(), frame.layout.frame_bytes(frame.width, frame.height));
            self.last_seconds = frame.time.seconds();
            self.frames += 1;
        }

        fn finish(&mut self) {
            self.finished = true;
        }
    }

    /// Collects a whole (short) audio stream and checks that blocks are contiguous.
    struct AudioCollector {
        request: AudioRequest,
        language: Option<String>,
        first_sample: Option<u64>,
        samples: Vec<f32>,
    }

    impl AudioCollector {
        fn new(stream: AudioStreamChoice) -> Self {
            Self {
                request: AudioRequest::speech(stream),
                language: None,
                first_sample: None,
                samples: Vec::new(),
            }
        }

        fn rms(&self, from_seconds: f64, to_seconds: f64) -> f64 {
            let rate = f64::from(self.request.sample_rate);
            let window = &self.samples[(from_seconds * rate) as usize..(to_seconds * rate) as usize];
            (window.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / window.len() as f64).sqrt()
        }
    }

    impl AudioAnalyzer for AudioCollector {
        fn request(&self) -> AudioRequest {
            self.request
        }

        fn configure(&mut self, source: &AudioInfo) {
            self.language = source.language.clone();
        }

        fn analyze(&mut self, block: &AudioBlock<'_>) {
            let expected = *self.first_sample.get_or_insert(block.first_sample) + self.samples.len() as u64;
            assert_eq!(block.first_sample, expected, "blocks are contiguous");
            assert_eq!((block.sample_rate, block.channels), (16_000, 1));
            self.samples.extend_from_slice(block.samples);
        }
    }

    #[test]
    fn small_pictures_and_audio_decode_on_one_thread_larger_ones_on_every_core() {
        assert_eq!(decoder_threads(320, 180), 1);
        assert_eq!(decoder_threads(0, 0), 1);
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        assert_eq!(decoder_threads(1280, 720), cores.min(MAX_FRAME_THREADS));
        assert_eq!(decoder_threads(640, 360), decoder_threads(1920, 1080));
    }

    #[test]
    fn every_frame_reaches_every_analyzer_in_order() {
        let mut small = FrameChecker::new(64, PixelLayout::Gray8);
        let mut same = FrameChecker::new(64, PixelLayout::Gray8);
        let mut colour = FrameChecker::new(128, PixelLayout::Rgb24);
        let mut planar = FrameChecker::new(96, PixelLayout::Yuv420);
        let summary = decode_pass(
            small_sample(),
            &mut [&mut small, &mut same, &mut colour, &mut planar],
            &mut [],
            &NoProgress,
        )
        .unwrap();
        let expected = SMALL.frame_count();
        assert_eq!(summary.frames_decoded, expected);
        for checker in [&small, &same, &colour, &planar] {
            assert_eq!(checker.frames, expected);
            assert!(checker.finished);
        }
        assert_eq!(small.request.map(|r| (r.width, r.height)), Some((64, 36)));
        assert!((summary.video_seconds.unwrap() - 12.0).abs() < 1e-6);
        assert!(summary.audio.is_empty(), "no audio analyzer, no audio decoding");
    }

    /// Asks for one small frame per second and records when each came.
    #[derive(Default)]
    struct SecondSampler {
        seconds: Vec<f64>,
    }

    impl VideoAnalyzer for SecondSampler {
        fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
            FrameRequest::fit_width(source, 64, PixelLayout::Rgb24).sampled_every(1000)
        }

        fn analyze(&mut self, frame: &VideoFrame) {
            self.seconds.push(frame.time.seconds());
        }
    }

    #[test]
    fn a_sampled_request_gets_one_frame_per_step_beside_a_full_one() {
        let mut sampler = SecondSampler::default();
        let mut every = FrameChecker::new(64, PixelLayout::Gray8);
        decode_pass(small_sample(), &mut [&mut sampler, &mut every], &mut [], &NoProgress).unwrap();
        assert_eq!(every.frames, SMALL.frame_count(), "the unsampled analyzer still sees every frame");
        assert_eq!(sampler.seconds.len(), 12, "{:?}", sampler.seconds);
        for (second, seen) in sampler.seconds.iter().enumerate() {
            assert!((seen - second as f64).abs() < 0.05, "frame for second {second} came at {seen}");
        }
    }

    #[test]
    fn two_languages_reach_their_own_analyzers_sample_accurately() {
        let mut english = AudioCollector::new(AudioStreamChoice::Ordinal(0));
        let mut french = AudioCollector::new(AudioStreamChoice::Ordinal(1));
        let summary =
            decode_pass(small_sample(), &mut [], &mut [&mut english, &mut french], &NoProgress).unwrap();
        assert_eq!(summary.frames_decoded, 0, "no video analyzer, no video decoding");
        assert_eq!(english.language.as_deref(), Some("eng"));
        assert_eq!(french.language.as_deref(), Some("fra"));
        for collector in [&english, &french] {
            assert_eq!(collector.first_sample, Some(0));
            // AAC pads the last frame (1024 samples at 48 kHz): allow that much extra.
            let expected = f64::from(SMALL.duration_seconds) * 16_000.0;
            let got = collector.samples.len() as f64;
            assert!(got >= expected - 1.0 && got <= expected + 400.0, "{got} samples, expected {expected}");
        }
        assert_eq!(summary.audio.len(), 2);
        assert_eq!(summary.audio[0].samples, english.samples.len() as u64);

        // Each line is where the truth says: loud inside, silent just before it.
        for line in &small_truth().speech {
            let collector = if line.stream_language == "eng" { &english } else { &french };
            let inside = collector.rms(line.start_seconds + 0.2, line.end_seconds - 0.2);
            let before = collector.rms(line.start_seconds - 0.25, line.start_seconds - 0.05);
            assert!(inside > 0.02 && before < 0.005, "{}: rms {inside} inside, {before} before", line.text);
        }
        // The two tracks really differ (different languages, different line lengths).
        assert!(english.samples.iter().zip(&french.samples).any(|(a, b)| (a - b).abs() > 0.1));
    }

    #[test]
    fn analyzers_sharing_a_request_share_one_resampled_stream() {
        let mut first = AudioCollector::new(AudioStreamChoice::Best);
        let mut second = AudioCollector::new(AudioStreamChoice::Ordinal(0));
        let summary =
            decode_pass(small_sample(), &mut [], &mut [&mut first, &mut second], &NoProgress).unwrap();
        assert_eq!(summary.audio.len(), 2, "Best and Ordinal(0) are different requests…");
        assert_eq!(summary.audio[0].stream_index, summary.audio[1].stream_index, "…on the same stream");
        assert_eq!(first.samples, second.samples);
    }

    #[test]
    fn asking_for_a_missing_audio_stream_is_bad_input() {
        let mut third = AudioCollector::new(AudioStreamChoice::Ordinal(2));
        let error = decode_pass(small_sample(), &mut [], &mut [&mut third], &NoProgress).unwrap_err();
        assert!(matches!(error, MediaError::NoAudioStream { available: 2, .. }), "{error}");
    }

    #[derive(Default)]
    struct RecordingSink(Mutex<Vec<ProgressEvent>>);

    impl ProgressSink for RecordingSink {
        fn emit(&self, event: ProgressEvent) {
            self.0.lock().unwrap().push(event);
        }
    }

    #[test]
    fn bench_decodes_every_frame_and_reports_progress_sparingly() {
        let progress = RecordingSink::default();
        let bench = bench_decode(small_sample(), None, &progress).unwrap();
        assert_eq!(bench.frames, SMALL.frame_count());
        assert!(bench.frames_per_second > 0.0);
        let events = progress.0.into_inner().unwrap();
        assert!(matches!(
            events.first().map(|e| &e.kind),
            Some(ProgressKind::Started { total: Some(300), unit: ProgressUnit::Frames })
        ));
        assert_eq!(events.last().map(|e| &e.kind), Some(&ProgressKind::Finished));
        assert!(events.len() < 100, "progress is throttled, not per frame");

        let scaled = bench_decode(small_sample(), Some(128), &NoProgress).unwrap();
        assert_eq!(scaled.frames, SMALL.frame_count());
    }
}
