//! Hard cuts: a change score that is a local peak, well above the recent level of change,
//! and a picture that does not come back a few frames later (which would be a flash).

use crate::features::motion_compensated_distance_below;
use crate::history::History;
use crate::shot_list::{Boundary, TransitionKind};

/// Recent frames whose change scores form the local baseline.
const BASELINE_FRAMES: u64 = 24;
/// Frames after a candidate the detector must see: a flash lasts at most this long.
pub(crate) const LOOKAHEAD_FRAMES: u64 = 3;
/// Scale from the median absolute deviation to a standard deviation (normal noise).
const MAD_TO_SIGMA: f32 = 1.4826;
/// The picture "came back" when frames on both sides of the candidate differ by less than
/// this share of the change at the candidate.
const RETURN_RATIO: f32 = 0.4;
/// A cut is one abrupt step: its change must be this many times the largest change of the
/// frames up to [`ISOLATION_FRAMES`] on either side. Fast motion (a wing beat, something
/// rushing out of frame) ramps up and down over several frames; measured on real footage
/// such peaks stand 1.4–1.7× above their neighbours, cuts 5× and more.
const ISOLATION_RATIO: f32 = 2.5;
const ISOLATION_FRAMES: u64 = 2;

pub(crate) struct CutDetector {
    min_change: f32,
    sensitivity: f32,
    baseline: Vec<f32>,
}

impl CutDetector {
    pub(crate) fn new(min_change: f32, sensitivity: f32) -> Self {
        Self { min_change, sensitivity, baseline: Vec::with_capacity(BASELINE_FRAMES as usize) }
    }

    /// Frames needed in the history besides the lookahead.
    pub(crate) fn frames_needed() -> u64 {
        BASELINE_FRAMES + 2 * LOOKAHEAD_FRAMES + 1
    }

    /// Decides whether `frame` (the first frame of a possible new shot) is a cut, looking at
    /// up to [`LOOKAHEAD_FRAMES`] frames after it (fewer at the end of the video).
    pub(crate) fn check(&mut self, history: &History, frame: u64) -> Option<Boundary> {
        if frame == 0 {
            return None;
        }
        let record = history.get(frame)?;
        let score = record.cut_score;
        let threshold = self.threshold(history, frame);
        if score < threshold {
            return None;
        }
        // Only the strongest frame of a run of large changes can be the cut.
        let score_of = |f: u64| history.get(f).map_or(0.0, |r| r.cut_score);
        if score < score_of(frame - 1) || score <= score_of(frame + 1) {
            return None;
        }
        let loudest_neighbour = (frame.saturating_sub(ISOLATION_FRAMES)..=frame + ISOLATION_FRAMES)
            .filter(|&f| f != frame && f > 0)
            .map(score_of)
            .fold(0.0f32, f32::max);
        if score < ISOLATION_RATIO * loudest_neighbour {
            return None;
        }
        if self.picture_comes_back(history, frame, record.motion_change) {
            return None;
        }
        Some(Boundary {
            frame,
            kind: TransitionKind::Cut,
            first_frame: frame,
            last_frame: frame,
            confidence: score / (score + threshold),
            time_seconds: record.features.seconds,
        })
    }

    /// Median + k·σ of the recent scores (σ from the median absolute deviation, which
    /// ignores earlier cuts), never below the configured minimum.
    fn threshold(&mut self, history: &History, frame: u64) -> f32 {
        let first = frame.saturating_sub(BASELINE_FRAMES).max(1);
        self.baseline.clear();
        self.baseline.extend((first..frame).filter_map(|f| history.get(f)).map(|r| r.cut_score));
        if self.baseline.is_empty() {
            return self.min_change;
        }
        let median = median_in_place(&mut self.baseline);
        for value in &mut self.baseline {
            *value = (*value - median).abs();
        }
        let deviation = median_in_place(&mut self.baseline) * MAD_TO_SIGMA;
        (median + self.sensitivity * deviation).max(self.min_change)
    }

    /// A flash (or any 1–3 frame intrusion) ends with the old picture back: some frame
    /// before the candidate resembles some frame at or after it, with at most
    /// `LOOKAHEAD_FRAMES` frames in between (the candidate may be the flash's first frame
    /// or the frame after it).
    fn picture_comes_back(&self, history: &History, frame: u64, change: f32) -> bool {
        let limit = RETURN_RATIO * change;
        for before in 1..=LOOKAHEAD_FRAMES + 1 {
            let Some(earlier) = frame.checked_sub(before).and_then(|f| history.get(f)) else {
                break;
            };
            let first_after = if before == 1 { 1 } else { 0 };
            for after in first_after..=(LOOKAHEAD_FRAMES + 1 - before) {
                let Some(later) = history.get(frame + after) else {
                    break;
                };
                if motion_compensated_distance_below(&earlier.features, &later.features, limit) {
                    return true;
                }
            }
        }
        false
    }
}

fn median_in_place(values: &mut [f32]) -> f32 {
    let middle = values.len() / 2;
    let (_, median, _) = values.select_nth_unstable_by(middle, f32::total_cmp);
    *median
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
    }
}
