//! Bad and unusual inputs, each made here with ffmpeg (or by hand): every one gets its
//! documented exit code (0 fine, 2 settings, 3 bad media, 4 missing dependency or model) and a
//! message that says what is wrong; none panics, leaves staging behind or touches anything
//! but its output folder (issue #24).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use reelforge_e2e::reelforge;

/// How a case's input is made, in the case's own folder; returns the input path.
type Make = fn(&Path) -> PathBuf;

struct Case {
    name: &'static str,
    make: Make,
    /// The reelforge command and its extra arguments (INPUT and `-o OUT` are added).
    command: &'static [&'static str],
    exit: i32,
    /// A fragment of the error message (empty for a success).
    says: &'static str,
}

fn ffmpeg(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status =
        Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).arg(&out).status().expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make {name}");
    out
}

const PICTURE: &str = "testsrc2=s=320x180:r=25:d=3";
const TONE: &str = "sine=frequency=300:duration=3";

fn good_mp4(dir: &Path) -> PathBuf {
    ffmpeg(
        dir,
        "ok.mp4",
        &["-f", "lavfi", "-i", PICTURE, "-f", "lavfi", "-i", TONE, "-c:v", "libx264", "-c:a", "aac"],
    )
}

fn video(dir: &Path, name: &str, source: &str, codec_args: &[&str]) -> PathBuf {
    let mut args = vec!["-f", "lavfi", "-i", source];
    args.extend_from_slice(codec_args);
    ffmpeg(dir, name, &args)
}

/// An MP3 with its cover art as an attached picture, which is not video.
fn cover_art_mp3(dir: &Path) -> PathBuf {
    ffmpeg(
        dir,
        "cover.mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            TONE,
            "-f",
            "lavfi",
            "-i",
            "color=red:s=64x64:d=1",
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "mjpeg",
            "-disposition:v",
            "attached_pic",
            "-frames:v",
            "1",
        ],
    )
}

fn written(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).expect("write the input");
    path
}

fn first_bytes(dir: &Path, name: &str, share: f64) -> PathBuf {
    let whole = fs::read(good_mp4(dir)).expect("read ok.mp4");
    let keep = ((whole.len() as f64 * share) as usize).max(1);
    written(dir, name, &whole[..keep])
}

const CASES: &[Case] = &[
    Case {
        name: "empty file",
        make: |d| written(d, "empty.mp4", b""),
        command: &["shots"],
        exit: 3,
        says: "empty file",
    },
    Case {
        name: "text named .mp4",
        make: |d| written(d, "text.mp4", b"hello world\n"),
        command: &["shots"],
        exit: 3,
        says: "not a video file",
    },
    Case {
        name: "a folder",
        make: |d| {
            let folder = d.join("folder.mp4");
            fs::create_dir(&folder).expect("mkdir");
            folder
        },
        command: &["shots"],
        exit: 3,
        says: "is a folder",
    },
    Case {
        name: "a device",
        make: |_| PathBuf::from("/dev/zero"),
        command: &["shots"],
        exit: 3,
        says: "not a regular file",
    },
    Case {
        name: "a named pipe",
        make: |d| {
            let fifo = d.join("fifo.mp4");
            assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
            fifo
        },
        command: &["shots"],
        exit: 3,
        says: "not a regular file",
    },
    Case {
        name: "missing file",
        make: |d| d.join("nothing-here.mp4"),
        command: &["shots"],
        exit: 3,
        says: "not found",
    },
    Case {
        name: "mp4 cut in half",
        make: |d| first_bytes(d, "half.mp4", 0.5),
        command: &["shots"],
        exit: 3,
        says: "truncated",
    },
    Case {
        name: "mp4 cut in its header",
        make: |d| first_bytes(d, "head.mp4", 0.02),
        command: &["shots"],
        exit: 3,
        says: "truncated",
    },
    Case {
        name: "mp4 whose index names no codec",
        make: |d| {
            let mut bytes = fs::read(good_mp4(d)).expect("read ok.mp4");
            // The sample description's codec tag, damaged as a bad copy damages it.
            let stsd = bytes.windows(4).position(|w| w == b"stsd").expect("an stsd box");
            let tag = stsd + bytes[stsd..].windows(4).position(|w| w == b"avc1").expect("an avc1 entry");
            bytes[tag..tag + 4].copy_from_slice(b"zzzz");
            written(d, "damaged.mp4", &bytes)
        },
        command: &["shots"],
        exit: 3,
        says: "re-copy or re-export",
    },
    Case {
        name: "audio only (wav)",
        make: |d| ffmpeg(d, "tone.wav", &["-f", "lavfi", "-i", TONE]),
        command: &["shots"],
        exit: 3,
        says: "no video stream",
    },
    Case {
        name: "raw AAC to shots",
        make: |d| ffmpeg(d, "tone.aac", &["-f", "lavfi", "-i", TONE, "-c:a", "aac"]),
        command: &["shots"],
        exit: 3,
        says: "no video stream",
    },
    Case {
        name: "raw AAC probed",
        make: |d| ffmpeg(d, "tone.aac", &["-f", "lavfi", "-i", TONE, "-c:a", "aac"]),
        command: &["probe"],
        exit: 0,
        says: "",
    },
    Case {
        name: "MP3 with cover art to shots",
        make: cover_art_mp3,
        command: &["shots"],
        exit: 3,
        says: "no video stream",
    },
    Case { name: "MP3 with cover art probed", make: cover_art_mp3, command: &["probe"], exit: 0, says: "" },
    Case {
        name: "subtitles only (mkv)",
        make: |d| {
            let srt = written(d, "s.srt", b"1\n00:00:00,000 --> 00:00:01,000\nHi\n");
            ffmpeg(d, "subs.mkv", &["-i", srt.to_str().expect("utf-8")])
        },
        command: &["shots"],
        exit: 3,
        says: "no video stream",
    },
    Case {
        name: "path not UTF-8",
        make: |d| {
            use std::os::unix::ffi::OsStrExt;
            let path = d.join(std::ffi::OsStr::from_bytes(b"bad\xffname.mp4"));
            fs::copy(good_mp4(d), &path).expect("copy");
            path
        },
        command: &["shots"],
        exit: 3,
        says: "not valid UTF-8",
    },
    Case {
        name: "one frame",
        make: |d| video(d, "one.mp4", "testsrc2=s=320x180:r=25:d=0.04", &["-c:v", "libx264"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "16x16 picture",
        make: |d| video(d, "tiny.mp4", "testsrc2=s=16x16:r=25:d=2", &["-c:v", "libx264"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "odd size 18x10",
        make: |d| video(d, "odd.mp4", "testsrc2=s=18x10:r=25:d=2", &["-c:v", "libx264"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "3840x2160",
        make: |d| {
            video(d, "uhd.mp4", "testsrc2=s=3840x2160:r=25:d=1", &["-c:v", "libx264", "-preset", "ultrafast"])
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "variable frame rate",
        make: |d| {
            video(
                d,
                "vfr.mp4",
                PICTURE,
                &["-vf", "setpts='if(lt(N,25),N/25,N/12.5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264"],
            )
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "MPEG-TS starting at 25000 s",
        make: |d| {
            video(d, "offset.ts", PICTURE, &["-c:v", "libx264", "-output_ts_offset", "25000", "-f", "mpegts"])
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        // Keyframes of short shots are found by seeking, which in MPEG-TS can land past the
        // last keyframe before a shot near the end (found on a 9-minute episode).
        name: "MPEG-TS ending on a short shot",
        make: |d| {
            ffmpeg(
                d,
                "short-end.ts",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=s=320x180:r=25:d=20",
                    "-f",
                    "lavfi",
                    "-i",
                    "smptebars=s=320x180:r=25:d=1",
                    "-filter_complex",
                    "[0][1]concat=n=2:v=1:a=0",
                    "-c:v",
                    "libx264",
                    "-f",
                    "mpegts",
                ],
            )
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "Matroska H.264",
        make: |d| video(d, "ok.mkv", PICTURE, &["-c:v", "libx264"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "WebM VP9",
        make: |d| video(d, "ok.webm", PICTURE, &["-c:v", "libvpx-vp9", "-b:v", "200k"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "QuickTime ProRes",
        make: |d| video(d, "ok.mov", PICTURE, &["-c:v", "prores_ks"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "MPEG-2 program stream",
        make: |d| video(d, "ok.mpg", PICTURE, &["-c:v", "mpeg2video"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "AVI MPEG-4 part 2",
        make: |d| video(d, "ok.avi", PICTURE, &["-c:v", "mpeg4", "-f", "avi"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "4:4:4 H.264",
        make: |d| video(d, "yuv444.mp4", PICTURE, &["-c:v", "libx264", "-pix_fmt", "yuv444p"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "10-bit H.264",
        make: |d| video(d, "tenbit.mp4", PICTURE, &["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "grey FFV1",
        make: |d| video(d, "gray.mkv", PICTURE, &["-c:v", "ffv1", "-pix_fmt", "gray"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "interlaced H.264",
        make: |d| {
            video(
                d,
                "interlaced.mp4",
                PICTURE,
                &["-c:v", "libx264", "-flags", "+ildct+ilme", "-x264opts", "tff=1"],
            )
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "animated GIF",
        make: |d| video(d, "anim.gif", "testsrc2=s=64x64:r=10:d=2", &[]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "a still PNG",
        make: |d| video(d, "still.png", "testsrc2=s=64x64:r=5:d=1", &["-frames:v", "1"]),
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "a symlink to a good file",
        make: |d| {
            let link = d.join("link.mp4");
            std::os::unix::fs::symlink(good_mp4(d), &link).expect("symlink");
            link
        },
        command: &["shots"],
        exit: 0,
        says: "",
    },
    Case {
        name: "absurd whisper threads",
        make: good_mp4,
        command: &["subtitles", "--threads", "100000"],
        exit: 2,
        says: "is 100000; valid: 1 to 64",
    },
    Case {
        name: "a text file as the speech model",
        make: good_mp4,
        command: &["subtitles", "--model", "/etc/passwd"],
        exit: 4,
        says: "not a whisper.cpp ggml model",
    },
    Case {
        name: "a trailer of 2 s",
        make: good_mp4,
        command: &["trailer", "--duration", "2"],
        exit: 2,
        says: "is 2; valid: 5 to 600",
    },
];

/// Every entry under `dir` but `skip`, with its size and modification time.
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).expect("list").flatten() {
            let path = entry.path();
            if path == skip {
                continue;
            }
            let metadata = fs::symlink_metadata(&path).expect("metadata");
            if metadata.is_dir() {
                pending.push(path.clone());
            }
            seen.insert(path, (metadata.len(), metadata.modified().expect("mtime")));
        }
    }
    seen
}

#[test]
fn every_case_gets_its_exit_code_and_message_and_touches_nothing_else() {
    assert!(CASES.len() >= 30, "the corpus has {} cases", CASES.len());
    let root = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for (number, case) in CASES.iter().enumerate() {
        let dir = root.path().join(format!("case-{number:02}"));
        fs::create_dir(&dir).expect("case folder");
        let input = (case.make)(&dir);
        let out = dir.join("out");
        let before = snapshot(&dir, &out);
        let mut command = reelforge();
        command.args(["--progress", "none"]).arg(case.command[0]).arg(&input).args(&case.command[1..]);
        if case.command[0] != "probe" {
            command.arg("-o").arg(&out);
        }
        let output = command.output().expect("run reelforge");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        let mut problems = Vec::new();
        if code != Some(case.exit) {
            problems.push(format!("exit {code:?}, expected {}", case.exit));
        }
        if !stderr.contains(case.says) {
            problems.push(format!("message lacks {:?}", case.says));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".to_owned());
        }
        if before != snapshot(&dir, &out) {
            problems.push("files beside the output changed (staging left or input touched)".to_owned());
        }
        if case.exit == 0 && case.command[0] != "probe" && !out.join("manifest.json").is_file() {
            problems.push("no complete output folder".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!("{} ({}): {}\n  stderr: {stderr}", case.name, number, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// The sample with bytes overwritten in the middle of its media data, as a bad copy leaves it.
fn damaged_sample(dir: &Path) -> PathBuf {
    let mut bytes = fs::read(&reelforge_e2e::sample().episode).expect("read the sample");
    let mdat = bytes.windows(4).position(|w| w == b"mdat").expect("an mdat box");
    let span = bytes.len() - mdat;
    for share in [0.3, 0.5, 0.7] {
        let at = mdat + (span as f64 * share) as usize;
        bytes[at..at + 4000].iter_mut().for_each(|b| *b = !*b);
    }
    written(dir, "damaged-sample.mp4", &bytes)
}

#[test]
fn damage_is_counted_reported_and_fails_a_qc_pipeline() {
    let root = tempfile::tempdir().expect("temp dir");
    let input = damaged_sample(root.path());
    let out = root.path().join("shots");
    let output = reelforge()
        .args(["--progress", "log", "shots"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run reelforge");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "a damaged file still gets its shots: {stderr}");
    assert!(stderr.contains("decode errors, the first at"), "a warning says so: {stderr}");
    let document: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("shots.json")).expect("shots.json")).expect("JSON");
    let damage = document["damage"].as_array().expect("a damage list");
    assert!(!damage.is_empty(), "shots.json records the damage");
    assert!(damage.iter().all(|d| d["errors"].as_u64() > Some(0) && d["first_seconds"].as_f64() > Some(0.0)));

    let qc = root.path().join("qc.yaml");
    fs::write(&qc, "version: 1\nname: qc\non_damage: fail\nstages:\n  - shots: {}\n")
        .expect("write the pipeline");
    let output = reelforge()
        .args(["--progress", "none", "run"])
        .arg(&qc)
        .arg("--input")
        .arg(&input)
        .arg("--workdir")
        .arg(root.path().join("work"))
        .output()
        .expect("run reelforge");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("decode errors") && stderr.contains("on_damage"), "{stderr}");
    assert!(!root.path().join("work/shots").exists(), "no shots folder from a damaged input");
}
