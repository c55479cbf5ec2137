//! Speech recognition (whisper-rs), cue segmentation and timing rules, SRT/WebVTT/TTML.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `subtitles` stage, as written under `subtitles:` in a pipeline file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SubtitleSettings {}
