//! Settings checked before any stage runs: the ranges and list lengths of the pipeline's JSON
//! Schema — the same numbers `reelforge schema` gives an editor, so the two cannot disagree —
//! and each settings type's own rules ([`CheckSettings`]).

use std::sync::OnceLock;

use reelforge_core::{CheckSettings, SettingProblem};
use serde_json::Value;

use crate::config::json_schema;
use crate::stage::StageConfig;

/// Every problem of one stage's settings; fields are paths inside the stage's settings.
pub(crate) fn stage_problems(stage: &StageConfig) -> Vec<SettingProblem> {
    let name = stage.name().as_str();
    let mut problems = Vec::new();
    if let (Some(schema), Ok(value)) = (settings_schema(name), serde_json::to_value(stage)) {
        check(schema, &value[name], "", &mut problems);
    }
    problems.extend(match stage {
        StageConfig::Shots(settings) => settings.problems(),
        StageConfig::Subtitles(settings) => settings.problems(),
        StageConfig::Trailer(settings) => settings.problems(),
        StageConfig::Artwork(settings) => {
            let mut problems = settings.problems();
            if let Some(path) = &settings.bandit_state
                && !path.is_file()
            {
                problems.push(SettingProblem::new(
                    "bandit_state",
                    format!(
                        "is {}, which is not a file; write it with `reelforge artwork learn`, or remove the setting",
                        path.display()
                    ),
                ));
            }
            problems
        }
        StageConfig::Renditions(settings) => settings.problems(),
        StageConfig::Probe(_) | StageConfig::Report(_) => Vec::new(),
    });
    problems
}

fn root_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(json_schema)
}

/// The schema of one stage's settings: the `StageConfig` variant whose one key is `name`.
fn settings_schema(name: &str) -> Option<&'static Value> {
    let root = root_schema();
    let variants = root["$defs"]["StageConfig"]["oneOf"].as_array()?;
    variants.iter().find_map(|variant| variant["properties"].get(name))
}

/// Follows `$ref`s (schemars writes them as `#/$defs/Name`).
fn resolve(mut schema: &'static Value) -> &'static Value {
    while let Some(reference) = schema["$ref"].as_str() {
        match reference.strip_prefix("#/$defs/").and_then(|name| root_schema()["$defs"].get(name)) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// Checks `value` against the range keywords of `schema` and recurses into properties and
/// items. Types and enums are serde's job (they fail the parse), so only numbers' bounds and
/// lists' lengths are read here.
fn check(schema: &'static Value, value: &Value, field: &str, problems: &mut Vec<SettingProblem>) {
    let schema = resolve(schema);
    if value.is_null() {
        return;
    }
    // `Option<T>` is `anyOf: [T, null]` when T is a reference.
    for union in ["anyOf", "oneOf"] {
        if let Some(branches) = schema[union].as_array() {
            let mut typed = branches.iter().filter(|branch| branch["type"] != "null");
            if let (Some(branch), None) = (typed.next(), typed.next()) {
                check(branch, value, field, problems);
            }
        }
    }
    if let Some(number) = value.as_f64() {
        let (minimum, maximum) = (schema["minimum"].as_f64(), schema["maximum"].as_f64());
        if minimum.is_some_and(|min| number < min) || maximum.is_some_and(|max| number > max) {
            problems.push(SettingProblem::new(
                field,
                format!("is {}; valid: {}", show(number), describe_range(minimum, maximum)),
            ));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(min) = schema["minItems"].as_u64()
            && (items.len() as u64) < min
        {
            problems.push(SettingProblem::new(
                field,
                format!("has {} entries; it needs at least {min}", items.len()),
            ));
        }
        if schema["items"].is_object() {
            for (position, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{field}[{position}]"), problems);
            }
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object()) {
        for (key, item) in object {
            if let Some(property) = properties.get(key) {
                let path = if field.is_empty() { key.clone() } else { format!("{field}.{key}") };
                check(property, item, &path, problems);
            }
        }
    }
}

/// A number as a person wrote it: `0.1` for an `f32` 0.1, not 0.10000000149011612.
fn show(number: f64) -> String {
    let rounded = (number * 1e6).round() / 1e6;
    format!("{rounded}")
}

fn describe_range(minimum: Option<f64>, maximum: Option<f64>) -> String {
    match (minimum, maximum) {
        (Some(min), Some(max)) => format!("{} to {}", show(min), show(max)),
        (Some(min), None) => format!("at least {}", show(min)),
        (None, Some(max)) => format!("at most {}", show(max)),
        (None, None) => "any".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use reelforge_shots::ShotSettings;
    use reelforge_trailer::{ScoreWeights, TrailerSettings};

    use super::*;
    use crate::stage::StageName;

    fn fields(stage: StageConfig) -> Vec<(String, String)> {
        stage_problems(&stage).into_iter().map(|p| (p.field, p.problem)).collect()
    }

    #[test]
    fn defaults_of_every_stage_are_valid() {
        for name in StageName::ALL {
            assert_eq!(fields(StageConfig::with_defaults(name)), [], "{name}");
        }
    }

    #[test]
    fn schema_ranges_are_enforced_with_both_bounds() {
        let shots = ShotSettings { max_dissolve_frames: 500, ..ShotSettings::default() };
        assert_eq!(
            fields(StageConfig::Shots(shots)),
            [("max_dissolve_frames".to_owned(), "is 500; valid: 4 to 96".to_owned())]
        );
        let trailer = TrailerSettings {
            spoiler_cutoff: 0.05,
            weights: ScoreWeights { motion: -1.0, ..ScoreWeights::default() },
            ..TrailerSettings::default()
        };
        assert_eq!(
            fields(StageConfig::Trailer(trailer)),
            [
                ("spoiler_cutoff".to_owned(), "is 0.05; valid: 0.1 to 1".to_owned()),
                ("weights.motion".to_owned(), "is -1; valid: 0 to 100".to_owned()),
            ]
        );
    }

    #[test]
    fn optional_nested_and_listed_settings_are_checked() {
        let mut subtitles =
            reelforge_subtitles::SubtitleSettings { threads: Some(100_000), ..Default::default() };
        subtitles.rules.max_lines = 9;
        assert_eq!(
            fields(StageConfig::Subtitles(subtitles)).into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
            ["rules.max_lines", "threads"]
        );
        let mut renditions = reelforge_delivery::RenditionSettings::default();
        renditions.ladder[2].bitrate_kbps = 0;
        renditions.ladder.push(renditions.ladder[0].clone());
        assert_eq!(
            fields(StageConfig::Renditions(renditions)).into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
            ["ladder[2].bitrate_kbps", "ladder[9]"]
        );
        let artwork = reelforge_artwork::ArtworkSettings { profiles: Vec::new(), ..Default::default() };
        assert_eq!(
            fields(StageConfig::Artwork(artwork)),
            [("profiles".to_owned(), "has 0 entries; it needs at least 1".to_owned())]
        );
    }
}
