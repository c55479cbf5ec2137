//! The detector's result, and how raw transition events become a consistent shot list.

use reelforge_core::Rational;
use serde::{Deserialize, Serialize};

/// How one shot gives way to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// Instant change of picture.
    Cut,
    /// The old shot fades to black or white, then the new shot starts abruptly.
    FadeOut,
    /// The new shot fades in from black or white (after an abrupt change to it).
    FadeIn,
    /// Fade out to black, then fade in from black.
    FadeThroughBlack,
    /// Fade out to white, then fade in from white.
    FadeThroughWhite,
    /// Cross-fade: the old shot blends into the new one.
    Dissolve,
}

impl TransitionKind {
    /// The snake_case name used in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Cut => "cut",
            TransitionKind::FadeOut => "fade_out",
            TransitionKind::FadeIn => "fade_in",
            TransitionKind::FadeThroughBlack => "fade_through_black",
            TransitionKind::FadeThroughWhite => "fade_through_white",
            TransitionKind::Dissolve => "dissolve",
        }
    }

    fn is_fade(self) -> bool {
        matches!(
            self,
            TransitionKind::FadeOut
                | TransitionKind::FadeIn
                | TransitionKind::FadeThroughBlack
                | TransitionKind::FadeThroughWhite
        )
    }
}

/// One detected transition between two shots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// First frame of the new shot (0-based, counting the frames the detector saw).
    pub frame: u64,
    pub kind: TransitionKind,
    /// First frame that belongs to the transition (equals `frame` for a cut).
    pub first_frame: u64,
    /// Last frame that belongs to the transition (equals `frame` for a cut).
    pub last_frame: u64,
    /// 0..1; how clearly the evidence shows this transition.
    pub confidence: f32,
    /// Presentation time of `frame`, from its timestamp.
    pub time_seconds: f64,
}

/// A run of frames between two boundaries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shot {
    /// 0-based position in the list.
    pub index: usize,
    pub start_frame: u64,
    /// Last frame of the shot (inclusive).
    pub end_frame: u64,
    /// Presentation time of `start_frame`.
    pub start_seconds: f64,
    /// When the shot stops being shown: the next shot's start, or for the last shot the
    /// last frame's time plus its duration.
    pub end_seconds: f64,
    /// How the shot began: `None` for the first shot unless the video opens with a fade-in.
    pub transition: Option<TransitionKind>,
}

/// Everything the detector found in one video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotList {
    /// Average frame rate the container declared (0/1 when unknown).
    pub frame_rate: Rational,
    /// Time base of the timestamps (0/1 when unknown).
    pub time_base: Rational,
    pub total_frames: u64,
    pub shots: Vec<Shot>,
    /// Transitions in frame order; `boundaries[i]` starts `shots[i + 1]`.
    pub boundaries: Vec<Boundary>,
}

impl Boundary {
    /// Whether a hard cut at `frame` is part of this transition rather than a shot of its own.
    fn covers(&self, frame: u64) -> bool {
        (self.first_frame..=self.last_frame.saturating_add(1)).contains(&frame)
    }

    fn overlaps(&self, other: &Boundary) -> bool {
        self.first_frame <= other.last_frame && other.first_frame <= self.last_frame
    }
}

/// What the streaming detectors leave for the final assembly.
pub(crate) struct Findings {
    /// Transition candidates from the individual detectors, before conflicts are resolved.
    pub candidates: Vec<Boundary>,
    /// Inclusive frame spans where no shot starts (black leader, closing fade to black).
    pub edge_spans: Vec<(u64, u64)>,
    pub total_frames: u64,
    pub first_seconds: f64,
    pub end_seconds: f64,
    pub frame_rate: Rational,
    pub time_base: Rational,
}

/// Resolves overlapping candidates (fades beat dissolves beat cuts, since a fast fade or
/// dissolve also looks like a cut), enforces the minimum shot length, and lays out shots.
pub(crate) fn assemble(findings: Findings, min_shot_frames: u64) -> ShotList {
    let total = findings.total_frames;
    let opens_with_fade_in =
        findings.candidates.iter().any(|b| b.frame == 0 && b.kind == TransitionKind::FadeIn);
    let (fades, rest): (Vec<Boundary>, Vec<Boundary>) =
        findings.candidates.into_iter().partition(|b| b.kind.is_fade());
    let (dissolves, cuts): (Vec<Boundary>, Vec<Boundary>) =
        rest.into_iter().partition(|b| b.kind == TransitionKind::Dissolve);
    let dissolves: Vec<Boundary> =
        dissolves.into_iter().filter(|d| !fades.iter().any(|f| f.overlaps(d))).collect();
    let mut candidates = fades;
    candidates.extend(dissolves);
    let cuts: Vec<Boundary> =
        cuts.into_iter().filter(|c| !candidates.iter().any(|g| g.covers(c.frame))).collect();
    candidates.extend(cuts);
    candidates.retain(|b| {
        b.frame > 0
            && b.frame < total
            && !findings.edge_spans.iter().any(|&(first, last)| (first..=last).contains(&b.frame))
    });
    candidates.sort_by_key(|b| b.frame);

    let min_gap = min_shot_frames.max(1);
    let mut kept: Vec<Boundary> = Vec::with_capacity(candidates.len());
    for boundary in candidates {
        let previous_start = kept.last().map_or(0, |b| b.frame);
        if boundary.frame - previous_start >= min_gap {
            kept.push(boundary);
            continue;
        }
        // Too close to the previous boundary: keep whichever is more certain, provided
        // the replacement still leaves the shot before it long enough.
        let start_before_previous = kept.len().checked_sub(2).map_or(0, |i| kept[i].frame);
        if let Some(previous) = kept.last_mut()
            && boundary.confidence > previous.confidence
            && boundary.frame - start_before_previous >= min_gap
        {
            *previous = boundary;
        }
    }
    // The last shot obeys the minimum length too.
    while kept.last().is_some_and(|b| total - b.frame < min_gap) {
        kept.pop();
    }

    let mut shots = Vec::with_capacity(kept.len() + 1);
    if total > 0 {
        let mut start_frame = 0;
        let mut start_seconds = findings.first_seconds;
        let mut transition = opens_with_fade_in.then_some(TransitionKind::FadeIn);
        for boundary in kept.iter().map(Some).chain([None]) {
            let (end_exclusive, end_seconds) =
                boundary.map_or((total, findings.end_seconds), |b| (b.frame, b.time_seconds));
            shots.push(Shot {
                index: shots.len(),
                start_frame,
                end_frame: end_exclusive - 1,
                start_seconds,
                end_seconds,
                transition,
            });
            if let Some(b) = boundary {
                start_frame = b.frame;
                start_seconds = b.time_seconds;
                transition = Some(b.kind);
            }
        }
    }
    ShotList {
        frame_rate: findings.frame_rate,
        time_base: findings.time_base,
        total_frames: total,
        shots,
        boundaries: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: TransitionKind, frame: u64, span: (u64, u64), confidence: f32) -> Boundary {
        Boundary {
            frame,
            kind,
            first_frame: span.0,
            last_frame: span.1,
            confidence,
            time_seconds: frame as f64 / 25.0,
        }
    }

    fn findings(candidates: Vec<Boundary>, total_frames: u64) -> Findings {
        Findings {
            candidates,
            edge_spans: Vec::new(),
            total_frames,
            first_seconds: 0.0,
            end_seconds: total_frames as f64 / 25.0,
            frame_rate: Rational::new(25, 1),
            time_base: Rational::new(1, 25),
        }
    }

    fn frames(list: &ShotList) -> Vec<u64> {
        list.boundaries.iter().map(|b| b.frame).collect()
    }

    #[test]
    fn cuts_inside_a_gradual_transition_are_absorbed_by_it() {
        let list = assemble(
            findings(
                vec![
                    event(TransitionKind::Cut, 45, (45, 45), 0.9),
                    event(TransitionKind::Dissolve, 50, (40, 60), 0.7),
                    event(TransitionKind::Cut, 61, (61, 61), 0.9),
                ],
                200,
            ),
            5,
        );
        assert_eq!(frames(&list), [50]);
        assert_eq!(list.boundaries[0].kind, TransitionKind::Dissolve);
    }

    #[test]
    fn fade_beats_an_overlapping_dissolve() {
        let list = assemble(
            findings(
                vec![
                    event(TransitionKind::Dissolve, 48, (44, 52), 0.9),
                    event(TransitionKind::FadeThroughBlack, 50, (40, 60), 0.8),
                ],
                200,
            ),
            5,
        );
        assert_eq!(list.boundaries.len(), 1);
        assert_eq!(list.boundaries[0].kind, TransitionKind::FadeThroughBlack);
    }

    #[test]
    fn the_more_confident_of_two_close_boundaries_survives() {
        let list = assemble(
            findings(
                vec![
                    event(TransitionKind::Cut, 50, (50, 50), 0.6),
                    event(TransitionKind::Cut, 55, (55, 55), 0.9),
                    event(TransitionKind::Cut, 58, (58, 58), 0.7),
                ],
                200,
            ),
            12,
        );
        assert_eq!(frames(&list), [55]);
    }

    #[test]
    fn shots_tile_the_video_and_record_their_opening_transition() {
        let list = assemble(
            findings(
                vec![
                    event(TransitionKind::Cut, 30, (30, 30), 0.9),
                    event(TransitionKind::Dissolve, 70, (60, 80), 0.8),
                ],
                100,
            ),
            12,
        );
        let spans: Vec<_> = list.shots.iter().map(|s| (s.start_frame, s.end_frame, s.transition)).collect();
        assert_eq!(
            spans,
            [(0, 29, None), (30, 69, Some(TransitionKind::Cut)), (70, 99, Some(TransitionKind::Dissolve))]
        );
        assert_eq!(list.shots[1].end_seconds, list.shots[2].start_seconds);
        assert_eq!(list.shots[2].end_seconds, 4.0);
    }

    #[test]
    fn a_boundary_leaving_a_too_short_last_shot_is_dropped() {
        let list = assemble(findings(vec![event(TransitionKind::Cut, 95, (95, 95), 0.9)], 100), 12);
        assert!(list.boundaries.is_empty());
        assert_eq!(list.shots.len(), 1);
    }
}
