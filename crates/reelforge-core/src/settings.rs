//! What a settings type says about values that cannot work, so a pipeline is refused before
//! any stage starts. Ranges and choices live in each type's JSON Schema (`schemars`
//! attributes), which the pipeline checks; [`CheckSettings`] covers the rest.

/// One setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingProblem {
    /// Where inside the stage's settings: `segment_seconds`, `weights.motion`,
    /// `profiles[1].name`.
    pub field: String,
    /// What is wrong and what would work, to follow the field's name: "is 5; it must be a
    /// whole multiple of `gop_seconds` (2)".
    pub problem: String,
}

impl SettingProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> SettingProblem {
        SettingProblem { field: field.into(), problem: problem.into() }
    }
}

/// Rules a schema range or enum cannot express: one field against another, names, text.
pub trait CheckSettings {
    /// Every problem found; empty when the settings can work.
    fn problems(&self) -> Vec<SettingProblem>;
}
