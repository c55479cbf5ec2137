//! What the shot detector must find, and what it must not mistake for a boundary.

mod common;

use common::*;
use reelforge_core::{PixelLayout, Timestamp, VideoFrame};
use reelforge_shots::{ShotSettings, TransitionKind, evaluate};

#[test]
fn hard_cut_is_found_on_the_first_frame_of_the_new_shot() {
    let footage = Footage::new().shot(&Scene::new(1), 0, 60).shot(&Scene::new(2), 0, 60);
    let list = detect_default(&footage);
    assert_eq!(boundary_frames(&list), [60]);
    assert_eq!(list.boundaries[0].kind, TransitionKind::Cut);
    assert!(list.boundaries[0].confidence > 0.5);
    assert_eq!(list.shots.len(), 2);
    assert_eq!((list.shots[0].start_frame, list.shots[0].end_frame), (0, 59));
    assert_eq!(list.shots[1].transition, Some(TransitionKind::Cut));
    assert_eq!(list.total_frames, 120);
}

#[test]
fn fade_through_black_is_found_within_three_frames_and_classified_as_a_fade() {
    // The new shot starts at frame 60 (its fade-in's first, black, frame).
    let (a, b) = (Scene::new(3), Scene::new(4));
    let footage =
        Footage::new().shot(&a, 0, 48).fade_out(&a, 48, BLACK, 12).fade_in(&b, 0, BLACK, 12).shot(&b, 12, 50);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    let fade = &list.boundaries[0];
    assert_eq!(fade.kind, TransitionKind::FadeThroughBlack);
    assert!(fade.frame.abs_diff(60) <= 3, "boundary at {}", fade.frame);
    assert!(fade.first_frame.abs_diff(48) <= 2 && fade.last_frame.abs_diff(71) <= 2, "{fade:?}");
}

#[test]
fn fade_through_white_is_classified_as_white() {
    let (a, b) = (Scene::new(5), Scene::new(6));
    let footage =
        Footage::new().shot(&a, 0, 40).fade_out(&a, 40, WHITE, 8).fade_in(&b, 0, WHITE, 8).shot(&b, 8, 40);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    assert_eq!(list.boundaries[0].kind, TransitionKind::FadeThroughWhite);
    assert!(list.boundaries[0].frame.abs_diff(48) <= 3);
}

#[test]
fn one_second_dissolve_is_found_and_classified_as_a_dissolve() {
    // 25 mixed frames (50..75); the new picture dominates from frame 62.
    let (a, b) = (Scene::new(7), Scene::new(8));
    let footage = Footage::new().shot(&a, 0, 50).cross(&a, 50, &b, 0, 25).shot(&b, 25, 60);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    let dissolve = &list.boundaries[0];
    assert_eq!(dissolve.kind, TransitionKind::Dissolve);
    assert!(dissolve.frame.abs_diff(62) <= 2, "boundary at {}", dissolve.frame);
    assert!(dissolve.first_frame >= 49 && dissolve.first_frame <= 54, "{dissolve:?}");
    assert!(dissolve.last_frame >= 70 && dissolve.last_frame <= 75, "{dissolve:?}");
}

#[test]
fn dissolve_from_a_flat_grey_card_is_found_at_its_middle() {
    // A flat light-grey card (neither black nor white, so no fade) dissolves into a picture over
    // 25 frames (50..75); the picture dominates from frame 62. Windows starting on the card
    // used to be refused as a fade's (so the dissolve was missed, or found late from a window
    // starting part-way in).
    const CARD: f32 = 200.0;
    let (card, scene) = (flat(CARD), Scene::new(31));
    let mut footage = Footage::new().hold(CARD, 50);
    for k in 0..25 {
        let alpha = 1.0 - (k + 1) as f32 / 26.0;
        footage = footage.push(blend(&card, &scene.picture(k), alpha));
    }
    let list = detect_default(&footage.shot(&scene, 25, 60));
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    let dissolve = &list.boundaries[0];
    assert_eq!(dissolve.kind, TransitionKind::Dissolve);
    assert!(dissolve.frame.abs_diff(62) <= 1, "boundary at {}", dissolve.frame);
    assert!(dissolve.first_frame <= 54, "{dissolve:?}");
}

#[test]
fn short_dissolve_is_still_a_dissolve() {
    let (a, b) = (Scene::new(9), Scene::new(10));
    let footage = Footage::new().shot(&a, 0, 40).cross(&a, 40, &b, 0, 8).shot(&b, 8, 40);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    assert_eq!(list.boundaries[0].kind, TransitionKind::Dissolve);
    assert!(list.boundaries[0].frame.abs_diff(44) <= 2);
}

#[test]
fn flash_is_not_a_cut() {
    for flash_frames in 1..=3 {
        let scene = Scene::new(11);
        let mut footage = Footage::new().shot(&scene, 0, 50);
        for t in 50..50 + flash_frames {
            footage = footage.push(blend(&scene.picture(t), &flat(WHITE), 0.1));
        }
        let footage = footage.shot(&scene, 50 + flash_frames, 50);
        let list = detect_default(&footage);
        assert!(list.boundaries.is_empty(), "{flash_frames}-frame flash gave {:?}", list.boundaries);
    }
}

#[test]
fn fast_pan_is_not_a_cut() {
    for share_of_width in [0.10, 0.15, 0.20] {
        let scene = Scene::new(12).panning(share_of_width * WIDTH as f32, 2.0);
        let list = detect_default(&Footage::new().shot(&scene, 0, 80));
        assert!(list.boundaries.is_empty(), "pan of {share_of_width} gave {:?}", list.boundaries);
    }
}

#[test]
fn title_fading_in_over_a_still_scene_is_not_a_boundary() {
    let picture = Scene::new(13).still().picture(0);
    let mut footage = Footage::new();
    for k in 0..100 {
        let alpha = ((k as f32 - 30.0) / 20.0).clamp(0.0, 1.0);
        footage = footage.push(with_title(&picture, alpha));
    }
    let list = detect_default(&footage);
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
}

#[test]
fn fade_in_from_black_at_the_start_is_not_a_cut() {
    let scene = Scene::new(14);
    let footage =
        Footage::new().push(flat(BLACK)).push(flat(BLACK)).fade_in(&scene, 0, BLACK, 15).shot(&scene, 15, 60);
    let list = detect_default(&footage);
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
    assert_eq!(list.shots.len(), 1);
    assert_eq!(list.shots[0].transition, Some(TransitionKind::FadeIn));
}

#[test]
fn cut_to_black_then_fade_in_starts_the_new_shot_at_the_black() {
    let (a, b) = (Scene::new(15), Scene::new(16));
    let footage = Footage::new().shot(&a, 0, 40).fade_in(&b, 0, BLACK, 12).shot(&b, 12, 40);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    assert_eq!(list.boundaries[0].kind, TransitionKind::FadeIn);
    assert!(list.boundaries[0].frame.abs_diff(40) <= 1);
}

#[test]
fn min_shot_frames_suppresses_cuts_closer_than_it() {
    let footage =
        Footage::new().shot(&Scene::new(17), 0, 40).shot(&Scene::new(18), 0, 6).shot(&Scene::new(19), 0, 60);
    let frames = footage.gray_frames();
    let strict = detect(&frames, ShotSettings { min_shot_frames: 12, ..ShotSettings::default() });
    assert_eq!(strict.boundaries.len(), 1, "{:?}", strict.boundaries);
    assert!([40, 46].contains(&strict.boundaries[0].frame));
    let lenient = detect(&frames, ShotSettings { min_shot_frames: 4, ..ShotSettings::default() });
    assert_eq!(boundary_frames(&lenient), [40, 46]);
}

#[test]
fn colour_cut_between_shots_of_identical_brightness_is_found() {
    // Same luma texture, different tint: only the colour planes change at frame 40.
    let picture = Scene::new(20).still().picture(0);
    let frames: Vec<VideoFrame> = (0..90u64)
        .map(|i| {
            let tint: [f32; 3] = if i < 40 { [40.0, -20.0, -20.0] } else { [-20.0, -20.0, 40.0] };
            let luma = gray_frame(i, i as i64 * PTS_PER_FRAME, &picture);
            let data = luma
                .data
                .iter()
                .flat_map(|&y| {
                    tint.map(|t| (f32::from(y) + t * 77.0 / 255.0 * 3.0 / 1.5).clamp(0.0, 255.0) as u8)
                })
                .collect();
            VideoFrame { layout: PixelLayout::Rgb24, data, ..luma }
        })
        .collect();
    let list = detect(&frames, ShotSettings::default());
    assert_eq!(boundary_frames(&list), [40]);
}

#[test]
fn shot_times_come_from_timestamps_not_frame_counts() {
    // Variable frame rate: durations alternate between 1/24 s and 1/60 s in a 1/90000 base.
    let (a, b) = (Scene::new(21), Scene::new(22));
    let footage = Footage::new().shot(&a, 0, 30).shot(&b, 0, 30);
    let mut pts = 0i64;
    let frames: Vec<VideoFrame> = footage
        .gray_frames()
        .into_iter()
        .map(|mut frame| {
            frame.time = Timestamp { pts, time_base: reelforge_core::Rational::new(1, 90_000) };
            pts += if frame.index % 2 == 0 { 3750 } else { 1500 };
            frame
        })
        .collect();
    let list = detect(&frames, ShotSettings::default());
    assert_eq!(boundary_frames(&list), [30]);
    // Frame 30 comes after 15 long and 15 short frames: 15 × (3750 + 1500) / 90000 s.
    let cut_time = 15.0 * 5250.0 / 90_000.0;
    assert_eq!(list.boundaries[0].time_seconds, cut_time);
    assert_eq!(list.shots[1].start_seconds, cut_time);
    assert_eq!(list.shots[0].end_seconds, cut_time);
    // The last frame (index 59) started at pts 30·5250 − 1500 and lasts as long as the one before.
    let last_start = (30.0 * 5250.0 - 1500.0) / 90_000.0;
    assert!((list.shots[1].end_seconds - (last_start + 3750.0 / 90_000.0)).abs() < 1e-9);
}

#[test]
fn an_edit_with_every_kind_of_transition_scores_perfectly() {
    let s: Vec<Scene> = (30..36).map(Scene::new).collect();
    let footage = Footage::new()
        .shot(&s[0], 0, 40) // flash inside the first shot at 20
        .shot(&s[1], 0, 40) // cut at 40
        .fade_out(&s[1], 40, BLACK, 10)
        .fade_in(&s[2], 0, BLACK, 10) // fade through black, new shot at 90
        .shot(&s[2], 10, 40)
        .cross(&s[2], 50, &s[3], 0, 20) // dissolve 140..160, new picture dominant from 150
        .shot(&s[3], 20, 40)
        .shot(&s[4].clone().panning(30.0, 0.0), 0, 50) // cut at 200, fast pan after it
        .shot(&s[5], 0, 40); // cut at 250
    let mut frames = footage.gray_frames();
    frames[20] = gray_frame(20, 20 * PTS_PER_FRAME, &flat(WHITE));
    let list = detect(&frames, ShotSettings::default());
    let detected = boundary_frames(&list);
    let result = evaluate(&[40, 90, 150, 200, 250], &detected, 3);
    assert_eq!(result.f1, 1.0, "detected {:?}", list.boundaries);
    let kinds: Vec<_> = list.boundaries.iter().map(|b| b.kind).collect();
    use TransitionKind::*;
    assert_eq!(kinds, [Cut, FadeThroughBlack, Dissolve, Cut, Cut]);
}

#[test]
fn cuts_between_moving_shots_land_exactly_under_blocky_noise() {
    let mut footage = Footage::new();
    let mut truth = Vec::new();
    for k in 0..12u64 {
        if k > 0 {
            truth.push(footage.len());
        }
        let scene = Scene::new(100 + k).panning((k % 4) as f32 * 3.0, 1.0);
        footage = footage.shot(&scene, 0, 15 + (k * 7) % 20);
    }
    let mut frames = footage.gray_frames();
    add_block_noise(&mut frames, 4.0);
    let list = detect(&frames, ShotSettings::default());
    let result = evaluate(&truth, &boundary_frames(&list), 0);
    assert_eq!(result.f1, 1.0, "truth {truth:?}, detected {:?}", boundary_frames(&list));
}

#[test]
fn cut_between_dark_low_contrast_shots_is_found() {
    let footage = Footage::new().shot(&Scene::new(43).dim(0.3, 30.0), 0, 50).shot(
        &Scene::new(44).dim(0.3, 30.0),
        0,
        50,
    );
    let mut frames = footage.gray_frames();
    add_block_noise(&mut frames, 2.0);
    assert_eq!(boundary_frames(&detect(&frames, ShotSettings::default())), [50]);
}

#[test]
fn handheld_shake_is_not_a_boundary() {
    let scene = Scene::new(42).panning(1.0, 1.0);
    let mut footage = Footage::new();
    for t in 0..150u64 {
        let (dx, dy) = (((t * 7919) % 7) as f32 - 3.0, ((t * 104_729) % 5) as f32 - 2.0);
        footage = footage.push(scene.shaken_picture(t, dx, dy));
    }
    let mut frames = footage.gray_frames();
    add_block_noise(&mut frames, 4.0);
    let list = detect(&frames, ShotSettings::default());
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
}

#[test]
fn slow_fade_through_a_black_hold_is_one_fade() {
    // 2 s out, 10 black frames, 2 s in. Frames 109-120 are black (the last frame of the
    // fade-out and the first of the fade-in too), so the new shot starts at their middle, 115,
    // the convention the real clips' truth follows.
    let (a, b) = (Scene::new(45), Scene::new(46));
    let footage = Footage::new()
        .shot(&a, 0, 60)
        .fade_out(&a, 60, BLACK, 50)
        .hold(BLACK, 10)
        .fade_in(&b, 0, BLACK, 50)
        .shot(&b, 50, 60);
    let mut frames = footage.gray_frames();
    add_block_noise(&mut frames, 3.0);
    let list = detect(&frames, ShotSettings::default());
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    let fade = &list.boundaries[0];
    assert_eq!(fade.kind, TransitionKind::FadeThroughBlack);
    assert!(fade.frame.abs_diff(115) <= 1, "{fade:?}");
    assert!(fade.first_frame.abs_diff(60) <= 3 && fade.last_frame.abs_diff(169) <= 3, "{fade:?}");
}

#[test]
fn detector_as_video_analyzer_asks_for_statistics_frames_and_keeps_its_result() {
    use reelforge_core::{FramePurpose, Rational, VideoAnalyzer, VideoInfo};
    let source = VideoInfo {
        width: 1920,
        height: 1080,
        sample_aspect_ratio: Rational::new(1, 1),
        frame_rate: Rational::new(25, 1),
        time_base: TIME_BASE,
        duration: None,
        estimated_frames: None,
    };
    let mut detector = reelforge_shots::ShotDetector::new(ShotSettings::default());
    let request = detector.configure(&source);
    // 256 px asked for: an eighth of 1920 is the nearest whole fraction.
    assert_eq!(
        (request.width, request.height, request.layout, request.purpose),
        (240, 134, PixelLayout::Yuv420, FramePurpose::Statistics)
    );
    let footage = Footage::new().shot(&Scene::new(50), 0, 30).shot(&Scene::new(51), 0, 30);
    for frame in footage.gray_frames() {
        detector.analyze(&frame);
    }
    VideoAnalyzer::finish(&mut detector);
    let list = detector.take_shot_list().expect("finish leaves a result");
    assert_eq!(list.frame_rate, Rational::new(25, 1));
    assert_eq!(boundary_frames(&list), [30]);
}

#[test]
fn shot_list_survives_a_json_round_trip_with_snake_case_kinds() {
    let list = detect_default(&Footage::new().shot(&Scene::new(60), 0, 30).shot(&Scene::new(61), 0, 30));
    let json = serde_json::to_string(&list).expect("shot list serialises");
    assert!(json.contains("\"kind\":\"cut\""), "{json}");
    let back: reelforge_shots::ShotList = serde_json::from_str(&json).expect("and deserialises");
    assert_eq!(back, list);
}

#[test]
fn cut_from_a_black_leader_at_the_start_is_not_a_boundary() {
    // Like a camera original that opens on a second of black before the first picture.
    let footage = Footage::new().hold(BLACK, 30).shot(&Scene::new(50), 0, 80);
    let list = detect_default(&footage);
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
    assert_eq!(list.shots.len(), 1);
}

#[test]
fn fade_to_black_at_the_end_is_not_a_boundary() {
    let scene = Scene::new(51);
    let footage = Footage::new().shot(&scene, 0, 80).fade_out(&scene, 80, BLACK, 30).hold(BLACK, 26);
    let list = detect_default(&footage);
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
}

#[test]
fn cut_to_a_black_hold_then_fade_in_starts_the_new_shot_in_the_middle_of_the_black() {
    // Black from frame 40 (the cut) to frame 70 (the fade-in's first, black, frame).
    let (a, b) = (Scene::new(52), Scene::new(53));
    let footage = Footage::new().shot(&a, 0, 40).hold(BLACK, 30).fade_in(&b, 0, BLACK, 20).shot(&b, 20, 50);
    let list = detect_default(&footage);
    assert_eq!(list.boundaries.len(), 1, "{:?}", list.boundaries);
    assert_eq!(list.boundaries[0].kind, TransitionKind::FadeIn);
    assert!(list.boundaries[0].frame.abs_diff(55) <= 3, "{:?}", list.boundaries[0]);
}

#[test]
fn something_rushing_across_a_still_shot_is_not_a_cut() {
    // A bright textured object, 160 pixels wide, rushes in from the left over a still
    // background, speeding up and slowing down over seven frames (a bird beating its wings
    // past the camera, a car passing close), then stays.
    let background = Scene::new(54).still().picture(0);
    let object = Scene::new(55).dim(1.0, 215.0).still().picture(0);
    let mut lefts: Vec<isize> = vec![-160; 30];
    lefts.extend([-156, -140, -100, -36, 20, 44, 52]);
    lefts.extend([52; 40]);
    let mut footage = Footage::new();
    for &left in &lefts {
        let mut picture = background.clone();
        let columns = left.max(0) as usize..(left + 160).clamp(0, WIDTH as isize) as usize;
        for y in 0..HEIGHT {
            for x in columns.clone() {
                picture[y * WIDTH + x] = object[y * WIDTH + x];
            }
        }
        footage = footage.push(picture);
    }
    let list = detect_default(&footage);
    assert!(list.boundaries.is_empty(), "{:?}", list.boundaries);
}
