//! `renditions`: the adaptive-bitrate ladder. Decodes the input once (full resolution),
//! encodes every rung and audio stream side by side into CMAF segments under `media/`, then
//! measures the segments as written and describes them in `hls/master.m3u8` (plus media and
//! I-frame playlists) and `dash/manifest.mpd`. `renditions.json` lists what was made.

use std::path::{Path, PathBuf};

use reelforge_core::{ErrorClass, ProgressSink};
use reelforge_delivery::{
    AAC_LC_CODEC, AudioRendition, INIT_FILE_NAME, PackagedTrack, PlannedRung, Presentation,
    RenditionSettings, SEGMENT_FILE_PATTERN, Segment, SourceVideo, SubtitleTrack, VideoCodec, VideoRendition,
    dash_manifest, h264_codec_string, hls_files, parse_fragment, parse_init_timescale, plan_ladder,
    segment_file_name,
};
use reelforge_media::{
    AudioRenditionSpec, MediaInfo, RENDITION_AUDIO_RATE, RenditionCodec, RenditionJob, VideoRungSpec,
};
use reelforge_pipeline::{StageError, StageJob, StageName, StageOutcome};
use serde::{Deserialize, Serialize};

pub const RENDITIONS_JSON: &str = "renditions.json";
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

/// The part of `shots.json` this stage reads.
#[derive(Deserialize)]
struct ShotTimes {
    boundaries: Vec<BoundaryTime>,
}

#[derive(Deserialize)]
struct BoundaryTime {
    time_seconds: f64,
}

pub fn run(
    job: &StageJob<'_>,
    settings: &RenditionSettings,
    progress: &dyn ProgressSink,
) -> Result<StageOutcome, StageError> {
    let info =
        reelforge_media::probe(job.input).map_err(|e| StageError::from_classified("probing the input", e))?;
    let video = info.main_video().and_then(|s| s.video.as_ref()).ok_or_else(|| {
        StageError::new(ErrorClass::BadInput, format!("{}: no video stream", job.input.display()))
    })?;
    let sample_aspect = video
        .sample_aspect_ratio
        .filter(|r| r.num > 0 && r.den > 0)
        .map_or((1, 1), |r| (r.num as u32, r.den as u32));
    let source = SourceVideo { width: video.width, height: video.height, sample_aspect };
    let rungs =
        plan_ladder(settings, source).map_err(|e| StageError::from_classified("planning the ladder", e))?;
    let extra_key_times = if settings.keyframes_at_cuts { shot_cut_times(job)? } else { Vec::new() };

    let media = job.out_dir.join(MEDIA_DIR);
    let audio_streams = audio_streams(&info);
    let encode_job = RenditionJob {
        video: rungs
            .iter()
            .map(|rung| {
                VideoRungSpec::new(
                    format!("{} {}x{}", rung.name, rung.width, rung.height),
                    media.join(&rung.name),
                    rung.width,
                    rung.height,
                    codec(rung.codec),
                    rung.bitrate,
                    rung.max_rate,
                    rung.buffer_size,
                )
            })
            .collect(),
        audio: audio_streams
            .iter()
            .map(|stream| AudioRenditionSpec {
                stream_index: stream.index,
                dir: media.join(&stream.id),
                bitrate: u64::from(settings.audio_bitrate_kbps) * 1000,
                language: stream.language.clone(),
            })
            .collect(),
        gop_seconds: settings.gop_seconds,
        segment_seconds: settings.segment_seconds,
        extra_key_times,
        preset: settings.preset.clone(),
        init_name: INIT_FILE_NAME.to_owned(),
        segment_pattern: SEGMENT_FILE_PATTERN.to_owned(),
    };
    let encoded = reelforge_media::encode_renditions(job.input, &encode_job, progress)
        .map_err(|e| StageError::from_classified("encoding renditions", e))?;

    let mut presentation = Presentation { video: Vec::new(), audio: Vec::new(), subtitles: Vec::new() };
    for (rung, result) in rungs.iter().zip(&encoded.video) {
        let track = measure(job.out_dir, &format!("{MEDIA_DIR}/{}", rung.name), true)?;
        presentation.video.push(VideoRendition {
            id: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            frame_rate: encoded.frame_rate,
            codecs: codec_string(rung, &result.extradata),
            track,
        });
    }
    for (ordinal, stream) in audio_streams.iter().enumerate() {
        let track = measure(job.out_dir, &format!("{MEDIA_DIR}/{}", stream.id), false)?;
        presentation.audio.push(AudioRendition {
            id: stream.id.clone(),
            language: stream.language.clone(),
            name: stream.name.clone(),
            codecs: AAC_LC_CODEC.to_owned(),
            channels: 2,
            sample_rate: RENDITION_AUDIO_RATE,
            default: ordinal == 0,
            track,
        });
    }
    presentation.subtitles = copy_subtitles(job)?;

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
    let document = document(job.input, &presentation, &rungs, encoded.frame_rate);
    crate::write_json(&job.out_dir.join(RENDITIONS_JSON), &document)?;

    let segments: usize = presentation.video.iter().map(|v| v.track.segments.len()).sum();
    Ok(StageOutcome {
        summary: Some(format!(
            "{} rungs ({}), {} audio, {} video segments, one decode of {} frames",
            rungs.len(),
            rungs.iter().map(|r| format!("{}p", r.height)).collect::<Vec<_>>().join(" "),
            presentation.audio.len(),
            segments,
            encoded.frames_decoded
        )),
    })
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
    language: Option<String>,
    name: String,
}

fn audio_streams(info: &MediaInfo) -> Vec<AudioStream> {
    info.audio_streams()
        .enumerate()
        .map(|(ordinal, stream)| {
            let language = stream.language.clone().filter(|l| !l.is_empty() && l != "und");
            let name = stream
                .title
                .clone()
                .or_else(|| language.clone())
                .unwrap_or_else(|| format!("Audio {}", ordinal + 1));
            AudioStream { index: stream.index, id: format!("a{ordinal}"), language, name }
        })
        .collect()
}

/// Cut times from the shots stage, when it ran.
fn shot_cut_times(job: &StageJob<'_>) -> Result<Vec<f64>, StageError> {
    let Some(dir) = job.upstream.get(&StageName::Shots) else { return Ok(Vec::new()) };
    let path = dir.join(crate::shots_stage::SHOTS_JSON);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("reading {}", path.display()), e))?;
    let shots: ShotTimes = serde_json::from_str(&text)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("reading {}", path.display()), e))?;
    Ok(shots.boundaries.iter().map(|b| b.time_seconds).collect())
}

/// WebVTT files of the subtitles stage, copied next to the media; language from the name.
fn copy_subtitles(job: &StageJob<'_>) -> Result<Vec<SubtitleTrack>, StageError> {
    let Some(dir) = job.upstream.get(&StageName::Subtitles) else { return Ok(Vec::new()) };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| StageError::with_source(ErrorClass::Other, format!("reading {}", path.display()), e)
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "vtt"))
        .collect();
    files.sort();
    let target = job.out_dir.join(SUBTITLES_DIR);
    let mut tracks = Vec::new();
    for (ordinal, file) in files.iter().enumerate() {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else { continue };
        // "episode.eng.vtt" or "eng.vtt": the last dotted part before .vtt is the language.
        let stem = name.trim_end_matches(".vtt");
        let language = stem.rsplit('.').next().unwrap_or(stem).to_owned();
        std::fs::create_dir_all(&target).map_err(io(&target))?;
        std::fs::copy(file, target.join(name)).map_err(io(file))?;
        tracks.push(SubtitleTrack {
            id: format!("s{ordinal}"),
            name: language.clone(),
            language,
            path: format!("{SUBTITLES_DIR}/{name}"),
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
    Ok(PackagedTrack { dir: dir.to_owned(), timescale, segments })
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
        std::fs::write(subtitles.join("episode.fra.vtt"), "WEBVTT\n").unwrap();
        std::fs::write(subtitles.join("eng.vtt"), "WEBVTT\n").unwrap();
        std::fs::write(subtitles.join("notes.txt"), "not a subtitle").unwrap();
        std::fs::write(
            shots.join(crate::shots_stage::SHOTS_JSON),
            r#"{"boundaries": [{"frame": 50, "time_seconds": 2.0}, {"frame": 130, "time_seconds": 5.2}]}"#,
        )
        .unwrap();
        let stage = StageConfig::Renditions(RenditionSettings::default());
        let upstream = BTreeMap::from([(StageName::Subtitles, subtitles), (StageName::Shots, shots)]);
        let job = StageJob { stage: &stage, input: Path::new("in.mp4"), out_dir: &out, upstream };

        let tracks = copy_subtitles(&job).unwrap();
        let languages: Vec<_> = tracks.iter().map(|t| (t.language.as_str(), t.path.as_str())).collect();
        assert_eq!(languages, [("eng", "subtitles/eng.vtt"), ("fra", "subtitles/episode.fra.vtt")]);
        assert!(out.join("subtitles/eng.vtt").exists());
        assert_eq!(shot_cut_times(&job).unwrap(), [2.0, 5.2]);
    }
}
