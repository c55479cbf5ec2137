//! Every bad setting is refused before any stage starts, by `validate`, `plan` and `run`
//! alike, with exit 2 (never retried) and a message naming file:line:column, the field, the
//! value and what is valid (issue #20).

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::shots::detect_shots;
use reelforge_e2e::{expect_success, repo_root, run_reelforge, sample};

/// One bad pipeline: a stage's settings (indented under it), the line the error points at,
/// and what the message must say.
struct BadSetting {
    stage: &'static str,
    settings: &'static str,
    line: u32,
    says: &'static [&'static str],
}

const LINE_OF_FIRST_SETTING: u32 = 5;

const BAD_SETTINGS: &[BadSetting] = &[
    BadSetting {
        stage: "renditions",
        settings: "preset: superfastest",
        line: 5,
        says: &["`preset` in stage `renditions` is `superfastest`", "did you mean `superfast`", "veryfast"],
    },
    BadSetting {
        stage: "renditions",
        settings: "gop_seconds: 2\nsegment_seconds: 5",
        line: 6,
        says: &["`segment_seconds` in stage `renditions` is 5", "whole multiple of `gop_seconds` (2)"],
    },
    BadSetting {
        stage: "renditions",
        settings: "ladder: [{width: 641, height: 360, bitrate_kbps: 800}]",
        line: 5,
        says: &["`ladder[0]` in stage `renditions` is 641x360", "even sizes"],
    },
    BadSetting {
        stage: "renditions",
        settings: "audio_bitrate_kbps: 5",
        line: 5,
        says: &["`audio_bitrate_kbps` in stage `renditions` is 5; valid: 32 to 512"],
    },
    BadSetting {
        stage: "subtitles",
        settings: "model: bsae",
        line: 5,
        says: &["`model` in stage `subtitles` is `bsae`", "did you mean `base`", "tiny.en, base"],
    },
    BadSetting {
        stage: "subtitles",
        settings: "languages: [en, xx]",
        line: 5,
        says: &["`languages[1]` in stage `subtitles` is `xx`", "ISO 639-1"],
    },
    BadSetting {
        stage: "subtitles",
        settings: "threads: 100000",
        line: 5,
        says: &["`threads` in stage `subtitles` is 100000; valid: 1 to 64"],
    },
    BadSetting {
        stage: "subtitles",
        settings: "rules:\n  max_lines: 9",
        line: 6,
        says: &["`rules.max_lines` in stage `subtitles` is 9; valid: 1 to 4"],
    },
    BadSetting {
        stage: "trailer",
        settings: "duration_seconds: 2",
        line: 5,
        says: &["`duration_seconds` in stage `trailer` is 2; valid: 5 to 600"],
    },
    BadSetting {
        stage: "trailer",
        settings: "spoiler_cutoff: 1.5",
        line: 5,
        says: &["`spoiler_cutoff` in stage `trailer` is 1.5; valid: 0.1 to 1"],
    },
    BadSetting {
        stage: "trailer",
        settings: "duration_seconds: 6\ntitle_card: Soon\ntitle_card_seconds: 4",
        line: 7,
        says: &["`title_card_seconds` in stage `trailer` is 4", "at most half the trailer"],
    },
    BadSetting {
        stage: "shots",
        settings: "max_dissolve_frames: 500",
        line: 5,
        says: &["`max_dissolve_frames` in stage `shots` is 500; valid: 4 to 96"],
    },
    BadSetting {
        stage: "shots",
        settings: "min_shot_frames: many",
        line: 5,
        says: &["`min_shot_frames` in stage `shots` is `many`", "expected a whole number"],
    },
    BadSetting {
        stage: "shots",
        settings: "black_level: 250",
        line: 5,
        says: &["`black_level` in stage `shots` is 250", "below `white_level` (215)"],
    },
    BadSetting {
        stage: "artwork",
        settings: "profiles: [{name: action}, {name: action}]",
        line: 5,
        says: &["`profiles[1].name` in stage `artwork` is `action`", "already used"],
    },
    BadSetting {
        stage: "artwork",
        settings: "jpeg_quality: 0",
        line: 5,
        says: &["`jpeg_quality` in stage `artwork` is 0; valid: 1 to 100"],
    },
    BadSetting {
        stage: "artwork",
        settings: "crops: []",
        line: 5,
        says: &["`crops` in stage `artwork` has 0 entries; it needs at least 1"],
    },
    BadSetting {
        stage: "probe",
        settings: "threads: 2",
        line: 5,
        says: &["unknown field `threads` in stage `probe`; it takes no settings"],
    },
];

fn pipeline_yaml(case: &BadSetting) -> String {
    let indented: String = case.settings.lines().map(|line| format!("      {line}\n")).collect();
    format!("version: 1\nname: bad\nstages:\n  - {}:\n{indented}", case.stage)
}

fn check_refusal(command: &str, case: &BadSetting, file: &Path, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("`{command}` with {}: {}\nstderr: {stderr}", case.stage, case.settings);
    assert_eq!(output.status.code(), Some(2), "exit 2 expected; {context}");
    let position = format!("{}:{}:", file.display(), case.line);
    assert!(stderr.contains(&position), "message should point at {position}; {context}");
    for fragment in case.says {
        assert!(stderr.contains(fragment), "message should say {fragment:?}; {context}");
    }
}

#[test]
fn every_bad_setting_exits_2_from_validate_plan_and_run_before_any_stage() {
    assert!(BAD_SETTINGS.len() >= 15);
    assert!(BAD_SETTINGS.iter().all(|case| case.line >= LINE_OF_FIRST_SETTING));
    let root = tempfile::tempdir().expect("temp dir");
    let input = &sample().episode;
    for (position, case) in BAD_SETTINGS.iter().enumerate() {
        let file = root.path().join(format!("bad-{position}.yaml"));
        fs::write(&file, pipeline_yaml(case)).expect("write the pipeline");
        let workdir = root.path().join(format!("work-{position}"));

        let validate =
            run_reelforge(["validate".as_ref(), file.as_os_str(), "--input".as_ref(), input.as_os_str()]);
        check_refusal("validate", case, &file, &validate);

        let plan = run_reelforge([
            "plan".as_ref(),
            file.as_os_str(),
            "--input".as_ref(),
            input.as_os_str(),
            "--workdir".as_ref(),
            workdir.as_os_str(),
        ]);
        check_refusal("plan", case, &file, &plan);
        assert!(!workdir.join("plan.json").exists(), "plan wrote plan.json for {}", case.settings);

        let run = run_reelforge([
            "--progress".as_ref(),
            "none".as_ref(),
            "run".as_ref(),
            file.as_os_str(),
            "--input".as_ref(),
            input.as_os_str(),
            "--workdir".as_ref(),
            workdir.as_os_str(),
        ]);
        check_refusal("run", case, &file, &run);
        let started: Vec<_> = fs::read_dir(&workdir)
            .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(started.is_empty(), "run started stages {started:?} for {}", case.settings);
    }
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = root.path().join("two.yaml");
    fs::write(
        &file,
        "version: 1\nname: two\nstages:\n  - shots:\n      max_dissolve_frames: 500\n  - trailer:\n      duration_seconds: 2\n",
    )
    .expect("write the pipeline");
    let output = run_reelforge(["validate".as_ref(), file.as_os_str()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line per problem: {stderr}");
    assert!(
        lines[0].starts_with("reelforge: error: ") && lines[0].contains(":5:28: `max_dissolve_frames`"),
        "{stderr}"
    );
    assert!(lines[1].contains(":7:25: `duration_seconds`"), "{stderr}");
}

#[test]
fn what_the_input_cannot_feed_is_refused_before_any_stage() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = root.path().join("long-trailer.yaml");
    // The sample is 60 s: 45 s before the default spoiler cut-off.
    fs::write(&file, "version: 1\nname: long\nstages:\n  - trailer:\n      duration_seconds: 90\n")
        .expect("write the pipeline");
    let input = &sample().episode;
    let workdir = root.path().join("work");
    for command in ["validate", "run"] {
        let mut args = vec![command.as_ref(), file.as_os_str(), "--input".as_ref(), input.as_os_str()];
        if command == "run" {
            args.extend(["--workdir".as_ref(), workdir.as_os_str()]);
        }
        let output = run_reelforge(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("`duration_seconds` in stage `trailer` is 90"), "{command}: {stderr}");
        assert!(stderr.contains("before the spoiler cut-off"), "{command}: {stderr}");
    }
    assert!(!workdir.exists(), "run must not start");

    // A good pipeline validates and says what would run.
    let stdout = expect_success(&run_reelforge([
        "validate".as_ref(),
        repo_root().join("pipelines/trailer.yaml").as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
    ]));
    assert!(stdout.contains("valid for"), "{stdout}");
    assert!(stdout.contains("1. probe"), "{stdout}");
}

#[test]
fn upstream_folders_made_from_another_input_are_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let episode = &sample().episode;
    // Another file: the sample's first 20 s.
    let other = root.path().join("other.mp4");
    let cut = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(episode)
        .args(["-t", "20", "-c", "copy"])
        .arg(&other)
        .status()
        .expect("run ffmpeg");
    assert!(cut.success());
    let other_shots = root.path().join("other-shots");
    detect_shots(&other, &other_shots);

    let refused = |args: &[&std::ffi::OsStr], names: &[&Path]| {
        let output = run_reelforge(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for name in names {
            assert!(
                stderr.contains(&name.display().to_string()),
                "{args:?} should name {}: {stderr}",
                name.display()
            );
        }
        stderr.into_owned()
    };
    let out = root.path().join("out");
    for command in ["trailer", "artwork", "subtitles"] {
        let stderr = refused(
            &[
                command.as_ref(),
                episode.as_os_str(),
                "--shots".as_ref(),
                other_shots.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
            ],
            &[&other_shots, &other],
        );
        assert!(stderr.contains("holds the `shots` output of"), "{command}: {stderr}");
        assert!(!out.exists(), "{command} wrote {}", out.display());
    }

    // Subtitles of another input, with this input's own shots: refused too. The folder is
    // the other input's shots folder relabelled, which is all the check reads.
    let own_shots = root.path().join("own-shots");
    detect_shots(episode, &own_shots);
    let other_subtitles = root.path().join("other-subtitles");
    fs::create_dir(&other_subtitles).expect("mkdir");
    for entry in fs::read_dir(&other_shots).expect("list").flatten() {
        if entry.path().is_file() {
            fs::copy(entry.path(), other_subtitles.join(entry.file_name())).expect("copy");
        }
    }
    let manifest_path = other_subtitles.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).expect("read manifest")).expect("parse manifest");
    manifest["stage"] = "subtitles".into();
    let files: Vec<String> = fs::read_dir(&other_subtitles)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    manifest["outputs"] = manifest["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter(|output| files.iter().any(|file| Some(file.as_str()) == output["path"].as_str()))
        .cloned()
        .collect();
    fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write manifest");
    let stderr = refused(
        &[
            "trailer".as_ref(),
            episode.as_os_str(),
            "--shots".as_ref(),
            own_shots.as_os_str(),
            "--subtitles".as_ref(),
            other_subtitles.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
        &[&other_subtitles, &other],
    );
    assert!(stderr.contains("holds the `subtitles` output of"), "{stderr}");

    // qc: cues of one episode against the cuts of another.
    let srt = other_subtitles.join("cues.srt");
    fs::write(&srt, "1\n00:00:01,000 --> 00:00:02,000\nHello.\n").expect("write srt");
    manifest["outputs"]
        .as_array_mut()
        .expect("outputs")
        .push(serde_json::json!({"path": "cues.srt", "size": 38}));
    fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write manifest");
    refused(
        &[
            "qc".as_ref(),
            "subtitles".as_ref(),
            srt.as_os_str(),
            "--shots".as_ref(),
            own_shots.join("shots.json").as_os_str(),
        ],
        &[&other, episode],
    );
}
