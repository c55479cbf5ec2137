//! The input's content hash, memoised by (absolute path, size, mtime) so a rerun does not
//! re-read a large episode.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use reelforge_core::output::write_file_atomic;
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;

/// Where the memo lives inside the workdir's private directory.
pub(crate) const INPUT_HASH_MEMO_FILE: &str = "input-hash.json";

/// The input as recorded in manifests and cache keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// Absolute, symlink-free path of the input when it was hashed.
    pub path: PathBuf,
    pub size: u64,
    /// blake3 of the file's bytes, hex.
    pub blake3: String,
}

/// What identifies an unchanged file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    size: u64,
    modified_unix_seconds: u64,
    modified_nanos: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct InputHashMemo {
    entries: Vec<MemoEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MemoEntry {
    path: PathBuf,
    stamp: FileStamp,
    blake3: String,
}

/// Hashes `input`, reusing the memo in `memo_dir` when path, size and mtime are unchanged.
pub(crate) fn identify_input(input: &Path, memo_dir: Option<&Path>) -> Result<InputRecord, PipelineError> {
    let path = fs::canonicalize(input).map_err(|source| input_error(input, source))?;
    // A folder, device or pipe cannot be hashed or seeked (`/dev/zero` would never end).
    let kind = fs::metadata(&path).map_err(|source| input_error(input, source))?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a folder" } else { "not a regular file (a device, pipe or socket)" };
        return Err(PipelineError::InputNotAFile { path: input.to_path_buf(), what });
    }
    let stamp = file_stamp(&path).map_err(|source| input_error(input, source))?;
    let memo_path = memo_dir.map(|dir| dir.join(INPUT_HASH_MEMO_FILE));
    // A missing or unreadable memo only costs a re-hash.
    let mut memo = memo_path.as_deref().and_then(read_memo).unwrap_or_default();
    if let Some(entry) = memo.entries.iter().find(|entry| entry.path == path && entry.stamp == stamp) {
        return Ok(InputRecord { path, size: stamp.size, blake3: entry.blake3.clone() });
    }
    let blake3 = hash_file(&path).map_err(|source| input_error(input, source))?;
    let record = InputRecord { path: path.clone(), size: stamp.size, blake3: blake3.clone() };
    // Memoise only if the file did not change while it was read.
    let unchanged = file_stamp(&path).is_ok_and(|after| after == stamp);
    if let (Some(memo_path), true) = (memo_path, unchanged) {
        memo.entries.retain(|entry| entry.path != path);
        memo.entries.push(MemoEntry { path, stamp, blake3 });
        let json = serde_json::to_vec_pretty(&memo).map_err(|source| PipelineError::Io {
            action: "write",
            path: memo_path.clone(),
            source: io::Error::other(source),
        })?;
        write_file_atomic(&memo_path, &json).map_err(|source| PipelineError::Io {
            action: "write",
            path: memo_path,
            source,
        })?;
    }
    Ok(record)
}

fn input_error(input: &Path, source: io::Error) -> PipelineError {
    if source.kind() == io::ErrorKind::NotFound {
        PipelineError::InputNotFound { path: input.to_path_buf() }
    } else {
        PipelineError::Io { action: "read input", path: input.to_path_buf(), source }
    }
}

fn file_stamp(path: &Path) -> io::Result<FileStamp> {
    let metadata = fs::metadata(path)?;
    let modified = metadata.modified()?.duration_since(UNIX_EPOCH).map_err(io::Error::other)?;
    Ok(FileStamp {
        size: metadata.len(),
        modified_unix_seconds: modified.as_secs(),
        modified_nanos: modified.subsec_nanos(),
    })
}

fn read_memo(path: &Path) -> Option<InputHashMemo> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// blake3 of a file's bytes, hex.
pub(crate) fn hash_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_is_used_while_the_stamp_matches() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("episode.mkv");
        fs::write(&input, b"frames").unwrap();
        let memo_dir = dir.path().join("work/.reelforge");
        let first = identify_input(&input, Some(&memo_dir)).unwrap();
        assert_eq!(first.blake3, blake3::hash(b"frames").to_hex().to_string());
        assert_eq!(first.size, 6);

        // Same size and mtime: the memo answers, even though the bytes differ (proves no re-read).
        let modified = fs::metadata(&input).unwrap().modified().unwrap();
        fs::write(&input, b"FRAMES").unwrap();
        File::options().write(true).open(&input).unwrap().set_modified(modified).unwrap();
        assert_eq!(identify_input(&input, Some(&memo_dir)).unwrap(), first);

        // A different size invalidates it.
        fs::write(&input, b"more frames").unwrap();
        let changed = identify_input(&input, Some(&memo_dir)).unwrap();
        assert_eq!(changed.blake3, blake3::hash(b"more frames").to_hex().to_string());
    }

    #[test]
    fn missing_input_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let error = identify_input(&dir.path().join("nope.mkv"), None).unwrap_err();
        assert!(matches!(error, PipelineError::InputNotFound { .. }), "{error:?}");
    }
}
