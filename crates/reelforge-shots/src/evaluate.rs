//! Scoring detected boundaries against a reference list.

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
    let false_positives = detected.len() - true_positives;
    let false_negatives = truth.len() - true_positives;
    let share = |part: usize, whole: usize| if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
    let precision = share(true_positives, detected.len());
    let recall = share(true_positives, truth.len());
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    Evaluation { true_positives, false_positives, false_negatives, precision, recall, f1 }
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

    #[test]
    fn nothing_detected_in_a_video_with_cuts_has_zero_recall_and_f1() {
        let e = evaluate(&[10], &[], 3);
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 0.0, 0.0));
        let empty = evaluate(&[], &[], 3);
        assert_eq!(empty.f1, 1.0);
    }
}
