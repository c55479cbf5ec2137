//! `renditions`: the adaptive-bitrate ladder. Decodes the input once (full resolution),
//! encodes every rung and audio stream side by side into CMAF segments under `media/`, then
//! measures the segments as written and describes them in `hls/master.m3u8` (plus media and
//! I-frame playlists) and `dash/manifest.mpd`. `renditions.json` lists what was made.
//!
//! A render farm splits it ([`StagePart`]): a video chunk encodes one rung over whole segments
//! into `<rung>/` of its own folder, with the segments' whole-input numbers and decode times;
//! an audio chunk encodes one audio stream whole; the join gathers the chunks' segments under
//! `media/` and writes the manifests exactly as a whole run does.

use std::path::{Path, PathBuf};

use reelforge_core::{ErrorClass, ProgressSink};
use reelforge_delivery::{
    AAC_LC_CODEC, AudioRendition, INIT_FILE_NAME, PackagedTrack, PlannedRung, Presentation,
    RenditionSettings, SEGMENT_FILE_PATTERN, Segment, SourceVideo, Span, SubtitleSegment, SubtitleTrack,
    VideoCodec, VideoRendition, dash_manifest, h264_codec_string, hls_files, parse_fragment,
    parse_init_timescale, plan_ladder, segment_file_name, segment_webvtt, track_language,
};
use reelforge_media::{
    AudioRenditionSpec, EncodeRange, MediaInfo, RENDITION_AUDIO_RATE, RenditionCodec, RenditionJob,
    TimeShift, VideoRungSpec,
};
use reelforge_pipeline::{ChunkSpec, ChunkTrack, StageError, StageJob, StageName, StageOutcome, StagePart};
use serde::{Deserialize, Serialize};

use crate::documents::{self, SubtitlesDocument};

pub const RENDITIONS_JSON: &str = "renditions.json";
/// What a video chunk records for the join: the encoder's header and the frame rate.
const CHUNK_JSON: &str = "chunk.json";
const MEDIA_DIR: &str = "media";
const SUBTITLES_DIR: &str = "subtitles";

/// `renditions.json`: the ladder as encoded, with bit rates measured on the segments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenditionsDocument {
    pub source: String,
    pub frame_rate: f64,
    pub video: Vec<TrackSummary>,
    pub audio: Vec<TrackSummary>,
    pub subtitles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackSummary {
    pub id: String,
    /// Folder of its segments, relative to the stage folder.
    pub dir: String,
    pub codecs: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub language: Option<String>,
    /// The configured average in bit/s (video only).
    pub target_bitrate: Option<u64>,
    pub average_bitrate: u64,
    pub peak_bitrate: u64,
    pub segments: usize,
    pub duration_seconds: f64,
}

/// `chunk.json` of a video chunk.
#[derive(Serialize, Deserialize)]
struct ChunkRecord {
    frame_rate: f64,
    /// The encoder's global header (for the codec string).
    extradata: Vec<u8>,
    frames: u64,
}

pub fn run(
    job: &StageJob<'_>,
    settings: &RenditionSettings,
    progress: &dyn ProgressSink,
) -> Result<StageOutcome, StageError> {
    let info = documents::job_media(job)?;
    let source = source_video(&info).ok_or_else(|| {
        StageError::new(ErrorClass::BadInput, format!("{}: no video stream", job.input.display()))
    })?;
    let rungs =
        plan_ladder(settings, source).map_err(|e| StageError::from_classified("planning the ladder", e))?;
    let extra_key_times = if settings.keyframes_at_cuts { shot_cut_times(job)? } else { Vec::new() };
    let audio_streams = audio_streams(&info);
    let encode_job = |video: Vec<VideoRungSpec>, audio: Vec<AudioRenditionSpec>, range| RenditionJob {
        video,
        audio,
        gop_seconds: settings.gop_seconds,
        segment_seconds: settings.segment_seconds,
        extra_key_times: extra_key_times.clone(),
        preset: settings.preset.as_str().to_owned(),
        init_name: INIT_FILE_NAME.to_owned(),
        segment_pattern: SEGMENT_FILE_PATTERN.to_owned(),
        range,
    };
    let audio_spec = |stream: &AudioStream, dir: &Path| AudioRenditionSpec {
        stream_index: stream.index,
        dir: dir.join(&stream.id),
        bitrate: u64::from(settings.audio_bitrate_kbps) * 1000,
        language: stream.language.clone(),
    };
    let media = job.out_dir.join(MEDIA_DIR);
    match job.part {
        StagePart::Whole => {
            let whole = encode_job(
                rungs.iter().map(|rung| rung_spec(rung, &media)).collect(),
                audio_streams.iter().map(|stream| audio_spec(stream, &media)).collect(),
                None,
            );
            let encoded = reelforge_media::encode_renditions(job.input, &whole, progress)
                .map_err(|e| StageError::from_classified("encoding renditions", e))?;
            let extradata: Vec<&[u8]> = encoded.video.iter().map(|rung| rung.extradata.as_slice()).collect();
            let summary = package(job, &rungs, &audio_streams, &extradata, encoded.frame_rate)?;
            Ok(StageOutcome {
                summary: Some(format!("{summary}, one decode of {} frames", encoded.frames_decoded)),
            })
        }
        StagePart::Chunk(chunk) => match chunk.track {
            ChunkTrack::Video(ordinal) => {
                let rung = rungs.get(ordinal).ok_or_else(|| crate::no_track(chunk, rungs.len(), "rungs"))?;
                let range = EncodeRange {
                    start_seconds: chunk.first_segment as f64 * settings.segment_seconds,
                    end_seconds: chunk.end_segment.map(|end| end as f64 * settings.segment_seconds),
                    first_segment: chunk.first_segment,
                    preroll_seconds: settings.segment_seconds,
                };
                let part = encode_job(vec![rung_spec(rung, job.out_dir)], Vec::new(), Some(range));
                let encoded = reelforge_media::encode_renditions(job.input, &part, progress)
                    .map_err(|e| StageError::from_classified("encoding a chunk of renditions", e))?;
                let result = encoded.video.first().ok_or_else(|| {
                    StageError::new(ErrorClass::Other, "the encoder reported no rung for the chunk")
                })?;
                let segments = move_to_timeline(&job.out_dir.join(&rung.name), chunk, encoded.shift)?;
                let record = ChunkRecord {
                    frame_rate: encoded.frame_rate,
                    extradata: result.extradata.clone(),
                    frames: result.frames,
                };
                crate::write_json(&job.out_dir.join(CHUNK_JSON), &record)?;
                Ok(StageOutcome {
                    summary: Some(format!(
                        "{} segments {}..{} of {} ({} frames)",
                        segments,
                        chunk.first_segment,
                        chunk.first_segment + segments,
                        rung.name,
                        result.frames
                    )),
                })
            }
            ChunkTrack::Audio(ordinal) => {
                let stream = audio_streams
                    .get(ordinal)
                    .ok_or_else(|| crate::no_track(chunk, audio_streams.len(), "audio streams"))?;
                let part = encode_job(Vec::new(), vec![audio_spec(stream, job.out_dir)], None);
                reelforge_media::encode_renditions(job.input, &part, progress)
                    .map_err(|e| StageError::from_classified("encoding audio renditions", e))?;
                Ok(StageOutcome { summary: Some(format!("audio {}", stream.id)) })
            }
        },
        StagePart::Join(chunks) => {
            let mut records = Vec::new();
            for (ordinal, rung) in rungs.iter().enumerate() {
                let parts = chunks_of(chunks, &job.chunk_dirs, ChunkTrack::Video(ordinal));
                records.push(gather_video(&parts, &rung.name, &media.join(&rung.name))?);
            }
            for (ordinal, stream) in audio_streams.iter().enumerate() {
                let parts = chunks_of(chunks, &job.chunk_dirs, ChunkTrack::Audio(ordinal));
                let [(_, dir)] = parts.as_slice() else {
                    return Err(StageError::new(
                        ErrorClass::Config,
                        format!("the join needs exactly one chunk for audio {}", stream.id),
                    ));
                };
                link_files(&dir.join(&stream.id), &media.join(&stream.id), |_| true)?;
            }
            let extradata: Vec<&[u8]> = records.iter().map(|record| record.extradata.as_slice()).collect();
            let frame_rate = records.first().map_or(0.0, |record| record.frame_rate);
            let summary = package(job, &rungs, &audio_streams, &extradata, frame_rate)?;
            Ok(StageOutcome { summary: Some(format!("{summary}, joined from {} chunks", chunks.len())) })
        }
    }
}

/// The main video stream as the ladder planner sees it; `None` without video.
pub fn source_video(info: &MediaInfo) -> Option<SourceVideo> {
    let video = info.main_video().and_then(|s| s.video.as_ref())?;
    let sample_aspect = video
        .sample_aspect_ratio
        .filter(|r| r.num > 0 && r.den > 0)
        .map_or((1, 1), |r| (r.num as u32, r.den as u32));
    // The ladder is for the picture as shown: a turned (portrait phone) clip swaps its sides.
    if video.quarter_turns() % 2 == 1 {
        let (num, den) = sample_aspect;
        return Some(SourceVideo { width: video.height, height: video.width, sample_aspect: (den, num) });
    }
    Some(SourceVideo { width: video.width, height: video.height, sample_aspect })
}

fn rung_spec(rung: &PlannedRung, dir: &Path) -> VideoRungSpec {
    VideoRungSpec::new(
        format!("{} {}x{}", rung.name, rung.width, rung.height),
        dir.join(&rung.name),
        rung.width,
        rung.height,
        codec(rung.codec),
        rung.bitrate,
        rung.max_rate,
        rung.buffer_size,
    )
}

/// Moves a video chunk's segments (numbered from its first segment already) to their place on
/// the whole-input timeline; returns how many there are.
fn move_to_timeline(dir: &Path, chunk: &ChunkSpec, shift: TimeShift) -> Result<u64, StageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| StageError::with_source(ErrorClass::Other, format!("rewriting {}", path.display()), e)
    };
    let init_path = dir.join(INIT_FILE_NAME);
    let init = std::fs::read(&init_path).map_err(io(&init_path))?;
    let timescale = parse_init_timescale(INIT_FILE_NAME, &init)
        .map_err(|e| StageError::from_classified("measuring a chunk", e))?;
    let ticks = i128::from(shift.ticks) * i128::from(timescale) * i128::from(shift.time_base_num)
        / i128::from(shift.time_base_den.max(1));
    let ticks = u64::try_from(ticks)
        .map_err(|_| StageError::new(ErrorClass::Other, "a chunk starts before the input does"))?;
    let sequence_shift = u32::try_from(chunk.first_segment)
        .map_err(|_| StageError::new(ErrorClass::Config, "too many segments for one track"))?;
    let mut count = 0;
    loop {
        let name = segment_file_name(chunk.first_segment + count);
        let path = dir.join(&name);
        if !path.exists() {
            break;
        }
        let mut data = std::fs::read(&path).map_err(io(&path))?;
        reelforge_delivery::shift_fragment(&name, &mut data, ticks, sequence_shift)
            .map_err(|e| StageError::from_classified("moving a chunk's segments", e))?;
        reelforge_core::output::write_file_atomic(&path, &data).map_err(io(&path))?;
        count += 1;
    }
    if count == 0 {
        return Err(StageError::new(
            ErrorClass::BadInput,
            format!("chunk `{}` wrote no segments (does the input reach its start?)", chunk.id),
        ));
    }
    Ok(count)
}

/// The chunks of one track with their folders, in timeline order.
fn chunks_of<'a>(
    chunks: &'a [ChunkSpec],
    dirs: &'a [PathBuf],
    track: ChunkTrack,
) -> Vec<(&'a ChunkSpec, &'a PathBuf)> {
    let mut parts: Vec<_> = chunks.iter().zip(dirs).filter(|(chunk, _)| chunk.track == track).collect();
    parts.sort_by_key(|(chunk, _)| chunk.first_segment);
    parts
}

/// Gathers one rung's segments from its chunks into `target` (init segment from the first
/// chunk: every chunk's encoder has the same settings, so the same header); refuses gaps.
fn gather_video(
    parts: &[(&ChunkSpec, &PathBuf)],
    rung: &str,
    target: &Path,
) -> Result<ChunkRecord, StageError> {
    let gap = |what: String| StageError::new(ErrorClass::Config, format!("cannot join rung {rung}: {what}"));
    let Some((_, first_dir)) = parts.first() else { return Err(gap("no chunks".into())) };
    let mut next = 0;
    for (chunk, dir) in parts {
        if chunk.first_segment != next {
            return Err(gap(format!(
                "chunk `{}` starts at segment {}, expected {next}",
                chunk.id, chunk.first_segment
            )));
        }
        let source = dir.join(rung);
        link_files(&source, target, |name| name != INIT_FILE_NAME)?;
        while source.join(segment_file_name(next)).exists() {
            next += 1;
        }
        if chunk.end_segment.is_some_and(|end| end != next) {
            return Err(gap(format!(
                "chunk `{}` ends at segment {next}, not {:?}",
                chunk.id, chunk.end_segment
            )));
        }
    }
    link_files(&first_dir.join(rung), target, |name| name == INIT_FILE_NAME)?;
    crate::read_json(&first_dir.join(CHUNK_JSON), ErrorClass::Other)
}

/// Puts the files of `source` that `wanted` accepts into `target` (see [`crate::link_file`]).
fn link_files(source: &Path, target: &Path, wanted: impl Fn(&str) -> bool) -> Result<(), StageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| StageError::with_source(ErrorClass::Other, format!("gathering {}", path.display()), e)
    };
    std::fs::create_dir_all(target).map_err(io(target))?;
    for entry in std::fs::read_dir(source).map_err(io(source))? {
        let entry = entry.map_err(io(source))?;
        let name = entry.file_name();
        if !name.to_str().is_some_and(&wanted) {
            continue;
        }
        crate::link_file(&entry.path(), &target.join(&name))?;
    }
    Ok(())
}

/// Measures the tracks under `media/` and writes the manifests and `renditions.json`; returns
/// the summary line.
fn package(
    job: &StageJob<'_>,
    rungs: &[PlannedRung],
    audio_streams: &[AudioStream],
    extradata: &[&[u8]],
    frame_rate: f64,
) -> Result<String, StageError> {
    let mut presentation = Presentation { video: Vec::new(), audio: Vec::new(), subtitles: Vec::new() };
    for (rung, extradata) in rungs.iter().zip(extradata) {
        let track = measure(job.out_dir, &format!("{MEDIA_DIR}/{}", rung.name), true)?;
        presentation.video.push(VideoRendition {
            id: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            frame_rate,
            codecs: codec_string(rung, extradata),
            track,
        });
    }
    let subtitles = subtitles_document(job)?;
    let mut names = Vec::new();
    for (ordinal, stream) in audio_streams.iter().enumerate() {
        let track = measure(job.out_dir, &format!("{MEDIA_DIR}/{}", stream.id), false)?;
        // The container's tag, else the language the subtitles stage heard on the stream.
        let heard = subtitles.iter().flat_map(|d| &d.tracks).find(|t| {
            t.audio_stream == ordinal && !t.transcript.translated && t.transcript.language != "und"
        });
        let language = stream
            .language
            .as_deref()
            .and_then(track_language)
            .or_else(|| heard.and_then(|t| track_language(&t.transcript.source_language)));
        let name = stream.title.clone().or_else(|| language.as_ref().map(|l| l.name.clone()));
        let name = unique_name(
            &mut names,
            name.unwrap_or_else(|| {
                if ordinal == 0 { "Original".into() } else { format!("Alternate {ordinal}") }
            }),
        );
        presentation.audio.push(AudioRendition {
            id: stream.id.clone(),
            language: language.map(|l| l.tag),
            name,
            codecs: AAC_LC_CODEC.to_owned(),
            channels: 2,
            sample_rate: RENDITION_AUDIO_RATE,
            default: ordinal == 0,
            track,
        });
    }
    let spans: Vec<Span> = presentation.video.first().map(|v| media_spans(&v.track)).unwrap_or_default();
    if let Some(document) = &subtitles {
        presentation.subtitles = copy_subtitles(job, document, &spans)?;
    }

    let hls_dir = job.out_dir.join("hls");
    let dash_dir = job.out_dir.join("dash");
    for dir in [&hls_dir, &dash_dir] {
        std::fs::create_dir_all(dir).map_err(|e| {
            StageError::with_source(ErrorClass::Other, format!("creating {}", dir.display()), e)
        })?;
    }
    for file in hls_files(&presentation) {
        crate::write_text(&hls_dir.join(&file.name), &file.text)?;
    }
    crate::write_text(&dash_dir.join("manifest.mpd"), &dash_manifest(&presentation))?;
    let document = document(job.input, &presentation, rungs, frame_rate);
    crate::write_json(&job.out_dir.join(RENDITIONS_JSON), &document)?;

    let segments: usize = presentation.video.iter().map(|v| v.track.segments.len()).sum();
    Ok(format!(
        "{} rungs ({}), {} audio, {} video segments",
        rungs.len(),
        rungs.iter().map(|r| format!("{}p", r.height)).collect::<Vec<_>>().join(" "),
        presentation.audio.len(),
        segments,
    ))
}

fn codec(codec: VideoCodec) -> RenditionCodec {
    match codec {
        VideoCodec::H264 => RenditionCodec::H264,
        VideoCodec::Hevc => RenditionCodec::Hevc,
        VideoCodec::Av1 => RenditionCodec::Av1,
    }
}

/// RFC 6381 string: H.264 from the encoder's SPS; HEVC and AV1 as Main profile, level 4.
fn codec_string(rung: &PlannedRung, extradata: &[u8]) -> String {
    match rung.codec {
        VideoCodec::H264 => h264_codec_string(extradata).unwrap_or_else(|| "avc1.640028".to_owned()),
        VideoCodec::Hevc => "hvc1.1.6.L120.90".to_owned(),
        VideoCodec::Av1 => "av01.0.08M.08".to_owned(),
    }
}

struct AudioStream {
    index: usize,
    id: String,
    /// The container's language code, written again into the rendition's track header.
    language: Option<String>,
    title: Option<String>,
}

fn audio_streams(info: &MediaInfo) -> Vec<AudioStream> {
    info.audio_streams()
        .enumerate()
        .map(|(ordinal, stream)| AudioStream {
            index: stream.index,
            id: format!("a{ordinal}"),
            language: stream.language.clone().filter(|l| !l.is_empty() && l != "und"),
            title: stream.title.clone().filter(|t| !t.trim().is_empty()),
        })
        .collect()
}

/// `name`, or `name (2)`, `name (3)`… when an earlier track took it: HLS names must differ
/// within a group.
fn unique_name(taken: &mut Vec<String>, name: String) -> String {
    let mut unique = name.clone();
    let mut count = 1;
    while taken.contains(&unique) {
        count += 1;
        unique = format!("{name} ({count})");
    }
    taken.push(unique.clone());
    unique
}

/// The media segments' spans in seconds, from the first one's start.
fn media_spans(track: &PackagedTrack) -> Vec<Span> {
    let timescale = f64::from(track.timescale.max(1));
    let origin = track.segments.first().map_or(0, |s| s.start);
    track
        .segments
        .iter()
        .map(|s| Span {
            start: s.start.saturating_sub(origin) as f64 / timescale,
            duration: s.duration as f64 / timescale,
        })
        .collect()
}

/// `subtitles.json` of the subtitles stage, when it ran.
fn subtitles_document(job: &StageJob<'_>) -> Result<Option<SubtitlesDocument>, StageError> {
    let Some(dir) = job.upstream.get(&StageName::Subtitles) else { return Ok(None) };
    documents::read_subtitles(dir).map(Some)
}

/// Cut times from the shots stage, when it ran.
fn shot_cut_times(job: &StageJob<'_>) -> Result<Vec<f64>, StageError> {
    let Some(dir) = job.upstream.get(&StageName::Shots) else { return Ok(Vec::new()) };
    Ok(documents::read_shots(dir)?.boundary_times())
}

/// The WebVTT file of each subtitles track, copied whole (DASH) and segmented like the media
/// (HLS) under `subtitles/`; language and name from the track's transcript.
fn copy_subtitles(
    job: &StageJob<'_>,
    document: &SubtitlesDocument,
    spans: &[Span],
) -> Result<Vec<SubtitleTrack>, StageError> {
    let Some(dir) = job.upstream.get(&StageName::Subtitles) else { return Ok(Vec::new()) };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| StageError::with_source(ErrorClass::Other, format!("reading {}", path.display()), e)
    };
    let target = job.out_dir.join(SUBTITLES_DIR);
    let mut tracks = Vec::new();
    let mut names = Vec::new();
    for track in &document.tracks {
        let Some(file) = track.files.iter().find(|f| f.ends_with(".vtt")) else { continue };
        let source = dir.join(file);
        let text = std::fs::read_to_string(&source).map_err(io(&source))?;
        let id = format!("s{}", tracks.len());
        let segment_dir = target.join(&id);
        std::fs::create_dir_all(&segment_dir).map_err(io(&segment_dir))?;
        let pieces = segment_webvtt(&source.display().to_string(), &text, spans)
            .map_err(|e| StageError::from_classified("segmenting subtitles", e))?;
        let mut segments = Vec::with_capacity(pieces.len());
        for (number, (piece, span)) in pieces.iter().zip(spans).enumerate() {
            let name = format!("seg_{number:05}.vtt");
            crate::write_text(&segment_dir.join(&name), piece)?;
            segments.push(SubtitleSegment {
                path: format!("{SUBTITLES_DIR}/{id}/{name}"),
                duration_seconds: span.duration,
            });
        }
        let whole =
            Path::new(file).file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
        crate::write_text(&target.join(&whole), &text)?;
        let language = track_language(&track.transcript.language);
        let mut name = language.as_ref().map_or_else(|| track.name.clone(), |l| l.name.clone());
        if track.transcript.translated
            && let Some(from) = track_language(&track.transcript.source_language)
        {
            name = format!("{name} (from {})", from.name);
        }
        tracks.push(SubtitleTrack {
            id,
            language: language.map_or_else(|| track.transcript.language.clone(), |l| l.tag),
            name: unique_name(&mut names, name),
            path: format!("{SUBTITLES_DIR}/{whole}"),
            segments,
        });
    }
    Ok(tracks)
}

/// Measures the init and media segments of one track folder as written.
fn measure(root: &Path, dir: &str, video: bool) -> Result<PackagedTrack, StageError> {
    let folder = root.join(dir);
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| StageError::with_source(ErrorClass::Other, format!("reading {}", path.display()), e))
    };
    let init = read(&folder.join(INIT_FILE_NAME))?;
    let timescale = parse_init_timescale(&format!("{dir}/{INIT_FILE_NAME}"), &init)
        .map_err(|e| StageError::from_classified("measuring segments", e))?;
    let mut segments = Vec::new();
    for number in 0.. {
        let name = segment_file_name(number);
        let path = folder.join(&name);
        if !path.exists() {
            break;
        }
        let data = read(&path)?;
        let info = parse_fragment(&format!("{dir}/{name}"), &data)
            .map_err(|e| StageError::from_classified("measuring segments", e))?;
        if video && info.first_sample_sync == Some(false) {
            return Err(StageError::new(
                ErrorClass::Other,
                format!("{dir}/{name} does not start with a key frame; segments would not switch cleanly"),
            ));
        }
        segments.push(Segment {
            number,
            start: info.base_decode_time,
            duration: info.duration,
            bytes: data.len() as u64,
            key_frame_end: video.then_some(info.first_sample_end),
        });
    }
    if segments.is_empty() {
        return Err(StageError::new(ErrorClass::Other, format!("{dir}: the encoder wrote no segments")));
    }
    merge_runt(&folder, &mut segments, timescale)?;
    Ok(PackagedTrack { dir: dir.to_owned(), timescale, segments })
}

/// A last segment shorter than this is a runt (e.g. the AAC frames that run past the video's
/// last frame) which players stall on and packagers' QC flag.
const RUNT_SECONDS: f64 = 1.0;

/// Appends a runt last segment to the one before it, as a second fragment of that file.
fn merge_runt(folder: &Path, segments: &mut Vec<Segment>, timescale: u32) -> Result<(), StageError> {
    let [.., previous, last] = segments.as_slice() else { return Ok(()) };
    if last.duration as f64 >= RUNT_SECONDS * f64::from(timescale.max(1)) {
        return Ok(());
    }
    let io = |doing: &str, path: &Path| {
        let what = format!("{doing} {}", path.display());
        move |e| StageError::with_source(ErrorClass::Other, what, e)
    };
    let previous_path = folder.join(segment_file_name(previous.number));
    let last_path = folder.join(segment_file_name(last.number));
    let mut joined = std::fs::read(&previous_path).map_err(io("reading", &previous_path))?;
    joined.extend(std::fs::read(&last_path).map_err(io("reading", &last_path))?);
    // Replaced by rename, not written in place: the file may be a hard link to a farm chunk's.
    reelforge_core::output::write_file_atomic(&previous_path, &joined)
        .map_err(io("writing", &previous_path))?;
    std::fs::remove_file(&last_path).map_err(io("removing", &last_path))?;
    if let Some(last) = segments.pop()
        && let Some(previous) = segments.last_mut()
    {
        previous.duration += last.duration;
        previous.bytes += last.bytes;
    }
    Ok(())
}

fn document(
    input: &Path,
    presentation: &Presentation,
    rungs: &[PlannedRung],
    frame_rate: f64,
) -> RenditionsDocument {
    let summary = |id: &str, track: &PackagedTrack, codecs: &str| {
        let rate = track.bitrate();
        TrackSummary {
            id: id.to_owned(),
            dir: track.dir.clone(),
            codecs: codecs.to_owned(),
            width: None,
            height: None,
            language: None,
            target_bitrate: None,
            average_bitrate: rate.average,
            peak_bitrate: rate.peak,
            segments: track.segments.len(),
            duration_seconds: track.duration_seconds(),
        }
    };
    RenditionsDocument {
        source: input.display().to_string(),
        frame_rate,
        video: presentation
            .video
            .iter()
            .zip(rungs)
            .map(|(v, rung)| TrackSummary {
                width: Some(v.width),
                height: Some(v.height),
                target_bitrate: Some(rung.bitrate),
                ..summary(&v.id, &v.track, &v.codecs)
            })
            .collect(),
        audio: presentation
            .audio
            .iter()
            .map(|a| TrackSummary { language: a.language.clone(), ..summary(&a.id, &a.track, &a.codecs) })
            .collect(),
        subtitles: presentation.subtitles.iter().map(|s| s.path.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use reelforge_pipeline::StageConfig;

    use super::*;

    #[test]
    fn subtitle_and_shot_files_of_upstream_stages_are_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let subtitles = dir.path().join("subtitles");
        let shots = dir.path().join("shots");
        let out = dir.path().join("out");
        for folder in [&subtitles, &shots, &out] {
            std::fs::create_dir_all(folder).unwrap();
        }
        let vtt =
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nBonjour\n\n00:00:07.000 --> 00:00:08.000\nEncore\n";
        std::fs::write(subtitles.join("fr.vtt"), vtt).unwrap();
        std::fs::write(subtitles.join("en-from-fr.vtt"), "WEBVTT\n").unwrap();
        std::fs::write(subtitles.join("notes.vtt"), "not listed in subtitles.json").unwrap();
        let track = |name: &str, language: &str, translated: bool| {
            serde_json::json!({
                "name": name, "audio_stream": 0, "stream_language_tag": null,
                "files": [format!("{name}.srt"), format!("{name}.vtt")],
                "language": language, "source_language": "fr", "language_probability": 0.9,
                "translated": translated, "segments": [], "cues": [],
            })
        };
        let document = serde_json::json!({
            "source": "in.mp4", "model": "base", "frame_rate": 25.0,
            "tracks": [track("fr", "fr", false), track("en-from-fr", "en", true)],
        });
        std::fs::write(subtitles.join(crate::documents::SUBTITLES_JSON), document.to_string()).unwrap();
        let boundary = |frame: u64, time_seconds: f64| reelforge_shots::Boundary {
            frame,
            kind: reelforge_shots::TransitionKind::Cut,
            first_frame: frame,
            last_frame: frame,
            confidence: 1.0,
            time_seconds,
        };
        let shots_document = crate::documents::ShotsDocument {
            source: "in.mp4".into(),
            frame_rate: reelforge_core::Rational::new(25, 1),
            total_frames: 225,
            settings: Default::default(),
            shots: Vec::new(),
            boundaries: vec![boundary(50, 2.0), boundary(130, 5.2)],
            damage: Vec::new(),
        };
        std::fs::write(
            shots.join(crate::documents::SHOTS_JSON),
            serde_json::to_string(&shots_document).unwrap(),
        )
        .unwrap();
        let stage = StageConfig::Renditions(RenditionSettings::default());
        let upstream = BTreeMap::from([(StageName::Subtitles, subtitles), (StageName::Shots, shots)]);
        let job = StageJob {
            stage: &stage,
            input: Path::new("in.mp4"),
            out_dir: &out,
            upstream,
            part: &StagePart::Whole,
            chunk_dirs: Vec::new(),
            on_damage: reelforge_pipeline::OnDamage::Warn,
        };

        let document = subtitles_document(&job).unwrap().unwrap();
        let spans = [Span { start: 0.0, duration: 6.0 }, Span { start: 6.0, duration: 3.0 }];
        let tracks = copy_subtitles(&job, &document, &spans).unwrap();
        let described: Vec<_> =
            tracks.iter().map(|t| (t.language.as_str(), t.name.as_str(), t.path.as_str())).collect();
        assert_eq!(
            described,
            [
                ("fr", "Français", "subtitles/fr.vtt"),
                ("en", "English (from Français)", "subtitles/en-from-fr.vtt")
            ]
        );
        assert!(out.join("subtitles/fr.vtt").exists());
        let segments: Vec<_> =
            tracks[0].segments.iter().map(|s| (s.path.as_str(), s.duration_seconds)).collect();
        assert_eq!(segments, [("subtitles/s0/seg_00000.vtt", 6.0), ("subtitles/s0/seg_00001.vtt", 3.0)]);
        let second = std::fs::read_to_string(out.join("subtitles/s0/seg_00001.vtt")).unwrap();
        assert!(second.contains("X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000") && second.contains("Encore"));
        assert!(!second.contains("Bonjour"), "{second}");
        assert_eq!(shot_cut_times(&job).unwrap(), [2.0, 5.2]);
    }

    fn segment(number: u64, start: u64, duration: u64, bytes: u64) -> Segment {
        Segment { number, start, duration, bytes, key_frame_end: None }
    }

    #[test]
    fn a_runt_last_segment_becomes_a_second_fragment_of_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        for (number, bytes) in [(0, "first"), (1, "second"), (2, "runt")] {
            std::fs::write(dir.path().join(segment_file_name(number)), bytes).unwrap();
        }
        // 6 s, 6 s and 21 ms at 48 kHz.
        let mut segments =
            vec![segment(0, 0, 288_000, 5), segment(1, 288_000, 288_000, 6), segment(2, 576_000, 1024, 4)];
        merge_runt(dir.path(), &mut segments, 48_000).unwrap();
        assert_eq!(segments, [segment(0, 0, 288_000, 5), segment(1, 288_000, 289_024, 10)]);
        assert_eq!(std::fs::read_to_string(dir.path().join(segment_file_name(1))).unwrap(), "secondrunt");
        assert!(!dir.path().join(segment_file_name(2)).exists());
        // A last segment of a second or more stays as it is.
        let mut segments = vec![segment(0, 0, 288_000, 5), segment(1, 288_000, 48_000, 10)];
        merge_runt(dir.path(), &mut segments, 48_000).unwrap();
        assert_eq!(segments.len(), 2);
    }

    #[test]
    fn track_names_are_made_unique_within_a_group() {
        let mut taken = Vec::new();
        let names: Vec<_> =
            ["English", "English", "Français", "English"].map(|n| unique_name(&mut taken, n.into())).into();
        assert_eq!(names, ["English", "English (2)", "Français", "English (3)"]);
    }
}
