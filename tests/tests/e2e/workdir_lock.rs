//! Two runs on one workdir never replace each other's folders or do the work twice: the
//! second waits for the first (or, with --no-wait, refuses with exit 1) and then reuses what
//! the first made (issue #24).

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reelforge_e2e::{expect_success, reelforge, repo_root, sample};

fn run_command(workdir: &Path, extra: &[&str]) -> Command {
    let mut command = reelforge();
    command
        .args(["--progress", "log", "run"])
        .arg(repo_root().join("pipelines/default.yaml"))
        .arg("--input")
        .arg(&sample().episode)
        .arg("--workdir")
        .arg(workdir)
        .args(extra);
    command
}

/// The stage folders of a workdir with their manifests' run ids.
fn run_ids(workdir: &Path) -> Vec<(String, String)> {
    ["probe", "shots"]
        .iter()
        .map(|stage| {
            let manifest: serde_json::Value = serde_json::from_slice(
                &fs::read(workdir.join(stage).join("manifest.json")).expect("manifest"),
            )
            .expect("manifest JSON");
            (stage.to_string(), manifest["run_id"].as_str().expect("run_id").to_owned())
        })
        .collect()
}

#[test]
fn a_second_run_waits_for_the_lock_or_refuses_with_no_wait() {
    let root = tempfile::tempdir().expect("temp dir");
    let workdir = root.path().join("work");
    let locks = workdir.join(".reelforge/locks");
    fs::create_dir_all(&locks).expect("create the lock folder");
    // Stand in for another run holding the probe stage.
    let held = File::create(locks.join("probe.lock")).expect("create lock file");
    held.lock().expect("take the lock");

    let refused = run_command(&workdir, &["--no-wait"]).output().expect("run reelforge");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "busy is retryable: {stderr}");
    assert!(stderr.contains("being written by another reelforge run"), "{stderr}");
    assert!(!workdir.join("probe").exists() && !workdir.join("shots").exists(), "nothing may start");

    let mut waiting = run_command(&workdir, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reelforge");
    std::thread::sleep(Duration::from_secs(2));
    assert!(waiting.try_wait().expect("poll").is_none(), "the run must wait while the lock is held");
    assert!(!workdir.join("shots").exists(), "a waiting run writes nothing");
    drop(held);
    let output = waiting.wait_with_output().expect("wait for reelforge");
    let stdout = expect_success(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("waiting: another reelforge run"));
    assert!(stdout.contains("shots") && stdout.contains("ran in"), "{stdout}");
}

#[test]
fn two_concurrent_runs_make_one_set_of_outputs() {
    let root = tempfile::tempdir().expect("temp dir");
    let workdir = root.path().join("work");
    let started = Instant::now();
    let first =
        run_command(&workdir, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start");
    let second =
        run_command(&workdir, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start");
    let first = expect_success(&first.wait_with_output().expect("first run"));
    let second = expect_success(&second.wait_with_output().expect("second run"));
    let ran = |stdout: &str| stdout.lines().filter(|line| line.contains("ran in")).count();
    let cached = |stdout: &str| stdout.lines().filter(|line| line.contains(" cached ")).count();
    // One run did both stages; the other found them done.
    assert_eq!((ran(&first) + ran(&second), cached(&first) + cached(&second)), (2, 2), "{first}\n{second}");
    let ids = run_ids(&workdir);
    assert_eq!(ids[0].1, ids[1].1, "both folders come from one run: {ids:?}");

    // The outputs equal a single run's (same keys, same shot list).
    let single = root.path().join("single");
    expect_success(&run_command(&single, &[]).output().expect("single run"));
    for stage in ["probe", "shots"] {
        let key = |dir: &Path| {
            let manifest: serde_json::Value =
                serde_json::from_slice(&fs::read(dir.join(stage).join("manifest.json")).expect("manifest"))
                    .unwrap();
            manifest["key"].clone()
        };
        assert_eq!(key(&workdir), key(&single), "{stage}");
    }
    assert_eq!(
        fs::read(workdir.join("shots/shots.csv")).expect("shots.csv"),
        fs::read(single.join("shots/shots.csv")).expect("shots.csv")
    );
    eprintln!("two concurrent runs took {:.1} s", started.elapsed().as_secs_f64());
}
