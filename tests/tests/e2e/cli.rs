//! The command line itself: help, completions, schema, exit codes for usage errors.

use reelforge_e2e::{expect_success, run_reelforge};

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let out = expect_success(&run_reelforge(["--help"]));
    for needle in ["run", "probe", "shots", "sample", "Examples:", "Exit codes"] {
        assert!(out.contains(needle), "--help mentions {needle}: {out}");
    }
}

#[test]
fn bash_completions_are_printed() {
    let out = expect_success(&run_reelforge(["completions", "bash"]));
    assert!(out.contains("complete") && out.contains("reelforge"), "{out}");
}

#[test]
fn schema_is_json_schema_naming_every_stage() {
    let out = expect_success(&run_reelforge(["schema"]));
    let schema: serde_json::Value = serde_json::from_str(&out).expect("schema is JSON");
    assert!(schema.get("$schema").is_some(), "{schema}");
    for stage in ["probe", "shots", "subtitles", "trailer", "artwork", "renditions", "report"] {
        assert!(out.contains(stage), "schema names stage {stage}");
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = run_reelforge(["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::process::Stdio;
    let mut child = reelforge_e2e::reelforge()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reelforge");
    // Close the pipe's read end before reelforge writes, as `| head -c 0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
