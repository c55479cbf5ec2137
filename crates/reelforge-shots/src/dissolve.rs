//! Dissolves: over a window of frames, each frame is (nearly) a linear blend
//! α·A + (1−α)·B of the frames A before and B after the window, with α falling steadily
//! from 1 to 0. Several window lengths are tried, so both short and long dissolves fit.
//!
//! A cut fails the test (α jumps), camera motion fails it (a moved picture is no blend of
//! its ends; the change is explained by translation), a title fading in over a picture
//! fails it (the change covers a small part of the frame), a lighting change fails it (the
//! ends differ only in brightness). Blends toward a black or white frame are fades, left to
//! the fade detector; a flat coloured or grey card is an end like any other picture.

use crate::fade::FadeLimits;
use crate::features::{
    FrameFeatures, GRID_CELLS, motion_compensated_distance, motion_compensated_distance_below,
    still_distance, structure_distance,
};
use crate::history::History;
use crate::shot_list::{Boundary, TransitionKind};

/// Half window lengths tried, in frames; a dissolve of n frames needs a half length above n/2.
const HALF_WINDOWS: [u64; 10] = [3, 5, 8, 11, 15, 19, 24, 30, 38, 48];
/// A luma cell "changed" between the window's ends when it moved by this many levels.
const CHANGED_CELL_LEVELS: f32 = 10.0;
/// Share of the luma cells that must change: a new shot replaces most of the frame.
const MIN_CHANGED_SHARE: f32 = 0.4;
/// Largest relative distance of a window frame from the best blend of the ends.
const MAX_BLEND_RESIDUAL: f32 = 0.4;
/// The middle frame of the window must be a real mix.
const MIDDLE_BLEND_RANGE: (f32, f32) = (0.25, 0.75);
/// α may rise again by this much (motion and noise), but no more.
const ALPHA_SLACK: f32 = 0.15;
/// Largest α change between neighbouring frames: a bigger jump is a cut.
const MAX_ALPHA_STEP: f32 = 0.45;
/// Fewest frames that are a visible mix of both pictures.
const MIN_MIXED_FRAMES: usize = 3;
/// α bounds that count as "mixed", and as the start/end of the transition.
const MIXED_RANGE: (f32, f32) = (0.1, 0.9);
/// Frame-to-frame change that camera translation explains must stay below this share.
const MAX_TRANSLATION_SHARE: f32 = 0.5;
/// Outside the window the pictures must be settled: over as many frames again before and
/// after it, they change by at most this share of the change across it. Camera motion and
/// the middle of a longer dissolve keep changing; a dissolve starts and ends on a shot.
const MAX_OUTSIDE_CHANGE_SHARE: f32 = 0.35;
/// Fewest frames on each side to judge that the pictures are settled.
const MIN_OUTSIDE_FRAMES: u64 = 2;
/// The ends must differ in layout, not only in brightness or contrast (see
/// `structure_distance`; unrelated pictures score about 1).
const MIN_STRUCTURE_CHANGE: f32 = 0.3;
/// Slow camera moves and lighting drift add up over a long window: a tilt across 48 frames
/// of sky and trees changed its ends by 13 levels, where real dissolves change them by 50
/// and more. So the ends must differ by the minimum change plus this much per window frame.
const DRIFT_PER_FRAME: f32 = 0.5;

pub(crate) struct DissolveDetector {
    half_windows: Vec<u64>,
    /// Which frames are black or white (fade ends, not dissolve ends), and the least change.
    limits: FadeLimits,
    /// The best candidate of the dissolve being seen, until a non-overlapping one appears.
    pending: Option<Candidate>,
}

/// A window that passed every test, and how much the picture changed across it: of
/// overlapping windows, the one spanning the whole transition changes most.
#[derive(Clone, Debug)]
struct Candidate {
    boundary: Boundary,
    change: f32,
}

/// How well one window frame is explained as a blend of the window's ends.
#[derive(Clone, Copy, Debug)]
struct BlendFit {
    alpha: f32,
    residual: f32,
}

impl DissolveDetector {
    pub(crate) fn new(max_dissolve_frames: u64, limits: FadeLimits) -> Self {
        let longest_half = max_dissolve_frames.div_ceil(2).max(HALF_WINDOWS[0]);
        let half_windows = HALF_WINDOWS.iter().copied().filter(|&h| h <= longest_half).collect();
        Self { half_windows, limits, pending: None }
    }

    /// Frames after a window's middle that must be seen before it is tested: the window's
    /// second half and as many settled frames after it.
    pub(crate) fn delay(&self) -> u64 {
        2 * self.half_windows.last().copied().unwrap_or(0)
    }

    /// Tests windows centred on `middle`, using only frames present in `history`; returns
    /// a dissolve once it is certain no better-fitting overlapping window will follow.
    pub(crate) fn check(&mut self, history: &History, middle: u64) -> Option<Boundary> {
        let mut best: Option<Candidate> = None;
        for &half in &self.half_windows {
            let Some(found) = self.test_window(history, middle, half) else { continue };
            if best.as_ref().is_none_or(|b| found.change > b.change) {
                best = Some(found);
            }
        }
        let found = best?;
        match self.pending.take() {
            Some(pending) if overlaps(&pending.boundary, &found.boundary) => {
                self.pending = Some(if found.change > pending.change { found } else { pending });
                None
            }
            previous => {
                self.pending = Some(found);
                previous.map(|c| c.boundary)
            }
        }
    }

    pub(crate) fn finish(&mut self) -> Option<Boundary> {
        self.pending.take().map(|c| c.boundary)
    }

    fn test_window(&self, history: &History, middle: u64, half: u64) -> Option<Candidate> {
        let start = middle.checked_sub(half)?;
        let end = middle + half;
        let a = &history.get(start)?.features;
        let b = &history.get(end)?.features;
        let m = &history.get(middle)?.features;
        if self.limits.is_black_or_white(a) || self.limits.is_black_or_white(b) {
            return None;
        }
        // The ends must differ in content (not just in position, brightness or contrast) by
        // more than drift adds up to over the window. The change after the best translation
        // (tested below) is at most the still change, so most windows stop here, cheaply.
        let least_change = self.limits.min_change + DRIFT_PER_FRAME * (2 * half) as f32;
        let still_change = still_distance(a, b);
        if still_change < least_change
            || changed_share(a, b) < MIN_CHANGED_SHARE
            || structure_distance(a, b) < MIN_STRUCTURE_CHANGE
        {
            return None;
        }
        // Cheapest test first: the frames' own changes, already measured, must not be
        // explained by camera translation.
        let (mut still_sum, mut motion_sum) = (0.0f32, 0.0f32);
        for frame in start + 1..=end {
            let record = history.get(frame)?;
            still_sum += record.still_change;
            motion_sum += record.motion_change;
        }
        if motion_sum < (1.0 - MAX_TRANSLATION_SHARE) * still_sum {
            return None;
        }
        let ends = BlendEnds::new(a, b)?;
        let middle_fit = ends.fit(m);
        if !(MIDDLE_BLEND_RANGE.0..=MIDDLE_BLEND_RANGE.1).contains(&middle_fit.alpha)
            || middle_fit.residual > MAX_BLEND_RESIDUAL
        {
            return None;
        }

        let mut lowest_alpha = 1.0f32;
        let mut previous_alpha = 1.0f32;
        let mut mixed_frames = 0;
        let mut mixed_residual_sum = 0.0f32;
        let mut first_mixed = None;
        let mut last_mixed = middle;
        let mut first_of_new_shot = None;
        for frame in start + 1..end {
            let record = history.get(frame)?;
            let fit = ends.fit(&record.features);
            if fit.alpha > lowest_alpha + ALPHA_SLACK
                || (previous_alpha - fit.alpha).abs() > MAX_ALPHA_STEP
                || fit.residual > MAX_BLEND_RESIDUAL
            {
                return None;
            }
            lowest_alpha = lowest_alpha.min(fit.alpha);
            previous_alpha = fit.alpha;
            if (MIXED_RANGE.0..=MIXED_RANGE.1).contains(&fit.alpha) {
                mixed_frames += 1;
                mixed_residual_sum += fit.residual;
                first_mixed.get_or_insert(frame);
                last_mixed = frame;
            }
            if fit.alpha < 0.5 {
                first_of_new_shot.get_or_insert(frame);
            }
        }
        if previous_alpha > MAX_ALPHA_STEP {
            return None;
        }
        if mixed_frames < MIN_MIXED_FRAMES {
            return None;
        }
        let newest = history.pushed().checked_sub(1)?;
        let outside_before = start.saturating_sub(half).max(history.oldest());
        let outside_after = (end + half).min(newest);
        if start - outside_before < MIN_OUTSIDE_FRAMES || outside_after - end < MIN_OUTSIDE_FRAMES {
            return None;
        }
        let (before, after) = (&history.get(outside_before)?.features, &history.get(outside_after)?.features);
        // Settled means changing by at most `limit` (below the next float up). The change after
        // the best translation is at most the still change, so sides that are not settled even
        // by the still change's share fail before the costly exact search.
        let settled = |limit: f32| {
            motion_compensated_distance_below(before, a, limit.next_up())
                && motion_compensated_distance_below(b, after, limit.next_up())
        };
        if !settled(MAX_OUTSIDE_CHANGE_SHARE * still_change) {
            return None;
        }
        let change = motion_compensated_distance(a, b, false);
        if change < least_change || !settled(MAX_OUTSIDE_CHANGE_SHARE * change) {
            return None;
        }
        let frame = first_of_new_shot?;
        let mean_residual = mixed_residual_sum / mixed_frames as f32;
        let boundary = Boundary {
            frame,
            kind: TransitionKind::Dissolve,
            first_frame: first_mixed?,
            last_frame: last_mixed,
            confidence: 0.5 + 0.5 * (1.0 - mean_residual / MAX_BLEND_RESIDUAL).clamp(0.0, 1.0),
            time_seconds: history.get(frame)?.features.seconds,
        };
        Some(Candidate { boundary, change })
    }
}

fn overlaps(a: &Boundary, b: &Boundary) -> bool {
    a.first_frame <= b.last_frame && b.first_frame <= a.last_frame
}

/// Share of luma cells that differ noticeably between two frames.
fn changed_share(a: &FrameFeatures, b: &FrameFeatures) -> f32 {
    let changed = a
        .luma_cells()
        .iter()
        .zip(b.luma_cells())
        .filter(|(x, y)| (*x - *y).abs() > CHANGED_CELL_LEVELS)
        .count();
    changed as f32 / GRID_CELLS as f32
}

/// The two ends of a window, prepared for least-squares blend fits.
struct BlendEnds<'a> {
    a: &'a [f32],
    b: &'a [f32],
    /// ‖A − B‖².
    span_squared: f32,
}

impl<'a> BlendEnds<'a> {
    fn new(a: &'a FrameFeatures, b: &'a FrameFeatures) -> Option<Self> {
        let (a, b) = (a.cells(), b.cells());
        if a.len() != b.len() {
            return None;
        }
        let span_squared: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        (span_squared > 0.0).then_some(Self { a, b, span_squared })
    }

    /// α minimising ‖F − B − α(A − B)‖, and that distance relative to ‖A − B‖.
    fn fit(&self, frame: &FrameFeatures) -> BlendFit {
        const LANES: usize = 8;
        let cells = frame.cells();
        let (mut dot, mut from_b_squared) = ([0.0f32; LANES], [0.0f32; LANES]);
        // Eight partial sums let the compiler vectorise (the cell count is a multiple of 8).
        let chunks =
            cells.chunks_exact(LANES).zip(self.a.chunks_exact(LANES)).zip(self.b.chunks_exact(LANES));
        for ((f, a), b) in chunks {
            for lane in 0..LANES {
                let from_b = f[lane] - b[lane];
                dot[lane] += from_b * (a[lane] - b[lane]);
                from_b_squared[lane] += from_b * from_b;
            }
        }
        let (dot, from_b_squared) = (dot.iter().sum::<f32>(), from_b_squared.iter().sum::<f32>());
        let alpha = dot / self.span_squared;
        // ‖F−B‖² − α²‖A−B‖² is the squared distance from the line through A and B.
        let residual_squared = (from_b_squared - alpha * alpha * self.span_squared).max(0.0);
        BlendFit { alpha, residual: (residual_squared / self.span_squared).sqrt() }
    }
}
