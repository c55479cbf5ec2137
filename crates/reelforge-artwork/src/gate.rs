//! The quality gate: which candidates may be picked at all, whatever the profile.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::features::Measurements;

/// Thresholds of the quality gate, as written under `artwork: quality:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QualityGate {
    /// Frames darker than this mean luma (0-255) are black or near-black. Default 40.
    #[schemars(range(min = 0.0, max = 255.0))]
    pub min_mean_luma: f64,
    /// Frames with a lower luma standard deviation are flat (a slate, a fade's middle).
    /// Default 12.
    #[schemars(range(min = 0.0, max = 128.0))]
    pub min_contrast: f64,
    /// Frames with a lower Laplacian variance (on the analysis frame) are blurred. Default 60.
    #[schemars(range(min = 0.0, max = 100000.0))]
    pub min_sharpness: f64,
    /// Frames with more than this share (0-1) of clipped shadows plus highlights are badly
    /// exposed. Default 0.4.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_clipped_share: f64,
    /// Frames whose mean luma changes more than this (levels) from the previous frame are
    /// smeared by motion. Default 40.
    #[schemars(range(min = 0.0, max = 255.0))]
    pub max_motion: f64,
    /// Frames this close (in frames) to a cut, or inside a fade or dissolve, are rejected.
    /// Default 3.
    #[schemars(range(min = 0, max = 100))]
    pub transition_margin_frames: u64,
    /// Two picks of one profile must differ in more than this many of the 64 perceptual-hash
    /// bits (near-duplicates are skipped). Default 10.
    #[schemars(range(min = 0, max = 64))]
    pub duplicate_max_distance: u32,
}

impl Default for QualityGate {
    fn default() -> Self {
        Self {
            min_mean_luma: 40.0,
            min_contrast: 12.0,
            min_sharpness: 60.0,
            max_clipped_share: 0.4,
            max_motion: 40.0,
            transition_margin_frames: 3,
            duplicate_max_distance: 10,
        }
    }
}

/// Why the gate turned a candidate away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    Black,
    Flat,
    Blurred,
    BadExposure,
    MotionBlur,
    InTransition,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Rejection::Black,
        Rejection::Flat,
        Rejection::Blurred,
        Rejection::BadExposure,
        Rejection::MotionBlur,
        Rejection::InTransition,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::Black => "black or near-black",
            Rejection::Flat => "flat (no contrast)",
            Rejection::Blurred => "blurred",
            Rejection::BadExposure => "clipped shadows or highlights",
            Rejection::MotionBlur => "motion blur",
            Rejection::InTransition => "inside a transition",
        })
    }
}

/// A set of [`Rejection`]s (a bit set: candidates are many, reasons few).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections(u8);

impl Rejections {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, reason: Rejection) -> bool {
        self.0 & reason.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Rejection> {
        Rejection::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    fn insert_if(&mut self, condition: bool, reason: Rejection) {
        if condition {
            self.0 |= reason.bit();
        }
    }
}

impl QualityGate {
    /// Every reason to reject a frame with these measurements; empty = it passes.
    pub fn check(&self, m: &Measurements, in_transition: bool) -> Rejections {
        let mut r = Rejections::default();
        r.insert_if(m.mean_luma < self.min_mean_luma, Rejection::Black);
        r.insert_if(m.contrast < self.min_contrast, Rejection::Flat);
        r.insert_if(m.sharpness < self.min_sharpness, Rejection::Blurred);
        r.insert_if(
            m.shadows_clipped + m.highlights_clipped > self.max_clipped_share,
            Rejection::BadExposure,
        );
        r.insert_if(m.motion > self.max_motion, Rejection::MotionBlur);
        r.insert_if(in_transition, Rejection::InTransition);
        r
    }
}

/// Where the shots are and which frames belong to transitions, from the shots stage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShotPlan {
    /// Inclusive frame ranges of the shots, in order.
    pub shots: Vec<(u64, u64)>,
    /// Inclusive frame ranges of every transition (a cut is one frame).
    pub transitions: Vec<(u64, u64)>,
}

impl ShotPlan {
    /// Whether `frame` lies within `margin` frames of a transition.
    pub fn in_transition(&self, frame: u64, margin: u64) -> bool {
        self.transitions.iter().any(|&(first, last)| frame + margin >= first && frame <= last + margin)
    }

    /// The shot holding `frame` (the last whose start is at or before it).
    pub fn shot_of(&self, frame: u64) -> usize {
        self.shots.partition_point(|&(start, _)| start <= frame).saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FrameMeter;
    use crate::features::tests::{blurred, frame, sharp_colourful};

    fn check(f: &reelforge_core::VideoFrame) -> Rejections {
        let (m, _) = FrameMeter::new().push(f, true).expect("RGB frame");
        QualityGate::default().check(&m, false)
    }

    #[test]
    fn sharp_colourful_frame_passes() {
        assert!(check(&frame(160, 90, sharp_colourful)).is_empty());
    }

    #[test]
    fn black_frame_is_black_flat_blurred_and_clipped() {
        let r = check(&frame(160, 90, |_, _| [6, 6, 8]));
        assert!(
            r.contains(Rejection::Black) && r.contains(Rejection::Flat) && r.contains(Rejection::Blurred)
        );
        assert!(r.contains(Rejection::BadExposure));
    }

    #[test]
    fn blurred_frame_is_rejected_as_blurred_only() {
        let r = check(&blurred(160, 90));
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![Rejection::Blurred]);
    }

    #[test]
    fn over_exposed_frame_is_rejected_for_exposure() {
        let r = check(&frame(160, 90, |x, y| if x < 120 { [255, 255, 255] } else { sharp_colourful(x, y) }));
        assert!(r.contains(Rejection::BadExposure));
        assert!(!r.contains(Rejection::Black));
    }

    #[test]
    fn fast_motion_is_rejected() {
        let mut meter = FrameMeter::new();
        meter.push(&frame(160, 90, sharp_colourful), false);
        let shifted = frame(160, 90, |x, y| sharp_colourful(x + 16, y + 1).map(|c| 255 - c));
        let (m, _) = meter.push(&shifted, true).expect("measured");
        assert!(
            QualityGate::default().check(&m, false).contains(Rejection::MotionBlur),
            "motion {}",
            m.motion
        );
    }

    #[test]
    fn frames_near_transitions_are_found() {
        let plan = ShotPlan {
            shots: vec![(0, 99), (100, 199), (200, 299)],
            transitions: vec![(100, 100), (180, 220)],
        };
        assert!(plan.in_transition(98, 3));
        assert!(!plan.in_transition(96, 3));
        assert!(plan.in_transition(200, 0));
        assert!(!plan.in_transition(150, 3));
        assert_eq!(plan.shot_of(150), 1);
        assert_eq!(plan.shot_of(0), 0);
        assert_eq!(plan.shot_of(299), 2);
        let m =
            Measurements { mean_luma: 120.0, contrast: 50.0, sharpness: 500.0, ..Measurements::default() };
        assert_eq!(
            QualityGate::default().check(&m, true).iter().collect::<Vec<_>>(),
            vec![Rejection::InTransition]
        );
    }
}
