//! A file whose timestamps start late (an MPEG-TS capture starting at 25 000 s) gives the same
//! shot, cue and trailer times as the same content starting at 0, in the same memory
//! (issue #24). Before, subtitles filled 25 000 s of silence (3.4 GB) and shots.csv paired
//! start times of 25 001 s with timecode 00:00:00:00.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::subtitles::fetch_model;
use reelforge_e2e::{reelforge, sample};

const PIPELINE: &str =
    "version: 1\nname: offset\nstages:\n  - shots: {}\n  - trailer:\n      duration_seconds: 20\n";

/// Runs the pipeline.
fn run(pipeline: &Path, input: &Path, workdir: &Path) {
    let output = reelforge()
        .args(["--progress", "none", "run"])
        .arg(pipeline)
        .arg("--input")
        .arg(input)
        .arg("--workdir")
        .arg(workdir)
        .output()
        .expect("run reelforge");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// `reelforge subtitles` (one whisper thread, so memory does not depend on scheduling) under
/// GNU time into `WORKDIR/subtitles`; returns the peak RSS in KiB.
fn subtitles_measured(input: &Path, workdir: &Path) -> u64 {
    let report = workdir.join("subtitles.time");
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(reelforge().get_program())
        .args(["--progress", "none", "subtitles"])
        .arg(input)
        .args(["--model", "base", "--threads", "1", "-o"])
        .arg(workdir.join("subtitles"))
        .output()
        .expect("run reelforge under /usr/bin/time (Debian package `time`)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    fs::read_to_string(&report).expect("time report").trim().parse().expect("peak RSS in KiB")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("JSON")
}

fn shot_times(workdir: &Path) -> Vec<(u64, String)> {
    json(&workdir.join("shots/shots.json"))["boundaries"]
        .as_array()
        .expect("boundaries")
        .iter()
        .map(|b| {
            (b["frame"].as_u64().expect("frame"), format!("{:.3}", b["time_seconds"].as_f64().expect("time")))
        })
        .collect()
}

fn cue_times(workdir: &Path) -> Vec<(String, String)> {
    json(&workdir.join("subtitles/subtitles.json"))["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .flat_map(|track| track["cues"].as_array().expect("cues").clone())
        .map(|cue| {
            (format!("{:.3}", cue["start"].as_f64().unwrap()), format!("{:.3}", cue["end"].as_f64().unwrap()))
        })
        .collect()
}

fn clip_starts(workdir: &Path) -> Vec<String> {
    json(&workdir.join("trailer/trailer.json"))["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|clip| format!("{:.3}", clip["source_start_seconds"].as_f64().expect("source start")))
        .collect()
}

#[test]
fn mpeg_ts_starting_at_25000_s_gives_the_times_and_memory_of_one_starting_at_0() {
    fetch_model("base", &[]);
    let root = tempfile::tempdir().expect("temp dir");
    let pipeline = root.path().join("offset.yaml");
    fs::write(&pipeline, PIPELINE).expect("write the pipeline");
    let remux = |name: &str, offset: &str| {
        let path = root.path().join(name);
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&sample().episode)
            .args(["-map", "0", "-c", "copy", "-output_ts_offset", offset, "-f", "mpegts"])
            .arg(&path)
            .status()
            .expect("run ffmpeg");
        assert!(status.success());
        path
    };
    let at_zero = remux("zero.ts", "0");
    let late = remux("late.ts", "25000");
    let (zero_dir, late_dir) = (root.path().join("zero"), root.path().join("late"));
    run(&pipeline, &at_zero, &zero_dir);
    run(&pipeline, &late, &late_dir);
    let zero_rss = subtitles_measured(&at_zero, &zero_dir);
    let late_rss = subtitles_measured(&late, &late_dir);

    let shots = shot_times(&zero_dir);
    assert!(shots.len() >= 5, "the sample has cuts: {shots:?}");
    assert_eq!(shot_times(&late_dir), shots);
    assert!(shots.iter().all(|(_, time)| time.parse::<f64>().unwrap() < 61.0), "{shots:?}");
    let csv = fs::read_to_string(late_dir.join("shots/shots.csv")).expect("shots.csv");
    assert_eq!(csv, fs::read_to_string(zero_dir.join("shots/shots.csv")).expect("shots.csv"));
    let cues = cue_times(&zero_dir);
    assert!(!cues.is_empty());
    assert_eq!(cue_times(&late_dir), cues);
    assert_eq!(clip_starts(&late_dir), clip_starts(&zero_dir));
    let ratio = late_rss as f64 / zero_rss as f64;
    assert!((0.9..=1.1).contains(&ratio), "peak RSS {late_rss} KiB vs {zero_rss} KiB");
}
