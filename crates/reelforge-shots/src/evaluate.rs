//! Scoring detected boundaries against a reference list: frames against frames
//! ([`evaluate`]), or boundaries against transition spans with cuts and gradual transitions
//! scored apart ([`evaluate_transitions`]).

use serde::{Deserialize, Serialize};

/// How well detected boundary frames match the true ones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// Share of detections that are true (1 when nothing was detected).
    pub precision: f64,
    /// Share of true boundaries that were detected (1 when there were none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// Matches detected frames to true frames one-to-one, closest pairs first, counting a match
/// when they are at most `tolerance` frames apart. Duplicate frames count separately.
pub fn evaluate(truth: &[u64], detected: &[u64], tolerance: u64) -> Evaluation {
    let mut truth_sorted: Vec<(u64, usize)> = truth.iter().copied().zip(0..).collect();
    truth_sorted.sort_unstable();
    let mut pairs: Vec<(u64, usize, usize)> = Vec::new();
    for (detected_index, &frame) in detected.iter().enumerate() {
        let lowest = frame.saturating_sub(tolerance);
        let first = truth_sorted.partition_point(|&(t, _)| t < lowest);
        for &(true_frame, truth_index) in &truth_sorted[first..] {
            if true_frame > frame.saturating_add(tolerance) {
                break;
            }
            pairs.push((true_frame.abs_diff(frame), truth_index, detected_index));
        }
    }
    pairs.sort_unstable();
    let mut truth_matched = vec![false; truth.len()];
    let mut detected_matched = vec![false; detected.len()];
    let mut true_positives = 0;
    for (_, truth_index, detected_index) in pairs {
        if !truth_matched[truth_index] && !detected_matched[detected_index] {
            truth_matched[truth_index] = true;
            detected_matched[detected_index] = true;
            true_positives += 1;
        }
    }
    Evaluation::from_counts(true_positives, detected.len() - true_positives, truth.len() - true_positives)
}

impl Evaluation {
    pub fn from_counts(true_positives: usize, false_positives: usize, false_negatives: usize) -> Self {
        let share = |part: usize, whole: usize| if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
        let precision = share(true_positives, true_positives + false_positives);
        let recall = share(true_positives, true_positives + false_negatives);
        let f1 =
            if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Evaluation { true_positives, false_positives, false_negatives, precision, recall, f1 }
    }
}

/// What a stretch of true frames is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    /// A hard cut: the span is the new shot's first frame.
    Cut,
    /// A fade, dissolve, wipe or any other transition over several frames.
    Gradual,
    /// No boundary between shots (a black leader, a closing fade): detections in it count
    /// neither way.
    Ignore,
}

/// One true transition: its first and last frames (inclusive; equal for a cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthSpan {
    pub kind: TruthKind,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// One detected boundary: the frame it names, whether the tool called it gradual, and the
/// transition's frames when the tool reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub frame: u64,
    pub gradual: bool,
    /// First and last frame of the transition (inclusive).
    pub span: Option<(u64, u64)>,
}

/// How far detected span ends are from the true ones, over matched gradual transitions whose
/// detection has a span.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanError {
    pub transitions: usize,
    /// Mean |detected first frame − true first frame|.
    pub mean_first_frames: f64,
    /// Mean |detected last frame − true last frame|.
    pub mean_last_frames: f64,
}

/// Scores of a detection against transition spans.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionEvaluation {
    /// Every transition, whatever its kind.
    pub all: Evaluation,
    /// True cuts found, missed; false detections the tool called cuts.
    pub cuts: Evaluation,
    /// True gradual transitions found, missed; false detections the tool called gradual.
    pub gradual: Evaluation,
    /// `None` when no matched gradual transition has a detected span.
    pub span_error: Option<SpanError>,
}

/// Matches detections to true transitions one-to-one: a detection matches when its frame lies
/// within `[first_frame − tolerance, last_frame + tolerance]`, the closest pairs first (inside
/// the span beats beside it, then nearer the span's middle). Detections within an `Ignore` span
/// (± tolerance) are dropped. A match counts for the true transition's kind whatever the tool
/// called it; an unmatched detection is a false positive of the kind the tool gave it.
pub fn evaluate_transitions(
    truth: &[TruthSpan],
    detected: &[Detection],
    tolerance: u64,
) -> TransitionEvaluation {
    let (ignored, scored): (Vec<&TruthSpan>, Vec<&TruthSpan>) =
        truth.iter().partition(|t| t.kind == TruthKind::Ignore);
    let near = |span: &TruthSpan, frame: u64| {
        (span.first_frame.saturating_sub(tolerance)..=span.last_frame.saturating_add(tolerance))
            .contains(&frame)
    };
    let detected: Vec<&Detection> =
        detected.iter().filter(|d| !ignored.iter().any(|span| near(span, d.frame))).collect();
    let mut pairs: Vec<((u64, u64), usize, usize)> = Vec::new();
    for (truth_index, span) in scored.iter().enumerate() {
        for (detected_index, detection) in detected.iter().enumerate() {
            if near(span, detection.frame) {
                let outside = span.first_frame.saturating_sub(detection.frame)
                    + detection.frame.saturating_sub(span.last_frame);
                let from_middle = (2 * detection.frame).abs_diff(span.first_frame + span.last_frame);
                pairs.push(((outside, from_middle), truth_index, detected_index));
            }
        }
    }
    pairs.sort_unstable();
    let mut truth_match = vec![None; scored.len()];
    let mut detected_matched = vec![false; detected.len()];
    for (_, truth_index, detected_index) in pairs {
        if truth_match[truth_index].is_none() && !detected_matched[detected_index] {
            truth_match[truth_index] = Some(detected_index);
            detected_matched[detected_index] = true;
        }
    }
    let score = |kind: Option<TruthKind>| {
        let of_kind = |k: TruthKind| kind.is_none_or(|wanted| wanted == k);
        let (mut found, mut missed) = (0, 0);
        for (span, matched) in scored.iter().zip(&truth_match) {
            if of_kind(span.kind) {
                if matched.is_some() { found += 1 } else { missed += 1 }
            }
        }
        let false_positives = detected
            .iter()
            .zip(&detected_matched)
            .filter(|(d, matched)| {
                !**matched && of_kind(if d.gradual { TruthKind::Gradual } else { TruthKind::Cut })
            })
            .count();
        Evaluation::from_counts(found, false_positives, missed)
    };
    let errors: Vec<(u64, u64)> = scored
        .iter()
        .zip(&truth_match)
        .filter(|(span, _)| span.kind == TruthKind::Gradual)
        .filter_map(|(span, matched)| {
            let (first, last) = detected[(*matched)?].span?;
            Some((first.abs_diff(span.first_frame), last.abs_diff(span.last_frame)))
        })
        .collect();
    let mean = |values: &mut dyn Iterator<Item = u64>| values.sum::<u64>() as f64 / errors.len() as f64;
    let span_error = (!errors.is_empty()).then(|| SpanError {
        transitions: errors.len(),
        mean_first_frames: mean(&mut errors.iter().map(|e| e.0)),
        mean_last_frames: mean(&mut errors.iter().map(|e| e.1)),
    });
    TransitionEvaluation {
        all: score(None),
        cuts: score(Some(TruthKind::Cut)),
        gradual: score(Some(TruthKind::Gradual)),
        span_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_detection_scores_one() {
        let e = evaluate(&[10, 50, 90], &[10, 50, 90], 0);
        assert_eq!((e.true_positives, e.false_positives, e.false_negatives), (3, 0, 0));
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 1.0, 1.0));
    }

    #[test]
    fn detections_within_tolerance_match_once_each() {
        // 51 and 52 both lie near 50; only one may claim it, the other is a false positive.
        let e = evaluate(&[50, 100], &[51, 52, 140], 2);
        assert_eq!((e.true_positives, e.false_positives, e.false_negatives), (1, 2, 1));
        assert!((e.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.recall - 0.5).abs() < 1e-12);
        assert!((e.f1 - 0.4).abs() < 1e-12);
    }

    #[test]
    fn closest_pairs_are_matched_first() {
        // Greedy by input order would give 12 to 10 and leave 14 unmatched.
        let e = evaluate(&[10, 14], &[12, 15], 2);
        assert_eq!(e.true_positives, 2);
    }

    fn span(kind: TruthKind, first_frame: u64, last_frame: u64) -> TruthSpan {
        TruthSpan { kind, first_frame, last_frame }
    }

    fn cut_at(frame: u64) -> Detection {
        Detection { frame, gradual: false, span: None }
    }

    #[test]
    fn a_detection_anywhere_in_a_span_matches_and_the_kinds_are_scored_apart() {
        let truth = [
            span(TruthKind::Cut, 100, 100),
            span(TruthKind::Gradual, 200, 260),
            span(TruthKind::Cut, 400, 400),
        ];
        let detected = [
            cut_at(101),
            Detection { frame: 250, gradual: true, span: Some((204, 258)) },
            cut_at(300),
            Detection { frame: 330, gradual: true, span: None },
        ];
        let scores = evaluate_transitions(&truth, &detected, 1);
        assert_eq!(
            (scores.cuts.true_positives, scores.cuts.false_positives, scores.cuts.false_negatives),
            (1, 1, 1)
        );
        assert_eq!(
            (scores.gradual.true_positives, scores.gradual.false_positives, scores.gradual.false_negatives),
            (1, 1, 0)
        );
        assert_eq!(
            (scores.all.true_positives, scores.all.false_positives, scores.all.false_negatives),
            (2, 2, 1)
        );
        assert!((scores.gradual.precision - 0.5).abs() < 1e-12);
        let error = scores.span_error.expect("one matched span");
        assert_eq!((error.transitions, error.mean_first_frames, error.mean_last_frames), (1, 4.0, 2.0));
    }

    #[test]
    fn each_transition_matches_one_detection_the_one_inside_first() {
        // 261 lies beside the dissolve, 230 inside it: 230 claims it, 261 is a false cut.
        let truth = [span(TruthKind::Gradual, 200, 260)];
        let scores = evaluate_transitions(&truth, &[cut_at(261), cut_at(230)], 1);
        assert_eq!((scores.all.true_positives, scores.cuts.false_positives), (1, 1));
        assert_eq!(scores.span_error, None, "no detected span");
    }

    #[test]
    fn detections_in_ignore_spans_count_neither_way() {
        let truth = [span(TruthKind::Ignore, 0, 30), span(TruthKind::Cut, 100, 100)];
        let scores = evaluate_transitions(&truth, &[cut_at(15), cut_at(31), cut_at(100)], 1);
        assert_eq!(
            (scores.all.true_positives, scores.all.false_positives, scores.all.false_negatives),
            (1, 0, 0)
        );
        assert_eq!(scores.all.f1, 1.0);
    }

    #[test]
    fn nothing_detected_in_a_video_with_cuts_has_zero_recall_and_f1() {
        let e = evaluate(&[10], &[], 3);
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 0.0, 0.0));
        let empty = evaluate(&[], &[], 3);
        assert_eq!(empty.f1, 1.0);
    }
}
