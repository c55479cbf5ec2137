//! Shot-boundary detection over decoded frames: hard cuts, fades and dissolves.
//!
//! Takes frames and numbers, returns data: no files, no FFmpeg. See the README for the
//! method; [`ShotDetector`] is the entry point and [`evaluate`] scores a result against a
//! hand-made list of cuts.

mod cut;
mod detector;
mod dissolve;
mod evaluate;
mod export;
mod fade;
mod features;
mod history;
mod shot_list;

pub use detector::ShotDetector;
pub use evaluate::{
    Detection, Evaluation, SpanError, TransitionEvaluation, TruthKind, TruthSpan, evaluate,
    evaluate_transitions,
};
pub use shot_list::{Boundary, Shot, ShotList, TransitionKind};

use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the shot detector, as written under `shots:` in a pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ShotSettings {
    /// About the width in pixels of the frames the detector looks at: the source width
    /// divided by the nearest whole number, so every analysis pixel averages the same run of
    /// source pixels (1920 px gives 240 for 256, 320 px is used as it is). Height keeps the
    /// display aspect ratio; at least 32. Default 256.
    #[schemars(range(min = 32, max = 3840))]
    pub analysis_width: u32,
    /// No shot is shorter than this many frames: of two boundaries closer than this, the
    /// less certain one is dropped. Default 12.
    #[schemars(range(min = 1, max = 1000))]
    pub min_shot_frames: u32,
    /// Look at colour (the two chroma planes) as well as brightness, which separates shots
    /// that differ only in hue; false analyses brightness alone. Default true.
    pub use_colour: bool,
    /// Smallest picture change between two frames that can be a hard cut, in 8-bit luma
    /// levels (mean difference of 8x8-pixel block averages after compensating camera
    /// motion, plus 32 × the histogram difference). Also the smallest difference between the
    /// shots on either side of a fade or dissolve. Lower finds more subtle cuts and more
    /// false ones. Default 12.
    #[schemars(range(min = 0.0, max = 255.0))]
    pub cut_min_change: f32,
    /// How far above the recent level of change a cut must stand, in robust standard
    /// deviations of the last 24 frames' changes; higher ignores more motion. Default 5.
    #[schemars(range(min = 0.0, max = 100.0))]
    pub cut_sensitivity: f32,
    /// Detect fades to and from black or white. Default true.
    pub detect_fades: bool,
    /// Detect dissolves (cross-fades). Default true.
    pub detect_dissolves: bool,
    /// A flat frame whose mean luma (0-255) is at most this counts as black. Default 32.
    #[schemars(range(min = 0.0, max = 255.0))]
    pub black_level: f32,
    /// A flat frame whose mean luma (0-255) is at least this counts as white. Default 215.
    #[schemars(range(min = 0.0, max = 255.0))]
    pub white_level: f32,
    /// A frame is flat (a candidate black or white frame) when the standard deviation of its
    /// luma is at most this, in luma levels. Default 10.
    #[schemars(range(min = 0.0, max = 128.0))]
    pub flat_max_std_dev: f32,
    /// Longest fade-out or fade-in ramp searched, in frames (2-300). Default 90.
    #[schemars(range(min = 2, max = 300))]
    pub max_fade_frames: u32,
    /// Longest dissolve searched, in frames (4-96); longer windows cost memory and time.
    /// Default 48.
    #[schemars(range(min = 4, max = 96))]
    pub max_dissolve_frames: u32,
}

impl Default for ShotSettings {
    fn default() -> Self {
        Self {
            analysis_width: 256,
            min_shot_frames: 12,
            use_colour: true,
            cut_min_change: 12.0,
            cut_sensitivity: 5.0,
            detect_fades: true,
            detect_dissolves: true,
            black_level: 32.0,
            white_level: 215.0,
            flat_max_std_dev: 10.0,
            max_fade_frames: 90,
            max_dissolve_frames: 48,
        }
    }
}

impl CheckSettings for ShotSettings {
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        if self.black_level >= self.white_level {
            problems.push(SettingProblem::new(
                "black_level",
                format!("is {}; it must be below `white_level` ({})", self.black_level, self.white_level),
            ));
        }
        problems
    }
}
