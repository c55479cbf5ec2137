//! Thumbnail candidates, quality scores and per-profile selection over frames. No FFmpeg.
//!
//! [`CandidateCollector`] measures candidate frames in the shared decode pass
//! ([`features`]), the [`QualityGate`] rejects black, flat, blurred, badly exposed,
//! motion-smeared and in-transition frames, [`select`] ranks the rest per audience
//! [`Profile`] (optionally steered by a learned [`LinUcb`] bandit), and [`salient_crop`]
//! frames each pick for delivery.

mod bandit;
mod collector;
mod crop;
mod features;
mod gate;
mod profile;

pub use bandit::{BanditError, BanditState, CONTEXT_DIMENSION, LearnSummary, LinUcb, STATE_VERSION};
pub use collector::{CandidateCollector, Collected, Thumbnail, resize_area};
pub use crop::{CropRect, CropSpec, salient_crop};
pub use features::{FEATURE_COUNT, Features, FrameMeter, Measurements, difference_hash, hamming, is_skin};
pub use gate::{QualityGate, Rejection, Rejections, ShotPlan};
pub use profile::{Candidate, Constraints, Pick, PickKind, Profile, Selection, select};

use std::path::PathBuf;

use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `artwork` stage, as written under `artwork:` in a pipeline file.
/// `Default` is written by hand: derived zeros would mean no profiles and no samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ArtworkSettings {
    /// Width in pixels of the frames candidates are measured on (height keeps the display
    /// aspect; never wider than the source; at least 32). Default 320.
    #[schemars(range(min = 32, max = 3840))]
    pub analysis_width: u32,
    /// Candidate frames per second of each shot, spread evenly over the shot. Default 2.
    #[schemars(range(min = 0.01, max = 30.0))]
    pub samples_per_second: f64,
    /// At most this many candidates per shot, whatever its length (bounds memory). Default 12.
    #[schemars(range(min = 1, max = 1000))]
    pub max_candidates_per_shot: u32,
    /// Thresholds of the quality gate (see each field's default).
    pub quality: QualityGate,
    /// Picks per profile, each from a different shot while shots last. Default 3.
    #[schemars(range(min = 1, max = 50))]
    pub picks_per_profile: u32,
    /// Audience profiles. Default `action`, `drama` and `family` (see pipelines/artwork.yaml).
    #[schemars(length(min = 1))]
    pub profiles: Vec<Profile>,
    /// A bandit state written by `reelforge artwork learn`; profiles with a model in it rank
    /// by predicted click rate instead of their weights. Default none. The file's contents
    /// are part of the cache key: relearning into the same file reruns the stage.
    pub bandit_state: Option<PathBuf>,
    /// Share (0-1) of each learned profile's picks given to exploration (the candidates the
    /// model is least sure about), rounded to whole picks. Default 0.34 (1 of 3).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub exploration_share: f64,
    /// Delivery sizes; each pick is cropped to each. Default landscape 1280x720, poster
    /// 600x900, square 800x800.
    #[schemars(length(min = 1))]
    pub crops: Vec<CropSpec>,
    /// JPEG quality (1-100) of the delivered images; WebP copies are lossless. Default 90.
    #[schemars(range(min = 1, max = 100))]
    pub jpeg_quality: u8,
    /// The trick-play thumbnail sprite.
    pub sprite: SpriteSettings,
}

impl Default for ArtworkSettings {
    fn default() -> Self {
        Self {
            analysis_width: 320,
            samples_per_second: 2.0,
            max_candidates_per_shot: 12,
            quality: QualityGate::default(),
            picks_per_profile: 3,
            profiles: Profile::defaults(),
            bandit_state: None,
            exploration_share: 0.34,
            crops: CropSpec::defaults(),
            jpeg_quality: 90,
            sprite: SpriteSettings::default(),
        }
    }
}

/// Trick-play sprite settings, as written under `artwork: sprite:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SpriteSettings {
    /// Seconds between thumbnails. Default 10; widened on long videos to respect
    /// `max_thumbnails`.
    #[schemars(range(min = 0.1, max = 3600.0))]
    pub interval_seconds: f64,
    /// Thumbnail width in pixels (height keeps the aspect). Default 160.
    #[schemars(range(min = 16, max = 1920))]
    pub thumbnail_width: u32,
    /// Thumbnails per sprite row. Default 10.
    #[schemars(range(min = 1, max = 100))]
    pub columns: u32,
    /// Rows per sprite sheet; more thumbnails start another sheet. Default 10.
    #[schemars(range(min = 1, max = 100))]
    pub rows: u32,
    /// At most this many thumbnails in all (bounds memory). Default 600.
    #[schemars(range(min = 1, max = 100000))]
    pub max_thumbnails: u32,
}

impl Default for SpriteSettings {
    fn default() -> Self {
        Self { interval_seconds: 10.0, thumbnail_width: 160, columns: 10, rows: 10, max_thumbnails: 600 }
    }
}

impl CheckSettings for ArtworkSettings {
    /// Ranges are in the schema; these rules are about names, which become folder and file
    /// names, and limits that must not cross.
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let safe = |name: &str| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let names = self
            .profiles
            .iter()
            .map(|p| ("profiles", &p.name))
            .chain(self.crops.iter().map(|c| ("crops", &c.name)));
        let mut seen: Vec<(&str, &String)> = Vec::new();
        for (index, (list, name)) in names.enumerate() {
            let position = if list == "profiles" { index } else { index - self.profiles.len() };
            let field = format!("{list}[{position}].name");
            if !safe(name) {
                problems.push(SettingProblem::new(
                    field,
                    format!("is {name:?}; use letters, digits, `-` or `_` (it names folders and files)"),
                ));
            } else if seen.contains(&(list, name)) {
                problems.push(SettingProblem::new(
                    field,
                    format!("is `{name}`, which is already used; names must differ"),
                ));
            }
            seen.push((list, name));
        }
        for (index, profile) in self.profiles.iter().enumerate() {
            let limits = &profile.constraints;
            if let (Some(min), Some(max)) = (limits.min_brightness, limits.max_brightness)
                && min > max
            {
                problems.push(SettingProblem::new(
                    format!("profiles[{index}].constraints.min_brightness"),
                    format!("is {min}, above `max_brightness` ({max}); no frame could pass"),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_have_three_profiles() {
        let settings = ArtworkSettings::default();
        assert_eq!(settings.problems(), []);
        let names: Vec<&str> = settings.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["action", "drama", "family"]);
    }

    #[test]
    fn bad_settings_are_explained() {
        let mut settings = ArtworkSettings::default();
        settings.profiles[1].name = "action".into();
        settings.crops[2].name = "sq/uare".into();
        settings.profiles[0].constraints.min_brightness = Some(0.8);
        settings.profiles[0].constraints.max_brightness = Some(0.2);
        let fields: Vec<String> = settings.problems().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["profiles[1].name", "crops[2].name", "profiles[0].constraints.min_brightness"]);
    }

    #[test]
    fn settings_round_trip_and_reject_unknown_fields() {
        let json = serde_json::to_value(ArtworkSettings::default()).expect("serialises");
        let back: ArtworkSettings = serde_json::from_value(json).expect("parses");
        assert_eq!(back, ArtworkSettings::default());
        let partial: ArtworkSettings = serde_json::from_str(r#"{"picks_per_profile": 2}"#).expect("partial");
        assert_eq!(partial.profiles.len(), 3);
        assert!(serde_json::from_str::<ArtworkSettings>(r#"{"pick_per_profile": 2}"#).is_err());
    }
}
