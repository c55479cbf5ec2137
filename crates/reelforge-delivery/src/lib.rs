//! Encoding ladders and HLS/DASH packaging plans.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the `renditions` stage, as written under `renditions:` in a pipeline file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RenditionSettings {}
