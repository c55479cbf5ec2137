//! reelforge replaces only folders it provably wrote, and never its input (issue #24's
//! data-loss cases, each of which deleted a user's files before).

use std::fs;
use std::path::Path;

use reelforge_e2e::{expect_success, repo_root, run_pipeline, run_reelforge, sample};

/// A user's folder: a web app whose `manifest.json` is not reelforge's.
fn users_app_folder(dir: &Path) {
    fs::create_dir_all(dir).expect("create folder");
    fs::write(dir.join("manifest.json"), br#"{"name":"pwa"}"#).expect("write manifest.json");
    fs::write(dir.join("app.js"), b"code").expect("write app.js");
}

fn assert_refused(output: &std::process::Output, fragment: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "expected exit 2 (never retried); stderr: {stderr}");
    assert!(stderr.contains(fragment), "stderr should contain {fragment:?}: {stderr}");
}

#[test]
fn output_folder_with_a_foreign_manifest_and_the_input_is_left_alone() {
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("d");
    users_app_folder(&folder);
    let input = folder.join("ep.mp4");
    fs::copy(&sample().episode, &input).expect("copy the episode");

    let output = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "shots".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        folder.as_os_str(),
    ]);
    assert_refused(&output, "never deletes its input");
    assert_eq!(fs::read(folder.join("app.js")).expect("app.js kept"), b"code");
    assert_eq!(
        fs::metadata(&input).expect("input kept").len(),
        fs::metadata(&sample().episode).unwrap().len()
    );

    // Without the input inside, the foreign manifest still proves nothing.
    let elsewhere = root.path().join("ep.mp4");
    fs::rename(&input, &elsewhere).expect("move the input out");
    let output = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "shots".as_ref(),
        elsewhere.as_os_str(),
        "-o".as_ref(),
        folder.as_os_str(),
    ]);
    assert_refused(&output, "no manifest.json written by reelforge");
    assert_eq!(fs::read(folder.join("app.js")).expect("app.js kept"), b"code");
}

#[test]
fn a_file_added_to_an_earlier_output_keeps_it_from_being_replaced() {
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("probe-out");
    let probe = |out: &Path| {
        run_reelforge([
            "--progress".as_ref(),
            "none".as_ref(),
            "run".as_ref(),
            repo_root().join("pipelines/default.yaml").as_os_str(),
            "--input".as_ref(),
            sample().episode.as_os_str(),
            "--workdir".as_ref(),
            out.as_os_str(),
            "--only".as_ref(),
            "probe".as_ref(),
            "--force".as_ref(),
        ])
    };
    expect_success(&probe(&out));
    // reelforge's own folder is replaced on a forced rerun…
    expect_success(&probe(&out));
    // …but not once it holds a file of the user's: only with --force, which says so.
    fs::write(out.join("probe/notes.txt"), b"mine").expect("write notes");
    let output = run_pipeline(&repo_root().join("pipelines/default.yaml"), &sample().episode, &out);
    assert_refused(&output, "notes.txt");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    assert_eq!(fs::read(out.join("probe/notes.txt")).expect("notes kept"), b"mine");
    assert!(!out.join("shots").exists(), "refused before any stage ran");
}

#[test]
fn a_users_folder_named_like_a_stage_stops_the_run_before_any_work() {
    let workdir = tempfile::tempdir().expect("temp dir");
    let users_subtitles = workdir.path().join("shots");
    users_app_folder(&users_subtitles);
    let output = run_pipeline(&repo_root().join("pipelines/default.yaml"), &sample().episode, workdir.path());
    assert_refused(&output, "named like the `shots` stage's folder");
    assert_eq!(fs::read(users_subtitles.join("app.js")).expect("app.js kept"), b"code");
    assert!(!workdir.path().join("probe").exists(), "no stage ran");
}
