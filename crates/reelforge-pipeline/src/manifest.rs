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

/// Written into every manifest: with the run id and the exact listing of the folder, it is
/// what proves a folder is reelforge's own output (see [`ownership`]).
pub const PRODUCER: &str = "reelforge";

/// What a completed stage directory holds and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageManifest {
    /// Always [`PRODUCER`].
    pub producer: String,
    /// The run that wrote the folder (one id per `reelforge` invocation).
    pub run_id: String,
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

/// Whether a folder may be replaced: only an absent or empty one, or one that reelforge
/// provably wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Nothing there, or an empty directory.
    Vacant,
    /// A reelforge manifest whose listing matches the folder file for file.
    Ours,
    /// Anything else; the text says why (for the refusal message).
    NotOurs(String),
}

/// Decides whether `dir` is reelforge's own output. A `manifest.json` alone proves nothing
/// (anyone may have a file of that name): the manifest must be one reelforge writes, and the
/// folder must hold exactly the files it lists with their recorded sizes, so a file added or
/// edited since is never deleted with it.
pub fn ownership(dir: &Path) -> io::Result<Ownership> {
    let metadata = match fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Ownership::Vacant),
        Err(error) => return Err(error),
    };
    if !metadata.is_dir() {
        return Ok(Ownership::NotOurs("it is not a directory".to_owned()));
    }
    if fs::read_dir(dir)?.next().is_none() {
        return Ok(Ownership::Vacant);
    }
    let Some(manifest) = StageManifest::read(dir).filter(|manifest| manifest.producer == PRODUCER) else {
        return Ok(Ownership::NotOurs("it has no manifest.json written by reelforge".to_owned()));
    };
    let recorded: BTreeMap<&str, u64> =
        manifest.outputs.iter().map(|output| (output.path.as_str(), output.size)).collect();
    let foreign: Vec<String> = list_outputs(dir)?
        .into_iter()
        .filter(|found| recorded.get(found.path.as_str()) != Some(&found.size))
        .map(|found| found.path)
        .collect();
    if foreign.is_empty() {
        return Ok(Ownership::Ours);
    }
    const SHOWN: usize = 3;
    let mut names = foreign.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if foreign.len() > SHOWN {
        names.push_str(&format!(" and {} more", foreign.len() - SHOWN));
    }
    Ok(Ownership::NotOurs(format!("it holds files reelforge did not write or that changed since: {names}")))
}

/// A new id for this invocation's manifests: unique across processes and machines sharing a
/// workdir (time, process id, host name).
pub fn new_run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or(0);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let material = format!("{nanos}\n{}\n{}", std::process::id(), host.trim());
    blake3::hash(material.as_bytes()).to_hex()[..16].to_owned()
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

    fn write_manifest(dir: &Path, producer: &str) {
        let manifest = StageManifest {
            producer: producer.to_owned(),
            run_id: new_run_id(),
            stage: StageName::Shots,
            key: "k".into(),
            settings: serde_json::json!({}),
            input: InputRecord { path: "ep.mp4".into(), size: 1, blake3: "b".into() },
            upstream: BTreeMap::new(),
            tool_version: "0.1.0".into(),
            finished_at: "2026-01-01T00:00:00Z".into(),
            duration_seconds: 1.0,
            summary: None,
            outputs: list_outputs(dir).unwrap(),
        };
        fs::write(dir.join(MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();
    }

    #[test]
    fn only_a_folder_matching_its_reelforge_manifest_is_ours() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shots");
        assert_eq!(ownership(&dir).unwrap(), Ownership::Vacant);
        fs::create_dir(&dir).unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Vacant);
        fs::create_dir(dir.join("keyframes")).unwrap();
        fs::write(dir.join("shots.csv"), b"shot\n").unwrap();
        fs::write(dir.join("keyframes/0001.jpg"), b"jpeg").unwrap();
        write_manifest(&dir, PRODUCER);
        assert_eq!(ownership(&dir).unwrap(), Ownership::Ours);

        fs::write(dir.join("shots.csv"), b"edited by hand\n").unwrap();
        assert!(matches!(ownership(&dir).unwrap(), Ownership::NotOurs(why) if why.contains("shots.csv")));
        fs::write(dir.join("shots.csv"), b"shot\n").unwrap();
        fs::write(dir.join("app.js"), b"code").unwrap();
        assert!(matches!(ownership(&dir).unwrap(), Ownership::NotOurs(why) if why.contains("app.js")));
        fs::remove_file(dir.join("app.js")).unwrap();
        // A missing output is still ours: deleting the rest loses nothing of anyone else's.
        fs::remove_file(dir.join("keyframes/0001.jpg")).unwrap();
        assert_eq!(ownership(&dir).unwrap(), Ownership::Ours);

        write_manifest(&dir, "someone-else");
        assert!(matches!(ownership(&dir).unwrap(), Ownership::NotOurs(_)));
        fs::write(dir.join(MANIFEST_FILE), br#"{"name":"pwa"}"#).unwrap();
        assert!(matches!(ownership(&dir).unwrap(), Ownership::NotOurs(why) if why.contains("manifest.json")));
        let file = root.path().join("notes.txt");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(ownership(&file).unwrap(), Ownership::NotOurs(_)));
        assert_ne!(new_run_id(), new_run_id());
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
