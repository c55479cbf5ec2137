//! `manifest.json` of a stage directory, cache keys, and the listing of stage outputs.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::input_hash::InputRecord;
use crate::stage::StageName;

/// The file in every completed stage directory that records how it was made. Its presence
/// (with a matching key and intact outputs) is what makes a stage count as complete.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a completed stage directory holds and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageManifest {
    pub stage: StageName,
    /// The cache key (see [`cache_key`]).
    pub key: String,
    /// The stage settings with every default filled in.
    pub settings: serde_json::Value,
    pub input: InputRecord,
    /// Keys of the upstream stages this one read.
    pub upstream: BTreeMap<StageName, String>,
    pub tool_version: String,
    /// UTC, RFC 3339 (e.g. `2026-01-31T12:00:00Z`).
    pub finished_at: String,
    pub duration_seconds: f64,
    /// A one-line summary from the stage runner (e.g. "412 shots"), if it gave one.
    pub summary: Option<String>,
    /// Every file of the stage directory except the manifest, sorted by path.
    pub outputs: Vec<OutputFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to the stage directory, `/`-separated.
    pub path: String,
    pub size: u64,
}

impl StageManifest {
    /// The manifest of a stage directory, or `None` when it has none or it cannot be parsed
    /// (an unfinished or foreign directory, which only means "not complete").
    pub fn read(stage_dir: &Path) -> Option<StageManifest> {
        serde_json::from_slice(&fs::read(stage_dir.join(MANIFEST_FILE)).ok()?).ok()
    }

    /// Whether every listed output still exists with its recorded size.
    pub fn outputs_intact(&self, stage_dir: &Path) -> bool {
        self.outputs.iter().all(|output| {
            fs::metadata(stage_dir.join(&output.path))
                .is_ok_and(|metadata| metadata.is_file() && metadata.len() == output.size)
        })
    }
}

/// The cache key of a stage run: blake3 of the canonical JSON of the stage name, the input's
/// content hash, the settings (defaults filled in), the tool version and the upstream keys.
/// Equal keys mean equal results, so a stage whose key matches its manifest is not rerun.
pub fn cache_key(
    stage: StageName,
    input_blake3: &str,
    settings: &serde_json::Value,
    tool_version: &str,
    upstream: &BTreeMap<StageName, String>,
) -> String {
    let material = serde_json::json!({
        "stage": stage.as_str(),
        "input_blake3": input_blake3,
        "settings": settings,
        "tool_version": tool_version,
        "upstream": upstream.iter().map(|(stage, key)| (stage.as_str(), key)).collect::<BTreeMap<_, _>>(),
    });
    blake3::hash(canonical_json(&material).as_bytes()).to_hex().to_string()
}

/// JSON with object keys sorted at every level, so equal values always hash equally (whatever
/// map order serde_json was built with).
fn canonical_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> = entries
                .into_iter()
                .map(|(name, value)| {
                    format!("{}:{}", serde_json::Value::from(name.as_str()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// The first characters of a key, for messages.
pub(crate) fn short_key(key: &str) -> String {
    format!("{}…", key.get(..8).unwrap_or(key))
}

/// Every file under `dir` (recursively) except a top-level manifest, with sizes, sorted.
pub(crate) fn list_outputs(dir: &Path) -> io::Result<Vec<OutputFile>> {
    let mut outputs = Vec::new();
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current)? {
            let path = entry?.path();
            let metadata = fs::metadata(&path)?;
            if metadata.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(dir) else { continue };
            let relative: Vec<String> =
                relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
            let relative = relative.join("/");
            if relative != MANIFEST_FILE {
                outputs.push(OutputFile { path: relative, size: metadata.len() });
            }
        }
    }
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(outputs)
}

/// `time` as RFC 3339 UTC with whole seconds.
pub(crate) fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Gregorian (year, month, day) of a count of days since 1970-01-01, counted in 400-year eras
/// of 146 097 days that start on March 1st (so the leap day falls at the end of a year).
fn civil_date(days_since_epoch: u64) -> (u64, u64, u64) {
    // 719 468 days from 0000-03-01 to 1970-01-01.
    let days = days_since_epoch + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key_with(
        settings: serde_json::Value,
        input: &str,
        version: &str,
        upstream: &[(StageName, &str)],
    ) -> String {
        let upstream = upstream.iter().map(|(stage, key)| (*stage, (*key).to_owned())).collect();
        cache_key(StageName::Shots, input, &settings, version, &upstream)
    }

    #[test]
    fn key_changes_with_each_ingredient() {
        let base =
            key_with(serde_json::json!({"min_shot_frames": 12}), "aa", "0.1.0", &[(StageName::Probe, "k1")]);
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            key_with(serde_json::json!({"min_shot_frames": 12}), "aa", "0.1.0", &[(StageName::Probe, "k1")])
        );
        for other in [
            key_with(serde_json::json!({"min_shot_frames": 13}), "aa", "0.1.0", &[(StageName::Probe, "k1")]),
            key_with(serde_json::json!({"min_shot_frames": 12}), "ab", "0.1.0", &[(StageName::Probe, "k1")]),
            key_with(serde_json::json!({"min_shot_frames": 12}), "aa", "0.1.1", &[(StageName::Probe, "k1")]),
            key_with(serde_json::json!({"min_shot_frames": 12}), "aa", "0.1.0", &[(StageName::Probe, "k2")]),
            key_with(serde_json::json!({"min_shot_frames": 12}), "aa", "0.1.0", &[]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, "x"], "x": null}}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#);
    }

    #[test]
    fn rfc3339_dates() {
        let at = |seconds: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_164_799), "2024-02-28T23:59:59Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn outputs_are_listed_recursively_without_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("thumbs")).unwrap();
        fs::write(dir.path().join("shots.csv"), b"abc").unwrap();
        fs::write(dir.path().join("thumbs/0001.jpg"), b"12345").unwrap();
        fs::write(dir.path().join(MANIFEST_FILE), b"{}").unwrap();
        let outputs = list_outputs(dir.path()).unwrap();
        assert_eq!(
            outputs,
            [
                OutputFile { path: "shots.csv".into(), size: 3 },
                OutputFile { path: "thumbs/0001.jpg".into(), size: 5 }
            ]
        );
    }
}
