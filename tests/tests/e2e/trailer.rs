//! End-to-end tests of `reelforge trailer`: duration (ffprobe), frames taken from the source at
//! the ranges the OTIO states (PSNR with ffmpeg), no clip across a source cut, integrated
//! loudness (ffmpeg's ebur128 filter), the title card's text drawn into the video, and the OTIO
//! and EDL (with its audio events and the card) read by OpenTimelineIO.

use std::path::Path;
use std::process::Command;

use reelforge_e2e::{expect_success, ffprobe, python, run_reelforge, sample, shared_media};
use serde_json::Value;

/// PSNR (dB) above which two decoded pictures are the same source frame (two lossy encodes).
const SAME_FRAME_PSNR: f64 = 30.0;

/// A clip as OpenTimelineIO reads trailer.otio: source start, frames, record start, and the
/// dissolve frames into the next clip (its handle).
#[derive(Debug)]
struct OtioClip {
    source_start: u64,
    frames: u64,
    record_start: u64,
    handle_after: u64,
}

/// Runs shots then the trailer (with those shots, so the test checks against them), with an
/// end title card when `title_card` is given.
fn cut_trailer(input: &Path, out: &Path, seconds: u32, title_card: Option<&str>) -> (Value, Value) {
    let shots_dir = out.join("shots");
    let trailer_dir = out.join("trailer");
    let pipeline = out.join("trailer.yaml");
    let card = title_card.map_or_else(String::new, |text| format!("title_card: {}", Value::from(text)));
    let yaml = format!("version: 1\nname: trailer\nstages:\n  - shots: {{}}\n  - trailer: {{{card}}}\n");
    std::fs::write(&pipeline, yaml).expect("pipeline written");
    let shots = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "shots".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        shots_dir.as_os_str(),
    ]);
    expect_success(&shots);
    let trailer = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "trailer".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        trailer_dir.as_os_str(),
        "--duration".as_ref(),
        seconds.to_string().as_ref(),
        "--shots".as_ref(),
        shots_dir.as_os_str(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]);
    expect_success(&trailer);
    let read = |path: std::path::PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&path).expect("written")).expect("JSON")
    };
    (read(shots_dir.join("shots.json")), read(trailer_dir.join("trailer.json")))
}

/// trailer.otio and trailer.edl as OpenTimelineIO and its CMX3600 adapter read them: the
/// source clips of the OTIO video track, and a JSON summary of the rest.
fn read_edit(dir: &Path, fps: f64) -> (Vec<OtioClip>, Value) {
    const SCRIPT: &str = r#"
import json, sys
import opentimelineio as otio
folder, rate = sys.argv[1], float(sys.argv[2])
frames = lambda t: round(t.to_frames(rate))
generated = lambda c: isinstance(c.media_reference, otio.schema.GeneratorReference)
def track_summary(track):
    return {"clips": [[frames(c.source_range.start_time), frames(c.source_range.duration)]
                      for c in track.find_clips() if not generated(c)],
            "generated": [[c.name, c.media_reference.generator_kind, frames(c.duration()),
                           frames(c.range_in_parent().start_time)] for c in track.find_clips() if generated(c)],
            "transitions": len([i for i in track if isinstance(i, otio.schema.Transition)]),
            "duration": frames(track.duration())}
timeline = otio.adapters.read_from_file(folder + "/trailer.otio")
tracks = {t.kind: t for t in timeline.tracks}
video = tracks["Video"]
clips = []
for index, item in enumerate(video):
    if isinstance(item, otio.schema.Clip) and not generated(item):
        nxt = video[index + 1] if index + 1 < len(video) else None
        handle = frames(nxt.out_offset) if isinstance(nxt, otio.schema.Transition) else 0
        clips.append([frames(item.source_range.start_time), frames(item.source_range.duration),
                      frames(video.range_of_child_at_index(index).start_time), handle])
edl = otio.adapters.read_from_file(folder + "/trailer.edl", rate=rate)
print(json.dumps({
    "clips": clips,
    "otio": {t.kind: track_summary(t) for t in timeline.tracks},
    "edl": {t.name: dict(track_summary(t), kind=t.kind) for t in edl.tracks},
    "duration": frames(timeline.duration()),
}))
"#;
    let output = Command::new(python())
        .args(["-c", SCRIPT])
        .arg(dir)
        .arg(fps.to_string())
        .output()
        .expect("python runs");
    assert!(output.status.success(), "OpenTimelineIO failed: {}", String::from_utf8_lossy(&output.stderr));
    let read: Value = serde_json::from_slice(&output.stdout).expect("script prints JSON");
    let clips = read["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|c| OtioClip {
            source_start: c[0].as_u64().expect("start"),
            frames: c[1].as_u64().expect("frames"),
            record_start: c[2].as_u64().expect("record"),
            handle_after: c[3].as_u64().expect("handle"),
        })
        .collect();
    (clips, read)
}

/// Frame `frame` of `video` as 8-bit luma (exact seek, as `picture` does): width, height, samples.
fn luma(video: &Path, frame: u64, fps: f64) -> (usize, usize, Vec<u8>) {
    let time = ((frame as f64 - 0.25) / fps).max(0.0);
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{time:.6}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success(), "decoding frame {frame}: {}", String::from_utf8_lossy(&output.stderr));
    let stream = &ffprobe(video)["streams"][0];
    let (width, height) =
        (stream["width"].as_u64().expect("width"), stream["height"].as_u64().expect("height"));
    assert_eq!(output.stdout.len() as u64, width * height, "one grey picture");
    (width as usize, height as usize, output.stdout)
}

/// Checks that frame `frame` of `video` is a title card: mostly dark, with a few percent of
/// bright pixels forming many separate strokes along rows (glyphs), centred in the picture.
fn assert_text_drawn(video: &Path, frame: u64, fps: f64) {
    let (width, height, pixels) = luma(video, frame, fps);
    let bright = |v: u8| v > 128;
    let share = pixels.iter().filter(|&&v| bright(v)).count() as f64 / pixels.len() as f64;
    assert!((0.005..0.3).contains(&share), "frame {frame}: {:.2} % bright pixels", share * 100.0);
    let rows: Vec<&[u8]> = pixels.chunks(width).collect();
    let strokes = rows
        .iter()
        .map(|row| row.windows(2).filter(|p| !bright(p[0]) && bright(p[1])).count())
        .max()
        .unwrap_or(0);
    assert!(strokes >= 8, "frame {frame}: at most {strokes} strokes in a row, not text");
    let inked: Vec<usize> = (0..height).filter(|&y| rows[y].iter().any(|&v| bright(v))).collect();
    let middle = (inked[0] + inked[inked.len() - 1]) as f64 / 2.0;
    assert!((middle / height as f64 - 0.5).abs() < 0.1, "frame {frame}: text centred around row {middle}");
    assert!(pixels[0] < 40 && pixels[pixels.len() - 1] < 40, "frame {frame}: corners black");
}

/// One picture of `video` at frame `frame` (exact seek) as a PNG in `dir`.
fn picture(video: &Path, frame: u64, fps: f64, png: &Path) {
    // A quarter frame early: the first frame at or after that time is `frame` itself.
    let time = ((frame as f64 - 0.25) / fps).max(0.0);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", &format!("{time:.6}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1"])
        .arg(png)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "extracting frame {frame} of {}", video.display());
}

/// PSNR of two pictures of the same size with ffmpeg's psnr filter.
pub(crate) fn psnr(a: &Path, b: &Path) -> f64 {
    let output = Command::new("ffmpeg")
        .args(["-v", "info", "-nostats", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args(["-lavfi", "psnr", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&output.stderr);
    let value = log
        .split("average:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no PSNR in {log}"));
    if value == "inf" { f64::INFINITY } else { value.parse().expect("PSNR number") }
}

/// Integrated loudness (LUFS) and true peak (dBTP) with ffmpeg's ebur128 filter.
fn loudness_and_true_peak(path: &Path) -> (f64, f64) {
    let output = Command::new("ffmpeg")
        .args(["-v", "info", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&output.stderr);
    let summary = log.rsplit("Integrated loudness:").next().expect("summary");
    let number = |label: &str| {
        summary
            .split(label)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in {log}"))
    };
    (number("I:"), number("Peak:"))
}

/// Every check of the issue on one trailer; returns trailer.json.
fn check_trailer(input: &Path, seconds: u32, title_card: Option<&str>) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shots, report) = cut_trailer(input, dir.path(), seconds, title_card);
    let trailer_dir = dir.path().join("trailer");
    let mp4 = trailer_dir.join("trailer.mp4");
    let fps =
        shots["frame_rate"]["num"].as_f64().expect("num") / shots["frame_rate"]["den"].as_f64().expect("den");
    let target = f64::from(seconds);

    // Edit grammar: no jump cut (two clips in a row less than 2 s apart in one shot), no clip
    // shorter than the 1 s minimum.
    let clips = report["clips"].as_array().expect("clips");
    let frame = |clip: &Value, key: &str| clip[key].as_u64().expect("frame");
    for pair in clips.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let gap = frame(b, "source_start_frame")
            .saturating_sub(frame(a, "source_end_frame_exclusive"))
            .max(frame(a, "source_start_frame").saturating_sub(frame(b, "source_end_frame_exclusive")));
        let jump = a["shot_index"] == b["shot_index"] && (gap as f64) < 2.0 * fps;
        assert!(
            !jump,
            "a jump cut inside shot {}: clips {} and {}",
            a["shot_index"], a["number"], b["number"]
        );
    }
    let shortest = clips.iter().filter_map(|c| c["frames"].as_f64()).fold(f64::MAX, f64::min) / fps;
    assert!(shortest >= 1.0 - 1e-9, "a clip of {shortest:.2} s");

    // Duration within one frame of the target, as ffprobe reads it.
    let probe = ffprobe(&mp4);
    let video = probe["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video");
    assert_eq!(video["codec_name"], "h264");
    let video_seconds: f64 = video["duration"].as_str().and_then(|d| d.parse().ok()).expect("video duration");
    let container_seconds: f64 =
        probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).expect("duration");
    assert!((video_seconds - target).abs() <= 1.0 / fps, "video lasts {video_seconds} s, wanted {target}");
    assert!(
        (container_seconds - target).abs() <= 1.0 / fps,
        "file lasts {container_seconds} s, wanted {target}"
    );
    let audio = probe["streams"].as_array().expect("streams").iter().find(|s| s["codec_type"] == "audio");
    assert_eq!(audio.map(|a| a["codec_name"].clone()), Some(Value::from("aac")));

    // The edit opens with OpenTimelineIO and the CMX3600 adapter, and agrees with itself.
    let (clips, edit) = read_edit(&trailer_dir, fps);
    let total_frames = (target * fps).round() as u64;
    assert_eq!(edit["duration"].as_u64(), Some(total_frames));
    assert_eq!(clips.len(), report["clips"].as_array().expect("clips").len());
    // (source start, frames) of a track's source clips as the script summarised them.
    let ranges = |track: &Value| -> Vec<(u64, u64)> {
        let clips = track["clips"].as_array().unwrap_or_else(|| panic!("no clips in {track}"));
        clips.iter().map(|c| (c[0].as_u64().expect("start"), c[1].as_u64().expect("frames"))).collect()
    };
    let otio_clips: Vec<(u64, u64)> = clips.iter().map(|c| (c.source_start, c.frames)).collect();
    // Sound: the same clips, the last one running on under the title card.
    let run_on = report["title_card"]["audio_run_on_frames"].as_u64().unwrap_or(0);
    let mut sound = otio_clips.clone();
    if let Some(last) = sound.last_mut() {
        last.1 += run_on;
    }
    let otio_audio = &edit["otio"]["Audio"];
    assert_eq!(ranges(otio_audio), sound, "{edit}");
    assert_eq!(otio_audio["duration"].as_u64(), Some(total_frames), "{edit}");
    let edl_video = edit["edl"].as_object().expect("EDL tracks").values().find(|t| t["kind"] == "Video");
    let edl_video = edl_video.unwrap_or_else(|| panic!("no EDL video track: {edit}"));
    assert_eq!(ranges(edl_video), otio_clips, "{edit}");
    assert_eq!(edl_video["transitions"], edit["otio"]["Video"]["transitions"]);
    assert_eq!(edl_video["duration"].as_u64(), Some(total_frames));
    // The EDL's audio events: the stereo pair (AA) read as tracks A1 and A2, each with the
    // sound's clips and the video's dissolves.
    for name in ["A1", "A2"] {
        let track = &edit["edl"][name];
        assert_eq!(track["kind"], "Audio", "{edit}");
        assert_eq!(ranges(track), sound, "{name}: {edit}");
        assert_eq!(track["transitions"], edl_video["transitions"]);
    }

    // The title card: a generated clip closing the OTIO and a black EDL event named after its
    // text, and in the video its text, drawn, on every frame it lasts.
    match title_card {
        Some(text) => {
            let card = &report["title_card"];
            let (start, frames) = (
                card["record_start_frame"].as_u64().expect("start"),
                card["frames"].as_u64().expect("frames"),
            );
            assert_eq!(start + frames, total_frames);
            assert_eq!(
                edit["otio"]["Video"]["generated"],
                serde_json::json!([[text, "TitleCard", frames, start]])
            );
            let one_line = text.replace('\n', " ");
            assert_eq!(edl_video["generated"], serde_json::json!([[one_line, "black", frames, start]]));
            for frame in [start, start + frames / 2, total_frames - 1] {
                assert_text_drawn(&mp4, frame, fps);
            }
        }
        None => assert_eq!(edl_video["generated"], serde_json::json!([])),
    }

    // No clip (nor the handle a dissolve shows after it) crosses a source cut.
    let shot_ranges: Vec<(u64, u64)> = shots["shots"]
        .as_array()
        .expect("shots")
        .iter()
        .map(|s| (s["start_frame"].as_u64().expect("start"), s["end_frame"].as_u64().expect("end")))
        .collect();
    for clip in &clips {
        let last = clip.source_start + clip.frames + clip.handle_after - 1;
        assert!(
            shot_ranges.iter().any(|&(first, end)| first <= clip.source_start && last <= end),
            "{clip:?} crosses a cut of {shot_ranges:?}"
        );
    }

    // Frames of the trailer are the source's at the range the OTIO states: the middle of the
    // first, a middle and the last clip (away from dissolves), checked by PSNR.
    let picks = [0, clips.len() / 2, clips.len() - 1];
    for (n, &pick) in picks.iter().enumerate() {
        let clip = &clips[pick];
        let offset = clip.frames / 2;
        let (ours, theirs) = (dir.path().join(format!("t{n}.png")), dir.path().join(format!("s{n}.png")));
        picture(&mp4, clip.record_start + offset, fps, &ours);
        picture(input, clip.source_start + offset, fps, &theirs);
        let same = psnr(&ours, &theirs);
        assert!(same >= SAME_FRAME_PSNR, "clip {pick} {clip:?}: PSNR {same:.1} dB");
    }

    // Integrated loudness within 1 LU of the target and true peak at most -1 dBTP, measured
    // independently (as a streaming service's ingest does).
    let (lufs, true_peak) = loudness_and_true_peak(&mp4);
    assert!((lufs - -16.0).abs() <= 1.0, "integrated loudness {lufs} LUFS");
    assert!(true_peak <= -1.0, "true peak {true_peak} dBTP");
    assert_eq!(report["loudness"]["target_lufs"].as_f64(), Some(-16.0));
    report
}

#[test]
fn sample_trailer_is_exact_from_the_source_and_loudness_normalised() {
    let sample = sample();
    let report = check_trailer(&sample.episode, 30, Some("THE SAMPLE\nComing: soon"));
    // Clips sit where their shot peaks, except the opening's (calm and centred).
    for clip in report["clips"].as_array().expect("clips") {
        let kind = clip["placement"]["kind"].as_str().expect("placement");
        assert_eq!(kind == "centred", clip["section"] == "opening", "{clip}");
        if kind == "peak" {
            assert!(clip["reason"].as_str().expect("reason").contains("placed on the shot's peak"));
        }
    }
    // Against the generated ground truth too: no clip overlaps a fade or dissolve, and none
    // spans a cut.
    for transition in sample.truth["transitions"].as_array().expect("transitions") {
        let first = transition["first_frame"].as_u64().expect("first");
        let last = transition["last_frame"].as_u64().expect("last");
        let switch = transition["switch_frame"].as_u64().expect("switch");
        for clip in report["clips"].as_array().expect("clips") {
            let start = clip["source_start_frame"].as_u64().expect("start");
            let end = clip["source_end_frame_exclusive"].as_u64().expect("end")
                + clip["handle_after_frames"].as_u64().expect("handle");
            if transition["kind"] == "cut" {
                assert!(!(start < switch && switch < end), "{clip} spans the cut at {switch}");
            } else {
                assert!(end <= first || start > last, "{clip} overlaps {transition}");
            }
        }
    }
}

#[test]
fn big_buck_bunny_trailer_is_exact_from_the_source_and_loudness_normalised() {
    let Some(clip) = shared_media("video/bbb_opening_320x180.mp4") else { return };
    // The clip is 36 s; 20 s is what fits before the spoiler cut-off.
    check_trailer(&clip, 20, None);
}

#[test]
fn a_trailer_longer_than_the_footage_is_a_config_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "trailer".as_ref(),
        sample().episode.as_os_str(),
        "-o".as_ref(),
        dir.path().join("out").as_os_str(),
        "--duration".as_ref(),
        "90".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not enough usable footage for a 90.0 s trailer"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is left behind");
}

#[test]
fn a_video_only_input_gets_a_trailer_with_a_silent_track() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("picture-only.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&sample().episode)
        .args(["-an", "-c:v", "copy"])
        .arg(&clip)
        .status()
        .expect("run ffmpeg");
    assert!(made.success());
    let out = dir.path().join("out");
    let output = run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "trailer".as_ref(),
        clip.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--duration".as_ref(),
        "15".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no audio stream"), "a warning says why it is silent: {stderr}");
    let probe = reelforge_e2e::ffprobe(&out.join("trailer.mp4"));
    let streams = probe["streams"].as_array().expect("streams");
    assert!(streams.iter().any(|s| s["codec_type"] == "audio"), "players get a (silent) audio track");
    let seconds: f64 = probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).expect("duration");
    assert!((seconds - 15.0).abs() < 0.1, "{seconds}");
}
