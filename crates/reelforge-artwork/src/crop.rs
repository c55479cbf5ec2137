//! Content-aware crop: the window of a given aspect ratio that holds the most saliency, where
//! saliency is luma gradient energy + colourfulness + skin, measured on a coarse grid.

use reelforge_core::{PixelLayout, VideoFrame};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::features::is_skin;

/// A delivery image size, as written under `artwork: crops:`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CropSpec {
    /// Used in file names, e.g. `landscape` → `action/1_landscape.jpg`.
    pub name: String,
    #[schemars(range(min = 16, max = 8192))]
    pub width: u32,
    #[schemars(range(min = 16, max = 8192))]
    pub height: u32,
}

impl CropSpec {
    /// 16:9 1280x720, 2:3 poster 600x900, 1:1 800x800.
    pub fn defaults() -> Vec<CropSpec> {
        [("landscape", 1280, 720), ("poster", 600, 900), ("square", 800, 800)]
            .into_iter()
            .map(|(name, width, height)| CropSpec { name: name.into(), width, height })
            .collect()
    }
}

/// A rectangle in the frame's pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Saliency grid cells are this many cells across: fine enough to place a crop within ~1 %
/// of the frame width, coarse enough to cost little on a 4K frame.
const GRID_WIDTH: u32 = 160;

/// The largest window of aspect `aspect_width:aspect_height` inside `frame` that holds the
/// most saliency; among equal windows, the one nearest the centre. RGB24 frames only; other
/// layouts get the centred window.
pub fn salient_crop(frame: &VideoFrame, aspect_width: u32, aspect_height: u32) -> CropRect {
    let (fw, fh) = (u64::from(frame.width), u64::from(frame.height));
    let (aw, ah) = (u64::from(aspect_width.max(1)), u64::from(aspect_height.max(1)));
    // Largest window of the aspect: full height if the frame is wider than the aspect.
    let (width, height) =
        if fw * ah >= fh * aw { ((fh * aw / ah).max(1), fh) } else { (fw, (fw * ah / aw).max(1)) };
    let (width, height) = (width.min(fw) as u32, height.min(fh) as u32);
    let slack_x = frame.width - width;
    let slack_y = frame.height - height;
    let centred = CropRect { x: slack_x / 2, y: slack_y / 2, width, height };
    if frame.layout != PixelLayout::Rgb24 || (slack_x == 0 && slack_y == 0) {
        return centred;
    }
    let cell = (frame.width / GRID_WIDTH).max(1);
    let (gw, gh) = ((frame.width / cell) as usize, (frame.height / cell) as usize);
    let map = saliency(frame, cell, gw, gh);
    // Summed-area table with a zero border: any window's sum in four lookups.
    let mut sums = vec![0.0f64; (gw + 1) * (gh + 1)];
    for y in 0..gh {
        let mut row = 0.0;
        for x in 0..gw {
            row += map[y * gw + x];
            sums[(y + 1) * (gw + 1) + x + 1] = sums[y * (gw + 1) + x + 1] + row;
        }
    }
    let window_sum = |x0: usize, y0: usize, w: usize, h: usize| {
        let at = |x: usize, y: usize| sums[y * (gw + 1) + x];
        at(x0 + w, y0 + h) - at(x0, y0 + h) - at(x0 + w, y0) + at(x0, y0)
    };
    let (ww, wh) = (((width / cell) as usize).min(gw), ((height / cell) as usize).min(gh));
    let (steps_x, steps_y) = (gw - ww, gh - wh);
    let mut best = (f64::MIN, u64::MAX, 0usize, 0usize);
    for y in 0..=steps_y {
        for x in 0..=steps_x {
            let total = window_sum(x, y, ww, wh);
            let off_centre = (2 * x).abs_diff(steps_x) as u64 + (2 * y).abs_diff(steps_y) as u64;
            // Sums are float: treat differences below a millionth as ties so the centre wins.
            let better = total > best.0 + best.0.abs() * 1e-6
                || (total >= best.0 - best.0.abs() * 1e-6 && off_centre < best.1);
            if better {
                best = (total, off_centre, x, y);
            }
        }
    }
    let x = ((best.2 as u32) * cell).min(slack_x);
    let y = ((best.3 as u32) * cell).min(slack_y);
    CropRect { x, y, width, height }
}

/// Per grid cell: mean luma gradient magnitude + colourfulness (|R−G| + |(R+G)/2 − B|, halved)
/// + 64 × skin share. The three are on comparable 0-~200 scales.
fn saliency(frame: &VideoFrame, cell: u32, gw: usize, gh: usize) -> Vec<f64> {
    let mut map = vec![0.0f64; gw * gh];
    let width = frame.width as usize;
    let luma = |i: usize| {
        let p = &frame.data[i * 3..i * 3 + 3];
        (77 * i32::from(p[0]) + 150 * i32::from(p[1]) + 29 * i32::from(p[2])) >> 8
    };
    let limit_y = gh * cell as usize;
    let limit_x = gw * cell as usize;
    for y in 0..limit_y.min(frame.height as usize - 1) {
        for x in 0..limit_x.min(width - 1) {
            let i = y * width + x;
            let p = &frame.data[i * 3..i * 3 + 3];
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            let here = luma(i);
            let gradient = (luma(i + 1) - here).abs() + (luma(i + width) - here).abs();
            let colour = ((r - g).abs() + ((r + g) / 2 - b).abs()) / 2;
            let skin = if is_skin(p[0], p[1], p[2]) { 64 } else { 0 };
            map[(y / cell as usize) * gw + x / cell as usize] += f64::from(gradient + colour + skin);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::tests::frame;

    #[test]
    fn square_crop_keeps_a_bright_object_near_the_edge() {
        // 320x180 dull grey frame with a bright, colourful 40x40 object at x 250..290.
        let f = frame(320, 180, |x, y| {
            if (250..290).contains(&x) && (70..110).contains(&y) { [250, 200, 40] } else { [60, 60, 60] }
        });
        let crop = salient_crop(&f, 1, 1);
        assert_eq!((crop.width, crop.height), (180, 180));
        assert!(crop.x <= 250 && crop.x + crop.width >= 290, "{crop:?} must contain x 250..290");
    }

    #[test]
    fn poster_crop_follows_the_object_to_the_left() {
        let f = frame(320, 180, |x, y| {
            if (10..40).contains(&x) && (60..120).contains(&y) { [224, 172, 140] } else { [30, 30, 35] }
        });
        let crop = salient_crop(&f, 2, 3);
        assert_eq!((crop.width, crop.height), (120, 180));
        assert!(crop.x <= 10, "{crop:?}");
    }

    #[test]
    fn featureless_frame_is_cropped_in_the_centre() {
        let f = frame(320, 180, |_, _| [90, 90, 90]);
        assert_eq!(salient_crop(&f, 1, 1), CropRect { x: 70, y: 0, width: 180, height: 180 });
        // Same aspect as the frame: the whole frame.
        assert_eq!(salient_crop(&f, 16, 9), CropRect { x: 0, y: 0, width: 320, height: 180 });
    }
}
