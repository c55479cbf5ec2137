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

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `artwork` stage, as written under `artwork:` in a pipeline file.
/// `Default` is written by hand: derived zeros would mean no profiles and no samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ArtworkSettings {
    /// Width in pixels of the frames candidates are measured on (height keeps the display
    /// aspect; never wider than the source; at least 32). Default 320.
    pub analysis_width: u32,
    /// Candidate frames per second of each shot, spread evenly over the shot. Default 2.
    pub samples_per_second: f64,
    /// At most this many candidates per shot, whatever its length (bounds memory). Default 12.
    pub max_candidates_per_shot: u32,
    /// Thresholds of the quality gate (see each field's default).
    pub quality: QualityGate,
    /// Picks per profile, each from a different shot while shots last. Default 3.
    pub picks_per_profile: u32,
    /// Audience profiles. Default `action`, `drama` and `family` (see pipelines/artwork.yaml).
    pub profiles: Vec<Profile>,
    /// A bandit state written by `reelforge artwork learn`; profiles with a model in it rank
    /// by predicted click rate instead of their weights. Default none. The file's contents
    /// are part of the cache key: relearning into the same file reruns the stage.
    pub bandit_state: Option<PathBuf>,
    /// Share (0-1) of each learned profile's picks given to exploration (the candidates the
    /// model is least sure about), rounded to whole picks. Default 0.34 (1 of 3).
    pub exploration_share: f64,
    /// Delivery sizes; each pick is cropped to each. Default landscape 1280x720, poster
    /// 600x900, square 800x800.
    pub crops: Vec<CropSpec>,
    /// JPEG quality (1-100) of the delivered images; WebP copies are lossless. Default 90.
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
    pub interval_seconds: f64,
    /// Thumbnail width in pixels (height keeps the aspect). Default 160.
    pub thumbnail_width: u32,
    /// Thumbnails per sprite row. Default 10.
    pub columns: u32,
    /// Rows per sprite sheet; more thumbnails start another sheet. Default 10.
    pub rows: u32,
    /// At most this many thumbnails in all (bounds memory). Default 600.
    pub max_thumbnails: u32,
}

impl Default for SpriteSettings {
    fn default() -> Self {
        Self { interval_seconds: 10.0, thumbnail_width: 160, columns: 10, rows: 10, max_thumbnails: 600 }
    }
}

/// A setting the stage cannot work with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("artwork settings: {0}")]
pub struct SettingsError(pub String);

impl reelforge_core::Classify for SettingsError {
    fn class(&self) -> reelforge_core::ErrorClass {
        reelforge_core::ErrorClass::Config
    }
}

impl ArtworkSettings {
    /// Checks what serde cannot: names usable as folder names, sizes and shares in range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fail = |message: String| Err(SettingsError(message));
        if self.profiles.is_empty() {
            return fail("at least one profile is needed".into());
        }
        let safe = |name: &str| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        for (i, profile) in self.profiles.iter().enumerate() {
            if !safe(&profile.name) {
                return fail(format!("profile name `{}` must be letters, digits, `-` or `_`", profile.name));
            }
            if self.profiles[..i].iter().any(|p| p.name == profile.name) {
                return fail(format!("profile `{}` is defined twice", profile.name));
            }
        }
        for crop in &self.crops {
            if !safe(&crop.name)
                || crop.width == 0
                || crop.height == 0
                || crop.width > 8192
                || crop.height > 8192
            {
                return fail(format!(
                    "crop `{}` {}x{}: name must be letters, digits, `-` or `_`, sizes 1-8192",
                    crop.name, crop.width, crop.height
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.exploration_share) {
            return fail(format!("exploration_share {} must be between 0 and 1", self.exploration_share));
        }
        if self.samples_per_second.is_nan() || self.samples_per_second <= 0.0 {
            return fail("samples_per_second must be above 0".into());
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return fail(format!("jpeg_quality {} must be 1-100", self.jpeg_quality));
        }
        if self.sprite.columns == 0
            || self.sprite.rows == 0
            || self.sprite.interval_seconds.is_nan()
            || self.sprite.interval_seconds <= 0.0
        {
            return fail("sprite columns, rows and interval_seconds must be above 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_have_three_profiles() {
        let settings = ArtworkSettings::default();
        assert_eq!(settings.validate(), Ok(()));
        let names: Vec<&str> = settings.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["action", "drama", "family"]);
    }

    #[test]
    fn bad_settings_are_explained() {
        let mut settings = ArtworkSettings::default();
        settings.profiles[1].name = "action".into();
        assert_eq!(settings.validate(), Err(SettingsError("profile `action` is defined twice".into())));
        let settings = ArtworkSettings { exploration_share: 2.0, ..ArtworkSettings::default() };
        assert!(settings.validate().is_err());
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
