//! Stage names, their settings and the fixed dependency rules between stage kinds.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use reelforge_artwork::ArtworkSettings;
use reelforge_delivery::RenditionSettings;
use reelforge_shots::ShotSettings;
use reelforge_subtitles::SubtitleSettings;
use reelforge_trailer::TrailerSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use reelforge_core::suggest::did_you_mean;

/// Every stage kind of the product, in an order that is also a valid execution order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    Probe,
    Shots,
    Subtitles,
    Trailer,
    Artwork,
    Renditions,
    Report,
}

impl StageName {
    pub const ALL: [StageName; 7] = [
        StageName::Probe,
        StageName::Shots,
        StageName::Subtitles,
        StageName::Trailer,
        StageName::Artwork,
        StageName::Renditions,
        StageName::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Probe => "probe",
            StageName::Shots => "shots",
            StageName::Subtitles => "subtitles",
            StageName::Trailer => "trailer",
            StageName::Artwork => "artwork",
            StageName::Renditions => "renditions",
            StageName::Report => "report",
        }
    }

    /// Whether this build of reelforge can run the stage (the others only parse).
    pub fn is_available(self) -> bool {
        // One line per stage: each flips to true when its stage is built.
        match self {
            StageName::Probe | StageName::Shots => true,
            StageName::Subtitles => true,
            StageName::Renditions => true,
            StageName::Artwork => true,
            StageName::Trailer => true,
            StageName::Report => false,
        }
    }

    pub fn available() -> impl Iterator<Item = StageName> {
        Self::ALL.into_iter().filter(|stage| stage.is_available())
    }

    /// Stages this one cannot run without; the pipeline adds them when a file omits them.
    pub fn required_dependencies(self) -> &'static [StageName] {
        match self {
            StageName::Probe | StageName::Report => &[],
            StageName::Shots | StageName::Subtitles | StageName::Renditions => &[StageName::Probe],
            StageName::Trailer | StageName::Artwork => &[StageName::Shots],
        }
    }

    /// The stages this one reads from, given the stages present in a pipeline: its required
    /// dependencies plus the optional ones that are present.
    pub fn dependencies(self, present: &BTreeSet<StageName>) -> Vec<StageName> {
        let optional: &[StageName] = match self {
            StageName::Probe | StageName::Shots | StageName::Artwork => &[],
            StageName::Subtitles => &[StageName::Shots],
            StageName::Trailer => &[StageName::Subtitles],
            StageName::Renditions => &[StageName::Shots, StageName::Subtitles],
            StageName::Report => &StageName::ALL,
        };
        let mut dependencies: BTreeSet<StageName> = self.required_dependencies().iter().copied().collect();
        dependencies
            .extend(optional.iter().copied().filter(|stage| *stage != self && present.contains(stage)));
        dependencies.into_iter().collect()
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is not one of [`StageName::ALL`] (for command-line parsing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{given}`{suggestion} (valid: {valid})", suggestion = did_you_mean(.given, StageName::ALL.iter().map(|s| s.as_str())), valid = stage_list(StageName::ALL))]
pub struct UnknownStageName {
    pub given: String,
}

impl FromStr for StageName {
    type Err = UnknownStageName;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        StageName::ALL
            .into_iter()
            .find(|stage| stage.as_str() == given)
            .ok_or_else(|| UnknownStageName { given: given.to_owned() })
    }
}

/// "probe, shots, …" for messages.
pub(crate) fn stage_list(stages: impl IntoIterator<Item = StageName>) -> String {
    stages.into_iter().map(StageName::as_str).collect::<Vec<_>>().join(", ")
}

/// Settings of the `probe` stage, which reads the container's streams and timing. It has none
/// yet; the empty mapping `probe: {}` keeps the file shape uniform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSettings {}

/// Settings of a stage that this version of reelforge does not implement yet. Any mapping
/// parses, so a pipeline file written for a newer reelforge reads; validation then rejects it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct PlannedStageSettings(pub serde_json::Map<String, serde_json::Value>);

/// One stage of a pipeline and its settings. In a pipeline file each item of `stages` is a
/// mapping with exactly one key, the stage name, whose value holds the settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageConfig {
    /// Reads the container: streams, durations, frame rate, languages. Needed by most stages.
    Probe(ProbeSettings),
    /// Finds shot boundaries (hard cuts, fades, dissolves) and writes the shot list.
    /// Depends on `probe`.
    Shots(ShotSettings),
    /// Transcribes speech into subtitles (not available yet). Depends on `probe`, and on
    /// `shots` when present.
    Subtitles(SubtitleSettings),
    /// Cuts a trailer from scored shots and renders it with its edit. Depends on `shots`, and
    /// on `subtitles` when present (dialogue then counts in the scores).
    Trailer(TrailerSettings),
    /// Picks thumbnails and key art (not available yet). Depends on `shots`.
    Artwork(ArtworkSettings),
    /// Encodes HLS/DASH renditions (not available yet). Depends on `probe`, and on `shots` and
    /// `subtitles` when present.
    Renditions(RenditionSettings),
    /// Summarises every other stage of the pipeline (not available yet). Depends on all of them.
    Report(PlannedStageSettings),
}

impl StageConfig {
    pub fn name(&self) -> StageName {
        match self {
            StageConfig::Probe(_) => StageName::Probe,
            StageConfig::Shots(_) => StageName::Shots,
            StageConfig::Subtitles(_) => StageName::Subtitles,
            StageConfig::Trailer(_) => StageName::Trailer,
            StageConfig::Artwork(_) => StageName::Artwork,
            StageConfig::Renditions(_) => StageName::Renditions,
            StageConfig::Report(_) => StageName::Report,
        }
    }

    /// The stage with all settings at their defaults (used for implied stages).
    pub fn with_defaults(name: StageName) -> StageConfig {
        match name {
            StageName::Probe => StageConfig::Probe(ProbeSettings::default()),
            StageName::Shots => StageConfig::Shots(ShotSettings::default()),
            StageName::Subtitles => StageConfig::Subtitles(SubtitleSettings::default()),
            StageName::Trailer => StageConfig::Trailer(TrailerSettings::default()),
            StageName::Artwork => StageConfig::Artwork(ArtworkSettings::default()),
            StageName::Renditions => StageConfig::Renditions(RenditionSettings::default()),
            StageName::Report => StageConfig::Report(PlannedStageSettings::default()),
        }
    }

    /// Files the settings name whose contents change the stage's results (a learned bandit
    /// state, a model given by path). Their contents, not only their paths, go into the key.
    pub fn referenced_files(&self) -> Vec<&Path> {
        match self {
            StageConfig::Artwork(settings) => settings.bandit_state.as_deref().into_iter().collect(),
            StageConfig::Subtitles(settings) => {
                settings.model.as_deref().map(Path::new).filter(|model| model.is_file()).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The settings as JSON, every field present (defaults included), for manifests and keys.
    pub fn settings_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            StageConfig::Probe(settings) => serde_json::to_value(settings),
            StageConfig::Shots(settings) => serde_json::to_value(settings),
            StageConfig::Subtitles(settings) => serde_json::to_value(settings),
            StageConfig::Artwork(settings) => serde_json::to_value(settings),
            StageConfig::Renditions(settings) => serde_json::to_value(settings),
            StageConfig::Trailer(settings) => serde_json::to_value(settings),
            StageConfig::Report(settings) => serde_json::to_value(settings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_a_valid_execution_order() {
        let everything: BTreeSet<StageName> = StageName::ALL.into_iter().collect();
        for (position, stage) in StageName::ALL.into_iter().enumerate() {
            for dependency in stage.dependencies(&everything) {
                assert!(StageName::ALL[..position].contains(&dependency), "{stage} before {dependency}");
            }
        }
    }

    #[test]
    fn optional_dependencies_only_when_present() {
        let probe_only: BTreeSet<StageName> = [StageName::Probe].into_iter().collect();
        assert_eq!(StageName::Renditions.dependencies(&probe_only), vec![StageName::Probe]);
        let with_subtitles: BTreeSet<StageName> =
            [StageName::Probe, StageName::Shots, StageName::Subtitles, StageName::Trailer]
                .into_iter()
                .collect();
        assert_eq!(
            StageName::Trailer.dependencies(&with_subtitles),
            vec![StageName::Shots, StageName::Subtitles]
        );
        assert_eq!(
            StageName::Report.dependencies(&with_subtitles),
            vec![StageName::Probe, StageName::Shots, StageName::Subtitles, StageName::Trailer]
        );
    }

    #[test]
    fn names_round_trip_and_typos_get_suggestions() {
        for stage in StageName::ALL {
            assert_eq!(stage.as_str().parse::<StageName>(), Ok(stage));
            assert_eq!(serde_json::to_value(stage).ok(), Some(serde_json::json!(stage.as_str())));
        }
        let error = "shot".parse::<StageName>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown stage `shot`; did you mean `shots`? \
             (valid: probe, shots, subtitles, trailer, artwork, renditions, report)"
        );
    }
}
