//! Synthetic footage for the detector's specifications: procedural textured "scenes" that
//! drift or pan, compression-like noise, and the transitions editors use.

#![allow(dead_code)] // Each test file uses a different part of this kit.

use reelforge_core::{PixelLayout, Rational, Timestamp, VideoFrame};
use reelforge_shots::{ShotDetector, ShotList, ShotSettings};

pub const WIDTH: usize = 256;
pub const HEIGHT: usize = 144;
/// 25 fps in a 1/12800 time base, as FFmpeg's MP4 muxer writes it.
pub const TIME_BASE: Rational = Rational::new(1, 12_800);
pub const PTS_PER_FRAME: i64 = 512;
/// Limited-range black, what decoded broadcast video fades to.
pub const BLACK: f32 = 16.0;
pub const WHITE: f32 = 235.0;

/// A luma picture, row-major, `WIDTH × HEIGHT`.
pub type Picture = Vec<f32>;

fn mix(mut z: u64) -> u64 {
    // SplitMix64: a tiny deterministic generator, so every run sees the same footage.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64) -> f32 {
    (mix(seed) >> 40) as f32 / (1u64 << 24) as f32
}

/// A textured scene: a few oriented waves over a base brightness, seen through a camera that
/// moves `pan` pixels per frame.
#[derive(Clone, Debug)]
pub struct Scene {
    base: f32,
    waves: [(f32, f32, f32, f32); 4],
    pan: (f32, f32),
}

impl Scene {
    pub fn new(seed: u64) -> Self {
        let r = |i: u64| unit(seed * 100 + i);
        let wave = |i: u64| {
            let period = 20.0 + 80.0 * r(i);
            let angle = std::f32::consts::PI * r(i + 10);
            let k = std::f32::consts::TAU / period;
            (k * angle.cos(), k * angle.sin(), std::f32::consts::TAU * r(i + 20), 18.0 + 22.0 * r(i + 30))
        };
        Self { base: 70.0 + 100.0 * r(0), waves: [wave(1), wave(2), wave(3), wave(4)], pan: (0.7, 0.3) }
    }

    /// The same scene with the camera moving `dx, dy` pixels per frame.
    pub fn panning(mut self, dx: f32, dy: f32) -> Self {
        self.pan = (dx, dy);
        self
    }

    /// The same scene with contrast scaled by `contrast` around a new `base` brightness.
    pub fn dim(mut self, contrast: f32, base: f32) -> Self {
        self.base = base;
        for wave in &mut self.waves {
            wave.3 *= contrast;
        }
        self
    }

    pub fn still(self) -> Self {
        self.panning(0.0, 0.0)
    }

    /// The view at frame `t` of the scene's own clock.
    pub fn picture(&self, t: u64) -> Picture {
        self.shaken_picture(t, 0.0, 0.0)
    }

    /// The view at frame `t` with the camera knocked `dx, dy` pixels off its path.
    pub fn shaken_picture(&self, t: u64, dx: f32, dy: f32) -> Picture {
        let (ox, oy) = (self.pan.0 * t as f32 + dx, self.pan.1 * t as f32 + dy);
        let mut out = Vec::with_capacity(WIDTH * HEIGHT);
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let (px, py) = (x as f32 + ox, y as f32 + oy);
                let value: f32 = self
                    .waves
                    .iter()
                    .map(|&(kx, ky, phase, amp)| amp * (kx * px + ky * py + phase).sin())
                    .sum();
                out.push(self.base + value);
            }
        }
        out
    }
}

pub fn flat(level: f32) -> Picture {
    vec![level; WIDTH * HEIGHT]
}

/// `alpha·a + (1 − alpha)·b`, pixel by pixel: dissolves and fades are both this.
pub fn blend(a: &Picture, b: &Picture, alpha: f32) -> Picture {
    a.iter().zip(b).map(|(x, y)| alpha * x + (1.0 - alpha) * y).collect()
}

/// A bright caption box (a "title") over `picture`, at opacity `alpha`.
pub fn with_title(picture: &Picture, alpha: f32) -> Picture {
    let mut out = picture.clone();
    for y in 100..124 {
        for x in 48..208 {
            // Letter-like stripes rather than a solid box.
            if (x / 6) % 2 == 0 {
                let p = &mut out[y * WIDTH + x];
                *p = alpha * WHITE + (1.0 - alpha) * *p;
            }
        }
    }
    out
}

/// Frames in order, with compression-like noise and 25 fps timestamps.
#[derive(Default)]
pub struct Footage {
    pictures: Vec<Picture>,
}

impl Footage {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.pictures.len() as u64
    }

    /// `frames` frames of `scene`, its clock starting at `from`.
    pub fn shot(mut self, scene: &Scene, from: u64, frames: u64) -> Self {
        self.pictures.extend((from..from + frames).map(|t| scene.picture(t)));
        self
    }

    /// `frames` flat frames, e.g. a black hold between a fade-out and a fade-in.
    pub fn hold(mut self, level: f32, frames: u64) -> Self {
        self.pictures.extend((0..frames).map(|_| flat(level)));
        self
    }

    pub fn push(mut self, picture: Picture) -> Self {
        self.pictures.push(picture);
        self
    }

    /// A fade of `frames` frames from `from` at frame `from_t` to `to` at `to_t` through a
    /// blend; with `frames` = n the blend weights are (n−1)/n … 0 for the first picture.
    pub fn cross(mut self, from: &Scene, from_t: u64, to: &Scene, to_t: u64, frames: u64) -> Self {
        for k in 0..frames {
            let alpha = 1.0 - (k + 1) as f32 / (frames + 1) as f32;
            self.pictures.push(blend(&from.picture(from_t + k), &to.picture(to_t + k), alpha));
        }
        self
    }

    /// `frames` frames fading `scene` out to `level`; the last one is flat.
    pub fn fade_out(mut self, scene: &Scene, from_t: u64, level: f32, frames: u64) -> Self {
        for k in 0..frames {
            let alpha = 1.0 - (k + 1) as f32 / frames as f32;
            self.pictures.push(blend(&scene.picture(from_t + k), &flat(level), alpha));
        }
        self
    }

    /// `frames` frames fading `scene` in from `level`; the first one is flat.
    pub fn fade_in(mut self, scene: &Scene, from_t: u64, level: f32, frames: u64) -> Self {
        for k in 0..frames {
            let alpha = k as f32 / frames as f32;
            self.pictures.push(blend(&scene.picture(from_t + k), &flat(level), alpha));
        }
        self
    }

    pub fn gray_frames(&self) -> Vec<VideoFrame> {
        self.pictures
            .iter()
            .enumerate()
            .map(|(i, p)| gray_frame(i as u64, i as i64 * PTS_PER_FRAME, p))
            .collect()
    }
}

/// A grey frame with deterministic noise of about ±4 levels, like H.264 at a fair bitrate.
pub fn gray_frame(index: u64, pts: i64, picture: &Picture) -> VideoFrame {
    let data = picture
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let noise = 4.0 * (unit(index * 1_000_003 + i as u64) + unit(index * 7_777_777 + i as u64) - 1.0);
            (v + noise).round().clamp(0.0, 255.0) as u8
        })
        .collect();
    VideoFrame {
        index,
        time: Timestamp { pts, time_base: TIME_BASE },
        width: WIDTH as u32,
        height: HEIGHT as u32,
        layout: PixelLayout::Gray8,
        data,
    }
}

/// Adds noise that is constant over each 8×8 block and changes every frame, like the
/// blocking of a low-bitrate encode (it survives block averaging, unlike pixel noise).
pub fn add_block_noise(frames: &mut [VideoFrame], amplitude: f32) {
    for frame in frames {
        let index = frame.index;
        for (i, pixel) in frame.data.iter_mut().enumerate() {
            let block = ((i / WIDTH) / 8 * (WIDTH / 8) + (i % WIDTH) / 8) as u64;
            let noise = amplitude * (2.0 * unit(index * 1_000_033 + block * 7) - 1.0);
            *pixel = (f32::from(*pixel) + noise).round().clamp(0.0, 255.0) as u8;
        }
    }
}

pub fn detect(frames: &[VideoFrame], settings: ShotSettings) -> ShotList {
    let mut detector = ShotDetector::new(settings);
    for frame in frames {
        detector.push(frame);
    }
    detector.finish()
}

pub fn detect_default(footage: &Footage) -> ShotList {
    detect(&footage.gray_frames(), ShotSettings::default())
}

pub fn boundary_frames(list: &ShotList) -> Vec<u64> {
    list.boundaries.iter().map(|b| b.frame).collect()
}
