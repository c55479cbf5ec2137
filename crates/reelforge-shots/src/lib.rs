//! Shot-boundary detection over decoded frames. Takes frames, never files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the shot detector, as written under `shots:` in a pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ShotSettings {
    /// Width in pixels of the analysis frame (height keeps the aspect ratio).
    pub analysis_width: u32,
    /// No shot is shorter than this many frames.
    pub min_shot_frames: u32,
}

impl Default for ShotSettings {
    fn default() -> Self {
        Self { analysis_width: 256, min_shot_frames: 12 }
    }
}
