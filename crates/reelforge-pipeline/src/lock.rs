//! Advisory locks on what a run writes, so two runs on one workdir never replace each other's
//! stage folders or do the same work twice: one lock file per stage folder or chunk folder
//! (`WORKDIR/.reelforge/locks/<stage>.lock`, `<stage>.<chunk>.lock`), held until the run ends.
//! A farm task locks only the folder it writes, so tasks of one plan run side by side.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use reelforge_core::ProgressSink;

use crate::error::PipelineError;

/// Locks held by this run; dropping it releases them.
#[derive(Debug)]
pub(crate) struct HeldLocks {
    _files: Vec<File>,
}

/// Takes every lock in `names`, in the given order (every run orders them the same way, by
/// stage, so two runs cannot each hold what the other waits for). When one is held by another
/// run: waits, saying so, or with `wait` false refuses (retryable: that run will finish).
pub(crate) fn lock_all(
    locks_dir: &Path,
    names: &[String],
    wait: bool,
    progress: &dyn ProgressSink,
) -> Result<HeldLocks, PipelineError> {
    fs::create_dir_all(locks_dir).map_err(|source| PipelineError::Io {
        action: "create lock folder",
        path: locks_dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let path = locks_dir.join(format!("{name}.lock"));
        let io = |action, source| PipelineError::Io { action, path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| io("open lock file", source))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                if !wait {
                    return Err(PipelineError::WorkdirBusy {
                        lock: path.clone(),
                        name: name.clone(),
                        holder,
                    });
                }
                progress.message(
                    name,
                    &format!("waiting: another reelforge run ({holder}) is writing it; {}", path.display()),
                );
                file.lock().map_err(|source| io("lock", source))?;
            }
            Err(TryLockError::Error(source)) => return Err(io("lock", source)),
        }
        // Who holds it, for the message another run shows while it waits.
        file.set_len(0).and_then(|()| file.rewind()).map_err(|source| io("write lock file", source))?;
        write!(file, "pid {}", std::process::id()).map_err(|source| io("write lock file", source))?;
        files.push(file);
    }
    Ok(HeldLocks { _files: files })
}

/// The holder's note ("pid 1234"), or a placeholder when it has not written one yet.
fn holder(file: &mut File) -> String {
    let mut note = String::new();
    let _ = file.read_to_string(&mut note);
    let note = note.trim();
    if note.is_empty() { "pid unknown".to_owned() } else { note.to_owned() }
}

/// `WORKDIR/.reelforge/locks`.
pub(crate) fn locks_dir(private_dir: &Path) -> PathBuf {
    private_dir.join("locks")
}

#[cfg(test)]
mod tests {
    use reelforge_core::{Classify, ErrorClass, NoProgress};

    use super::*;

    #[test]
    fn a_held_lock_refuses_without_waiting_and_is_free_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["probe".to_owned(), "shots".to_owned()];
        let held = lock_all(dir.path(), &names, false, &NoProgress).unwrap();
        let error = lock_all(dir.path(), &names[1..], false, &NoProgress).unwrap_err();
        assert_eq!(error.class(), ErrorClass::Other, "another run finishing is worth a retry");
        let text = error.to_string();
        assert!(text.contains("shots") && text.contains(&format!("pid {}", std::process::id())), "{text}");
        drop(held);
        lock_all(dir.path(), &names, false, &NoProgress).unwrap();
    }
}
