//! A fixed-size window of the most recent frames' features: the detector's only memory of
//! the picture, so memory stays bounded however long the video is.

use crate::features::FrameFeatures;

/// One frame's features and how much the picture changed since the frame before.
#[derive(Clone, Debug)]
pub(crate) struct FrameRecord {
    pub features: FrameFeatures,
    /// Change from the previous frame with no motion allowed (luma levels).
    pub still_change: f32,
    /// Change from the previous frame after the best camera translation (luma levels).
    pub motion_change: f32,
    /// What the cut detector thresholds: motion-compensated change plus histogram change.
    pub cut_score: f32,
}

impl FrameRecord {
    pub(crate) const EMPTY: FrameRecord =
        FrameRecord { features: FrameFeatures::EMPTY, still_change: 0.0, motion_change: 0.0, cut_score: 0.0 };
}

pub(crate) struct History {
    records: Vec<FrameRecord>,
    /// Frames pushed so far, which is also the number the next frame will get.
    pushed: u64,
}

impl History {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { records: vec![FrameRecord::EMPTY; capacity.max(1)], pushed: 0 }
    }

    pub(crate) fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The record of frame `frame`, if it is still in the window.
    pub(crate) fn get(&self, frame: u64) -> Option<&FrameRecord> {
        let capacity = self.records.len() as u64;
        (frame < self.pushed && self.pushed - frame <= capacity)
            .then(|| &self.records[(frame % capacity) as usize])
    }

    /// The oldest frame still held.
    pub(crate) fn oldest(&self) -> u64 {
        self.pushed.saturating_sub(self.records.len() as u64)
    }

    pub(crate) fn push(&mut self, record: &FrameRecord) {
        let capacity = self.records.len() as u64;
        self.records[(self.pushed % capacity) as usize].clone_from(record);
        self.pushed += 1;
    }

    /// Presentation time of `frame`; frames that left the window are interpolated between
    /// the nearest known times (only long black or white stretches need this).
    pub(crate) fn seconds_or_between(&self, frame: u64, before: (u64, f64), after: (u64, f64)) -> f64 {
        if let Some(record) = self.get(frame) {
            return record.features.seconds;
        }
        let span = after.0.saturating_sub(before.0);
        if span == 0 {
            return before.1;
        }
        let fraction = (frame.saturating_sub(before.0)) as f64 / span as f64;
        before.1 + fraction * (after.1 - before.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_at(seconds: f64) -> FrameRecord {
        let mut record = FrameRecord::EMPTY;
        record.features.seconds = seconds;
        record
    }

    #[test]
    fn keeps_only_the_most_recent_frames() {
        let mut history = History::with_capacity(3);
        for frame in 0..5 {
            history.push(&record_at(frame as f64));
        }
        assert_eq!(history.oldest(), 2);
        assert!(history.get(1).is_none());
        assert_eq!(history.get(4).map(|r| r.features.seconds), Some(4.0));
        assert!(history.get(5).is_none());
    }

    #[test]
    fn times_of_forgotten_frames_are_interpolated() {
        let mut history = History::with_capacity(2);
        for frame in 0..10 {
            history.push(&record_at(frame as f64 * 0.5));
        }
        assert_eq!(history.seconds_or_between(4, (0, 0.0), (8, 4.0)), 2.0);
        assert_eq!(history.seconds_or_between(9, (0, 0.0), (8, 4.0)), 4.5);
    }
}
