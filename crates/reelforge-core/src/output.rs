//! Atomic outputs: everything reelforge writes appears under its final name only once it is
//! complete, so a killed run never leaves a half file that looks whole.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary sibling file that is renamed when complete.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = parent_dir(path);
    fs::create_dir_all(parent)?;
    let mut file =
        tempfile::Builder::new().prefix(&hidden_prefix(path)).suffix(".partial").tempfile_in(parent)?;
    file.as_file().set_permissions(shareable(FILE_MODE))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A file that a library (FFmpeg, an encoder) writes by path: it writes to [`Self::path`],
/// and the result appears at the final path only on [`Self::commit`]. Dropped without a
/// commit, the partial file is removed.
#[derive(Debug)]
pub struct StagedFile {
    partial: PathBuf,
    final_path: PathBuf,
    committed: bool,
}

impl StagedFile {
    pub fn new(final_path: &Path) -> io::Result<Self> {
        let parent = parent_dir(final_path);
        fs::create_dir_all(parent)?;
        // Keep the extension last: muxers pick the container from it.
        let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = parent.join(format!(".partial-{}-{name}", std::process::id()));
        Ok(Self { partial, final_path: final_path.to_path_buf(), committed: false })
    }

    pub fn path(&self) -> &Path {
        &self.partial
    }

    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.partial, &self.final_path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// A directory filled under a temporary sibling name and swapped into place on
/// [`Self::commit`]. Dropped without a commit, the temporary directory is removed.
#[derive(Debug)]
pub struct StagedDir {
    temp: Option<tempfile::TempDir>,
    final_path: PathBuf,
}

impl StagedDir {
    pub fn new(final_path: &Path) -> io::Result<Self> {
        let parent = parent_dir(final_path);
        fs::create_dir_all(parent)?;
        let temp =
            tempfile::Builder::new().prefix(&hidden_prefix(final_path)).suffix(".tmp").tempdir_in(parent)?;
        Ok(Self { temp: Some(temp), final_path: final_path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        self.temp.as_ref().map(|t| t.path()).unwrap_or(&self.final_path)
    }

    /// Replaces whatever is at the final path with the staged directory. The old contents
    /// are moved aside first and deleted after the swap, so the final path is never half full.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(temp) = self.temp.take() else { return Ok(()) };
        let staged = temp.keep();
        if self.final_path.exists() {
            let parent = parent_dir(&self.final_path);
            let old = tempfile::Builder::new()
                .prefix(&hidden_prefix(&self.final_path))
                .suffix(".old")
                .tempdir_in(parent)?
                .keep();
            fs::remove_dir(&old)?;
            fs::rename(&self.final_path, &old)?;
            fs::rename(&staged, &self.final_path)?;
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&staged, &self.final_path)?;
        }
        Ok(())
    }
}

/// Outputs are shared with editors, players and farm nodes: readable by all, like any file
/// a user creates (tempfile's private 0600 default would lock them out).
const FILE_MODE: u32 = 0o644;

fn shareable(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn hidden_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_replaces_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_file_atomic(&path, b"old").unwrap();
        write_file_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no leftovers beside the file");
    }

    #[test]
    fn outputs_are_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truth.json");
        write_file_atomic(&path, b"{}").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        let staged = StagedDir::new(&dir.path().join("probe")).unwrap();
        assert_eq!(fs::metadata(staged.path()).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn staged_file_is_removed_when_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("episode.mp4");
        {
            let staged = StagedFile::new(&final_path).unwrap();
            assert!(staged.path().extension().is_some_and(|e| e == "mp4"));
            fs::write(staged.path(), b"half").unwrap();
        }
        assert!(!final_path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn staged_dir_swaps_in_whole() {
        let dir = tempfile::tempdir().unwrap();
        let final_dir = dir.path().join("shots");
        fs::create_dir_all(&final_dir).unwrap();
        fs::write(final_dir.join("stale.txt"), b"x").unwrap();
        let staged = StagedDir::new(&final_dir).unwrap();
        fs::write(staged.path().join("shots.csv"), b"shot\n").unwrap();
        assert!(final_dir.join("stale.txt").exists(), "old output stays until the commit");
        staged.commit().unwrap();
        assert!(final_dir.join("shots.csv").exists());
        assert!(!final_dir.join("stale.txt").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
