//! Signals a trailer is cut by, gathered during the one decode pass: EBU R128 loudness over
//! time (audio analyzer) and motion, sharpness and contrast per frame (video analyzer).

use reelforge_core::{
    AudioAnalyzer, AudioBlock, AudioRequest, AudioStreamChoice, FrameRequest, PixelLayout, VideoAnalyzer,
    VideoFrame, VideoInfo,
};

/// Loudness is read at 48 kHz stereo, the rate EBU R128's filters are specified at.
const LOUDNESS_RATE: u32 = 48_000;
const LOUDNESS_CHANNELS: u16 = 2;
/// One loudness reading every 100 ms, the momentary meter's update rate in EBU Tech 3341.
const LOUDNESS_STEP_SAMPLES: u64 = 4_800;
/// Motion and quality are judged on small pictures: cheap, and noise averages out.
const SIGNAL_WIDTH: u32 = 160;

/// One loudness reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoudnessPoint {
    /// End of the measured window, seconds from the stream's start.
    pub seconds: f64,
    /// Momentary loudness (400 ms window) in LUFS; `-inf` in silence.
    pub momentary_lufs: f64,
    /// Short-term loudness (3 s window) in LUFS; `-inf` in silence.
    pub short_term_lufs: f64,
}

/// EBU R128 momentary and short-term loudness every 100 ms of the best audio stream.
pub struct LoudnessAnalyzer {
    meter: Option<ebur128::EbuR128>,
    samples: u64,
    points: Vec<LoudnessPoint>,
}

impl Default for LoudnessAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl LoudnessAnalyzer {
    pub fn new() -> Self {
        // Only fails for zero channels or an unsupported rate, neither of which is asked for;
        // without a meter the analyzer reports no readings (scored as silence).
        let meter = ebur128::EbuR128::new(
            u32::from(LOUDNESS_CHANNELS),
            LOUDNESS_RATE,
            ebur128::Mode::M | ebur128::Mode::S,
        )
        .ok();
        Self { meter, samples: 0, points: Vec::new() }
    }

    /// The readings, in time order.
    pub fn points(&self) -> &[LoudnessPoint] {
        &self.points
    }
}

impl AudioAnalyzer for LoudnessAnalyzer {
    fn request(&self) -> AudioRequest {
        AudioRequest {
            stream: AudioStreamChoice::Best,
            sample_rate: LOUDNESS_RATE,
            channels: LOUDNESS_CHANNELS,
        }
    }

    fn analyze(&mut self, block: &AudioBlock<'_>) {
        let Some(meter) = self.meter.as_mut() else { return };
        let channels = usize::from(block.channels.max(1));
        let mut rest = block.samples;
        // Feed up to each 100 ms boundary, then read the meters there.
        while !rest.is_empty() {
            let to_boundary = LOUDNESS_STEP_SAMPLES - self.samples % LOUDNESS_STEP_SAMPLES;
            let take = (to_boundary as usize).min(rest.len() / channels);
            if take == 0 {
                break;
            }
            let (now, later) = rest.split_at(take * channels);
            if meter.add_frames_f32(now).is_err() {
                return;
            }
            self.samples += take as u64;
            rest = later;
            if self.samples.is_multiple_of(LOUDNESS_STEP_SAMPLES) {
                self.points.push(LoudnessPoint {
                    seconds: self.samples as f64 / f64::from(LOUDNESS_RATE),
                    momentary_lufs: meter.loudness_momentary().unwrap_or(f64::NEG_INFINITY),
                    short_term_lufs: meter.loudness_shortterm().unwrap_or(f64::NEG_INFINITY),
                });
            }
        }
    }
}

/// Motion and picture quality of one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PictureSignal {
    pub seconds: f64,
    /// Mean absolute luma difference from the previous frame (0..255); 0 for the first.
    pub motion: f64,
    /// Mean absolute 4-neighbour Laplacian of the luma: fine detail, i.e. sharpness.
    pub sharpness: f64,
    /// Standard deviation of the luma (0..128).
    pub contrast: f64,
}

/// Motion energy, sharpness and contrast of every frame, on 160-pixel-wide luma.
#[derive(Default)]
pub struct PictureSignalAnalyzer {
    previous: Option<Vec<u8>>,
    signals: Vec<PictureSignal>,
}

impl PictureSignalAnalyzer {
    pub fn new() -> Self {
        Self::default()
    }

    /// One entry per decoded frame, in presentation order.
    pub fn signals(&self) -> &[PictureSignal] {
        &self.signals
    }
}

impl VideoAnalyzer for PictureSignalAnalyzer {
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
        FrameRequest::fit_width(source, SIGNAL_WIDTH, PixelLayout::Gray8)
    }

    fn analyze(&mut self, frame: &VideoFrame) {
        let luma = &frame.data;
        let count = luma.len().max(1) as f64;
        let motion = match &self.previous {
            Some(previous) if previous.len() == luma.len() => {
                luma.iter().zip(previous).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / count
            }
            _ => 0.0,
        };
        let mean = luma.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
        let variance = luma.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / count;
        let (width, height) = (frame.width as usize, frame.height as usize);
        let mut laplacian = 0.0;
        for y in 1..height.saturating_sub(1) {
            for x in 1..width.saturating_sub(1) {
                let at = |xx: usize, yy: usize| i32::from(luma[yy * width + xx]);
                let value = 4 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
                laplacian += f64::from(value.unsigned_abs());
            }
        }
        let inner = (width.saturating_sub(2) * height.saturating_sub(2)).max(1) as f64;
        self.signals.push(PictureSignal {
            seconds: frame.time.seconds(),
            motion,
            sharpness: laplacian / inner,
            contrast: variance.sqrt(),
        });
        self.previous = Some(luma.clone());
    }
}

#[cfg(test)]
mod tests {
    use reelforge_core::{Rational, Timestamp};

    use super::*;

    fn gray(index: u64, pixels: Vec<u8>) -> VideoFrame {
        VideoFrame {
            index,
            time: Timestamp { pts: index as i64, time_base: Rational::new(1, 25) },
            width: 4,
            height: 4,
            layout: PixelLayout::Gray8,
            data: pixels,
        }
    }

    #[test]
    fn motion_is_the_mean_change_and_flat_pictures_have_no_detail() {
        let mut analyzer = PictureSignalAnalyzer::new();
        analyzer.analyze(&gray(0, vec![100; 16]));
        analyzer.analyze(&gray(1, vec![110; 16]));
        let checker: Vec<u8> = (0..16).map(|i| if (i + i / 4) % 2 == 0 { 0 } else { 200 }).collect();
        analyzer.analyze(&gray(2, checker));
        let s = analyzer.signals();
        assert_eq!((s[0].motion, s[1].motion), (0.0, 10.0));
        assert_eq!((s[1].sharpness, s[1].contrast), (0.0, 0.0));
        assert!(s[2].sharpness > 100.0 && s[2].contrast == 100.0, "{:?}", s[2]);
        assert_eq!(s[2].seconds, 0.08);
    }

    #[test]
    fn a_sine_reads_its_loudness_every_100_ms() {
        let mut analyzer = LoudnessAnalyzer::new();
        // 1 kHz sine at amplitude 0.5 in both channels: -6 dBFS peak, about -6 LUFS (stereo sums).
        let samples: Vec<f32> = (0..48_000 * 4)
            .flat_map(|i| {
                let v = 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin();
                [v, v]
            })
            .collect();
        for (n, chunk) in samples.chunks(2 * 1000).enumerate() {
            let block = AudioBlock {
                first_sample: n as u64 * 1000,
                sample_rate: 48_000,
                channels: 2,
                samples: chunk,
            };
            analyzer.analyze(&block);
        }
        let points = analyzer.points();
        assert_eq!(points.len(), 40);
        let last = points[39];
        assert!((last.seconds - 4.0).abs() < 1e-9);
        assert!((last.short_term_lufs - -6.0).abs() < 0.5, "{last:?}");
        assert!((last.momentary_lufs - -6.0).abs() < 0.5, "{last:?}");
    }
}
