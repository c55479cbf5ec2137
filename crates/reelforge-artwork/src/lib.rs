//! Thumbnail candidates, quality scores and per-profile selection over frames. No FFmpeg.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `artwork` stage, as written under `artwork:` in a pipeline file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ArtworkSettings {}
