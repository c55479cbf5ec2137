//! Broken input gets exit code 3 and a one-line message, never a panic.

use std::path::Path;

use reelforge_e2e::{run_reelforge, sample};

fn assert_bad_input(path: &Path, what: &str) {
    for command in ["probe", "shots"] {
        let out_dir = tempfile::tempdir().expect("temp dir");
        let mut args = vec![command.into(), path.as_os_str().to_owned()];
        if command == "shots" {
            args.extend(["-o".into(), out_dir.path().join("shots").into_os_string()]);
        }
        let output = run_reelforge(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{what} via {command}: stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("reelforge: error")).collect();
        assert_eq!(lines.len(), 1, "{what}: exactly one error line, got: {stderr}");
        assert!(lines[0].contains(&*path.to_string_lossy()), "{what}: the message names the file: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!out_dir.path().join("shots").exists(), "{what}: no output left behind");
    }
}

#[test]
fn truncated_mp4_is_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = std::fs::read(&sample().episode).expect("sample");
    let path = dir.path().join("truncated.mp4");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    assert_bad_input(&path, "truncated MP4");
}

#[test]
fn zero_byte_file_is_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("empty.mp4");
    std::fs::write(&path, b"").expect("write");
    assert_bad_input(&path, "zero-byte file");
}

#[test]
fn text_file_named_mp4_is_bad_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.mp4");
    std::fs::write(&path, "These are my notes, not a video.\n".repeat(50)).expect("write");
    assert_bad_input(&path, "text file renamed .mp4");
}
