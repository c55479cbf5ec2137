//! Decoded pictures to the tightly packed Gray8/RGB24/YUV 4:2:0 pictures analyzers ask for.
//!
//! 8-bit planar YUV, what software decoders give for nearly all video, is reduced by box
//! averaging straight from its planes and converted to RGB only at the requested size:
//! swscale's area filter runs a horizontal filter over every source line and converts
//! colour before shrinking, which cost about a fifth of an H.264 decode at 1080p. Other
//! formats (high bit depth, packed, hardware layouts) go through swscale.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use reelforge_core::{FramePurpose, FrameRequest, PixelLayout};

/// A YUV 4:2:0 picture (`width × height`, even sizes) turned clockwise by `turns` quarter
/// turns into a new picture (`height × width` for odd turns): how renditions and trailers
/// show a phone's portrait clip upright.
pub(crate) fn turn_yuv420(picture: &ffmpeg::frame::Video, turns: u8) -> ffmpeg::frame::Video {
    let (width, height) = (picture.width(), picture.height());
    let (out_width, out_height) = if turns % 2 == 1 { (height, width) } else { (width, height) };
    let mut turned = ffmpeg::frame::Video::new(Pixel::YUV420P, out_width, out_height);
    for plane in 0..3 {
        let shrink = |size: u32| if plane == 0 { size } else { size / 2 };
        let (w, h) = (shrink(width) as usize, shrink(height) as usize);
        let stride = picture.stride(plane);
        let packed: Vec<u8> =
            (0..h).flat_map(|y| picture.data(plane)[y * stride..y * stride + w].iter().copied()).collect();
        let rotated = PixelLayout::Gray8.rotate_clockwise(&packed, w as u32, h as u32, turns);
        let (row_bytes, to_stride) = (shrink(out_width) as usize, turned.stride(plane));
        for (y, row) in rotated.chunks_exact(row_bytes.max(1)).enumerate() {
            turned.data_mut(plane)[y * to_stride..y * to_stride + row_bytes].copy_from_slice(row);
        }
    }
    turned.set_pts(picture.pts());
    turned
}

/// The source a scaler was prepared for: pixel format, width, height.
type SourceShape = (Pixel, u32, u32);

pub(crate) struct FrameScaler {
    /// What is scaled to: the request in the stream's stored orientation.
    request: FrameRequest,
    /// Clockwise quarter turns from the stored picture to the displayed one.
    turns: u8,
    /// The box reduction for the current source, when its format allows one.
    boxes: Option<(PlanarBoxes, SourceShape)>,
    /// The swscale context and the source it was made for.
    context: Option<(ffmpeg::software::scaling::Context, SourceShape)>,
    scaled: ffmpeg::frame::Video,
    /// A delivered frame's buffer, handed back to hold the next box reduction.
    spare: Vec<u8>,
}

impl FrameScaler {
    #[cfg(test)]
    pub(crate) fn new(request: FrameRequest) -> Self {
        Self::upright(request, 0)
    }

    /// A scaler for a stream stored `turns` clockwise quarter turns away from how it is shown
    /// (a phone's portrait clip stored landscape): `request` is the displayed size, and each
    /// picture is scaled in the stored orientation, then turned upright.
    pub(crate) fn upright(request: FrameRequest, turns: u8) -> Self {
        let turns = turns % 4;
        let request = if turns % 2 == 1 {
            // Statistics rows are exact fractions of the stored width, which a turned
            // request does not keep: a turned picture is reduced as a picture.
            FrameRequest {
                width: request.height,
                height: request.width,
                purpose: reelforge_core::FramePurpose::Picture,
                ..request
            }
        } else {
            request
        };
        Self {
            request,
            turns,
            boxes: None,
            context: None,
            scaled: ffmpeg::frame::Video::empty(),
            spare: Vec::new(),
        }
    }

    /// Takes back the buffer of a frame the analyzer is done with, so the next frame reuses
    /// it instead of a fresh zeroed allocation.
    pub(crate) fn recycle(&mut self, data: Vec<u8>) {
        self.spare = data;
    }

    /// The picture at the requested size and layout, upright, rows tightly packed.
    pub(crate) fn scale(&mut self, frame: &ffmpeg::frame::Video) -> Result<Vec<u8>, ffmpeg::Error> {
        let stored = self.scale_stored(frame)?;
        if self.turns == 0 {
            return Ok(stored);
        }
        let (width, height, layout) = (self.request.width, self.request.height, self.request.layout);
        let upright = layout.rotate_clockwise(&stored, width, height, self.turns);
        self.spare = stored;
        Ok(upright)
    }

    fn scale_stored(&mut self, frame: &ffmpeg::frame::Video) -> Result<Vec<u8>, ffmpeg::Error> {
        let source = (frame.format(), frame.width(), frame.height());
        // The source size or format can change mid-stream (broadcast recordings): re-plan.
        let boxes = match &mut self.boxes {
            Some((boxes, made_for)) if *made_for == source => Some(boxes),
            slot => {
                *slot = PlanarBoxes::new(source, self.request).map(|boxes| (boxes, source));
                slot.as_mut().map(|(boxes, _)| boxes)
            }
        };
        if let Some(boxes) = boxes {
            let mut data = std::mem::take(&mut self.spare);
            if boxes.reduce(frame, self.request.layout, &mut data).is_some() {
                return Ok(data);
            }
        }
        self.swscale(frame, source)
    }

    fn swscale(
        &mut self,
        frame: &ffmpeg::frame::Video,
        source: SourceShape,
    ) -> Result<Vec<u8>, ffmpeg::Error> {
        let request = self.request;
        let context = match &mut self.context {
            Some((context, made_for)) if *made_for == source => context,
            slot => {
                let target = match request.layout {
                    PixelLayout::Gray8 => Pixel::GRAY8,
                    PixelLayout::Rgb24 => Pixel::RGB24,
                    PixelLayout::Yuv420 => Pixel::YUVJ420P,
                };
                let context = ffmpeg::software::scaling::Context::get(
                    source.0,
                    source.1,
                    source.2,
                    target,
                    request.width,
                    request.height,
                    ffmpeg::software::scaling::Flags::AREA,
                )?;
                &mut slot.insert((context, source)).0
            }
        };
        context.run(frame, &mut self.scaled)?;
        // swscale pads rows to its alignment; analyzers get exactly the pixels, plane by plane.
        let mut data = Vec::with_capacity(request.layout.frame_bytes(request.width, request.height));
        for (plane, (row_bytes, rows)) in
            request.layout.planes(request.width, request.height).into_iter().enumerate()
        {
            let stride = self.scaled.stride(plane);
            for row in self.scaled.data(plane).chunks(stride).take(rows) {
                data.extend_from_slice(&row[..row_bytes]);
            }
        }
        Ok(data)
    }
}

/// Source pixels `start..end` (rows or columns) averaged into one output pixel.
type Span = (usize, usize);

/// A box reads at most this many of its source rows, evenly spaced (all of its columns).
/// Reading the source is what a reduction costs: a decoded 1080p picture has left the cache
/// by the time it is reduced, and a 256 px analysis frame's box spans 7-8 rows. Pictures
/// this small gain nothing visible from the other rows; statistics need only one.
const fn rows_read_per_box(purpose: FramePurpose) -> usize {
    match purpose {
        FramePurpose::Picture => MAX_ROWS_READ_PER_BOX,
        FramePurpose::Statistics => 1,
    }
}
const MAX_ROWS_READ_PER_BOX: usize = 2;
// Column sums of the rows read stay exact in 16 bits.
const _: () = assert!(MAX_ROWS_READ_PER_BOX * 255 <= u16::MAX as usize);

/// Rounds to the nearest level (adding ½ and truncating: `round()` is a library call without
/// SSE4.1).
fn to_byte(value: f32) -> u8 {
    (value.clamp(0.0, 255.0) + 0.5) as u8
}

/// Box averaging of 8-bit planar YUV to the requested size: each output pixel is the mean of
/// the source pixels it covers, computed per plane (chroma at its own resolution).
struct PlanarBoxes {
    width: usize,
    height: usize,
    luma: PlaneBoxes,
    chroma: PlaneBoxes,
    scratch: ReduceScratch,
    /// Box means in source levels, per plane (RGB output only: planar output is written
    /// straight to the frame it returns).
    luma_means: Vec<u8>,
    blue_means: Vec<u8>,
    red_means: Vec<u8>,
    /// Source level to full-range output level, for luma and for chroma.
    luma_levels: OutputLevels,
    /// Full-range luma and centred chroma of a source level, for the RGB conversion.
    full_luma: [f32; 256],
    centred_chroma: [f32; 256],
    chroma_levels: OutputLevels,
    /// Levels kept as they are: box means the RGB conversion reads in source levels.
    source_levels: OutputLevels,
}

/// How source levels become the full-range levels analyzers get, as swscale gives them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LevelExpansion {
    /// Full-range sources, and box means the RGB conversion reads in source levels.
    None,
    /// Video-range luma: black at 16 and white at 235 become 0 and 255.
    Luma,
    /// Video-range chroma: 128 ± 112 becomes 128 ± 127.5.
    Chroma,
}

impl LevelExpansion {
    /// The output level of a source level, rounded to the nearest. The arithmetic stays in
    /// 16 bits (255 × 255 fits) with constant divisors, so a row of it vectorises, where a
    /// table lookup per pixel cannot without SSE4.1 gathers.
    #[inline(always)]
    fn level(self, level: u8) -> u8 {
        let level = u16::from(level);
        let expanded = match self {
            Self::None => level,
            // round((level − 16) × 255 / 219)
            Self::Luma => (255 * level.saturating_sub(16) + 109) / 219,
            // round((level − 128) × 255 / 224 + 128) = ⌊(255 × level − 3856) / 224⌋
            Self::Chroma => (255 * level).saturating_sub(3856) / 224,
        };
        expanded.min(255) as u8
    }

    /// `out[i]` = the output level of `row[i]`, one arm per expansion so each loop vectorises.
    fn expand_row(self, row: &[u8], out: &mut [u8]) {
        match self {
            Self::None => out.iter_mut().zip(row).for_each(|(pixel, &value)| *pixel = value),
            Self::Luma => {
                out.iter_mut().zip(row).for_each(|(pixel, &value)| *pixel = Self::Luma.level(value))
            }
            Self::Chroma => {
                out.iter_mut().zip(row).for_each(|(pixel, &value)| *pixel = Self::Chroma.level(value))
            }
        }
    }
}

/// A [`LevelExpansion`] and its table, for box means (one lookup per box, not per pixel).
struct OutputLevels {
    expansion: LevelExpansion,
    table: [u8; 256],
}

impl OutputLevels {
    fn new(expansion: LevelExpansion) -> Self {
        Self { expansion, table: std::array::from_fn(|level| expansion.level(level as u8)) }
    }
}

/// Which source rows and columns of one plane make each output pixel.
struct PlaneBoxes {
    width: usize,
    height: usize,
    columns: Vec<Span>,
    /// The width shared by every box when the plane divides into equal boxes side by side.
    uniform_width: Option<usize>,
    /// For boxes reading 1, 2, … rows: 2¹⁶ / the pixels of each column's box, so a box mean
    /// is one multiply. (Box totals times these stay below 2²⁵, well inside 32 bits.)
    multipliers_by_rows_read: [Vec<u32>; MAX_ROWS_READ_PER_BOX],
    /// The rows of each box and the step between the rows read.
    rows: Vec<(Span, usize)>,
}

/// Sums of one output row's source rows: per column (boxes reading more than one row), and
/// running along the row.
struct ReduceScratch {
    column_sums: Vec<u16>,
    running_sums: Vec<u32>,
}

impl PlaneBoxes {
    fn new(
        plane_width: usize,
        plane_height: usize,
        width: usize,
        height: usize,
        rows_per_box: usize,
    ) -> Self {
        let spans = |source: usize, target: usize| {
            (0..target)
                .map(|i| {
                    let start = (i * source / target).min(source - 1);
                    (start, ((i + 1) * source / target).clamp(start + 1, source))
                })
                .collect()
        };
        let columns: Vec<Span> = spans(plane_width, width);
        let box_width = plane_width / width;
        let uniform_width = (box_width * width == plane_width).then_some(box_width);
        Self {
            width: plane_width,
            height: plane_height,
            multipliers_by_rows_read: std::array::from_fn(|rows| {
                columns
                    .iter()
                    .map(|(start, end)| {
                        ((1 << 16) as f64 / ((end - start) * (rows + 1)) as f64).round() as u32
                    })
                    .collect()
            }),
            columns,
            uniform_width,
            rows: spans(plane_height, height)
                .into_iter()
                .map(|(start, end)| ((start, end), (end - start).div_ceil(rows_per_box)))
                .collect(),
        }
    }
}

impl PlanarBoxes {
    /// A plan for `source` when its format is 8-bit planar YUV, else `None` (swscale's job).
    fn new(source: SourceShape, request: FrameRequest) -> Option<Self> {
        let (format, width, height) = source;
        let (chroma_shift_x, chroma_shift_y, full_range) = match format {
            Pixel::YUV420P => (1, 1, false),
            Pixel::YUVJ420P => (1, 1, true),
            Pixel::YUV422P => (1, 0, false),
            Pixel::YUVJ422P => (1, 0, true),
            Pixel::YUV444P => (0, 0, false),
            Pixel::YUVJ444P => (0, 0, true),
            _ => return None,
        };
        let (source_width, source_height) = (width as usize, height as usize);
        let (target_width, target_height) = (request.width as usize, request.height as usize);
        if source_width == 0 || source_height == 0 || target_width == 0 || target_height == 0 {
            return None;
        }
        let chroma_width = source_width.div_ceil(1 << chroma_shift_x);
        let chroma_height = source_height.div_ceil(1 << chroma_shift_y);
        let rows_per_box = rows_read_per_box(request.purpose);
        let luma = PlaneBoxes::new(source_width, source_height, target_width, target_height, rows_per_box);
        // RGB needs colour for every output pixel; 4:2:0 output keeps chroma at half size.
        let (chroma_target_width, chroma_target_height) = match request.layout {
            PixelLayout::Yuv420 => (target_width.div_ceil(2), target_height.div_ceil(2)),
            PixelLayout::Gray8 | PixelLayout::Rgb24 => (target_width, target_height),
        };
        let chroma = PlaneBoxes::new(
            chroma_width,
            chroma_height,
            chroma_target_width,
            chroma_target_height,
            rows_per_box,
        );
        let pixels = target_width * target_height;
        // Video range puts black at 16 and white at 235 (chroma ±112 around 128); the RGB
        // conversion works from the same expansion as `LevelExpansion`, in floating point.
        let (luma_scale, luma_offset, chroma_scale) =
            if full_range { (1.0, 0.0, 1.0) } else { (255.0 / 219.0, 16.0, 255.0 / 224.0) };
        Some(Self {
            width: target_width,
            height: target_height,
            luma,
            chroma,
            scratch: ReduceScratch {
                column_sums: vec![0; source_width],
                running_sums: vec![0; source_width + 1],
            },
            luma_means: vec![0; if request.layout == PixelLayout::Rgb24 { pixels } else { 0 }],
            blue_means: vec![0; if request.layout == PixelLayout::Rgb24 { pixels } else { 0 }],
            red_means: vec![0; if request.layout == PixelLayout::Rgb24 { pixels } else { 0 }],
            full_luma: std::array::from_fn(|level| (level as f32 - luma_offset) * luma_scale),
            centred_chroma: std::array::from_fn(|level| (level as f32 - 128.0) * chroma_scale),
            luma_levels: OutputLevels::new(if full_range {
                LevelExpansion::None
            } else {
                LevelExpansion::Luma
            }),
            chroma_levels: OutputLevels::new(if full_range {
                LevelExpansion::None
            } else {
                LevelExpansion::Chroma
            }),
            source_levels: OutputLevels::new(LevelExpansion::None),
        })
    }

    /// Writes the reduced picture into `data` (every byte of it), or returns `None` when the
    /// frame's planes are not laid out as expected.
    fn reduce(
        &mut self,
        frame: &ffmpeg::frame::Video,
        layout: PixelLayout,
        data: &mut Vec<u8>,
    ) -> Option<()> {
        if frame.planes() < 3 {
            return None;
        }
        data.resize(layout.frame_bytes(self.width as u32, self.height as u32), 0);
        let scratch = &mut self.scratch;
        match layout {
            PixelLayout::Gray8 => reduce_plane(frame, 0, &self.luma, scratch, &self.luma_levels, data)?,
            PixelLayout::Yuv420 => {
                let (luma, chroma) = data.split_at_mut(self.width * self.height);
                let (blue, red) = chroma.split_at_mut(chroma.len() / 2);
                reduce_plane(frame, 0, &self.luma, scratch, &self.luma_levels, luma)?;
                reduce_plane(frame, 1, &self.chroma, scratch, &self.chroma_levels, blue)?;
                reduce_plane(frame, 2, &self.chroma, scratch, &self.chroma_levels, red)?;
            }
            PixelLayout::Rgb24 => {
                let source_levels = &self.source_levels;
                reduce_plane(frame, 0, &self.luma, scratch, source_levels, &mut self.luma_means)?;
                reduce_plane(frame, 1, &self.chroma, scratch, source_levels, &mut self.blue_means)?;
                reduce_plane(frame, 2, &self.chroma, scratch, source_levels, &mut self.red_means)?;
                let pixels = self.luma_means.iter().zip(&self.blue_means).zip(&self.red_means);
                for (((&y, &cb), &cr), rgb) in pixels.zip(data.chunks_exact_mut(3)) {
                    let y = self.full_luma[usize::from(y)];
                    let (cb, cr) =
                        (self.centred_chroma[usize::from(cb)], self.centred_chroma[usize::from(cr)]);
                    // BT.601, swscale's default matrix.
                    rgb.copy_from_slice(&[
                        to_byte(y + 1.402 * cr),
                        to_byte(y - 0.344_136 * cb - 0.714_136 * cr),
                        to_byte(y + 1.772 * cb),
                    ]);
                }
            }
        }
        Some(())
    }
}

/// Box means of plane `plane` of `frame`, mapped through `levels`, into `out` (output
/// width × height). A box reading one row averages that row's bytes; otherwise the rows it
/// reads are first summed column by column, a loop the compiler vectorises.
fn reduce_plane(
    frame: &ffmpeg::frame::Video,
    plane: usize,
    boxes: &PlaneBoxes,
    scratch: &mut ReduceScratch,
    levels: &OutputLevels,
    out: &mut [u8],
) -> Option<()> {
    let stride = frame.stride(plane);
    let data = frame.data(plane);
    if stride < boxes.width || data.len() < stride * (boxes.height - 1) + boxes.width {
        return None;
    }
    let row_pixels = |row: usize| &data[row * stride..][..boxes.width];
    let sums = &mut scratch.column_sums[..boxes.width];
    let running = &mut scratch.running_sums[..=boxes.width];
    let output_width = boxes.columns.len();
    for (index, (&((first_row, end_row), step), out_row)) in
        boxes.rows.iter().zip(out.chunks_exact_mut(output_width)).enumerate()
    {
        if let Some(&((next_first, next_end), next_step)) = boxes.rows.get(index + 1) {
            for row in (next_first..next_end).step_by(next_step) {
                prefetch(row_pixels(row));
            }
        }
        let rows_read = (end_row - first_row).div_ceil(step);
        let multipliers = &boxes.multipliers_by_rows_read[rows_read - 1];
        if rows_read == 1 {
            let row = row_pixels(first_row);
            let multiplier = multipliers[0];
            match boxes.uniform_width {
                // Nothing to average: the source row itself, in output levels.
                Some(1) => levels.expansion.expand_row(row, out_row),
                Some(2) => uniform_box_means::<2>(row, multiplier, &levels.table, out_row),
                Some(3) => uniform_box_means::<3>(row, multiplier, &levels.table, out_row),
                Some(4) => uniform_box_means::<4>(row, multiplier, &levels.table, out_row),
                Some(5) => uniform_box_means::<5>(row, multiplier, &levels.table, out_row),
                Some(6) => uniform_box_means::<6>(row, multiplier, &levels.table, out_row),
                Some(7) => uniform_box_means::<7>(row, multiplier, &levels.table, out_row),
                Some(8) => uniform_box_means::<8>(row, multiplier, &levels.table, out_row),
                _ => write_box_means(row, &boxes.columns, multipliers, &levels.table, running, out_row),
            }
            continue;
        }
        for (sum, &pixel) in sums.iter_mut().zip(row_pixels(first_row)) {
            *sum = u16::from(pixel);
        }
        for row in (first_row + step..end_row).step_by(step) {
            for (sum, &pixel) in sums.iter_mut().zip(row_pixels(row)) {
                *sum += u16::from(pixel);
            }
        }
        write_box_means(sums, &boxes.columns, multipliers, &levels.table, running, out_row);
    }
    Some(())
}

/// Each box's mean of `values` (source pixels or column sums), mapped through `levels`: a
/// running sum along the row gives every box's total by one subtraction, with no loop whose
/// length changes from box to box (boxes 7 and 8 wide in turn mispredict one).
fn write_box_means<T: Copy + Into<u32>>(
    values: &[T],
    columns: &[Span],
    multipliers: &[u32],
    levels: &[u8; 256],
    running: &mut [u32],
    out: &mut [u8],
) {
    let mut total = 0u32;
    for (slot, &value) in running[1..].iter_mut().zip(values) {
        total += value.into();
        *slot = total;
    }
    for ((&(first, end), &multiplier), pixel) in columns.iter().zip(multipliers).zip(out) {
        let mean = ((running[end] - running[first]) * multiplier + (1 << 15)) >> 16;
        *pixel = levels[mean.min(255) as usize];
    }
}

/// Box means of one source row whose boxes are all `W` pixels wide and side by side (a
/// whole-number reduction): the sum unrolls and needs no bounds checks, about a third of the
/// general loop's cost.
fn uniform_box_means<const W: usize>(row: &[u8], multiplier: u32, levels: &[u8; 256], out: &mut [u8]) {
    for (run, pixel) in row.chunks_exact(W).zip(out) {
        let total: u32 = run.iter().map(|&value| u32::from(value)).sum();
        let mean = (total * multiplier + (1 << 15)) >> 16;
        *pixel = levels[mean.min(255) as usize];
    }
}

/// Asks the CPU to start loading `bytes` into the cache. The next output row's source rows
/// are a few pages further on, where the hardware prefetcher does not look; without this
/// every row of a picture that has left the cache stalls on memory.
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and the
        // address is inside a live slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A YUV 4:2:0 frame whose planes are filled by the given functions of (x, y).
    fn yuv_frame(
        format: Pixel,
        width: u32,
        height: u32,
        luma: impl Fn(usize, usize) -> u8,
        blue: u8,
        red: u8,
    ) -> ffmpeg::frame::Video {
        crate::init::ensure_init();
        let mut frame = ffmpeg::frame::Video::new(format, width, height);
        let stride = frame.stride(0);
        for (y, row) in frame.data_mut(0).chunks_mut(stride).enumerate().take(height as usize) {
            for (x, pixel) in row.iter_mut().enumerate().take(width as usize) {
                *pixel = luma(x, y);
            }
        }
        frame.data_mut(1).fill(blue);
        frame.data_mut(2).fill(red);
        frame
    }

    fn request(width: u32, height: u32, layout: PixelLayout) -> FrameRequest {
        FrameRequest { width, height, layout, sample_every_ms: 0, purpose: FramePurpose::Picture }
    }

    #[test]
    fn boxes_average_the_pixels_they_cover_and_expand_video_range() {
        // Left half black (16), right half white (235), in video range.
        let frame = yuv_frame(Pixel::YUV420P, 64, 32, |x, _| if x < 32 { 16 } else { 235 }, 128, 128);
        let mut scaler = FrameScaler::new(request(8, 4, PixelLayout::Gray8));
        let gray = scaler.scale(&frame).unwrap();
        assert_eq!(gray.len(), 32);
        for row in gray.chunks(8) {
            assert_eq!(row, [0, 0, 0, 0, 255, 255, 255, 255]);
        }
    }

    #[test]
    fn statistics_frames_average_one_source_row_per_output_row() {
        // Full range; luma rises by 2 per column and 1 per row.
        let frame = yuv_frame(Pixel::YUVJ420P, 64, 32, |x, y| (2 * x + y) as u8, 128, 128);
        let statistics = request(8, 4, PixelLayout::Gray8);
        let statistics = FrameRequest { purpose: FramePurpose::Statistics, ..statistics };
        let picture = request(8, 4, PixelLayout::Gray8);
        let from_one_row = FrameScaler::new(statistics).scale(&frame).unwrap();
        let from_two_rows = FrameScaler::new(picture).scale(&frame).unwrap();
        for (index, (one, two)) in from_one_row.iter().zip(&from_two_rows).enumerate() {
            let (column, row) = (index % 8, index / 8);
            // Columns 8c..8c+8 of source row 8r; the picture also reads row 8r+4.
            assert_eq!(usize::from(*one), 16 * column + 7 + 8 * row, "pixel {index}");
            assert_eq!(usize::from(*two), 16 * column + 9 + 8 * row, "pixel {index}");
        }
        // Boxes of unequal width (60 / 8 = 7.5 columns) take the general path.
        let flat = yuv_frame(Pixel::YUVJ420P, 60, 32, |_, _| 90, 128, 128);
        let uneven = FrameScaler::new(statistics).scale(&flat).unwrap();
        assert!(uneven.iter().all(|&v| v == 90), "{uneven:?}");
    }

    #[test]
    fn level_expansion_rounds_the_video_range_formulas() {
        for level in 0..=255u8 {
            let source = f64::from(level);
            let luma = ((source - 16.0) * 255.0 / 219.0).clamp(0.0, 255.0);
            let chroma = ((source - 128.0) * 255.0 / 224.0 + 128.0).clamp(0.0, 255.0);
            assert_eq!(LevelExpansion::Luma.level(level), (luma + 0.5).floor() as u8, "luma {level}");
            assert_eq!(LevelExpansion::Chroma.level(level), (chroma + 0.5).floor() as u8, "chroma {level}");
            assert_eq!(LevelExpansion::None.level(level), level);
        }
        let row: Vec<u8> = (0..=255).collect();
        let mut out = vec![0; 256];
        LevelExpansion::Luma.expand_row(&row, &mut out);
        assert_eq!(out, OutputLevels::new(LevelExpansion::Luma).table);
    }

    #[test]
    fn full_range_sources_keep_their_levels() {
        let frame = yuv_frame(Pixel::YUVJ420P, 30, 20, |x, y| ((x + y) % 2 * 100) as u8, 128, 128);
        let gray = FrameScaler::new(request(10, 10, PixelLayout::Gray8)).scale(&frame).unwrap();
        assert!(gray.iter().all(|&v| v == 50), "{gray:?}");
    }

    #[test]
    fn colour_matches_swscale_on_a_flat_picture() {
        // A saturated orange in video range.
        let frame = yuv_frame(Pixel::YUV420P, 96, 54, |_, _| 150, 60, 200);
        let mut ours = FrameScaler::new(request(32, 18, PixelLayout::Rgb24));
        let boxed = ours.scale(&frame).unwrap();
        let mut reference = FrameScaler::new(request(32, 18, PixelLayout::Rgb24));
        let swscaled = reference.swscale(&frame, (frame.format(), 96, 54)).unwrap();
        assert_eq!(boxed.len(), swscaled.len());
        for (a, b) in boxed.iter().zip(&swscaled) {
            assert!(a.abs_diff(*b) <= 2, "box {a} vs swscale {b}");
        }
    }

    #[test]
    fn planar_output_matches_swscale() {
        let frame = yuv_frame(Pixel::YUV420P, 100, 60, |x, y| (16 + (x * 3 + y * 2) % 200) as u8, 90, 170);
        let request = request(50, 30, PixelLayout::Yuv420);
        let boxed = FrameScaler::new(request).scale(&frame).unwrap();
        let swscaled = FrameScaler::new(request).swscale(&frame, (frame.format(), 100, 60)).unwrap();
        assert_eq!(boxed.len(), 50 * 30 + 2 * 25 * 15);
        assert_eq!(boxed.len(), swscaled.len());
        let mean_difference =
            boxed.iter().zip(&swscaled).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>()
                / boxed.len() as f64;
        assert!(mean_difference < 1.5, "mean difference {mean_difference}");
    }

    #[test]
    fn other_formats_go_through_swscale() {
        crate::init::ensure_init();
        let mut frame = ffmpeg::frame::Video::new(Pixel::RGB24, 16, 8);
        frame.data_mut(0).fill(200);
        let gray = FrameScaler::new(request(8, 4, PixelLayout::Gray8)).scale(&frame).unwrap();
        assert_eq!(gray.len(), 32);
        assert!(gray.iter().all(|&v| v.abs_diff(200) <= 1), "{gray:?}");
    }
}
