//! Cheap per-frame signatures and the distances between them.
//!
//! A frame is reduced to a coarse grid of cell means (luma, plus two colour-difference
//! planes for RGB input), a luma histogram, and the luma mean and standard deviation.
//! Cell means are linear in the pixels, so a cross-fade of two frames is exactly the same
//! cross-fade of their grids; averaging 8×8 pixels also swamps compression noise.

use reelforge_core::{PixelLayout, VideoFrame};

pub(crate) const GRID_COLS: usize = 32;
pub(crate) const GRID_ROWS: usize = 18;
pub(crate) const GRID_CELLS: usize = GRID_COLS * GRID_ROWS;
/// Luma plus the two colour-difference planes.
pub(crate) const MAX_PLANES: usize = 3;
pub(crate) const HIST_BINS: usize = 32;

/// Largest camera translation (in grid cells) the motion-compensated distance searches:
/// 7 of 32 columns is 22 % of the width per frame, 3 of 18 rows is 17 % of the height.
const MAX_SHIFT_COLS: isize = 7;
const MAX_SHIFT_ROWS: isize = 3;
/// A shift must leave at least this share of the grid overlapping to be trusted.
const MIN_OVERLAP_CELLS: usize = GRID_CELLS / 2;

/// Colour-difference planes are weighted down: luma carries most of the structure and
/// chroma of compressed video is noisier and half resolution.
const CHROMA_WEIGHT: f32 = 0.5;

#[derive(Clone, Debug)]
pub(crate) struct FrameFeatures {
    pub seconds: f64,
    /// Mean luma, 0..255.
    pub mean: f32,
    /// Standard deviation of luma over the frame.
    pub std_dev: f32,
    /// Luma histogram normalised to sum 1.
    pub hist: [f32; HIST_BINS],
    /// 1 for grey input, 3 for colour.
    pub planes: usize,
    /// Plane-major cell means: luma cells, then (for colour) B−Y and R−Y cells.
    pub grid: [f32; GRID_CELLS * MAX_PLANES],
}

impl FrameFeatures {
    pub(crate) const EMPTY: FrameFeatures = FrameFeatures {
        seconds: 0.0,
        mean: 0.0,
        std_dev: 0.0,
        hist: [0.0; HIST_BINS],
        planes: 1,
        grid: [0.0; GRID_CELLS * MAX_PLANES],
    };

    /// The cells in use (all planes).
    pub(crate) fn cells(&self) -> &[f32] {
        &self.grid[..GRID_CELLS * self.planes]
    }

    pub(crate) fn luma_cells(&self) -> &[f32] {
        &self.grid[..GRID_CELLS]
    }
}

/// Turns frames into [`FrameFeatures`] without allocating once the frame size is known.
#[derive(Debug, Default)]
pub(crate) struct FeatureExtractor {
    width: usize,
    height: usize,
    /// Grid column of each pixel column, and grid row offset of each pixel row.
    column_cell: Vec<u16>,
    row_cell_offset: Vec<u16>,
    pixels_per_cell: Vec<u32>,
    sums: Vec<i64>,
}

impl FeatureExtractor {
    fn prepare(&mut self, width: usize, height: usize) {
        if self.width == width && self.height == height && !self.column_cell.is_empty() {
            return;
        }
        self.width = width;
        self.height = height;
        self.column_cell = (0..width).map(|x| (x * GRID_COLS / width.max(1)) as u16).collect();
        self.row_cell_offset =
            (0..height).map(|y| ((y * GRID_ROWS / height.max(1)) * GRID_COLS) as u16).collect();
        self.pixels_per_cell = vec![0; GRID_CELLS];
        for &row in &self.row_cell_offset {
            for &col in &self.column_cell {
                self.pixels_per_cell[usize::from(row) + usize::from(col)] += 1;
            }
        }
        self.sums = vec![0; GRID_CELLS * MAX_PLANES];
    }

    /// Fills `out` from `frame`. A buffer shorter than its declared size contributes only
    /// its complete rows, so a damaged frame never panics.
    pub(crate) fn extract(&mut self, frame: &VideoFrame, out: &mut FrameFeatures) {
        let width = frame.width as usize;
        let height = frame.height as usize;
        self.prepare(width, height);
        self.sums.fill(0);
        let mut hist = [0u32; HIST_BINS];
        let mut luma_sum = 0u64;
        let mut luma_square_sum = 0u64;
        let planes = match frame.layout {
            PixelLayout::Gray8 => 1,
            PixelLayout::Rgb24 => 3,
        };
        let stride = width * frame.layout.bytes_per_pixel();
        if stride > 0 {
            let rows = frame.data.chunks_exact(stride).take(height);
            for (row, &cell_offset) in rows.zip(&self.row_cell_offset) {
                let cell_offset = usize::from(cell_offset);
                match frame.layout {
                    PixelLayout::Gray8 => {
                        for (&luma, &col) in row.iter().zip(&self.column_cell) {
                            self.sums[cell_offset + usize::from(col)] += i64::from(luma);
                            hist[usize::from(luma >> 3)] += 1;
                            luma_sum += u64::from(luma);
                            luma_square_sum += u64::from(luma) * u64::from(luma);
                        }
                    }
                    PixelLayout::Rgb24 => {
                        for (pixel, &col) in row.chunks_exact(3).zip(&self.column_cell) {
                            let (r, g, b) = (i64::from(pixel[0]), i64::from(pixel[1]), i64::from(pixel[2]));
                            // BT.601 luma weights in 8-bit fixed point.
                            let luma = (77 * r + 150 * g + 29 * b + 128) >> 8;
                            let cell = cell_offset + usize::from(col);
                            self.sums[cell] += luma;
                            self.sums[GRID_CELLS + cell] += b - luma;
                            self.sums[2 * GRID_CELLS + cell] += r - luma;
                            hist[(luma >> 3) as usize] += 1;
                            luma_sum += luma as u64;
                            luma_square_sum += (luma * luma) as u64;
                        }
                    }
                }
            }
        }
        let pixel_count: u32 = hist.iter().sum();
        out.planes = planes;
        for plane in 0..planes {
            let weight = if plane == 0 { 1.0 } else { CHROMA_WEIGHT };
            for cell in 0..GRID_CELLS {
                let count = self.pixels_per_cell[cell].max(1) as f32;
                out.grid[plane * GRID_CELLS + cell] =
                    weight * self.sums[plane * GRID_CELLS + cell] as f32 / count;
            }
        }
        let total = f64::from(pixel_count.max(1));
        for (bin, &count) in out.hist.iter_mut().zip(&hist) {
            *bin = (f64::from(count) / total) as f32;
        }
        let mean = luma_sum as f64 / total;
        let variance = (luma_square_sum as f64 / total - mean * mean).max(0.0);
        out.mean = mean as f32;
        out.std_dev = variance.sqrt() as f32;
        out.seconds = frame.time.seconds();
    }
}

/// Half the L1 distance of two luma histograms: 0 (same) to 1 (disjoint).
pub(crate) fn histogram_distance(a: &FrameFeatures, b: &FrameFeatures) -> f32 {
    0.5 * a.hist.iter().zip(&b.hist).map(|(x, y)| (x - y).abs()).sum::<f32>()
}

/// Mean absolute cell difference (summed over planes) with `b` displaced by a whole
/// number of cells; `remove_brightness` compares luma around each frame's own mean so a
/// global brightness change (a flash, an exposure shift) costs nothing.
fn shifted_distance(
    a: &FrameFeatures,
    b: &FrameFeatures,
    shift_cols: isize,
    shift_rows: isize,
    remove_brightness: bool,
    give_up_above: f32,
) -> Option<f32> {
    let col_range = (shift_cols.max(0) as usize)..(GRID_COLS as isize + shift_cols.min(0)) as usize;
    let row_range = (shift_rows.max(0) as usize)..(GRID_ROWS as isize + shift_rows.min(0)) as usize;
    let overlap = col_range.len() * row_range.len();
    if overlap < MIN_OVERLAP_CELLS {
        return None;
    }
    let planes = a.planes.min(b.planes);
    let luma_offset = if remove_brightness { b.mean - a.mean } else { 0.0 };
    let give_up_total = give_up_above * overlap as f32;
    let mut total = 0.0f32;
    for row in row_range {
        let b_row = (row as isize - shift_rows) as usize;
        for plane in 0..planes {
            let offset = if plane == 0 { luma_offset } else { 0.0 };
            let a_cells = &a.grid[plane * GRID_CELLS + row * GRID_COLS..][..GRID_COLS];
            let b_cells = &b.grid[plane * GRID_CELLS + b_row * GRID_COLS..][..GRID_COLS];
            for col in col_range.clone() {
                let b_col = (col as isize - shift_cols) as usize;
                total += (a_cells[col] + offset - b_cells[b_col]).abs();
            }
        }
        // Stop early: this shift already explains the change worse than the best one.
        if total > give_up_total {
            return None;
        }
    }
    Some(total / overlap as f32)
}

/// Difference of two frames with no motion allowed, in luma levels.
pub(crate) fn still_distance(a: &FrameFeatures, b: &FrameFeatures) -> f32 {
    shifted_distance(a, b, 0, 0, false, f32::INFINITY).unwrap_or(0.0)
}

/// Difference of two frames after the best whole-frame translation, in luma levels: a
/// camera pan or tilt costs little, a change of picture costs a lot.
pub(crate) fn motion_compensated_distance(
    a: &FrameFeatures,
    b: &FrameFeatures,
    remove_brightness: bool,
) -> f32 {
    let mut best = shifted_distance(a, b, 0, 0, remove_brightness, f32::INFINITY).unwrap_or(0.0);
    for shift_rows in -MAX_SHIFT_ROWS..=MAX_SHIFT_ROWS {
        for shift_cols in -MAX_SHIFT_COLS..=MAX_SHIFT_COLS {
            if shift_rows == 0 && shift_cols == 0 {
                continue;
            }
            if let Some(distance) = shifted_distance(a, b, shift_cols, shift_rows, remove_brightness, best) {
                best = best.min(distance);
            }
        }
    }
    best
}

/// How different two frames' luma layouts are once each is normalised to zero mean and
/// unit spread: 0 for the same picture at another brightness or contrast (a fade, a lighting
/// change), about 1.1 for unrelated pictures.
pub(crate) fn structure_distance(a: &FrameFeatures, b: &FrameFeatures) -> f32 {
    let normalise = |cells: &[f32]| {
        let mean = cells.iter().sum::<f32>() / cells.len() as f32;
        let spread = (cells.iter().map(|c| (c - mean) * (c - mean)).sum::<f32>() / cells.len() as f32).sqrt();
        (mean, spread.max(1e-3))
    };
    let ((mean_a, spread_a), (mean_b, spread_b)) = (normalise(a.luma_cells()), normalise(b.luma_cells()));
    a.luma_cells()
        .iter()
        .zip(b.luma_cells())
        .map(|(x, y)| ((x - mean_a) / spread_a - (y - mean_b) / spread_b).abs())
        .sum::<f32>()
        / GRID_CELLS as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use reelforge_core::{Rational, Timestamp};

    fn gray_frame(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> VideoFrame {
        let data =
            (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| pixel(x, y)).collect();
        VideoFrame {
            index: 0,
            time: Timestamp { pts: 0, time_base: Rational::new(1, 25) },
            width,
            height,
            layout: PixelLayout::Gray8,
            data,
        }
    }

    fn features(frame: &VideoFrame) -> FrameFeatures {
        let mut out = FrameFeatures::EMPTY;
        FeatureExtractor::default().extract(frame, &mut out);
        out
    }

    #[test]
    fn flat_frame_has_its_level_as_mean_and_no_spread() {
        let f = features(&gray_frame(64, 36, |_, _| 100));
        assert!((f.mean - 100.0).abs() < 1e-3);
        assert!(f.std_dev < 1e-3);
        assert!(f.luma_cells().iter().all(|&c| (c - 100.0).abs() < 1e-3));
        assert!((f.hist[100 >> 3] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn short_buffer_uses_only_complete_rows() {
        let mut frame = gray_frame(64, 36, |_, _| 50);
        frame.data.truncate(64 * 10 + 7);
        let f = features(&frame);
        assert!((f.mean - 50.0).abs() < 1e-3);
    }

    #[test]
    fn translation_is_cheap_for_the_motion_compensated_distance_only() {
        let pattern =
            |x: u32, y: u32| (128.0 + 80.0 * ((x as f32) / 9.0).sin() * ((y as f32) / 7.0).cos()) as u8;
        let a = features(&gray_frame(256, 144, pattern));
        // 24 px is 3 grid cells at this width.
        let b = features(&gray_frame(256, 144, |x, y| pattern(x + 24, y)));
        let still = still_distance(&a, &b);
        let compensated = motion_compensated_distance(&a, &b, false);
        assert!(still > 10.0, "still {still}");
        assert!(compensated < 1.0, "compensated {compensated}");
    }

    #[test]
    fn brightness_removal_ignores_a_uniform_lift() {
        let pattern = |x: u32, y: u32| (100 + (x * 7 + y * 3) % 60) as u8;
        let a = features(&gray_frame(128, 72, pattern));
        let b = features(&gray_frame(128, 72, |x, y| pattern(x, y) + 40));
        assert!(motion_compensated_distance(&a, &b, false) > 30.0);
        assert!(motion_compensated_distance(&a, &b, true) < 0.5);
        assert!(histogram_distance(&a, &b) > 0.5);
    }

    #[test]
    fn structure_distance_ignores_brightness_and_contrast_only() {
        let pattern =
            |x: u32, y: u32| 60.0 + 40.0 * ((x as f32) / 11.0).sin() + 30.0 * ((y as f32) / 5.0).cos();
        let a = features(&gray_frame(128, 72, |x, y| pattern(x, y) as u8));
        let dimmed = features(&gray_frame(128, 72, |x, y| (16.0 + 0.3 * pattern(x, y)) as u8));
        let other = features(&gray_frame(128, 72, |x, y| pattern(y * 2, x / 2) as u8));
        assert!(structure_distance(&a, &dimmed) < 0.1);
        assert!(structure_distance(&a, &other) > 0.5);
    }
}
