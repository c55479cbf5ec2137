//! `reelforge run`: stages, the cache, resume after a kill, config errors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use reelforge_e2e::{expect_success, reelforge, repo_root, run_reelforge, sample};

fn run_default(workdir: &Path) -> std::process::Output {
    run_reelforge([
        "--progress".as_ref(),
        "log".as_ref(),
        "run".as_ref(),
        repo_root().join("pipelines/default.yaml").as_os_str(),
        "--input".as_ref(),
        sample().episode.as_os_str(),
        "--workdir".as_ref(),
        workdir.as_os_str(),
    ])
}

#[test]
fn default_pipeline_writes_probe_and_rerun_is_cached() {
    let workdir = tempfile::tempdir().expect("temp dir");
    let first_start = Instant::now();
    expect_success(&run_default(workdir.path()));
    let first = first_start.elapsed();

    let media: serde_json::Value = serde_json::from_slice(
        &std::fs::read(workdir.path().join("probe/media.json")).expect("probe/media.json"),
    )
    .expect("media.json is JSON");
    assert_eq!(media["streams"].as_array().map(Vec::len), Some(3));
    assert!(workdir.path().join("probe/manifest.json").exists());

    let second_start = Instant::now();
    let output = run_default(workdir.path());
    let second = second_start.elapsed();
    expect_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("probe: cached"), "rerun says the stage was cached: {stderr}");
    assert!(stderr.contains("shots: cached"), "rerun says the stage was cached: {stderr}");
    assert!(
        second.as_secs_f64() < 0.1 * first.as_secs_f64(),
        "rerun took {second:?}, first run {first:?}: a cached rerun must take under 10 %"
    );
}

/// Writes `yaml` as `DIR/NAME` and runs it on the sample with the workdir `DIR/work`.
fn run_pipeline_text(dir: &Path, name: &str, yaml: &str) -> std::process::Output {
    let pipeline = dir.join(name);
    std::fs::write(&pipeline, yaml).expect("write pipeline");
    run_reelforge([
        "run".as_ref(),
        pipeline.as_os_str(),
        "--input".as_ref(),
        sample().episode.as_os_str(),
        "--workdir".as_ref(),
        dir.join("work").as_os_str(),
    ])
}

#[test]
fn typo_in_pipeline_field_names_line_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_pipeline_text(
        dir.path(),
        "typo.yaml",
        "version: 1\nname: typo\nstages:\n  - probe: {}\n  - shots:\n      min_shot_frame: 10\n",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("typo.yaml:6"), "names the line: {stderr}");
    assert!(stderr.contains("min_shot_frame"), "names the field: {stderr}");
    assert!(stderr.contains("did you mean `min_shot_frames`"), "suggests the fix: {stderr}");
}

#[test]
fn stage_not_built_yet_is_rejected_not_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_pipeline_text(
        dir.path(),
        "future.yaml",
        "version: 1\nname: future\nstages:\n  - probe: {}\n  - report:\n      format: html\n",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not available yet"), "{stderr}");
    assert!(!dir.path().join("work/probe").exists(), "nothing runs when the file is invalid");
}

#[test]
fn killed_run_resumes_to_complete_outputs() {
    let workdir = tempfile::tempdir().expect("temp dir");
    let mut child = reelforge()
        .args(["--progress", "json", "run"])
        .arg(repo_root().join("pipelines/default.yaml"))
        .arg("--input")
        .arg(&sample().episode)
        .arg("--workdir")
        .arg(workdir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start reelforge");
    // Kill as soon as the decode pass of the analysis stages is under way.
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let mid_decode = line.contains("\"task\":\"decode\"") && line.contains("\"event\":\"advanced\"");
        seen.push(line);
        if mid_decode {
            break;
        }
    }
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(seen.iter().any(|l| l.contains("\"event\":\"advanced\"")), "the run got under way: {seen:#?}");
    assert!(
        !workdir.path().join("shots/manifest.json").exists() && !workdir.path().join("shots").exists(),
        "a killed stage leaves no final folder"
    );

    expect_success(&run_default(workdir.path()));
    let shots: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workdir.path().join("shots/shots.json")).expect("shots.json"))
            .expect("shots.json is JSON");
    assert!(shots["shots"].as_array().is_some_and(|s| s.len() > 3));
    let leftovers: Vec<_> = std::fs::read_dir(workdir.path())
        .expect("workdir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary folders are cleaned up: {leftovers:?}");
}
