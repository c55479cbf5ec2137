//! Quality control: every style-guide rule violation in a list of cues.

use serde::Serialize;

use crate::cues::{Cue, CueRules};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// 1-based cue number.
    pub cue: usize,
    pub rule: &'static str,
    pub detail: String,
}

/// Tolerance for times read from files with millisecond precision.
const EPSILON: f64 = 0.0015;

/// Checks cues against `rules` at `fps`; `cuts` (seconds) enables the shot-change rules.
pub fn check(cues: &[Cue], rules: &CueRules, cps: f64, fps: f64, cuts: &[f64]) -> Vec<Violation> {
    let frame = 1.0 / fps;
    let mut found = Vec::new();
    let mut add =
        |cue: usize, rule: &'static str, detail: String| found.push(Violation { cue: cue + 1, rule, detail });
    for (i, cue) in cues.iter().enumerate() {
        let duration = cue.end - cue.start;
        if cue.lines.len() > rules.max_lines {
            add(i, "max-lines", format!("{} lines (max {})", cue.lines.len(), rules.max_lines));
        }
        for line in &cue.lines {
            let n = line.chars().count();
            if n > rules.max_chars_per_line {
                add(
                    i,
                    "max-chars-per-line",
                    format!("{n} characters in {line:?} (max {})", rules.max_chars_per_line),
                );
            }
        }
        if duration <= 0.0 {
            add(i, "order", format!("ends at {:.3} s, not after its start {:.3} s", cue.end, cue.start));
            continue;
        }
        if duration < rules.min_duration - EPSILON {
            add(i, "min-duration", format!("{duration:.3} s (min {:.3} s)", rules.min_duration));
        }
        if duration > rules.max_duration + EPSILON {
            add(i, "max-duration", format!("{duration:.3} s (max {:.3} s)", rules.max_duration));
        }
        let speed = cue.chars() as f64 / duration;
        if speed > cps * (1.0 + EPSILON) {
            add(i, "reading-speed", format!("{speed:.1} characters/s (max {cps})"));
        }
        if let Some(next) = cues.get(i + 1) {
            let gap = next.start - cue.end;
            let gap_frames = gap / frame;
            if gap < -EPSILON {
                add(i, "overlap", format!("overlaps the next cue by {:.3} s", -gap));
            } else if gap_frames < f64::from(rules.min_gap_frames) - EPSILON * fps {
                add(
                    i,
                    "min-gap",
                    format!("{gap_frames:.1} frames before the next cue (min {})", rules.min_gap_frames),
                );
            } else if gap_frames > f64::from(rules.min_gap_frames) + EPSILON * fps
                && gap_frames <= f64::from(rules.close_gap_frames) + EPSILON * fps
                && !cuts.iter().any(|&c| c > cue.end - EPSILON && c < next.start + EPSILON)
            {
                add(
                    i,
                    "gap-not-closed",
                    format!(
                        "{gap_frames:.1} frames before the next cue (close gaps ≤ {} frames to {})",
                        rules.close_gap_frames, rules.min_gap_frames
                    ),
                );
            }
        }
        for &cut in cuts {
            if cut > cue.start + EPSILON && cut < cue.end - EPSILON {
                add(
                    i,
                    "crosses-shot-change",
                    format!("shot change at {cut:.3} s inside {:.3}–{:.3} s", cue.start, cue.end),
                );
            }
            let snap = f64::from(rules.snap_frames) * frame;
            let near = |t: f64| (t - cut).abs() > EPSILON && (t - cut).abs() <= snap - EPSILON;
            if near(cue.start) {
                add(
                    i,
                    "in-near-shot-change",
                    format!(
                        "starts {:.0} frames from the shot change at {cut:.3} s",
                        (cue.start - cut).abs() / frame
                    ),
                );
            }
            // An out-time may sit the minimum gap before a cut (cue chained to one at the cut).
            if near(cue.end) && (cut - cue.end - f64::from(rules.min_gap_frames) * frame).abs() > EPSILON {
                add(
                    i,
                    "out-near-shot-change",
                    format!(
                        "ends {:.0} frames from the shot change at {cut:.3} s",
                        (cue.end - cut).abs() / frame
                    ),
                );
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, text: &str) -> Cue {
        Cue { start, end, lines: text.split('|').map(str::to_owned).collect() }
    }

    #[test]
    fn clean_cues_pass() {
        let cues = [cue(1.0, 3.0, "Hello there."), cue(3.08, 5.0, "General Kenobi.")];
        assert!(check(&cues, &CueRules::default(), 17.0, 25.0, &[]).is_empty());
    }

    #[test]
    fn every_rule_is_reported() {
        let long = "x".repeat(43);
        let cues = [
            cue(0.0, 0.5, "a|b|c"),
            cue(0.52, 9.0, &long),
            cue(9.2, 9.9, "far too much text for so little time"),
            cue(11.0, 12.0, "crossing"),
        ];
        let rules: Vec<&str> =
            check(&cues, &CueRules::default(), 17.0, 25.0, &[11.5, 12.1]).iter().map(|v| v.rule).collect();
        for rule in [
            "max-lines",
            "min-duration",
            "min-gap",
            "max-chars-per-line",
            "max-duration",
            "gap-not-closed",
            "reading-speed",
            "crosses-shot-change",
            "out-near-shot-change",
        ] {
            assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
        }
    }
}
