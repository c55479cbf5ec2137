//! Cheap per-frame signatures and the distances between them.
//!
//! A frame is reduced to a coarse grid of cell means (luma, plus two colour-difference
//! planes for RGB input), a luma histogram, and the luma mean and standard deviation.
//! Cell means are linear in the pixels, so a cross-fade of two frames is exactly the same
//! cross-fade of their grids; averaging 8×8 pixels also swamps compression noise.

use std::ops::Range;

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

/// Which pixels of a plane fall in which grid cell.
#[derive(Debug, Default)]
struct CellMap {
    width: usize,
    height: usize,
    /// The pixel columns of each grid column (contiguous, in order).
    column_spans: Vec<Range<usize>>,
    /// Offset of the grid row of each pixel row (grid row × columns).
    row_cell_offset: Vec<usize>,
    pixels_per_cell: Vec<u32>,
    /// Per pixel column, the sum over the rows of the grid row being added.
    column_sums: Vec<u32>,
}

impl CellMap {
    fn new(width: usize, height: usize) -> Self {
        let first_pixel = |cell: usize, cells: usize, pixels: usize| (cell * pixels).div_ceil(cells);
        let column_spans = (0..GRID_COLS)
            .map(|col| first_pixel(col, GRID_COLS, width)..first_pixel(col + 1, GRID_COLS, width))
            .collect::<Vec<_>>();
        let row_cell_offset: Vec<usize> =
            (0..height).map(|y| (y * GRID_ROWS / height.max(1)) * GRID_COLS).collect();
        let mut pixels_per_cell = vec![0; GRID_CELLS];
        for &row in &row_cell_offset {
            for (col, span) in column_spans.iter().enumerate() {
                pixels_per_cell[row + col] += span.len() as u32;
            }
        }
        Self { width, height, column_spans, row_cell_offset, pixels_per_cell, column_sums: vec![0; width] }
    }

    /// Adds each cell's pixel sum of the 8-bit `plane` (rows `width` long) to `sums`, and
    /// counts every pixel value in `levels` when given. Only complete rows count.
    ///
    /// The rows of one grid row are first added column by column (a loop the compiler
    /// vectorises), and split into cells once per grid row rather than once per pixel row.
    fn add_plane(&mut self, plane: &[u8], sums: &mut [i64], mut levels: Option<&mut LevelCounts>) {
        if self.width == 0 {
            return;
        }
        let mut pending: Option<usize> = None;
        for (row, &cell_offset) in plane.chunks_exact(self.width).zip(&self.row_cell_offset) {
            if let Some(levels) = levels.as_deref_mut() {
                levels.add_row(row);
            }
            if pending != Some(cell_offset) {
                if let Some(offset) = pending {
                    self.flush_column_sums(&mut sums[offset..offset + GRID_COLS]);
                }
                self.column_sums.fill(0);
                pending = Some(cell_offset);
            }
            for (sum, &pixel) in self.column_sums.iter_mut().zip(row) {
                *sum += u32::from(pixel);
            }
        }
        if let Some(offset) = pending {
            self.flush_column_sums(&mut sums[offset..offset + GRID_COLS]);
        }
    }

    fn flush_column_sums(&self, cells: &mut [i64]) {
        for (sum, span) in cells.iter_mut().zip(&self.column_spans) {
            *sum += self.column_sums[span.clone()].iter().map(|&column| i64::from(column)).sum::<i64>();
        }
    }
}

/// Pixels per luma level, counted in interleaved tables: in flat areas, where neighbours
/// share a level, one table would make every count wait for the previous one's store.
struct LevelCounts([[u32; 256]; LevelCounts::TABLES]);

impl Default for LevelCounts {
    fn default() -> Self {
        Self([[0; 256]; Self::TABLES])
    }
}

impl LevelCounts {
    const TABLES: usize = 4;

    fn add_row(&mut self, row: &[u8]) {
        let runs = row.chunks_exact(Self::TABLES);
        for &pixel in runs.remainder() {
            self.add(pixel);
        }
        for run in runs {
            for (table, &pixel) in self.0.iter_mut().zip(run) {
                table[usize::from(pixel)] += 1;
            }
        }
    }

    fn add(&mut self, level: u8) {
        self.0[0][usize::from(level)] += 1;
    }

    fn merged(&self) -> [u32; 256] {
        std::array::from_fn(|level| self.0.iter().map(|table| table[level]).sum())
    }
}

/// Turns frames into [`FrameFeatures`] without allocating once the frame size is known.
#[derive(Debug, Default)]
pub(crate) struct FeatureExtractor {
    luma: CellMap,
    /// The cells of the half-size colour planes of `Yuv420` frames.
    chroma: CellMap,
    sums: Vec<i64>,
}

/// Full-range Cb and Cr are B−Y and R−Y scaled down by these (BT.601).
const BLUE_DIFFERENCE_PER_CB: f32 = 1.772;
const RED_DIFFERENCE_PER_CR: f32 = 1.402;

impl FeatureExtractor {
    fn prepare(&mut self, width: usize, height: usize) {
        if self.luma.width == width && self.luma.height == height && !self.sums.is_empty() {
            return;
        }
        self.luma = CellMap::new(width, height);
        self.chroma = CellMap::new(width.div_ceil(2), height.div_ceil(2));
        self.sums = vec![0; GRID_CELLS * MAX_PLANES];
    }

    /// Fills `out` from `frame`. A buffer shorter than its declared size contributes only
    /// its complete rows, so a damaged frame never panics.
    pub(crate) fn extract(&mut self, frame: &VideoFrame, out: &mut FrameFeatures) {
        let width = frame.width as usize;
        let height = frame.height as usize;
        self.prepare(width, height);
        self.sums.fill(0);
        // Pixels per luma level: the histogram, mean and spread all follow from it.
        let mut levels = LevelCounts::default();
        let (luma_sums, colour_sums) = self.sums.split_at_mut(GRID_CELLS);
        match frame.layout {
            PixelLayout::Gray8 => {
                out.planes = 1;
                self.luma.add_plane(&frame.data, luma_sums, Some(&mut levels));
            }
            PixelLayout::Yuv420 => {
                out.planes = 3;
                let (luma, chroma) = frame.data.split_at(frame.data.len().min(width * height));
                self.luma.add_plane(luma, luma_sums, Some(&mut levels));
                let chroma_bytes = self.chroma.width * self.chroma.height;
                let (blue, red) = chroma.split_at(chroma.len().min(chroma_bytes));
                let (blue_sums, red_sums) = colour_sums.split_at_mut(GRID_CELLS);
                self.chroma.add_plane(blue, blue_sums, None);
                self.chroma.add_plane(red, red_sums, None);
            }
            PixelLayout::Rgb24 => {
                out.planes = 3;
                self.add_rgb(frame, &mut levels);
            }
        }
        for cell in 0..GRID_CELLS {
            let count = self.luma.pixels_per_cell[cell].max(1) as f32;
            out.grid[cell] = self.sums[cell] as f32 / count;
        }
        if out.planes == 3 {
            for plane in 1..3 {
                for cell in 0..GRID_CELLS {
                    let sum = self.sums[plane * GRID_CELLS + cell] as f32;
                    out.grid[plane * GRID_CELLS + cell] = CHROMA_WEIGHT
                        * match frame.layout {
                            PixelLayout::Yuv420 => {
                                let count = self.chroma.pixels_per_cell[cell].max(1) as f32;
                                let scale =
                                    if plane == 1 { BLUE_DIFFERENCE_PER_CB } else { RED_DIFFERENCE_PER_CR };
                                scale * (sum / count - 128.0)
                            }
                            _ => sum / self.luma.pixels_per_cell[cell].max(1) as f32,
                        };
                }
            }
        }
        let (mut pixel_count, mut luma_sum, mut luma_square_sum) = (0u64, 0u64, 0u64);
        let mut hist = [0u64; HIST_BINS];
        for (level, count) in levels.merged().into_iter().enumerate() {
            let (level, count) = (level as u64, u64::from(count));
            hist[(level >> 3) as usize] += count;
            pixel_count += count;
            luma_sum += level * count;
            luma_square_sum += level * level * count;
        }
        let total = pixel_count.max(1) as f64;
        for (bin, &count) in out.hist.iter_mut().zip(&hist) {
            *bin = (count as f64 / total) as f32;
        }
        let mean = luma_sum as f64 / total;
        let variance = (luma_square_sum as f64 / total - mean * mean).max(0.0);
        out.mean = mean as f32;
        out.std_dev = variance.sqrt() as f32;
        out.seconds = frame.time.seconds();
    }

    /// Luma (BT.601 weights) and the B−Y and R−Y differences of a packed RGB frame.
    fn add_rgb(&mut self, frame: &VideoFrame, levels: &mut LevelCounts) {
        let map = &self.luma;
        let stride = map.width * 3;
        if stride == 0 {
            return;
        }
        for (row, &cell_offset) in frame.data.chunks_exact(stride).zip(&map.row_cell_offset) {
            for (col, span) in map.column_spans.iter().enumerate() {
                let cell = cell_offset + col;
                let (mut luma_sum, mut blue_sum, mut red_sum) = (0i64, 0i64, 0i64);
                for pixel in row[span.start * 3..span.end * 3].chunks_exact(3) {
                    let (r, g, b) = (i64::from(pixel[0]), i64::from(pixel[1]), i64::from(pixel[2]));
                    // BT.601 luma weights in 8-bit fixed point.
                    let luma = (77 * r + 150 * g + 29 * b + 128) >> 8;
                    levels.add(luma as u8);
                    luma_sum += luma;
                    blue_sum += b - luma;
                    red_sum += r - luma;
                }
                self.sums[cell] += luma_sum;
                self.sums[GRID_CELLS + cell] += blue_sum;
                self.sums[2 * GRID_CELLS + cell] += red_sum;
            }
        }
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
    let b_cols =
        (col_range.start as isize - shift_cols) as usize..(col_range.end as isize - shift_cols) as usize;
    let mut total = 0.0f32;
    for row in row_range {
        let b_row = (row as isize - shift_rows) as usize;
        for plane in 0..planes {
            let offset = if plane == 0 { luma_offset } else { 0.0 };
            let a_cells = &a.grid[plane * GRID_CELLS + row * GRID_COLS..][..GRID_COLS];
            let b_cells = &b.grid[plane * GRID_CELLS + b_row * GRID_COLS..][..GRID_COLS];
            total += abs_difference_sum(&a_cells[col_range.clone()], &b_cells[b_cols.clone()], offset);
        }
        // Stop early: this shift already explains the change worse than the best one.
        if total > give_up_total {
            return None;
        }
    }
    Some(total / overlap as f32)
}

/// Σ |a + offset − b| over two equally long runs of cells, summed in eight lanes so the
/// compiler can vectorise it (a single running float sum has to stay in order).
fn abs_difference_sum(a: &[f32], b: &[f32], offset: f32) -> f32 {
    const LANES: usize = 8;
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 =
        a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| (x + offset - y).abs()).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += (x[lane] + offset - y[lane]).abs();
        }
    }
    lanes.iter().sum::<f32>() + tail
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
    for &(shift_cols, shift_rows) in SHIFTS_NEAREST_FIRST.iter() {
        if let Some(distance) = shifted_distance(a, b, shift_cols, shift_rows, remove_brightness, best) {
            best = best.min(distance);
        }
    }
    best
}

/// Whether [`motion_compensated_distance`] is below `limit`, found with less work: the search
/// stops at the first translation that comes within `limit`, and every shift gives up as
/// soon as it is past `limit` rather than past the best shift so far.
pub(crate) fn motion_compensated_distance_below(a: &FrameFeatures, b: &FrameFeatures, limit: f32) -> bool {
    std::iter::once(&(0, 0)).chain(SHIFTS_NEAREST_FIRST.iter()).any(|&(shift_cols, shift_rows)| {
        shifted_distance(a, b, shift_cols, shift_rows, false, limit).is_some_and(|distance| distance < limit)
    })
}

/// Every shift the motion search tries except none, smallest first: camera motion between
/// two frames is mostly small, so a close match found early lets the larger shifts give up
/// after a row or two. (The minimum is the same in any order.)
static SHIFTS_NEAREST_FIRST: std::sync::LazyLock<Vec<(isize, isize)>> = std::sync::LazyLock::new(|| {
    let mut shifts: Vec<(isize, isize)> = (-MAX_SHIFT_ROWS..=MAX_SHIFT_ROWS)
        .flat_map(|rows| (-MAX_SHIFT_COLS..=MAX_SHIFT_COLS).map(move |cols| (cols, rows)))
        .filter(|&shift| shift != (0, 0))
        .collect();
    shifts.sort_by_key(|&(cols, rows)| cols.abs() + rows.abs());
    shifts
});

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

    /// The same picture as packed RGB and as full-range planar 4:2:0 (BT.601).
    fn rgb_and_yuv_frames(
        width: u32,
        height: u32,
        rgb: impl Fn(u32, u32) -> [f32; 3],
    ) -> (VideoFrame, VideoFrame) {
        let to_yuv = |[r, g, b]: [f32; 3]| {
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            (y, (b - y) / 1.772 + 128.0, (r - y) / 1.402 + 128.0)
        };
        let mut packed = Vec::new();
        let mut planes = [Vec::new(), Vec::new(), Vec::new()];
        for y in 0..height {
            for x in 0..width {
                let pixel = rgb(x, y);
                packed.extend(pixel.map(|v| v.round() as u8));
                planes[0].push(to_yuv(pixel).0.round() as u8);
            }
        }
        // Chroma of each 2×2 block, averaged.
        for y in (0..height).step_by(2) {
            for x in (0..width).step_by(2) {
                let block = [(x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1)].map(|(x, y)| to_yuv(rgb(x, y)));
                planes[1].push((block.iter().map(|p| p.1).sum::<f32>() / 4.0).round() as u8);
                planes[2].push((block.iter().map(|p| p.2).sum::<f32>() / 4.0).round() as u8);
            }
        }
        let mut rgb_frame = gray_frame(width, height, |_, _| 0);
        rgb_frame.layout = PixelLayout::Rgb24;
        rgb_frame.data = packed;
        let mut yuv_frame = rgb_frame.clone();
        yuv_frame.layout = PixelLayout::Yuv420;
        yuv_frame.data = planes.concat();
        (rgb_frame, yuv_frame)
    }

    #[test]
    fn planar_and_rgb_frames_give_the_same_features() {
        let (rgb, yuv) = rgb_and_yuv_frames(128, 72, |x, y| {
            [
                (x * 2 % 256) as f32,
                (y * 3 % 256) as f32,
                if (x / 16 + y / 16) % 2 == 0 { 220.0 } else { 30.0 },
            ]
        });
        let (from_rgb, from_yuv) = (features(&rgb), features(&yuv));
        assert_eq!(from_yuv.planes, 3);
        assert!((from_rgb.mean - from_yuv.mean).abs() < 1.0, "{} vs {}", from_rgb.mean, from_yuv.mean);
        assert!((from_rgb.std_dev - from_yuv.std_dev).abs() < 1.0);
        for (a, b) in from_rgb.cells().iter().zip(from_yuv.cells()) {
            assert!((a - b).abs() < 1.5, "cell {a} vs {b}");
        }
        assert!(histogram_distance(&from_rgb, &from_yuv) < 0.05);
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
