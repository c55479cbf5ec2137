//! The documents stages write for each other — `media.json`, `shots.json`,
//! `subtitles.json`, `artwork.json` — typed once here, each with one reader. Every stage and
//! command reads them through this module, so a missing or damaged document is reported one
//! way (exit 2, naming the file and the stage that makes it). Which input and settings a
//! document was made from is in the `manifest.json` beside it (`StageManifest`), which the
//! executor checks before a stage may read the folder.

use std::collections::BTreeMap;
use std::path::Path;

use reelforge_artwork::{ArtworkSettings, CropRect, Features, Measurements, Rejection};
use reelforge_core::{ErrorClass, Rational};
use reelforge_media::{MediaInfo, StreamDamage};
use reelforge_pipeline::{StageError, StageJob, StageName};
use reelforge_shots::{Boundary, Shot, ShotSettings};
use reelforge_subtitles::Cue;
use reelforge_subtitles::recognize::Transcript;
use serde::{Deserialize, Serialize};

pub const MEDIA_JSON: &str = "media.json";
pub const SHOTS_JSON: &str = "shots.json";
pub const SUBTITLES_JSON: &str = "subtitles.json";
pub const ARTWORK_JSON: &str = "artwork.json";

/// `shots.json`: the shot list with keyframe paths and each boundary's confidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotsDocument {
    /// The analysed file, as given.
    pub source: String,
    pub frame_rate: Rational,
    pub total_frames: u64,
    pub settings: ShotSettings,
    pub shots: Vec<ShotsDocumentEntry>,
    /// Every transition between shots: kind, frame range and confidence.
    pub boundaries: Vec<Boundary>,
    /// Decode errors the pass met in the input (empty when it decoded cleanly).
    #[serde(default)]
    pub damage: Vec<StreamDamage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotsDocumentEntry {
    #[serde(flatten)]
    pub shot: Shot,
    /// Relative path of the shot's keyframe (its middle frame).
    pub keyframe: String,
    /// Confidence of the boundary that starts this shot; `None` for the first shot.
    pub confidence: Option<f32>,
}

/// `subtitles.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubtitlesDocument {
    pub source: String,
    pub model: String,
    pub frame_rate: f64,
    pub tracks: Vec<Track>,
    /// Decode errors the pass met in the input (empty when it decoded cleanly).
    #[serde(default)]
    pub damage: Vec<StreamDamage>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Track {
    /// Base name of the track's files (`en`, `fr`, `en-from-fr`).
    pub name: String,
    /// 0-based audio stream it was made from.
    pub audio_stream: usize,
    /// The stream's own language tag, if any.
    pub stream_language_tag: Option<String>,
    pub files: Vec<String>,
    #[serde(flatten)]
    pub transcript: Transcript,
    pub cues: Vec<Cue>,
}

/// `artwork.json`: every pick of every profile with its scores, reasons and files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtworkDocument {
    /// The analysed file, as given.
    pub source: String,
    pub duration_seconds: f64,
    pub settings: ArtworkSettings,
    pub candidates: CandidateSummary,
    pub profiles: Vec<ProfilePicks>,
    pub sprite: SpriteDocument,
    /// Decode errors the pass met in the input (empty when it decoded cleanly).
    #[serde(default)]
    pub damage: Vec<StreamDamage>,
}

/// How many candidates were measured and why the gate turned some away.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateSummary {
    pub measured: usize,
    pub passed_gate: usize,
    /// Candidates per rejection reason (one candidate can have several).
    pub rejected: BTreeMap<Rejection, usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfilePicks {
    pub name: String,
    /// Whether a learned bandit model ranked this profile's picks.
    pub learned: bool,
    pub picks: Vec<PickDocument>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PickDocument {
    pub rank: usize,
    /// Stable id for impression logs: frame index and perceptual hash.
    pub image_id: String,
    pub frame: u64,
    pub time_seconds: f64,
    /// 0-based index into shots.json's shots.
    pub shot: usize,
    /// `score`, `learned` or `exploration`.
    pub chosen_by: String,
    pub profile_score: f64,
    pub predicted_click_rate: Option<f64>,
    pub features: Features,
    pub measurements: Measurements,
    pub reasons: Vec<String>,
    pub images: Vec<CropDocument>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CropDocument {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// The window of the full-size frame that was scaled to `width` x `height`.
    pub source_rect: CropRect,
    pub jpeg: String,
    pub webp: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpriteDocument {
    pub vtt: String,
    pub sheets: Vec<String>,
    pub thumbnails: usize,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

impl ShotsDocument {
    /// Frames per second of the shot list.
    pub fn fps(&self) -> f64 {
        self.frame_rate.as_f64()
    }

    /// Where each shot but the first starts, in seconds: the shot changes cues snap to and
    /// must not run across.
    pub fn shot_changes(&self) -> Vec<f64> {
        self.shots.iter().skip(1).map(|entry| entry.shot.start_seconds).collect()
    }

    /// Times of every boundary, in seconds.
    pub fn boundary_times(&self) -> Vec<f64> {
        self.boundaries.iter().map(|b| b.time_seconds).collect()
    }
}

/// `media.json` of a probe folder.
pub fn read_media(dir: &Path) -> Result<MediaInfo, StageError> {
    read_document(&dir.join(MEDIA_JSON), StageName::Probe)
}

/// `shots.json` of a shots folder.
pub fn read_shots(dir: &Path) -> Result<ShotsDocument, StageError> {
    read_shots_file(&dir.join(SHOTS_JSON))
}

/// A `shots.json` given by its path (`qc`, `eval`).
pub fn read_shots_file(path: &Path) -> Result<ShotsDocument, StageError> {
    read_document(path, StageName::Shots)
}

/// `subtitles.json` of a subtitles folder.
pub fn read_subtitles(dir: &Path) -> Result<SubtitlesDocument, StageError> {
    read_document(&dir.join(SUBTITLES_JSON), StageName::Subtitles)
}

/// An `artwork.json` given by its path (`artwork learn`).
pub fn read_artwork_file(path: &Path) -> Result<ArtworkDocument, StageError> {
    read_document(path, StageName::Artwork)
}

/// What the probe stage found, from its `media.json`; a stage run on its own (no probe
/// folder upstream) probes the input itself.
pub fn job_media(job: &StageJob<'_>) -> Result<MediaInfo, StageError> {
    match job.upstream.get(&StageName::Probe) {
        Some(dir) => read_media(dir),
        None => {
            reelforge_media::probe(job.input).map_err(|e| StageError::from_classified("probing the input", e))
        }
    }
}

/// The one way a document is read: a file that is missing or does not parse means the
/// folder is not a usable output of `stage` (a configuration problem, never retried).
fn read_document<T: serde::de::DeserializeOwned>(path: &Path, stage: StageName) -> Result<T, StageError> {
    let fail = |problem: String| {
        StageError::new(
            ErrorClass::Config,
            format!(
                "{}: {problem}; it should be the `{stage}` stage's output (make it again with `reelforge {stage}` or `reelforge run`)",
                path.display()
            ),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot be read ({e})")))?;
    serde_json::from_str(&text).map_err(|e| fail(format!("is not a valid `{stage}` document ({e})")))
}

#[cfg(test)]
mod tests {
    use reelforge_core::Classify;

    use super::*;

    #[test]
    fn a_missing_or_damaged_document_is_one_kind_of_error_naming_file_and_stage() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_shots(dir.path()).unwrap_err();
        assert_eq!(missing.class(), ErrorClass::Config);
        assert!(missing.message().contains("shots.json: cannot be read"), "{}", missing.message());
        std::fs::write(dir.path().join(SUBTITLES_JSON), "{\"tracks\": 3}").unwrap();
        let damaged = read_subtitles(dir.path()).unwrap_err();
        assert_eq!(damaged.class(), ErrorClass::Config);
        let text = damaged.message();
        assert!(text.contains("subtitles.json: is not a valid `subtitles` document"), "{text}");
        assert!(text.contains("reelforge subtitles"), "says how to make it again: {text}");
    }

    #[test]
    fn shot_changes_are_every_shot_start_but_the_first() {
        let shot = |index, start_frame, start_seconds| ShotsDocumentEntry {
            shot: Shot {
                index,
                start_frame,
                end_frame: start_frame + 9,
                start_seconds,
                end_seconds: start_seconds + 0.4,
                transition: None,
            },
            keyframe: format!("keyframes/{index}.jpg"),
            confidence: None,
        };
        let document = ShotsDocument {
            source: "x.mp4".into(),
            frame_rate: Rational::new(25, 1),
            total_frames: 30,
            settings: ShotSettings::default(),
            shots: vec![shot(0, 0, 0.0), shot(1, 10, 0.4), shot(2, 20, 0.8)],
            boundaries: Vec::new(),
            damage: Vec::new(),
        };
        assert_eq!(document.shot_changes(), [0.4, 0.8]);
        assert_eq!(document.fps(), 25.0);
    }
}
