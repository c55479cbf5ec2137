//! The bundled sample episode: a synthetic programme whose cuts, fades, dissolves and speech
//! lines are known exactly, so every analyzer can be checked against `truth.json`.

mod encode;
mod pictures;
mod script;
mod speech;

use std::path::Path;
use std::time::{Duration, Instant};

use reelforge_core::ProgressSink;
use reelforge_core::ProgressUnit;
use reelforge_core::output::{StagedFile, write_file_atomic};
use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::init::ensure_init;
use encode::EpisodeWriter;
/// Shared with the trailer encoder: the same x264 and AAC set-up and packet writing.
pub(crate) use encode::{X264Setup, add_aac_stream, add_x264_stream, write_packets};
use pictures::{Canvas, SOURCE_COUNT, ShotSource, source_name};
use speech::{AUDIO_RATE, ENGLISH, FRENCH};

const TASK: &str = "sample";
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Shots are about this long, and never shorter than 3 s (so shot detectors have room).
const TARGET_SHOT_SECONDS: f64 = 7.5;
const MIN_SHOT_SECONDS: f64 = 3.5;
const MAX_SHOTS: usize = 8;
/// Each side of a fade through black.
const FADE_SECONDS: f64 = 0.8;
const DISSOLVE_SECONDS: f64 = 1.0;
/// The transition after shot k is `TRANSITION_PATTERN[k % len]`.
const TRANSITION_PATTERN: [TransitionKind; 7] = [
    TransitionKind::Cut,
    TransitionKind::Fade,
    TransitionKind::Cut,
    TransitionKind::Dissolve,
    TransitionKind::Cut,
    TransitionKind::Fade,
    TransitionKind::Dissolve,
];

/// What to generate. The default is the bundled 60 s 720p episode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_seconds: u32,
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self { width: 1280, height: 720, fps: 25, duration_seconds: 60 }
    }
}

impl SampleSpec {
    /// The 1080p variant used for decode benchmarks.
    pub fn full_hd() -> Self {
        Self { width: 1920, height: 1080, ..Self::default() }
    }

    pub fn frame_count(&self) -> u64 {
        u64::from(self.fps) * u64::from(self.duration_seconds)
    }

    fn validate(&self, out_dir: &Path) -> Result<(), MediaError> {
        let invalid = |reason: &str| {
            Err(MediaError::InvalidSpec { path: out_dir.to_path_buf(), reason: reason.into() })
        };
        if self.width < 64 || self.height < 64 || self.width > 7680 || self.height > 4320 {
            return invalid("width and height must be between 64x64 and 7680x4320");
        }
        if !self.width.is_multiple_of(2) || !self.height.is_multiple_of(2) {
            return invalid("width and height must be even (4:2:0 video)");
        }
        if !(1..=120).contains(&self.fps) {
            return invalid("fps must be between 1 and 120");
        }
        if !(2..=3600).contains(&self.duration_seconds) {
            return invalid("duration must be between 2 and 3600 seconds");
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Cut,
    /// Fade-out to black, then fade-in from black.
    Fade,
    /// Cross-dissolve: both shots are visible, blended, during the overlap.
    Dissolve,
}

/// What `truth.json` holds: everything an analyzer should find in `episode.mp4`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleTruth {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub frame_count: u64,
    pub duration_seconds: f64,
    pub shots: Vec<TruthShot>,
    pub transitions: Vec<TruthTransition>,
    pub audio_streams: Vec<TruthAudioStream>,
    pub speech: Vec<SpeechLine>,
}

/// A shot's frames (inclusive). Shots joined by a dissolve overlap by the dissolve's frames.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthShot {
    pub index: usize,
    pub first_frame: u64,
    pub last_frame: u64,
    /// The libavfilter source the pictures come from.
    pub source: String,
}

/// A transition between shot `from_shot` and the next. Frames are inclusive:
/// a cut has `first_frame == last_frame ==` the first frame of the new shot; a fade spans
/// the fade-out's first frame to the fade-in's last; a dissolve spans the overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthTransition {
    pub kind: TransitionKind,
    pub from_shot: usize,
    pub first_frame: u64,
    pub last_frame: u64,
    /// The first frame that belongs more to the new shot than to the old one (for a cut, the
    /// cut itself; for a fade, the first frame after the middle of the black).
    pub switch_frame: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthAudioStream {
    /// 0-based among audio streams (`AudioStreamChoice::Ordinal`).
    pub audio_ordinal: usize,
    pub language: String,
    pub title: String,
    pub default: bool,
}

/// One spoken line; the times cover espeak-ng's whole WAV, including its short edge silences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeechLine {
    pub stream_language: String,
    pub audio_ordinal: usize,
    /// Rounded to the microsecond; the exact positions are the 48 kHz sample numbers.
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// First sample of the line and the sample after its last, at 48 kHz.
    pub start_sample: u64,
    pub end_sample: u64,
    pub text: String,
}

/// Where shots and transitions fall, in frames.
struct Timeline {
    shots: Vec<TruthShot>,
    transitions: Vec<TruthTransition>,
    fade_frames: u64,
    dissolve_frames: u64,
}

/// How one output frame is made.
enum Look {
    /// The shot on screen, scaled towards black by `gain` (1 = untouched).
    Shot { gain: f32 },
    /// The two shots on screen mixed, `weight` of the later one.
    Mix { weight: f32 },
}

impl Timeline {
    fn new(spec: &SampleSpec) -> Self {
        let total = spec.frame_count();
        let seconds = f64::from(spec.duration_seconds);
        let shot_count = ((seconds / TARGET_SHOT_SECONDS).round() as usize)
            .max((seconds / MIN_SHOT_SECONDS).floor() as usize)
            .clamp(1, MAX_SHOTS);
        let fps = f64::from(spec.fps);
        let fade_frames = ((FADE_SECONDS * fps).round() as u64).max(1);
        let dissolve_frames = ((DISSOLVE_SECONDS * fps).round() as u64).max(2);
        let boundary = |k: usize| total * k as u64 / shot_count as u64;
        let mut transitions = Vec::new();
        for k in 0..shot_count.saturating_sub(1) {
            let b = boundary(k + 1);
            let kind = TRANSITION_PATTERN[k % TRANSITION_PATTERN.len()];
            let (first_frame, last_frame) = match kind {
                TransitionKind::Cut => (b, b),
                TransitionKind::Fade => (b - fade_frames, b + fade_frames - 1),
                TransitionKind::Dissolve => {
                    (b - dissolve_frames / 2, b - dissolve_frames / 2 + dissolve_frames - 1)
                }
            };
            transitions.push(TruthTransition {
                kind,
                from_shot: k,
                first_frame,
                last_frame,
                switch_frame: b,
            });
        }
        let shots = (0..shot_count)
            .map(|k| {
                let before = k.checked_sub(1).map(|i| &transitions[i]);
                let after = transitions.get(k);
                let first_frame = match before {
                    Some(t) if t.kind == TransitionKind::Dissolve => t.first_frame,
                    _ => boundary(k),
                };
                let last_frame = match after {
                    Some(t) if t.kind == TransitionKind::Dissolve => t.last_frame,
                    _ => boundary(k + 1) - 1,
                };
                TruthShot {
                    index: k,
                    first_frame,
                    last_frame,
                    source: source_name(k % SOURCE_COUNT).to_owned(),
                }
            })
            .collect();
        Self { shots, transitions, fade_frames, dissolve_frames }
    }

    fn look(&self, frame: u64) -> Look {
        let transition = self.transitions.iter().find(|t| t.first_frame <= frame && frame <= t.last_frame);
        match transition {
            Some(t) if t.kind == TransitionKind::Dissolve => {
                Look::Mix { weight: (frame - t.first_frame + 1) as f32 / (self.dissolve_frames + 1) as f32 }
            }
            Some(t) if t.kind == TransitionKind::Fade => {
                // Out: (F-1)/F … 0 on the last old frame; in: 0 on the first new frame … (F-1)/F.
                let steps =
                    if frame < t.switch_frame { t.switch_frame - 1 - frame } else { frame - t.switch_frame };
                Look::Shot { gain: steps as f32 / self.fade_frames as f32 }
            }
            _ => Look::Shot { gain: 1.0 },
        }
    }
}

/// Writes `out_dir/episode.mp4` and `out_dir/truth.json` (each appears only when complete).
/// Uses FFmpeg's libraries for pictures and encoding and runs `espeak-ng` for the voices.
pub fn generate_sample(
    spec: &SampleSpec,
    out_dir: &Path,
    progress: &dyn ProgressSink,
) -> Result<SampleTruth, MediaError> {
    ensure_init();
    spec.validate(out_dir)?;
    let episode_path = out_dir.join("episode.mp4");
    let truth_path = out_dir.join("truth.json");
    let timeline = Timeline::new(spec);

    let total_samples = spec.duration_seconds as usize * AUDIO_RATE as usize;
    let work_dir = tempfile::tempdir().map_err(|e| MediaError::io(&episode_path, e))?;
    let english: Vec<&str> = script::SCRIPT.iter().map(|(en, _)| *en).collect();
    let french: Vec<&str> = script::SCRIPT.iter().map(|(_, fr)| *fr).collect();
    let (english_track, mut speech) =
        speech::speech_track(&episode_path, work_dir.path(), &ENGLISH, 0, &english, total_samples)?;
    let (french_track, french_lines) =
        speech::speech_track(&episode_path, work_dir.path(), &FRENCH, 1, &french, total_samples)?;
    speech.extend(french_lines);

    let staged = StagedFile::new(&episode_path).map_err(|e| MediaError::io(&episode_path, e))?;
    let mut writer = EpisodeWriter::create(
        &episode_path,
        staged.path(),
        spec.width,
        spec.height,
        spec.fps,
        vec![(&ENGLISH, english_track), (&FRENCH, french_track)],
    )?;
    let total = spec.frame_count();
    progress.started(TASK, Some(total), ProgressUnit::Frames);
    render_pictures(spec, &timeline, &episode_path, &mut writer, progress)?;
    writer.finish()?;
    staged.commit().map_err(|e| MediaError::io(&episode_path, e))?;
    progress.advanced(TASK, total);
    progress.finished(TASK);

    let truth = SampleTruth {
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        frame_count: total,
        duration_seconds: f64::from(spec.duration_seconds),
        shots: timeline.shots,
        transitions: timeline.transitions,
        audio_streams: [&ENGLISH, &FRENCH]
            .iter()
            .enumerate()
            .map(|(i, l)| TruthAudioStream {
                audio_ordinal: i,
                language: l.code.to_owned(),
                title: l.title.to_owned(),
                default: i == 0,
            })
            .collect(),
        speech,
    };
    let json = serde_json::to_vec_pretty(&truth).map_err(|e| MediaError::Failed {
        path: truth_path.clone(),
        doing: "serialising the truth".into(),
        reason: e.to_string(),
    })?;
    write_file_atomic(&truth_path, &json).map_err(|e| MediaError::io(&truth_path, e))?;
    Ok(truth)
}

/// Pulls each shot's source exactly over the shot's frames and encodes the composed pictures.
fn render_pictures(
    spec: &SampleSpec,
    timeline: &Timeline,
    episode_path: &Path,
    writer: &mut EpisodeWriter<'_>,
    progress: &dyn ProgressSink,
) -> Result<(), MediaError> {
    let source_failed = |e| MediaError::ffmpeg(episode_path, "rendering a shot with libavfilter", e);
    let mut sources: Vec<Option<ShotSource>> = (0..timeline.shots.len()).map(|_| None).collect();
    let mut canvases = [Canvas::new(spec.width, spec.height), Canvas::new(spec.width, spec.height)];
    let mut last_progress = Instant::now();
    for frame in 0..spec.frame_count() {
        // Every shot on screen advances by one picture, whether or not it is blended.
        let mut on_screen = 0;
        for (shot, source) in timeline.shots.iter().zip(sources.iter_mut()) {
            if frame < shot.first_frame || frame > shot.last_frame {
                *source = None;
                continue;
            }
            if source.is_none() {
                *source = Some(
                    ShotSource::new(shot.index % SOURCE_COUNT, spec.width, spec.height, spec.fps)
                        .map_err(source_failed)?,
                );
            }
            if let Some(source) = source.as_mut() {
                let picture = source.next_picture().map_err(source_failed)?;
                if let Some(canvas) = canvases.get_mut(on_screen) {
                    canvas.load(picture);
                }
                on_screen += 1;
            }
        }
        let [first, second] = &mut canvases;
        match timeline.look(frame) {
            Look::Shot { gain } if gain < 1.0 => first.fade(gain),
            // Canvases are filled in shot order: the first holds the outgoing shot.
            Look::Mix { weight } if on_screen == 2 => first.mix(second, weight),
            _ => {}
        }
        writer.write_picture(first.to_frame(), frame, spec.fps)?;
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            last_progress = Instant::now();
            progress.advanced(TASK, frame + 1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{SMALL, small_sample, small_truth};

    #[test]
    fn default_timeline_has_long_shots_cuts_fades_and_dissolves() {
        let spec = SampleSpec::default();
        let timeline = Timeline::new(&spec);
        assert!(timeline.shots.len() >= 6);
        let kinds: Vec<TransitionKind> = timeline.transitions.iter().map(|t| t.kind).collect();
        for kind in [TransitionKind::Cut, TransitionKind::Fade, TransitionKind::Dissolve] {
            assert!(kinds.contains(&kind), "{kind:?} missing");
        }
        for shot in &timeline.shots {
            assert!(shot.last_frame - shot.first_frame + 1 >= 3 * u64::from(spec.fps), "{shot:?}");
        }
        let sources: std::collections::HashSet<&str> =
            timeline.shots.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(sources.len(), timeline.shots.len(), "every shot has its own look");
        assert_eq!(timeline.shots.first().map(|s| s.first_frame), Some(0));
        assert_eq!(timeline.shots.last().map(|s| s.last_frame), Some(spec.frame_count() - 1));
    }

    #[test]
    fn fades_reach_black_and_dissolves_blend_evenly() {
        let timeline = Timeline::new(&SampleSpec::default());
        let fade = timeline.transitions.iter().find(|t| t.kind == TransitionKind::Fade).unwrap();
        assert!(matches!(timeline.look(fade.switch_frame - 1), Look::Shot { gain } if gain == 0.0));
        assert!(matches!(timeline.look(fade.switch_frame), Look::Shot { gain } if gain == 0.0));
        assert!(matches!(timeline.look(fade.first_frame), Look::Shot { gain } if gain > 0.9));
        assert!(matches!(timeline.look(fade.last_frame + 1), Look::Shot { gain } if gain == 1.0));
        let dissolve = timeline.transitions.iter().find(|t| t.kind == TransitionKind::Dissolve).unwrap();
        assert_eq!(dissolve.last_frame - dissolve.first_frame + 1, 25);
        assert!(
            matches!(timeline.look(dissolve.switch_frame), Look::Mix { weight } if (weight - 0.5).abs() < 0.01)
        );
        assert!(matches!(timeline.look(dissolve.first_frame - 1), Look::Shot { gain } if gain == 1.0));
    }

    #[test]
    fn invalid_specs_are_config_errors() {
        use reelforge_core::{Classify, ErrorClass};
        let odd = SampleSpec { width: 641, ..SampleSpec::default() };
        let error =
            generate_sample(&odd, Path::new("/tmp/never-written"), &reelforge_core::NoProgress).unwrap_err();
        assert_eq!(error.class(), ErrorClass::Config);
        assert!(!Path::new("/tmp/never-written").exists());
    }

    #[test]
    fn generated_sample_matches_its_truth() {
        let truth = small_truth();
        assert_eq!(truth.frame_count, SMALL.frame_count());
        let dir = small_sample().parent().unwrap();
        let written: SampleTruth =
            serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
        assert_eq!(&written, truth);
        assert_eq!(truth.shots.len(), 3);
        assert!(!truth.speech.is_empty());
        for line in &truth.speech {
            assert!(line.end_seconds > line.start_seconds + 0.5 && line.end_seconds <= 12.0, "{line:?}");
        }
        let languages: std::collections::HashSet<&str> =
            truth.speech.iter().map(|l| l.stream_language.as_str()).collect();
        assert_eq!(languages.len(), 2);
        assert_eq!(Timeline::new(&SMALL).shots, truth.shots, "the same spec gives the same truth");
    }
}
