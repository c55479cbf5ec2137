//! `trailer:` settings of a pipeline file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `trailer` stage. `Default` is written by hand: derived zeros would mean a
/// trailer of no length with every signal ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrailerSettings {
    /// Length of the trailer in seconds, met exactly to the frame. The usual cuts are 30, 60
    /// and 90; any length from 5 s that the episode has material for works. Default 30.
    pub duration_seconds: u32,
    /// Integrated loudness the trailer is normalised to, in LUFS. Default -16 (online video).
    pub loudness_target_lufs: f64,
    /// Length of the cross-dissolves between the trailer's sections, in frames; 0 joins every
    /// clip with a cut. Default 12.
    pub dissolve_frames: u32,
    /// Length of the audio crossfade at every cut, in milliseconds (hides clicks). Default 40.
    pub audio_crossfade_ms: u32,
    /// The audio fades out over its last this many seconds (under the title card when there
    /// is one). Default 1.5.
    pub fade_out_seconds: f64,
    /// Text of a title card drawn (white on black) at the end of the trailer; a line break
    /// starts a new line. It counts in `duration_seconds`; the closing shot's sound runs on
    /// under it for the fade-out, then the card holds in silence. Default none.
    pub title_card: Option<String>,
    /// How long the title card stays on screen, in seconds. Default 2.5.
    pub title_card_seconds: f64,
    /// Shots that start after this fraction of the episode are never used (no spoilers from
    /// the ending). Default 0.75.
    pub spoiler_cutoff: f64,
    /// Shortest clip in seconds; shorter ones flash by unreadably. Default 0.8.
    pub min_clip_seconds: f64,
    /// Frames kept clear of each source cut, so no clip shows a frame of the neighbouring
    /// shot (or of a fade or dissolve into it). Default 2.
    pub edge_margin_frames: u32,
    /// How much each measured signal counts in a shot's score.
    pub weights: ScoreWeights,
}

impl Default for TrailerSettings {
    fn default() -> Self {
        Self {
            duration_seconds: 30,
            loudness_target_lufs: -16.0,
            dissolve_frames: 12,
            audio_crossfade_ms: 40,
            fade_out_seconds: 1.5,
            title_card: None,
            title_card_seconds: 2.5,
            spoiler_cutoff: 0.75,
            min_clip_seconds: 0.8,
            edge_margin_frames: 2,
            weights: ScoreWeights::default(),
        }
    }
}

/// Weights of the per-shot signals; each signal is first scaled to 0..1 across the episode's
/// shots, so the weights compare directly. A weight of 0 ignores the signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreWeights {
    /// EBU R128 short-term loudness of the shot (louder is more exciting). Default 1.0.
    pub loudness: f64,
    /// Motion energy: mean picture change from frame to frame. Default 1.0.
    pub motion: f64,
    /// Visual quality: sharpness and contrast. Default 0.7.
    pub quality: f64,
    /// Shot length (longer shots leave room to trim well). Default 0.3.
    pub length: f64,
    /// Share of the shot with someone speaking (needs the subtitles stage). Default 0.5.
    pub dialogue: f64,
    /// Words spoken per second in the shot (needs the subtitles stage). Default 0.3.
    pub words: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self { loudness: 1.0, motion: 1.0, quality: 0.7, length: 0.3, dialogue: 0.5, words: 0.3 }
    }
}

/// More lines do not fit a card at a readable size.
const MAX_TITLE_LINES: usize = 4;

/// Settings that cannot produce a trailer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("trailer settings: {0}")]
pub struct SettingsError(pub String);

impl TrailerSettings {
    /// Checks ranges a YAML type cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fail = |text: &str| Err(SettingsError(text.to_owned()));
        if !(5..=600).contains(&self.duration_seconds) {
            return fail("duration_seconds must be between 5 and 600 (30, 60 and 90 are the usual cuts)");
        }
        if !(-40.0..=-5.0).contains(&self.loudness_target_lufs) {
            return fail("loudness_target_lufs must be between -40 and -5");
        }
        if !(0.1..=1.0).contains(&self.spoiler_cutoff) {
            return fail("spoiler_cutoff must be between 0.1 and 1.0 (a fraction of the episode)");
        }
        if !(0.2..=10.0).contains(&self.min_clip_seconds) {
            return fail("min_clip_seconds must be between 0.2 and 10");
        }
        if !(0.0..=10.0).contains(&self.fade_out_seconds) {
            return fail("fade_out_seconds must be between 0 and 10");
        }
        if !(0.5..=10.0).contains(&self.title_card_seconds)
            || self.title_card_seconds > f64::from(self.duration_seconds) / 2.0
        {
            return fail("title_card_seconds must be between 0.5 and 10, and at most half the trailer");
        }
        if let Some(text) = &self.title_card {
            if text.trim().is_empty() || text.lines().count() > MAX_TITLE_LINES {
                return fail("title_card must have text, in at most 4 lines");
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return fail("title_card may hold line breaks but no other control characters");
            }
        }
        if self.dissolve_frames > 100 || self.audio_crossfade_ms > 1000 {
            return fail("dissolve_frames must be at most 100 and audio_crossfade_ms at most 1000");
        }
        let w = &self.weights;
        let all = [w.loudness, w.motion, w.quality, w.length, w.dialogue, w.words];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return fail("weights must be zero or positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_an_empty_mapping_gives_them() {
        assert_eq!(TrailerSettings::default().validate(), Ok(()));
        let parsed: TrailerSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, TrailerSettings::default());
    }

    #[test]
    fn unknown_keys_and_bad_ranges_are_refused() {
        assert!(serde_json::from_str::<TrailerSettings>(r#"{"length": 30}"#).is_err());
        let short = TrailerSettings { duration_seconds: 2, ..TrailerSettings::default() };
        assert!(short.validate().is_err());
        let negative = TrailerSettings {
            weights: ScoreWeights { motion: -1.0, ..ScoreWeights::default() },
            ..TrailerSettings::default()
        };
        assert!(negative.validate().is_err());
        let card =
            |text: &str| TrailerSettings { title_card: Some(text.into()), ..TrailerSettings::default() };
        assert_eq!(card("In cinemas\nthis spring").validate(), Ok(()));
        assert!(card("  ").validate().is_err());
        assert!(card("nul\0byte").validate().is_err());
        assert!(card("a\nb\nc\nd\ne").validate().is_err());
        let long_card = TrailerSettings { title_card_seconds: 20.0, ..card("Soon") };
        assert!(long_card.validate().is_err());
    }
}
