//! Pipeline files: parsing with source positions, validation, implied stages and the schema.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use reelforge_core::SettingProblem;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use crate::error::{Diagnostic, PipelineError};
use crate::located::{YamlIndex, source_location};
use crate::stage::{StageConfig, StageName, stage_list};
use crate::validate::stage_problems;
use reelforge_core::suggest::did_you_mean;

/// The only pipeline file format version this reelforge reads.
pub const PIPELINE_FORMAT_VERSION: u32 = 1;

/// The default pipeline (probe + shots), compiled in so the CLI works without any file.
pub const DEFAULT_PIPELINE_YAML: &str = include_str!("../../../pipelines/default.yaml");
/// The name [`DEFAULT_PIPELINE_YAML`] is reported under in error messages.
pub const DEFAULT_PIPELINE_SOURCE: &str = "pipelines/default.yaml";

/// The version of reelforge named in "not available yet" errors.
const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// A reelforge pipeline file: which stages to run on an episode and with which settings.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "reelforge pipeline")]
struct PipelineFile {
    /// Version of the pipeline file format; always 1.
    #[schemars(with = "u32", range(min = 1, max = 1))]
    version: Spanned<u32>,
    /// Name of the pipeline, shown in progress output and reports.
    name: String,
    /// The stages to run, each a mapping with exactly one key, the stage name, whose value
    /// holds the stage's settings (`{}` for all defaults). Order does not matter: stages run in
    /// dependency order, and a stage another one needs is added with default settings when the
    /// file does not list it.
    #[schemars(with = "Vec<StageConfig>", length(min = 1))]
    stages: Spanned<Vec<Spanned<StageConfig>>>,
    /// What decode errors in the input (a damaged file) do: `warn` (default: every stage
    /// reads on, warns with the count and the first time affected, and records them in its
    /// document) or `fail` (every stage of the decode pass fails with exit 3, for QC).
    #[serde(default)]
    on_damage: OnDamage,
}

/// What decode errors in the input do to a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDamage {
    /// Read on, warn, record the damage in each stage's document.
    #[default]
    Warn,
    /// Fail the stages that decoded the damaged input (exit 3).
    Fail,
}

/// The JSON Schema of pipeline files, for editors and `reelforge schema`.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(PipelineFile).to_value()
}

/// A validated pipeline: every stage it will run (listed or implied), each with settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    name: String,
    stages: BTreeMap<StageName, StageConfig>,
    /// Stages added because a listed stage needs them.
    implied: BTreeSet<StageName>,
    on_damage: OnDamage,
}

impl Pipeline {
    /// Reads and validates a pipeline file; errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let yaml = std::fs::read_to_string(path)
            .map_err(|source| PipelineError::ReadPipeline { path: path.to_path_buf(), source })?;
        Pipeline::parse(&yaml, &path.display().to_string())
    }

    /// Parses and validates pipeline YAML; `source_name` is the file name used in errors.
    pub fn parse(yaml: &str, source_name: &str) -> Result<Pipeline, PipelineError> {
        let file: PipelineFile =
            serde_saphyr::from_str(yaml).map_err(|error| diagnose_yaml_error(&error, yaml, source_name))?;
        let invalid = |location: Location, message: String| PipelineError::InvalidPipeline {
            source_name: source_name.to_owned(),
            location: source_location(location),
            message,
        };
        if file.version.value != PIPELINE_FORMAT_VERSION {
            return Err(invalid(
                file.version.referenced,
                format!(
                    "unsupported pipeline version {} (this reelforge reads version {PIPELINE_FORMAT_VERSION})",
                    file.version.value
                ),
            ));
        }
        if file.stages.value.is_empty() {
            return Err(invalid(file.stages.referenced, empty_stages_message()));
        }
        let mut first_seen: BTreeMap<StageName, Location> = BTreeMap::new();
        for entry in &file.stages.value {
            let stage = entry.value.name();
            if let Some(first) = first_seen.get(&stage) {
                return Err(invalid(
                    entry.referenced,
                    format!("stage `{stage}` is listed twice (first at line {})", first.line()),
                ));
            }
            first_seen.insert(stage, entry.referenced);
            if !stage.is_available() {
                return Err(invalid(entry.referenced, unavailable_message(stage)));
            }
        }
        let index = YamlIndex::parse(yaml).unwrap_or_default();
        let diagnostics: Vec<Diagnostic> = file
            .stages
            .value
            .iter()
            .enumerate()
            .flat_map(|(position, entry)| {
                let stage = entry.value.name();
                let index = &index;
                stage_problems(&entry.value).into_iter().map(move |problem| {
                    let pointer = format!("/stages/{position}/{stage}{}", field_pointer(&problem.field));
                    located_diagnostic(index, &pointer, stage, problem, source_name, entry.referenced)
                })
            })
            .collect();
        if !diagnostics.is_empty() {
            return Err(PipelineError::InvalidSettings(diagnostics));
        }
        let mut pipeline = Pipeline::with_implied_stages(
            file.name,
            file.stages.value.into_iter().map(|entry| entry.value).collect(),
        );
        pipeline.on_damage = file.on_damage;
        Ok(pipeline)
    }

    /// The built-in default pipeline ([`DEFAULT_PIPELINE_YAML`]).
    pub fn builtin_default() -> Result<Pipeline, PipelineError> {
        Pipeline::parse(DEFAULT_PIPELINE_YAML, DEFAULT_PIPELINE_SOURCE)
    }

    /// Builds a pipeline in code with the same rules as a file (no duplicates, only available
    /// stages, dependencies implied). Errors name the pipeline instead of a file position.
    pub fn from_stages(
        name: &str,
        stages: impl IntoIterator<Item = StageConfig>,
    ) -> Result<Pipeline, PipelineError> {
        let invalid = |message: String| PipelineError::InvalidPipeline {
            source_name: format!("pipeline `{name}`"),
            location: None,
            message,
        };
        let mut listed: BTreeMap<StageName, StageConfig> = BTreeMap::new();
        for stage in stages {
            let stage_name = stage.name();
            if !stage_name.is_available() {
                return Err(invalid(unavailable_message(stage_name)));
            }
            if listed.insert(stage_name, stage).is_some() {
                return Err(invalid(format!("stage `{stage_name}` is listed twice")));
            }
        }
        if listed.is_empty() {
            return Err(invalid(empty_stages_message()));
        }
        let source_name = format!("pipeline `{name}`");
        let diagnostics: Vec<Diagnostic> =
            listed.values().flat_map(|stage| unlocated_diagnostics(stage, &source_name)).collect();
        if !diagnostics.is_empty() {
            return Err(PipelineError::InvalidSettings(diagnostics));
        }
        Ok(Pipeline::with_implied_stages(name.to_owned(), listed.into_values().collect()))
    }

    /// Adds, with default settings, every stage a listed stage needs but the list omits.
    pub(crate) fn with_implied_stages(name: String, listed: Vec<StageConfig>) -> Pipeline {
        let mut stages: BTreeMap<StageName, StageConfig> =
            listed.into_iter().map(|stage| (stage.name(), stage)).collect();
        let mut implied = BTreeSet::new();
        let mut pending: Vec<StageName> = stages.keys().copied().collect();
        while let Some(stage) = pending.pop() {
            for &needed in stage.required_dependencies() {
                if let Entry::Vacant(slot) = stages.entry(needed) {
                    slot.insert(StageConfig::with_defaults(needed));
                    implied.insert(needed);
                    pending.push(needed);
                }
            }
        }
        Pipeline { name, stages, implied, on_damage: OnDamage::Warn }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What decode errors in the input do (`on_damage` in the file).
    pub fn on_damage(&self) -> OnDamage {
        self.on_damage
    }

    pub fn stage(&self, name: StageName) -> Option<&StageConfig> {
        self.stages.get(&name)
    }

    /// Every stage, listed or implied, in a valid execution order.
    pub fn stages(&self) -> impl Iterator<Item = &StageConfig> {
        self.stages.values()
    }

    pub fn stage_names(&self) -> BTreeSet<StageName> {
        self.stages.keys().copied().collect()
    }

    /// Whether the stage was added because another stage needs it (the file omits it).
    pub fn is_implied(&self, name: StageName) -> bool {
        self.implied.contains(&name)
    }

    /// The stages of this pipeline that `name` reads from.
    pub fn dependencies(&self, name: StageName) -> Vec<StageName> {
        name.dependencies(&self.stage_names())
    }

    /// Stages grouped into waves: each wave's dependencies are all in earlier waves, so the
    /// stages of one wave can run together (and share one decode pass).
    pub fn waves(&self) -> Vec<Vec<StageName>> {
        let mut wave_of: BTreeMap<StageName, usize> = BTreeMap::new();
        // Execution order guarantees every dependency already has its wave.
        for &stage in self.stages.keys() {
            let wave = self
                .dependencies(stage)
                .iter()
                .filter_map(|dependency| wave_of.get(dependency))
                .map(|wave| wave + 1)
                .max()
                .unwrap_or(0);
            wave_of.insert(stage, wave);
        }
        let mut waves: Vec<Vec<StageName>> = Vec::new();
        for (stage, wave) in wave_of {
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            waves[wave].push(stage);
        }
        waves
    }
}

fn unavailable_message(stage: StageName) -> String {
    format!(
        "stage `{stage}` is not available yet in reelforge {RELEASE} (available: {})",
        stage_list(StageName::available())
    )
}

fn empty_stages_message() -> String {
    format!("`stages` is empty; list at least one stage (available: {})", stage_list(StageName::available()))
}

impl StageConfig {
    /// Checks one stage's settings as a pipeline file's are checked, for settings changed by
    /// command-line flags; errors are named after `source_name`.
    pub fn check(&self, source_name: &str) -> Result<(), PipelineError> {
        let diagnostics = unlocated_diagnostics(self, source_name);
        if diagnostics.is_empty() { Ok(()) } else { Err(PipelineError::InvalidSettings(diagnostics)) }
    }
}

fn unlocated_diagnostics(stage: &StageConfig, source_name: &str) -> Vec<Diagnostic> {
    stage_problems(stage)
        .into_iter()
        .map(|problem| Diagnostic {
            source_name: source_name.to_owned(),
            location: None,
            message: setting_message(stage.name(), &problem, true),
        })
        .collect()
}

/// `ladder[2].bitrate_kbps` → `/ladder/2/bitrate_kbps`.
fn field_pointer(field: &str) -> String {
    field
        .split(['.', '['])
        .filter(|part| !part.is_empty())
        .map(|part| format!("/{}", part.trim_end_matches(']')))
        .collect()
}

/// "`max_dissolve_frames` in stage `shots` is 500; valid: 4 to 96".
fn setting_message(stage: StageName, problem: &SettingProblem, in_file: bool) -> String {
    let default = if in_file { "" } else { " (the default; set it in the file to change it)" };
    format!("`{}` in stage `{stage}` {}{default}", problem.field, problem.problem)
}

/// Points at the value when the file sets it, else at the closest enclosing value it has
/// (a default broke a rule together with a value the file sets).
fn located_diagnostic(
    index: &YamlIndex,
    pointer: &str,
    stage: StageName,
    problem: SettingProblem,
    source_name: &str,
    item: Location,
) -> Diagnostic {
    let exact = index.get(pointer);
    let enclosing = || {
        let mut prefix = pointer;
        loop {
            prefix = &prefix[..prefix.rfind('/')?];
            if let Some(found) = index.get(prefix) {
                return Some(found);
            }
        }
    };
    let location = exact.or_else(enclosing).and_then(|value| value.at).or_else(|| source_location(item));
    Diagnostic {
        source_name: source_name.to_owned(),
        location,
        message: setting_message(stage, &problem, exact.is_some()),
    }
}

/// Turns a serde-saphyr error into `FILE:LINE:COLUMN: message`, naming the stage the error is
/// in and suggesting the closest valid name for a misspelt field or stage.
fn diagnose_yaml_error(error: &serde_saphyr::Error, yaml: &str, source_name: &str) -> PipelineError {
    let error = error.without_snippet();
    let location = error.location().and_then(source_location);
    let index = YamlIndex::parse(yaml);
    let stage = location.and_then(|location| index.as_ref()?.stage_at(location));
    let in_stage = stage.as_deref().map(|stage| format!(" in stage `{stage}`")).unwrap_or_default();
    // A value of the wrong type: name its field and show it as written.
    let wrong_value = location
        .and_then(|location| index.as_ref()?.scalar_at(location))
        .filter(|value| value.pointer.starts_with("/stages/") || value.pointer.matches('/').count() == 1);
    let message = match error {
        serde_saphyr::Error::SerdeUnknownVariant { variant, expected, .. }
            if expected.iter().copied().eq(StageName::ALL.iter().map(|stage| stage.as_str())) =>
        {
            format!(
                "unknown stage `{}`{} (valid: {})",
                printable(variant),
                did_you_mean(variant, expected.iter().copied()),
                expected.join(", ")
            )
        }
        serde_saphyr::Error::SerdeUnknownVariant { variant, expected, .. } if wrong_value.is_some() => {
            let field = wrong_value.map(|value| value.pointer.rsplit('/').next().unwrap_or_default());
            format!(
                "`{}`{in_stage} is `{}`{} (valid: {})",
                field.unwrap_or_default(),
                printable(variant),
                did_you_mean(variant, expected.iter().copied()),
                expected.join(", ")
            )
        }
        serde_saphyr::Error::SerdeUnknownField { field, expected, .. } if expected.is_empty() => {
            format!("unknown field `{}`{in_stage}; it takes no settings (write `{{}}`)", printable(field))
        }
        serde_saphyr::Error::SerdeUnknownField { field, expected, .. } => format!(
            "unknown field `{}`{in_stage}{} (valid: {})",
            printable(field),
            did_you_mean(field, expected.iter().copied()),
            expected.join(", ")
        ),
        serde_saphyr::Error::ExpectedMappingEndAfterEnumVariantValue { .. } => {
            "each item of `stages` is a mapping with exactly one key, the stage name; \
             start every stage on its own `- ` line"
                .to_owned()
        }
        other => {
            let message = printable(&UserMessageFormatter.format_message(other));
            match wrong_value {
                Some(value) => format!(
                    "`{}`{in_stage} is `{}`: {}",
                    value.pointer.rsplit('/').next().unwrap_or_default(),
                    printable(value.scalar.as_deref().unwrap_or_default()),
                    explain_type(&message)
                ),
                None => format!("{message}{in_stage}"),
            }
        }
    };
    PipelineError::InvalidPipeline { source_name: source_name.to_owned(), location, message }
}

/// Escapes control characters so text from the file cannot mangle a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() { c.escape_default().collect() } else { vec![c] };
            escaped
        })
        .collect()
}

/// serde's "invalid u32" in words a pipeline author uses.
fn explain_type(message: &str) -> String {
    let kind = message.trim_start_matches("invalid ").trim();
    let wanted = match kind {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" | "boolean" => "true or false",
        _ => return message.to_owned(),
    };
    format!("expected {wanted}")
}

#[cfg(test)]
mod tests {
    use reelforge_core::{Classify, ErrorClass};
    use reelforge_shots::ShotSettings;

    use super::*;
    use crate::stage::ProbeSettings;

    fn error_text(yaml: &str) -> String {
        let error = Pipeline::parse(yaml, "pipelines/x.yaml").unwrap_err();
        assert_eq!(error.class(), ErrorClass::Config, "{error}");
        error.to_string()
    }

    #[test]
    fn every_file_under_pipelines_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
        let mut parsed = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
                Pipeline::load(&path).unwrap_or_else(|error| panic!("{error}"));
                parsed += 1;
            }
        }
        assert!(parsed >= 1, "no pipeline files found in {}", dir.display());
    }

    #[test]
    fn default_pipeline_is_probe_and_shots_at_defaults() {
        let pipeline = Pipeline::builtin_default().unwrap();
        assert_eq!(pipeline.name(), "default");
        let stages: Vec<&StageConfig> = pipeline.stages().collect();
        assert_eq!(
            stages,
            [&StageConfig::Probe(ProbeSettings {}), &StageConfig::Shots(ShotSettings::default())]
        );
        assert!(!pipeline.is_implied(StageName::Probe));
    }

    #[test]
    fn default_pipeline_shows_every_shots_setting() {
        // The file documents the settings: a new ShotSettings field fails this until
        // default.yaml shows it with its default.
        let file: serde_json::Value = serde_saphyr::from_str(DEFAULT_PIPELINE_YAML).unwrap();
        let shots =
            file["stages"].as_array().into_iter().flatten().find_map(|stage| stage.get("shots")).cloned();
        assert_eq!(shots, serde_json::to_value(ShotSettings::default()).ok());
    }

    #[test]
    fn shots_alone_implies_probe() {
        let pipeline = Pipeline::parse("version: 1\nname: s\nstages:\n  - shots: {}\n", "s.yaml").unwrap();
        assert_eq!(
            pipeline.stage_names().into_iter().collect::<Vec<_>>(),
            [StageName::Probe, StageName::Shots]
        );
        assert!(pipeline.is_implied(StageName::Probe));
        assert_eq!(pipeline.stage(StageName::Probe), Some(&StageConfig::Probe(ProbeSettings {})));
        assert_eq!(pipeline.waves(), [vec![StageName::Probe], vec![StageName::Shots]]);
    }

    #[test]
    fn settings_and_flow_style_parse() {
        let pipeline = Pipeline::parse(
            "# comment\nversion: 1\nname: quick\nstages: [{shots: {min_shot_frames: 3}}, {probe: {}}]\n",
            "q.yaml",
        )
        .unwrap();
        assert_eq!(
            pipeline.stage(StageName::Shots),
            Some(&StageConfig::Shots(ShotSettings { min_shot_frames: 3, ..ShotSettings::default() }))
        );
    }

    /// The names of the shot settings, sorted (the struct is still growing).
    fn shot_setting_names() -> Vec<String> {
        let defaults = serde_json::to_value(ShotSettings::default()).unwrap();
        let mut names: Vec<String> = defaults.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    }

    #[test]
    fn misspelt_field_names_stage_and_suggests() {
        let yaml = "version: 1\nname: x\nstages:\n  - probe: {}\n  - shots:\n        min_shot_frame: 3\n";
        let text = error_text(yaml);
        let (message, valid) = text.split_once(" (valid: ").unwrap();
        assert_eq!(
            message,
            "pipelines/x.yaml:6:9: unknown field `min_shot_frame` in stage `shots`; did you mean `min_shot_frames`?"
        );
        let mut valid: Vec<String> = valid.trim_end_matches(')').split(", ").map(str::to_owned).collect();
        valid.sort();
        assert_eq!(valid, shot_setting_names());
    }

    #[test]
    fn misspelt_stage_name_suggests() {
        let yaml = "version: 1\nname: x\nstages:\n  - probe: {}\n  - shot:\n      min_shot_frames: 3\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:5:5: unknown stage `shot`; did you mean `shots`? \
             (valid: probe, shots, subtitles, trailer, artwork, renditions, report)"
        );
    }

    #[test]
    fn top_level_typo_has_no_stage_context() {
        // `stages` comes first, so the position is after the list: not "in stage `shots`".
        let yaml = "stages:\n  - shots: {}\nversion: 1\nnmae: x\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:4:1: unknown field `nmae`; did you mean `name`? (valid: version, name, stages, on_damage)"
        );
    }

    #[test]
    fn probe_takes_no_settings() {
        let yaml = "version: 1\nname: x\nstages:\n  - probe: {threads: 2}\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:4:13: unknown field `threads` in stage `probe`; it takes no settings (write `{}`)"
        );
    }

    #[test]
    fn wrong_value_type_names_stage() {
        let yaml = "version: 1\nname: x\nstages:\n  - shots:\n      min_shot_frames: many\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:5:24: `min_shot_frames` in stage `shots` is `many`: expected a whole number of 0 or more"
        );
    }

    #[test]
    fn out_of_range_settings_name_position_field_value_and_range() {
        let yaml = "version: 1\nname: x\nstages:\n  - shots:\n      max_dissolve_frames: 500\n  - renditions:\n      gop_seconds: 4\n      ladder: [{width: 640, height: 360, bitrate_kbps: 0}]\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:5:28: `max_dissolve_frames` in stage `shots` is 500; valid: 4 to 96\n\
             pipelines/x.yaml:8:56: `ladder[0].bitrate_kbps` in stage `renditions` is 0; valid: 16 to 200000\n\
             pipelines/x.yaml:7:7: `segment_seconds` in stage `renditions` is 6; it must be a whole multiple \
             of `gop_seconds` (4) so every segment starts with an IDR frame (the default; set it in the file \
             to change it)"
        );
    }

    #[test]
    fn unknown_choices_list_the_valid_ones() {
        let yaml = "version: 1\nname: x\nstages:\n  - renditions:\n      preset: superfastest\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:5:15: `preset` in stage `renditions` is `superfastest`; did you mean `superfast`? \
             (valid: ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo)"
        );
    }

    #[test]
    fn unavailable_stage_is_rejected_at_its_name() {
        let yaml = "version: 1\nname: x\nstages:\n  - probe: {}\n  - shots: {}\n  # later\n  - report:\n      format: html\n";
        assert_eq!(
            error_text(yaml),
            format!(
                "pipelines/x.yaml:7:5: stage `report` is not available yet in reelforge 0.1.0 (available: {})",
                available_stages()
            )
        );
    }

    #[test]
    fn duplicate_stage_is_rejected() {
        let yaml =
            "version: 1\nname: x\nstages:\n  - shots: {}\n  - probe: {}\n  - shots: {min_shot_frames: 2}\n";
        assert_eq!(error_text(yaml), "pipelines/x.yaml:6:5: stage `shots` is listed twice (first at line 4)");
    }

    #[test]
    fn two_keys_in_one_item_is_explained() {
        let yaml = "version: 1\nname: x\nstages:\n  - probe: {}\n    shots: {}\n";
        assert_eq!(
            error_text(yaml),
            "pipelines/x.yaml:5:5: each item of `stages` is a mapping with exactly one key, the stage name; \
             start every stage on its own `- ` line"
        );
    }

    #[test]
    fn other_structural_errors_keep_position() {
        assert_eq!(
            error_text("version: 2\nname: x\nstages:\n  - probe: {}\n"),
            "pipelines/x.yaml:1:10: unsupported pipeline version 2 (this reelforge reads version 1)"
        );
        assert_eq!(error_text("version: 1\nname: x\n"), "pipelines/x.yaml:2:1: missing field `stages`");
        assert_eq!(
            error_text("version: 1\nname: x\nstages: []\n"),
            format!(
                "pipelines/x.yaml:3:9: `stages` is empty; list at least one stage (available: {})",
                available_stages()
            )
        );
        assert!(error_text("version: 1\nname: x\nstages: [\n").starts_with("pipelines/x.yaml:3:9: "));
    }

    #[test]
    fn missing_file_is_a_config_error() {
        let error = Pipeline::load(Path::new("pipelines/does-not-exist.yaml")).unwrap_err();
        assert_eq!(error.to_string(), "pipelines/does-not-exist.yaml: pipeline file not found");
        assert_eq!(error.class(), ErrorClass::Config);
    }

    #[test]
    fn pipelines_built_in_code_follow_the_same_rules() {
        let pipeline = Pipeline::from_stages("adhoc", [StageConfig::Shots(ShotSettings::default())]).unwrap();
        assert!(pipeline.is_implied(StageName::Probe));
        let error =
            Pipeline::from_stages("adhoc", [StageConfig::with_defaults(StageName::Report)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "pipeline `adhoc`: stage `report` is not available yet in reelforge 0.1.0 (available: {})",
                available_stages()
            )
        );
    }

    /// The list error messages end with; it grows as stages are built.
    fn available_stages() -> String {
        StageName::available().map(StageName::as_str).collect::<Vec<_>>().join(", ")
    }

    #[test]
    fn schema_describes_one_key_stage_items_with_docs() {
        let schema = json_schema();
        let text = schema.to_string();
        assert_eq!(schema["title"], "reelforge pipeline");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], serde_json::json!(["version", "name", "stages"]));
        assert_eq!(schema["properties"]["stages"]["type"], "array");
        let item_ref = schema["properties"]["stages"]["items"]["$ref"].as_str().unwrap();
        let item = &schema["$defs"][item_ref.trim_start_matches("#/$defs/")];
        let variants = item["oneOf"].as_array().unwrap();
        assert_eq!(variants.len(), StageName::ALL.len());
        for variant in variants {
            assert_eq!(variant["type"], "object");
            assert_eq!(variant["additionalProperties"], false);
            assert_eq!(variant["required"].as_array().map(Vec::len), Some(1), "{variant}");
            assert!(variant["description"].is_string(), "stage docs become descriptions: {variant}");
        }
        // Field docs of the settings types reach the schema too.
        let shot_properties = schema["$defs"]["ShotSettings"]["properties"].as_object().unwrap();
        let mut documented: Vec<String> = shot_properties
            .iter()
            .filter(|(_, property)| property["description"].is_string())
            .map(|(name, _)| name.clone())
            .collect();
        documented.sort();
        assert_eq!(documented, shot_setting_names());
        assert!(text.contains("Version of the pipeline file format"));
    }
}
