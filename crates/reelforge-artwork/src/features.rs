//! What is measured on one candidate frame: sharpness, exposure, contrast, colourfulness,
//! motion, skin, plus a 64-bit perceptual hash for near-duplicate detection.

use reelforge_core::{PixelLayout, VideoFrame};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A luma level at or below this is a clipped shadow (BT.601 studio black is 16; encoders
/// and crushed grades land below it).
const SHADOW_CLIP: u8 = 16;
/// A luma level at or above this is a clipped highlight (studio white is 235).
const HIGHLIGHT_CLIP: u8 = 240;

/// Raw measurements of one frame, in the units of the analysis frame (8-bit levels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// Variance of the 4-neighbour Laplacian of luma: high for crisp edges, near 0 for blur.
    pub sharpness: f64,
    /// Mean luma, 0-255.
    pub mean_luma: f64,
    /// Share (0-1) of pixels with luma at or below 16.
    pub shadows_clipped: f64,
    /// Share (0-1) of pixels with luma at or above 240.
    pub highlights_clipped: f64,
    /// Standard deviation of luma, 0-127.5.
    pub contrast: f64,
    /// Hasler–Süsstrunk colourfulness M (0 grey; above ~109 "extremely colourful").
    pub colourfulness: f64,
    /// Mean absolute luma difference to the previous decoded frame, 0-255 (0 for the first).
    pub motion: f64,
    /// Share (0-1) of pixels whose colour passes the skin-tone rule of [`is_skin`].
    pub skin: f64,
}

/// The measurements mapped to 0-1 so profile weights and the bandit compare like with like.
/// Each field saturates at 1; the mapping is in [`Measurements::normalized`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Features {
    pub sharpness: f64,
    pub exposure: f64,
    pub contrast: f64,
    pub colourfulness: f64,
    pub motion: f64,
    pub skin: f64,
    pub brightness: f64,
}

/// Number of entries of [`Features::to_array`].
pub const FEATURE_COUNT: usize = 7;

impl Features {
    pub fn to_array(&self) -> [f64; FEATURE_COUNT] {
        [
            self.sharpness,
            self.exposure,
            self.contrast,
            self.colourfulness,
            self.motion,
            self.skin,
            self.brightness,
        ]
    }

    /// Names in the order of [`Features::to_array`], for reasons and reports.
    pub const NAMES: [&'static str; FEATURE_COUNT] =
        ["sharpness", "exposure", "contrast", "colourfulness", "motion", "skin", "brightness"];
}

impl Measurements {
    /// Maps to 0-1. The half-saturation points are where a 320-pixel-wide analysis frame of
    /// ordinary footage sits: Laplacian variance 300 is crisp, luma std-dev 64 is full
    /// contrast, M 110 is "extremely colourful" in Hasler–Süsstrunk's scale, a mean luma change
    /// of 24 levels per frame is fast action, and 30 % skin is a close-up face.
    pub fn normalized(&self) -> Features {
        Features {
            sharpness: self.sharpness / (self.sharpness + 300.0),
            exposure: (1.0 - self.shadows_clipped - self.highlights_clipped).clamp(0.0, 1.0),
            contrast: (self.contrast / 64.0).min(1.0),
            colourfulness: (self.colourfulness / 110.0).min(1.0),
            motion: (self.motion / 24.0).min(1.0),
            skin: (self.skin / 0.3).min(1.0),
            brightness: self.mean_luma / 255.0,
        }
    }
}

/// Skin-tone rule for daylight RGB (Kovač, Peer & Solina 2003): R > 95, G > 40, B > 20,
/// max − min > 15, |R − G| > 15, R > G, R > B. Crude — it also fires on wood and sand — but
/// it needs no model. No face detector is used (none was adopted from a registry; detectors
/// such as `rustface` load a separately downloaded model file).
pub fn is_skin(r: u8, g: u8, b: u8) -> bool {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    r > 95 && g > 40 && b > 20 && max - min > 15 && r.abs_diff(g) > 15 && r > g && r > b
}

/// BT.601 luma of an RGB pixel in integer arithmetic (weights 77/150/29 out of 256).
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8) as u8
}

/// Measures frames one after another. Keeps the previous frame's luma for motion; its
/// buffers are reused, so measuring allocates nothing once the frame size is known.
#[derive(Debug, Default)]
pub struct FrameMeter {
    luma: Vec<u8>,
    previous: Vec<u8>,
    previous_size: Option<(u32, u32)>,
}

impl FrameMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at `frame` (RGB24). With `measure` it returns the measurements and perceptual
    /// hash; without, it only remembers the frame's luma so the next measurement knows the
    /// motion (every decoded frame passes through here; only candidates are measured).
    pub fn push(&mut self, frame: &VideoFrame, measure: bool) -> Option<(Measurements, u64)> {
        if frame.layout != PixelLayout::Rgb24 || frame.width < 3 || frame.height < 3 {
            return None;
        }
        let pixels = frame.width as usize * frame.height as usize;
        if frame.data.len() < pixels * 3 {
            return None;
        }
        self.luma.resize(pixels, 0);
        for (y, rgb) in self.luma.iter_mut().zip(frame.data.chunks_exact(3)) {
            *y = luma(rgb[0], rgb[1], rgb[2]);
        }
        let result = measure.then(|| {
            let mut m = measure_colour(&frame.data[..pixels * 3]);
            measure_luma(&self.luma, frame.width as usize, &mut m);
            if self.previous_size == Some((frame.width, frame.height)) {
                let total: u64 =
                    self.luma.iter().zip(&self.previous).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
                m.motion = total as f64 / pixels as f64;
            }
            (m, difference_hash(&self.luma, frame.width as usize, frame.height as usize))
        });
        std::mem::swap(&mut self.luma, &mut self.previous);
        self.previous_size = Some((frame.width, frame.height));
        result
    }
}

/// Colourfulness and skin share from the RGB bytes.
fn measure_colour(rgb: &[u8]) -> Measurements {
    let (mut rg_sum, mut rg_sq, mut yb_sum, mut yb_sq, mut skin) = (0.0, 0.0, 0.0, 0.0, 0u64);
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
        let rg = r - g;
        let yb = 0.5 * (r + g) - b;
        rg_sum += rg;
        rg_sq += rg * rg;
        yb_sum += yb;
        yb_sq += yb * yb;
        skin += u64::from(is_skin(p[0], p[1], p[2]));
    }
    let n = (rgb.len() / 3) as f64;
    let (rg_mean, yb_mean) = (rg_sum / n, yb_sum / n);
    let rg_var = (rg_sq / n - rg_mean * rg_mean).max(0.0);
    let yb_var = (yb_sq / n - yb_mean * yb_mean).max(0.0);
    Measurements {
        colourfulness: (rg_var + yb_var).sqrt() + 0.3 * (rg_mean * rg_mean + yb_mean * yb_mean).sqrt(),
        skin: skin as f64 / n,
        ..Measurements::default()
    }
}

/// Exposure, contrast and sharpness from the luma plane.
fn measure_luma(luma: &[u8], width: usize, m: &mut Measurements) {
    let n = luma.len() as f64;
    let (mut sum, mut sq, mut shadows, mut highlights) = (0u64, 0u64, 0u64, 0u64);
    for &y in luma {
        sum += u64::from(y);
        sq += u64::from(y) * u64::from(y);
        shadows += u64::from(y <= SHADOW_CLIP);
        highlights += u64::from(y >= HIGHLIGHT_CLIP);
    }
    let mean = sum as f64 / n;
    m.mean_luma = mean;
    m.contrast = (sq as f64 / n - mean * mean).max(0.0).sqrt();
    m.shadows_clipped = shadows as f64 / n;
    m.highlights_clipped = highlights as f64 / n;

    let height = luma.len() / width;
    let (mut l_sum, mut l_sq, mut count) = (0i64, 0i64, 0i64);
    for y in 1..height - 1 {
        let (up, row, down) = (
            &luma[(y - 1) * width..y * width],
            &luma[y * width..(y + 1) * width],
            &luma[(y + 1) * width..(y + 2) * width],
        );
        for x in 1..width - 1 {
            let l = 4 * i64::from(row[x])
                - i64::from(row[x - 1])
                - i64::from(row[x + 1])
                - i64::from(up[x])
                - i64::from(down[x]);
            l_sum += l;
            l_sq += l * l;
            count += 1;
        }
    }
    let l_mean = l_sum as f64 / count as f64;
    m.sharpness = (l_sq as f64 / count as f64 - l_mean * l_mean).max(0.0);
}

/// 64-bit difference hash: luma averaged into 9x8 blocks, one bit per horizontally adjacent
/// pair (left brighter than right). Robust to scaling and mild compression; near-duplicates
/// differ in a few bits.
pub fn difference_hash(luma: &[u8], width: usize, height: usize) -> u64 {
    let mut sums = [0u64; 72];
    let mut counts = [0u64; 72];
    for y in 0..height {
        let by = y * 8 / height;
        for (x, &v) in luma[y * width..(y + 1) * width].iter().enumerate() {
            let cell = by * 9 + x * 9 / width;
            sums[cell] += u64::from(v);
            counts[cell] += 1;
        }
    }
    let mut hash = 0u64;
    for row in 0..8 {
        for col in 0..8 {
            let (a, b) = (row * 9 + col, row * 9 + col + 1);
            // Compare means without dividing: a/ca > b/cb  <=>  a*cb > b*ca.
            let brighter = sums[a] * counts[b].max(1) > sums[b] * counts[a].max(1);
            hash = (hash << 1) | u64::from(brighter);
        }
    }
    hash
}

/// Number of differing bits between two perceptual hashes (0 = same picture).
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reelforge_core::{Rational, Timestamp};

    /// An RGB24 frame whose pixel (x, y) is `paint(x, y)`.
    pub fn frame(width: u32, height: u32, paint: impl Fn(u32, u32) -> [u8; 3]) -> VideoFrame {
        let mut data = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&paint(x, y));
            }
        }
        VideoFrame {
            index: 0,
            time: Timestamp { pts: 0, time_base: Rational::new(1, 25) },
            width,
            height,
            layout: PixelLayout::Rgb24,
            data,
        }
    }

    /// Saturated colour bars with a fine checker texture: sharp and colourful.
    pub fn sharp_colourful(x: u32, y: u32) -> [u8; 3] {
        let bars = [[230, 40, 40], [40, 200, 60], [50, 60, 230], [240, 210, 30], [200, 40, 200]];
        let base = bars[(x / 32) as usize % bars.len()];
        let bump = if (x / 2 + y / 2).is_multiple_of(2) { 0 } else { 25 };
        base.map(|c: u8| c.saturating_sub(bump))
    }

    /// The same picture with a 9x9 box blur.
    pub fn blurred(width: u32, height: u32) -> VideoFrame {
        let sharp = frame(width, height, sharp_colourful);
        frame(width, height, |x, y| {
            let mut acc = [0u32; 3];
            let mut n = 0;
            for dy in -4i64..=4 {
                for dx in -4i64..=4 {
                    let (sx, sy) = (i64::from(x) + dx, i64::from(y) + dy);
                    if sx >= 0 && sy >= 0 && sx < i64::from(width) && sy < i64::from(height) {
                        let i = ((sy as u32 * width + sx as u32) * 3) as usize;
                        for (a, &v) in acc.iter_mut().zip(&sharp.data[i..i + 3]) {
                            *a += u32::from(v);
                        }
                        n += 1;
                    }
                }
            }
            acc.map(|a| (a / n) as u8)
        })
    }

    fn measure(f: &VideoFrame) -> (Measurements, u64) {
        FrameMeter::new().push(f, true).expect("RGB frame")
    }

    #[test]
    fn black_frame_is_dark_flat_and_clipped() {
        let (m, _) = measure(&frame(64, 36, |_, _| [4, 4, 4]));
        assert!(m.mean_luma < 5.0);
        assert_eq!(m.contrast, 0.0);
        assert_eq!(m.sharpness, 0.0);
        assert_eq!(m.shadows_clipped, 1.0);
        assert_eq!(m.colourfulness, 0.0);
    }

    #[test]
    fn blur_lowers_the_laplacian_variance_by_far() {
        let (sharp, _) = measure(&frame(160, 90, sharp_colourful));
        let (soft, _) = measure(&blurred(160, 90));
        assert!(
            sharp.sharpness > 20.0 * soft.sharpness,
            "sharp {} vs blurred {}",
            sharp.sharpness,
            soft.sharpness
        );
        assert!(sharp.normalized().sharpness > 0.8);
    }

    #[test]
    fn colourful_bars_score_high_and_grey_scores_zero() {
        let (bars, _) = measure(&frame(160, 90, sharp_colourful));
        let (grey, _) = measure(&frame(160, 90, |x, _| [(x % 256) as u8; 3]));
        assert!(bars.colourfulness > 80.0, "{}", bars.colourfulness);
        assert!(grey.colourfulness < 1e-9);
    }

    #[test]
    fn over_exposed_frame_has_clipped_highlights() {
        let (m, _) = measure(&frame(64, 36, |x, _| if x < 48 { [255, 255, 255] } else { [120, 120, 120] }));
        assert!((m.highlights_clipped - 0.75).abs() < 1e-9);
        assert!(m.normalized().exposure < 0.3);
    }

    #[test]
    fn motion_is_the_change_from_the_previous_frame() {
        let mut meter = FrameMeter::new();
        let first = frame(32, 18, |_, _| [100, 100, 100]);
        let second = frame(32, 18, |_, _| [120, 120, 120]);
        assert_eq!(meter.push(&first, true).map(|(m, _)| m.motion), Some(0.0));
        let (m, _) = meter.push(&second, true).expect("measured");
        assert!((m.motion - 20.0).abs() < 0.5);
    }

    #[test]
    fn skin_rule_fires_on_skin_tones_only() {
        assert!(is_skin(224, 172, 140));
        assert!(is_skin(198, 134, 66));
        assert!(!is_skin(40, 200, 60));
        assert!(!is_skin(128, 128, 128));
        let (m, _) = measure(&frame(40, 40, |x, _| if x < 20 { [224, 172, 140] } else { [30, 60, 200] }));
        assert!((m.skin - 0.5).abs() < 1e-9);
    }

    #[test]
    fn near_duplicates_have_close_hashes_and_different_pictures_do_not() {
        let a = measure(&frame(160, 90, sharp_colourful)).1;
        // Same picture, slightly brighter and shifted by one pixel: a near-duplicate.
        let b = measure(&frame(160, 90, |x, y| sharp_colourful(x + 1, y).map(|c| c.saturating_add(6)))).1;
        let c = measure(&frame(160, 90, |x, y| [(y * 2) as u8, (x % 200) as u8, 90])).1;
        assert!(hamming(a, b) <= 6, "near-duplicate distance {}", hamming(a, b));
        assert!(hamming(a, c) >= 16, "different pictures distance {}", hamming(a, c));
    }
}
