//! End-to-end tests of the `artwork` stage: the real binary on the sample (whose fades and
//! cuts are known) and a real clip; output images measured independently with `image`.

use std::path::Path;

use reelforge_e2e::{expect_success, run_reelforge, sample, shared_media};
use serde_json::Value;

/// Runs `reelforge artwork INPUT -o OUT [extra…]` and returns artwork.json.
fn artwork(input: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--progress".as_ref(), "none".as_ref(), "artwork".as_ref(), input.as_os_str()];
    args.extend(["-o".as_ref(), out.as_os_str()]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    expect_success(&run_reelforge(args));
    let text = std::fs::read_to_string(out.join("artwork.json")).expect("artwork.json written");
    serde_json::from_str(&text).expect("artwork.json parses")
}

/// Mean luma and variance of the 4-neighbour Laplacian, measured here rather than trusted
/// from artwork.json, on the image scaled to `width` (at most the source pixels it came from:
/// upscaled crops of a small source are soft at delivery size however sharp the frame).
fn luma_and_sharpness(path: &Path, width: u32) -> (f64, f64) {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let height = image.height() * width / image.width();
    let image = image.resize_exact(width, height, image::imageops::FilterType::Triangle).to_luma8();
    let (w, h) = image.dimensions();
    let at = |x: u32, y: u32| f64::from(image.get_pixel(x, y)[0]);
    let mean = image.pixels().map(|p| f64::from(p[0])).sum::<f64>() / f64::from(w * h);
    let (mut sum, mut sq, mut n) = (0.0, 0.0, 0.0);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = 4.0 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
            sum += l;
            sq += l * l;
            n += 1.0;
        }
    }
    (mean, sq / n - (sum / n) * (sum / n))
}

/// Every pick: images exist at exactly the size asked, are not dark and not blurred.
/// Returns each profile's first pick's frame.
fn check_picks(document: &Value, out: &Path) -> Vec<(String, u64)> {
    let mut firsts = Vec::new();
    for profile in document["profiles"].as_array().expect("profiles") {
        let name = profile["name"].as_str().expect("profile name").to_owned();
        let picks = profile["picks"].as_array().expect("picks");
        assert!(!picks.is_empty(), "profile {name} has no pick");
        firsts.push((name.clone(), picks[0]["frame"].as_u64().expect("frame")));
        for pick in picks {
            assert!(pick["reasons"].as_array().is_some_and(|r| !r.is_empty()), "{pick}");
            for crop in pick["images"].as_array().expect("images") {
                let (w, h) =
                    (crop["width"].as_u64().expect("width"), crop["height"].as_u64().expect("height"));
                for key in ["jpeg", "webp"] {
                    let path = out.join(crop[key].as_str().expect("path"));
                    let (iw, ih) =
                        image::image_dimensions(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert_eq!((u64::from(iw), u64::from(ih)), (w, h), "{}", path.display());
                }
                let source_width =
                    crop["source_rect"]["width"].as_u64().expect("source width").min(320) as u32;
                let (luma, sharpness) =
                    luma_and_sharpness(&out.join(crop["jpeg"].as_str().expect("jpeg")), source_width);
                assert!(
                    luma > 35.0,
                    "{name} pick {} {} is dark: mean luma {luma:.1}",
                    pick["rank"],
                    crop["name"]
                );
                assert!(
                    sharpness > 15.0,
                    "{name} pick {} {} is blurred: {sharpness:.1}",
                    pick["rank"],
                    crop["name"]
                );
            }
        }
    }
    let sizes: Vec<(u64, u64)> = document["profiles"][0]["picks"][0]["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|c| (c["width"].as_u64().unwrap_or(0), c["height"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(sizes, [(1280, 720), (600, 900), (800, 800)]);
    firsts
}

/// The VTT's cues cover the video in order, one per thumbnail, each inside its sheet.
fn check_sprite(document: &Value, out: &Path) {
    let sprite = &document["sprite"];
    let vtt =
        std::fs::read_to_string(out.join(sprite["vtt"].as_str().expect("vtt"))).expect("thumbnails.vtt");
    assert!(vtt.starts_with("WEBVTT\n"));
    let (tw, th) =
        (sprite["thumbnail_width"].as_u64().expect("w"), sprite["thumbnail_height"].as_u64().expect("h"));
    let seconds = |t: &str| {
        let parts: Vec<f64> = t.split(':').map(|p| p.parse().expect("VTT time")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    let blocks: Vec<&str> = vtt.split("\n\n").skip(1).filter(|b| !b.trim().is_empty()).collect();
    assert_eq!(blocks.len() as u64, sprite["thumbnails"].as_u64().expect("count"));
    let mut previous_end = 0.0;
    for block in blocks {
        let mut lines = block.lines();
        let (start, end) = lines.next().and_then(|l| l.split_once(" --> ")).expect("cue timing");
        let (start, end) = (seconds(start), seconds(end));
        assert!(
            (start - previous_end).abs() < 1e-6 && end > start,
            "cue {start}..{end} after {previous_end}"
        );
        previous_end = end;
        let (sheet, xywh) = lines.next().and_then(|l| l.split_once("#xywh=")).expect("cue target");
        let v: Vec<u64> = xywh.split(',').map(|n| n.parse().expect("xywh number")).collect();
        assert_eq!((v[2], v[3]), (tw, th));
        let (sw, sh) = image::image_dimensions(out.join(sheet)).expect("sprite sheet");
        assert!(v[0] + v[2] <= u64::from(sw) && v[1] + v[3] <= u64::from(sh), "{xywh} outside {sw}x{sh}");
    }
    let duration = document["duration_seconds"].as_f64().expect("duration");
    assert!((previous_end - duration).abs() < 0.1, "cues end at {previous_end}, video at {duration}");
}

#[test]
fn sample_picks_avoid_fades_and_cuts_and_differ_by_profile() {
    let sample = sample();
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("artwork");
    let document = artwork(&sample.episode, &dir, &[]);
    let firsts = check_picks(&document, &dir);
    // No pick inside a truth transition (fades through black, dissolves) or within 2 frames of a cut.
    let transitions = sample.truth["transitions"].as_array().expect("truth transitions");
    for profile in document["profiles"].as_array().expect("profiles") {
        for pick in profile["picks"].as_array().expect("picks") {
            let frame = pick["frame"].as_u64().expect("frame");
            for t in transitions {
                let (first, last) =
                    (t["first_frame"].as_u64().expect("first"), t["last_frame"].as_u64().expect("last"));
                assert!(
                    frame + 2 < first || frame > last + 2,
                    "{} pick at frame {frame} is in the {} at {first}-{last}",
                    profile["name"],
                    t["kind"]
                );
            }
        }
    }
    let rejected = &document["candidates"]["rejected"];
    assert!(rejected["in_transition"].as_u64().unwrap_or(0) > 0, "the gate saw the fades: {rejected}");
    assert_ne!(firsts[0].1, firsts[1].1, "action and drama weigh features differently: {firsts:?}");
    check_sprite(&document, &dir);
}

#[test]
fn real_clip_gets_clean_picks_at_exact_sizes() {
    let Some(clip) = shared_media("video/bbb_opening_320x180.mp4") else { return };
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("artwork");
    let document = artwork(&clip, &dir, &[]);
    let firsts = check_picks(&document, &dir);
    let distinct: std::collections::BTreeSet<u64> = firsts.iter().map(|f| f.1).collect();
    assert!(distinct.len() >= 2, "profiles' first picks: {firsts:?}");
    check_sprite(&document, &dir);
}

#[test]
fn learned_preferences_change_the_pick() {
    let sample = sample();
    let out = tempfile::tempdir().expect("temp dir");
    let first_dir = out.path().join("round1");
    let document = artwork(&sample.episode, &first_dir, &[]);
    // The action audience turns out to click the drama profile's favourite: log 2,000
    // impressions per shown image, 10 % clicks on that one and 1 % on the others.
    let favourite = document["profiles"][1]["picks"][0]["image_id"].as_str().expect("id").to_owned();
    let mut log = String::from("profile,image_id,impressions,clicks\n");
    let mut ids: Vec<String> = document["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .flat_map(|p| p["picks"].as_array().cloned().unwrap_or_default())
        .filter_map(|pick| pick["image_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    for id in &ids {
        log.push_str(&format!("action,{id},2000,{}\n", if *id == favourite { 200 } else { 20 }));
    }
    let log_path = out.path().join("impressions.csv");
    std::fs::write(&log_path, log).expect("log written");
    let state = out.path().join("state.json");
    let artwork_json = first_dir.join("artwork.json");
    let learned = expect_success(&run_reelforge([
        "artwork".as_ref(),
        "learn".as_ref(),
        "--impressions".as_ref(),
        log_path.as_os_str(),
        "--state".as_ref(),
        state.as_os_str(),
        "--artwork".as_ref(),
        artwork_json.as_os_str(),
    ]));
    assert!(learned.contains("action ("), "{learned}");

    let second_dir = out.path().join("round2");
    let state_arg = state.to_string_lossy().into_owned();
    let second = artwork(&sample.episode, &second_dir, &["--bandit-state", &state_arg]);
    let action = &second["profiles"][0];
    assert_eq!(action["learned"], true);
    assert_eq!(action["picks"][0]["image_id"].as_str(), Some(favourite.as_str()), "{action}");
    assert_eq!(action["picks"][0]["chosen_by"], "learned");
    let explored =
        action["picks"].as_array().expect("picks").iter().filter(|p| p["chosen_by"] == "exploration").count();
    assert_eq!(explored, 1, "exploration_share 0.34 of 3 picks");

    // A log naming an unknown image is a usage error (exit 2) naming the line.
    std::fs::write(&log_path, "profile,image_id,impressions,clicks\naction,nope,1,0\n").expect("log written");
    let output = run_reelforge([
        "artwork".as_ref(),
        "learn".as_ref(),
        "--impressions".as_ref(),
        log_path.as_os_str(),
        "--state".as_ref(),
        state.as_os_str(),
        "--artwork".as_ref(),
        artwork_json.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"));
}
