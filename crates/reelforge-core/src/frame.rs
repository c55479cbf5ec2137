//! Decoded pictures and audio as plain buffers with their timing.

use serde::{Deserialize, Serialize};

/// A rational number, used for time bases, frame rates and aspect ratios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rational {
    pub num: i32,
    pub den: i32,
}

impl Rational {
    pub const fn new(num: i32, den: i32) -> Self {
        Self { num, den }
    }

    /// The value as a float; 0 when the denominator is 0 (FFmpeg's "unknown").
    pub fn as_f64(self) -> f64 {
        if self.den == 0 { 0.0 } else { f64::from(self.num) / f64::from(self.den) }
    }
}

/// A presentation timestamp in its stream's time base: timing comes from the container,
/// never from counting frames (variable frame rate input stays correct).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    pub pts: i64,
    pub time_base: Rational,
}

impl Timestamp {
    pub fn seconds(self) -> f64 {
        self.pts as f64 * self.time_base.as_f64()
    }
}

/// How the pixels of an analysis frame are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PixelLayout {
    /// One byte of luma per pixel (BT.601 range as swscale produces it).
    Gray8,
    /// Three bytes per pixel: R, G, B.
    Rgb24,
    /// Planar Y′CbCr 4:2:0 as decoders give it, without the cost of a conversion to RGB:
    /// the luma plane (`width × height`), then the blue-difference and the red-difference
    /// plane (each `⌈width/2⌉ × ⌈height/2⌉`). Full range: luma 0 (black) to 255 (white),
    /// chroma 128 for no colour.
    Yuv420,
}

impl PixelLayout {
    /// Bytes per pixel of the first plane (the only one, except for `Yuv420`).
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelLayout::Gray8 | PixelLayout::Yuv420 => 1,
            PixelLayout::Rgb24 => 3,
        }
    }

    /// Bytes per row and rows of each plane of a tightly packed `width × height` picture,
    /// in the order they follow each other.
    pub fn planes(self, width: u32, height: u32) -> Vec<(usize, usize)> {
        let (width, height) = (width as usize, height as usize);
        match self {
            PixelLayout::Yuv420 => {
                let chroma = (width.div_ceil(2), height.div_ceil(2));
                vec![(width, height), chroma, chroma]
            }
            packed => vec![(width * packed.bytes_per_pixel(), height)],
        }
    }

    /// Bytes of a tightly packed `width × height` picture, all planes.
    pub fn frame_bytes(self, width: u32, height: u32) -> usize {
        self.planes(width, height).iter().map(|(row_bytes, rows)| row_bytes * rows).sum()
    }

    /// A tightly packed `width × height` picture turned clockwise by `quarter_turns` × 90°
    /// (how a phone clip's display matrix asks for it to be shown). Odd turns swap width and
    /// height: the result is `height × width`.
    pub fn rotate_clockwise(self, data: &[u8], width: u32, height: u32, quarter_turns: u8) -> Vec<u8> {
        let turns = quarter_turns % 4;
        if turns == 0 {
            return data.to_vec();
        }
        let pixel = self.bytes_per_pixel();
        let mut out = Vec::with_capacity(data.len());
        let mut offset = 0;
        for (row_bytes, rows) in self.planes(width, height) {
            let columns = row_bytes / pixel;
            let plane = &data[offset..offset + row_bytes * rows];
            offset += row_bytes * rows;
            let at = |x: usize, y: usize| &plane[y * row_bytes + x * pixel..][..pixel];
            // Output rows top to bottom, each left to right, read from where they come from.
            match turns {
                1 => (0..columns)
                    .for_each(|y| (0..rows).for_each(|x| out.extend_from_slice(at(y, rows - 1 - x)))),
                2 => (0..rows).for_each(|y| {
                    (0..columns).for_each(|x| out.extend_from_slice(at(columns - 1 - x, rows - 1 - y)))
                }),
                _ => (0..columns)
                    .for_each(|y| (0..rows).for_each(|x| out.extend_from_slice(at(columns - 1 - y, x)))),
            }
        }
        out
    }
}

/// The frame size and layout an analyzer wants to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameRequest {
    pub width: u32,
    pub height: u32,
    pub layout: PixelLayout,
    /// 0: every frame. Otherwise only the first frame at or after each step of this many
    /// milliseconds, so a sampler (keyframes, thumbnails) costs no scaling in between.
    pub sample_every_ms: u32,
    pub purpose: FramePurpose,
}

/// What a shrunk frame is for, which decides how much of the source a scaler reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FramePurpose {
    /// A picture to look at or encode (keyframes, thumbnails, sprites): each pixel averages
    /// the source pixels it covers, over several source rows.
    #[default]
    Picture,
    /// Numbers computed from every frame (shot detection): each output row averages along
    /// one source row. Reading the source is most of what shrinking costs, and statistics
    /// over many pixels do not need the rows in between.
    Statistics,
}

impl FrameRequest {
    /// A request `width` pixels wide (never wider than the source) keeping the display
    /// aspect ratio of `source`; dimensions are even so chroma subsampling stays exact.
    pub fn fit_width(source: &VideoInfo, width: u32, layout: PixelLayout) -> Self {
        let width = width.min(source.width).max(2) & !1;
        Self {
            width,
            height: Self::fitting_height(source, width),
            layout,
            sample_every_ms: 0,
            purpose: FramePurpose::Picture,
        }
    }

    /// A request for [`FramePurpose::Statistics`] about `width` pixels wide: the source width
    /// divided by a whole number, so every output pixel averages the same number of source
    /// pixels (a 320 px source is used as it is, 1920 px becomes 240 for 256).
    pub fn statistics(source: &VideoInfo, width: u32, layout: PixelLayout) -> Self {
        let divisor = (f64::from(source.width) / f64::from(width.max(1))).round().max(1.0) as u32;
        let width = (source.width / divisor).max(2) & !1;
        Self {
            width,
            height: Self::fitting_height(source, width),
            layout,
            sample_every_ms: 0,
            purpose: FramePurpose::Statistics,
        }
    }

    /// The even height that keeps the display aspect ratio of `source` at `width`.
    fn fitting_height(source: &VideoInfo, width: u32) -> u32 {
        let display_width = source.display_width().max(1.0);
        ((f64::from(width) * f64::from(source.height) / display_width).round() as u32).max(2) & !1
    }

    /// The same request, sampled: one frame per `milliseconds` of presentation time.
    pub fn sampled_every(self, milliseconds: u32) -> Self {
        Self { sample_every_ms: milliseconds, ..self }
    }
}

/// What an analyzer is told about the video stream before the first frame.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; 1:1 for square pixels, 0:1 when unknown.
    pub sample_aspect_ratio: Rational,
    /// Average frame rate as declared by the container.
    pub frame_rate: Rational,
    pub time_base: Rational,
    /// Duration in seconds, when the container knows it.
    pub duration: Option<f64>,
    /// Estimated frame count (from the container or duration × rate), for progress only.
    pub estimated_frames: Option<u64>,
}

impl VideoInfo {
    /// Width in square pixels (anamorphic sources are wider on screen than stored).
    pub fn display_width(&self) -> f64 {
        let sar = self.sample_aspect_ratio.as_f64();
        let sar = if sar > 0.0 { sar } else { 1.0 };
        f64::from(self.width) * sar
    }
}

/// One decoded picture, scaled to what an analyzer asked for. Rows are tightly packed:
/// `data.len() == layout.frame_bytes(width, height)`.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoFrame {
    /// 0-based index in presentation order.
    pub index: u64,
    pub time: Timestamp,
    pub width: u32,
    pub height: u32,
    pub layout: PixelLayout,
    pub data: Vec<u8>,
}

impl VideoFrame {
    /// The bytes of row `y` (of the first plane).
    pub fn row(&self, y: u32) -> &[u8] {
        let stride = self.width as usize * self.layout.bytes_per_pixel();
        let start = y as usize * stride;
        &self.data[start..start + stride]
    }
}

/// What an audio analyzer is told about the stream it receives.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioInfo {
    /// Index of the stream in the container.
    pub stream_index: usize,
    /// 0-based position among the container's audio streams.
    pub audio_ordinal: usize,
    /// ISO 639 language tag from the container, if any.
    pub language: Option<String>,
    pub source_sample_rate: u32,
    pub source_channels: u16,
    pub duration: Option<f64>,
}

/// A run of resampled audio: interleaved f32 samples at the requested rate and channel count.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBlock<'a> {
    /// Index of the first sample frame of this block since the stream's start, counted at the
    /// requested rate; `first_sample / sample_rate` is its time in seconds.
    pub first_sample: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub samples: &'a [f32],
}

impl AudioBlock<'_> {
    pub fn start_seconds(&self) -> f64 {
        self.first_sample as f64 / f64::from(self.sample_rate)
    }

    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_turn_clockwise_plane_by_plane() {
        // 3×2 grey: a b c / d e f.
        let grey = [1, 2, 3, 4, 5, 6];
        assert_eq!(PixelLayout::Gray8.rotate_clockwise(&grey, 3, 2, 1), [4, 1, 5, 2, 6, 3]);
        assert_eq!(PixelLayout::Gray8.rotate_clockwise(&grey, 3, 2, 2), [6, 5, 4, 3, 2, 1]);
        assert_eq!(PixelLayout::Gray8.rotate_clockwise(&grey, 3, 2, 3), [3, 6, 2, 5, 1, 4]);
        assert_eq!(PixelLayout::Gray8.rotate_clockwise(&grey, 3, 2, 4), grey);
        // RGB keeps each pixel's three bytes together.
        let rgb = [1, 1, 1, 2, 2, 2];
        assert_eq!(PixelLayout::Rgb24.rotate_clockwise(&rgb, 2, 1, 1), [1, 1, 1, 2, 2, 2]);
        assert_eq!(PixelLayout::Rgb24.rotate_clockwise(&rgb, 2, 1, 2), [2, 2, 2, 1, 1, 1]);
        // 4:2:0: 2×2 luma, then one sample per chroma plane.
        let yuv = [1, 2, 3, 4, 7, 9];
        assert_eq!(PixelLayout::Yuv420.rotate_clockwise(&yuv, 2, 2, 1), [3, 1, 4, 2, 7, 9]);
    }

    fn info(width: u32, height: u32, sar: Rational) -> VideoInfo {
        VideoInfo {
            width,
            height,
            sample_aspect_ratio: sar,
            frame_rate: Rational::new(25, 1),
            time_base: Rational::new(1, 12800),
            duration: None,
            estimated_frames: None,
        }
    }

    #[test]
    fn fit_width_keeps_display_aspect_of_anamorphic_source() {
        // 720x576 with 16:15 pixels is 768x576 on screen (4:3).
        let request =
            FrameRequest::fit_width(&info(720, 576, Rational::new(16, 15)), 256, PixelLayout::Gray8);
        assert_eq!((request.width, request.height), (256, 192));
    }

    #[test]
    fn fit_width_never_upscales() {
        let request = FrameRequest::fit_width(&info(160, 90, Rational::new(1, 1)), 256, PixelLayout::Rgb24);
        assert_eq!((request.width, request.height), (160, 90));
    }

    #[test]
    fn statistics_frames_are_a_whole_fraction_of_the_source_width() {
        let square = Rational::new(1, 1);
        let size = |width, height, sar| {
            let request = FrameRequest::statistics(&info(width, height, sar), 256, PixelLayout::Yuv420);
            assert_eq!(request.purpose, FramePurpose::Statistics);
            (request.width, request.height)
        };
        assert_eq!(size(320, 180, square), (320, 180));
        assert_eq!(size(1280, 720, square), (256, 144));
        assert_eq!(size(1920, 1080, square), (240, 134));
        assert_eq!(size(3840, 2160, square), (256, 144));
        assert_eq!(size(160, 90, square), (160, 90));
        // 720x576 with 16:15 pixels: a third of the stored width, 4:3 on screen.
        assert_eq!(size(720, 576, Rational::new(16, 15)), (240, 180));
    }

    #[test]
    fn planes_of_odd_sized_pictures_round_chroma_up() {
        assert_eq!(PixelLayout::Yuv420.planes(5, 3), [(5, 3), (3, 2), (3, 2)]);
        assert_eq!(PixelLayout::Yuv420.frame_bytes(5, 3), 15 + 2 * 6);
        assert_eq!(PixelLayout::Rgb24.planes(5, 3), [(15, 3)]);
        assert_eq!(PixelLayout::Gray8.frame_bytes(5, 3), 15);
    }

    #[test]
    fn timestamp_uses_time_base() {
        let t = Timestamp { pts: 1001, time_base: Rational::new(1, 30000) };
        assert!((t.seconds() - 0.033_366_666).abs() < 1e-6);
    }
}
