//! `trailer:` settings of a pipeline file.

use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `trailer` stage. `Default` is written by hand: derived zeros would mean a
/// trailer of no length with every signal ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrailerSettings {
    /// Length of the trailer in seconds, met exactly to the frame. The usual cuts are 30, 60
    /// and 90; any length from 5 s that the episode has material for works. Default 30.
    #[schemars(range(min = 5, max = 600))]
    pub duration_seconds: u32,
    /// Integrated loudness the trailer is normalised to, in LUFS. Default -16 (online video).
    #[schemars(range(min = -40.0, max = -5.0))]
    pub loudness_target_lufs: f64,
    /// Length of the cross-dissolves between the trailer's sections, in frames; 0 joins every
    /// clip with a cut. Default 12.
    #[schemars(range(min = 0, max = 100))]
    pub dissolve_frames: u32,
    /// Length of the audio crossfade at every cut, in milliseconds (hides clicks). Default 40.
    #[schemars(range(min = 0, max = 1000))]
    pub audio_crossfade_ms: u32,
    /// The audio fades out over its last this many seconds (under the title card when there
    /// is one). Default 1.5.
    #[schemars(range(min = 0.0, max = 10.0))]
    pub fade_out_seconds: f64,
    /// Text of a title card drawn (white on black) at the end of the trailer; a line break
    /// starts a new line. It counts in `duration_seconds`; the closing shot's sound runs on
    /// under it for the fade-out, then the card holds in silence. Default none.
    pub title_card: Option<String>,
    /// How long the title card stays on screen, in seconds. Default 2.5.
    #[schemars(range(min = 0.5, max = 10.0))]
    pub title_card_seconds: f64,
    /// Shots that start after this fraction of the episode are never used (no spoilers from
    /// the ending). Default 0.75.
    #[schemars(range(min = 0.1, max = 1.0))]
    pub spoiler_cutoff: f64,
    /// Shortest clip in seconds; shorter ones flash by unreadably. Default 1.
    #[schemars(range(min = 0.2, max = 10.0))]
    pub min_clip_seconds: f64,
    /// Frames kept clear of each source cut, so no clip shows a frame of the neighbouring
    /// shot (or of a fade or dissolve into it). Default 2.
    #[schemars(range(min = 0, max = 48))]
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
            min_clip_seconds: 1.0,
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
    #[schemars(range(min = 0.0, max = 100.0))]
    pub loudness: f64,
    /// Motion energy: mean picture change from frame to frame. Default 1.0.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub motion: f64,
    /// Visual quality: sharpness and contrast. Default 0.7.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub quality: f64,
    /// Shot length (longer shots leave room to trim well). Default 0.3.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub length: f64,
    /// Share of the shot with someone speaking (needs the subtitles stage). Default 0.5.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub dialogue: f64,
    /// Words spoken per second in the shot (needs the subtitles stage). Default 0.3.
    #[schemars(range(min = 0.0, max = 100.0))]
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
#[error("trailer settings: `{}` {}", .0.field, .0.problem)]
pub struct SettingsError(pub SettingProblem);

impl TrailerSettings {
    /// The first of [`CheckSettings::problems`], for callers that skip the pipeline's checks.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.problems().into_iter().next().map_or(Ok(()), |problem| Err(SettingsError(problem)))
    }
}

impl CheckSettings for TrailerSettings {
    /// Ranges are in the schema; these rules tie fields together or look inside the text.
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let half_trailer = f64::from(self.duration_seconds) / 2.0;
        if self.title_card.is_some() && self.title_card_seconds > half_trailer {
            problems.push(SettingProblem::new(
                "title_card_seconds",
                format!(
                    "is {}; the card may take at most half the trailer ({half_trailer} s of `duration_seconds` {})",
                    self.title_card_seconds, self.duration_seconds
                ),
            ));
        }
        if let Some(text) = &self.title_card {
            if text.trim().is_empty() || text.lines().count() > MAX_TITLE_LINES {
                problems.push(SettingProblem::new(
                    "title_card",
                    format!("is {text:?}; it needs text, in at most {MAX_TITLE_LINES} lines"),
                ));
            } else if text.chars().any(|c| c.is_control() && c != '\n') {
                problems.push(SettingProblem::new(
                    "title_card",
                    format!("is {text:?}; it may hold line breaks but no other control characters"),
                ));
            }
        }
        let w = &self.weights;
        if [w.loudness, w.motion, w.quality, w.length, w.dialogue, w.words].iter().all(|v| *v == 0.0) {
            problems.push(SettingProblem::new("weights", "are all 0; at least one signal must count"));
        }
        problems
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
    fn cross_field_rules_are_refused() {
        assert!(serde_json::from_str::<TrailerSettings>(r#"{"length": 30}"#).is_err());
        let card =
            |text: &str| TrailerSettings { title_card: Some(text.into()), ..TrailerSettings::default() };
        assert_eq!(card("In cinemas\nthis spring").validate(), Ok(()));
        let field = |settings: TrailerSettings| settings.problems().first().map(|p| p.field.clone());
        assert_eq!(field(card("  ")).as_deref(), Some("title_card"));
        assert_eq!(field(card("nul\0byte")).as_deref(), Some("title_card"));
        assert_eq!(field(card("a\nb\nc\nd\ne")).as_deref(), Some("title_card"));
        let long_card = TrailerSettings { duration_seconds: 10, title_card_seconds: 6.0, ..card("Soon") };
        assert_eq!(field(long_card).as_deref(), Some("title_card_seconds"));
        let deaf =
            ScoreWeights { loudness: 0.0, motion: 0.0, quality: 0.0, length: 0.0, dialogue: 0.0, words: 0.0 };
        assert_eq!(
            field(TrailerSettings { weights: deaf, ..TrailerSettings::default() }).as_deref(),
            Some("weights")
        );
    }
}
