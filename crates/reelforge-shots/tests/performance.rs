//! Cost per frame; meaningful only in release builds, so ignored by default:
//! `cargo test --release -p reelforge-shots --test performance -- --ignored --nocapture`

mod common;

use std::time::Instant;

use common::*;
use reelforge_core::{PixelLayout, VideoFrame};
use reelforge_shots::{ShotDetector, ShotSettings};

fn per_frame_micros(frames: &[VideoFrame], settings: ShotSettings) -> f64 {
    let started = Instant::now();
    let mut detector = ShotDetector::new(settings);
    for frame in frames {
        detector.push(frame);
    }
    let list = detector.finish();
    assert!(!list.shots.is_empty());
    started.elapsed().as_secs_f64() * 1e6 / frames.len() as f64
}

#[test]
#[ignore = "timing; run in release"]
fn a_256_by_144_frame_costs_well_under_a_millisecond() {
    let footage = Footage::new()
        .shot(&Scene::new(1).panning(6.0, 1.0), 0, 150)
        .cross(&Scene::new(1), 150, &Scene::new(2), 0, 25)
        .shot(&Scene::new(2), 25, 150)
        .shot(&Scene::new(3).panning(30.0, 0.0), 0, 150);
    let gray = footage.gray_frames();
    let rgb: Vec<VideoFrame> = gray
        .iter()
        .map(|f| VideoFrame {
            layout: PixelLayout::Rgb24,
            data: f.data.iter().flat_map(|&y| [y, y.saturating_add(10), y.saturating_sub(10)]).collect(),
            ..f.clone()
        })
        .collect();
    // Planar 4:2:0 as the decode pass gives it: luma, then two quarter-size chroma planes.
    let yuv: Vec<VideoFrame> = gray
        .iter()
        .map(|f| {
            let chroma = (f.width as usize / 2) * (f.height as usize / 2);
            let mut data = f.data.clone();
            data.extend((0..2 * chroma).map(|i| if i < chroma { 118 } else { 140 }));
            VideoFrame { layout: PixelLayout::Yuv420, data, ..f.clone() }
        })
        .collect();
    let gray_cost = per_frame_micros(&gray, ShotSettings { use_colour: false, ..ShotSettings::default() });
    let rgb_cost = per_frame_micros(&rgb, ShotSettings::default());
    let yuv_cost = per_frame_micros(&yuv, ShotSettings::default());
    println!("per frame: grey {gray_cost:.0} µs, RGB {rgb_cost:.0} µs, YUV 4:2:0 {yuv_cost:.0} µs");
    assert!(gray_cost < 1000.0 && rgb_cost < 1000.0 && yuv_cost < 1000.0);
}
