//! The streaming detector: one pass over the frames, a bounded window of features, and
//! three detectors (cuts, fades, dissolves) whose candidates are reconciled at the end.

use reelforge_core::{FrameRequest, PixelLayout, Rational, VideoAnalyzer, VideoFrame, VideoInfo};

use crate::ShotSettings;
use crate::cut::{self, CutDetector};
use crate::dissolve::DissolveDetector;
use crate::fade::{FadeDetector, FadeLimits};
use crate::features::{FeatureExtractor, histogram_distance, motion_compensated_distance, still_distance};
use crate::history::{FrameRecord, History};
use crate::shot_list::{Boundary, Findings, ShotList, assemble};

/// Weight of the histogram distance (0..1) in the cut score, in luma levels: a change of
/// tonal distribution counts even when the layout of the picture looks alike.
const HISTOGRAM_WEIGHT: f32 = 32.0;
/// Narrowest analysis frame that still gives every grid cell a pixel.
const MIN_ANALYSIS_WIDTH: u32 = 32;
/// Bounds that keep the history (and memory) small whatever the settings say.
const MAX_FADE_FRAMES_LIMIT: u32 = 300;
const MAX_DISSOLVE_FRAMES_LIMIT: u32 = 96;

/// Finds shot boundaries in a stream of frames.
///
/// Feed frames in presentation order with [`ShotDetector::push`], then call
/// [`ShotDetector::finish`]. Frames are numbered from 0 in the order pushed; times come from
/// their timestamps. As a [`VideoAnalyzer`], it asks for frames `analysis_width` wide and
/// keeps its result for [`ShotDetector::take_shot_list`].
pub struct ShotDetector {
    settings: ShotSettings,
    frame_rate: Rational,
    time_base: Rational,
    extractor: FeatureExtractor,
    history: History,
    /// The newest frame's record, built here before it is copied into the history.
    incoming: Box<FrameRecord>,
    cuts: CutDetector,
    fades: Option<FadeDetector>,
    dissolves: Option<DissolveDetector>,
    candidates: Vec<Boundary>,
    first_seconds: Option<f64>,
    last_seconds: f64,
    last_frame_duration: Option<f64>,
    /// Set by [`VideoAnalyzer::finish`].
    result: Option<ShotList>,
}

impl ShotDetector {
    pub fn new(settings: ShotSettings) -> Self {
        let mut settings = settings;
        settings.analysis_width = settings.analysis_width.max(MIN_ANALYSIS_WIDTH);
        settings.max_fade_frames = settings.max_fade_frames.clamp(2, MAX_FADE_FRAMES_LIMIT);
        settings.max_dissolve_frames = settings.max_dissolve_frames.clamp(4, MAX_DISSOLVE_FRAMES_LIMIT);
        let min_change = settings.cut_min_change.max(0.0);
        let fade_limits = FadeLimits {
            black_level: settings.black_level,
            white_level: settings.white_level,
            flat_max_std_dev: settings.flat_max_std_dev,
            max_ramp_frames: u64::from(settings.max_fade_frames),
            min_change,
        };
        let fades = settings.detect_fades.then(|| FadeDetector::new(fade_limits));
        let dissolves = settings
            .detect_dissolves
            .then(|| DissolveDetector::new(u64::from(settings.max_dissolve_frames), fade_limits));
        let history_frames = [
            CutDetector::frames_needed(),
            fades.as_ref().map_or(0, FadeDetector::frames_needed),
            dissolves.as_ref().map_or(0, |d| 2 * d.delay() + 2),
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        Self {
            cuts: CutDetector::new(min_change, settings.cut_sensitivity.max(0.0)),
            settings,
            frame_rate: Rational::new(0, 1),
            time_base: Rational::new(0, 1),
            extractor: FeatureExtractor::default(),
            history: History::with_capacity(history_frames as usize),
            incoming: Box::new(FrameRecord::EMPTY),
            fades,
            dissolves,
            candidates: Vec::new(),
            first_seconds: None,
            last_seconds: 0.0,
            last_frame_duration: None,
            result: None,
        }
    }

    /// Records the source's frame rate and time base for the result.
    pub fn set_source(&mut self, source: &VideoInfo) {
        self.frame_rate = source.frame_rate;
        self.time_base = source.time_base;
    }

    /// The frames this detector wants for `source`.
    pub fn frame_request(&self, source: &VideoInfo) -> FrameRequest {
        // Planar Y′CbCr is what decoders give: colour costs no conversion, only a quarter-size
        // pair of planes.
        let layout = if self.settings.use_colour { PixelLayout::Yuv420 } else { PixelLayout::Gray8 };
        FrameRequest::statistics(source, self.settings.analysis_width, layout)
    }

    /// Analyses the next frame (any size and layout).
    pub fn push(&mut self, frame: &VideoFrame) {
        let number = self.history.pushed();
        let incoming = &mut *self.incoming;
        self.extractor.extract(frame, &mut incoming.features);
        match number.checked_sub(1).and_then(|previous| self.history.get(previous)) {
            Some(previous) => {
                let previous = &previous.features;
                incoming.still_change = still_distance(previous, &incoming.features);
                incoming.motion_change = motion_compensated_distance(previous, &incoming.features, false);
                incoming.cut_score = incoming.motion_change
                    + HISTOGRAM_WEIGHT * histogram_distance(previous, &incoming.features);
            }
            None => {
                incoming.still_change = 0.0;
                incoming.motion_change = 0.0;
                incoming.cut_score = 0.0;
            }
        }
        self.history.push(incoming);
        let seconds = incoming.features.seconds;
        if self.first_seconds.is_none() {
            self.first_seconds = Some(seconds);
        } else {
            self.last_frame_duration = Some(seconds - self.last_seconds);
        }
        self.last_seconds = seconds;

        if let Some(fades) = &mut self.fades {
            self.candidates.extend(fades.observe(&self.history, number));
        }
        if let Some(candidate) = number.checked_sub(cut::LOOKAHEAD_FRAMES) {
            self.candidates.extend(self.cuts.check(&self.history, candidate));
        }
        if let Some(dissolves) = &mut self.dissolves
            && let Some(middle) = number.checked_sub(dissolves.delay())
        {
            self.candidates.extend(dissolves.check(&self.history, middle));
        }
    }

    /// Ends the stream and returns the shots.
    pub fn finish(mut self) -> ShotList {
        self.flush()
    }

    /// The result after [`VideoAnalyzer::finish`] (once).
    pub fn take_shot_list(&mut self) -> Option<ShotList> {
        self.result.take()
    }

    /// Tests the frames still waiting for lookahead, then reconciles all candidates.
    fn flush(&mut self) -> ShotList {
        let total = self.history.pushed();
        for candidate in total.saturating_sub(cut::LOOKAHEAD_FRAMES)..total {
            self.candidates.extend(self.cuts.check(&self.history, candidate));
        }
        if let Some(dissolves) = &mut self.dissolves {
            for middle in total.saturating_sub(dissolves.delay())..total {
                self.candidates.extend(dissolves.check(&self.history, middle));
            }
            self.candidates.extend(dissolves.finish());
        }
        let mut edge_spans = Vec::new();
        if let Some(fades) = &mut self.fades {
            self.candidates.extend(fades.finish(&self.history, total));
            edge_spans = fades.take_edge_spans();
        }
        let first_seconds = self.first_seconds.unwrap_or(0.0);
        let frame_duration = self.last_frame_duration.filter(|d| *d > 0.0).unwrap_or_else(|| {
            let rate = self.frame_rate.as_f64();
            if rate > 0.0 { 1.0 / rate } else { 0.0 }
        });
        let findings = Findings {
            candidates: std::mem::take(&mut self.candidates),
            edge_spans,
            total_frames: total,
            first_seconds,
            end_seconds: if total == 0 { first_seconds } else { self.last_seconds + frame_duration },
            frame_rate: self.frame_rate,
            time_base: self.time_base,
        };
        assemble(findings, u64::from(self.settings.min_shot_frames))
    }
}

impl VideoAnalyzer for ShotDetector {
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
        self.set_source(source);
        self.frame_request(source)
    }

    fn analyze(&mut self, frame: &VideoFrame) {
        self.push(frame);
    }

    fn finish(&mut self) {
        let list = self.flush();
        self.result = Some(list);
    }
}
