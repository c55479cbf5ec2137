//! Per-shot scores: each measured signal scaled to 0..1 across the episode, then weighted.

use serde::{Deserialize, Serialize};

use crate::settings::ScoreWeights;

/// What was measured about one source shot. Frames count the source's frames (0-based).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotSignals {
    /// Position in the shot list.
    pub index: usize,
    pub start_frame: u64,
    /// Last frame of the shot (inclusive), as `shots.json` gives it.
    pub end_frame: u64,
    /// Frames at the start that belong to a fade or dissolve into this shot (unusable).
    pub lead_in_frames: u64,
    /// Frames at the end that belong to a fade or dissolve out of this shot (unusable).
    pub lead_out_frames: u64,
    /// Mean EBU R128 short-term loudness over the shot in LUFS; `None` when silent.
    pub loudness_lufs: Option<f64>,
    /// Loudest EBU R128 momentary loudness in the shot in LUFS; `None` when silent.
    pub peak_loudness_lufs: Option<f64>,
    /// Mean absolute luma change between consecutive frames (0..255).
    pub motion: f64,
    /// Mean Laplacian energy of the luma (detail; higher is sharper).
    pub sharpness: f64,
    /// Mean standard deviation of the luma (0..128).
    pub contrast: f64,
    /// Seconds of the shot with subtitles on screen; `None` when no subtitles were made.
    pub dialogue_seconds: Option<f64>,
    /// Words in the subtitles shown during the shot; `None` when no subtitles were made.
    pub words: Option<u32>,
    /// One reading per frame from `start_frame` on (may be shorter than the shot, or empty
    /// when nothing was measured): where in the shot its action peaks.
    pub per_frame: Vec<FrameSignal>,
}

/// What was measured at one frame of a shot.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameSignal {
    /// EBU R128 short-term loudness around the frame in LUFS; `None` in silence.
    pub short_term_lufs: Option<f64>,
    /// Mean absolute luma change from the previous frame (0..255).
    pub motion: f64,
}

impl ShotSignals {
    pub fn frames(&self) -> u64 {
        (self.end_frame + 1).saturating_sub(self.start_frame)
    }
}

/// A shot's scores, each 0..1, and why it may not be used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotScore {
    pub index: usize,
    pub loudness: f64,
    pub motion: f64,
    pub quality: f64,
    pub length: f64,
    pub dialogue: f64,
    pub words: f64,
    /// The weighted mean of the signals above.
    pub total: f64,
    /// Loud peaks and motion together: what the trailer's peak section looks for.
    pub energy: f64,
    /// Whether the shot starts before the spoiler cut-off.
    pub before_cutoff: bool,
}

/// Scores every shot. `total_frames` is the episode's length; `spoiler_cutoff` the fraction
/// of it after which shots are refused.
pub fn score_shots(
    shots: &[ShotSignals],
    weights: &ScoreWeights,
    total_frames: u64,
    spoiler_cutoff: f64,
) -> Vec<ShotScore> {
    // Silence counts as the quietest level measured (not as 0 LUFS).
    let loudness = scaled(shots, |s| s.loudness_lufs);
    let peaks = scaled(shots, |s| s.peak_loudness_lufs);
    let motion = scaled(shots, |s| Some(s.motion));
    let sharpness = scaled(shots, |s| Some(s.sharpness));
    let contrast = scaled(shots, |s| Some(s.contrast));
    let length = scaled(shots, |s| Some(s.frames() as f64));
    let per_second = |s: &ShotSignals, value: f64| value / (s.frames().max(1) as f64);
    let dialogue = scaled(shots, |s| s.dialogue_seconds.map(|d| per_second(s, d)));
    let words = scaled(shots, |s| s.words.map(|w| per_second(s, f64::from(w))));
    // Signals nobody measured (no subtitles stage) take no part in the mean.
    let has = |f: fn(&ShotSignals) -> bool| shots.iter().any(f);
    let dialogue_weight = if has(|s| s.dialogue_seconds.is_some()) { weights.dialogue } else { 0.0 };
    let words_weight = if has(|s| s.words.is_some()) { weights.words } else { 0.0 };
    let weight_sum =
        weights.loudness + weights.motion + weights.quality + weights.length + dialogue_weight + words_weight;
    let cutoff_frame = (total_frames as f64 * spoiler_cutoff).floor() as u64;

    shots
        .iter()
        .enumerate()
        .map(|(i, shot)| {
            let quality = 0.5 * (sharpness[i] + contrast[i]);
            let weighted = weights.loudness * loudness[i]
                + weights.motion * motion[i]
                + weights.quality * quality
                + weights.length * length[i]
                + dialogue_weight * dialogue[i]
                + words_weight * words[i];
            ShotScore {
                index: shot.index,
                loudness: loudness[i],
                motion: motion[i],
                quality,
                length: length[i],
                dialogue: dialogue[i],
                words: words[i],
                total: if weight_sum > 0.0 { weighted / weight_sum } else { 0.0 },
                energy: 0.5 * (peaks[i] + motion[i]),
                before_cutoff: shot.start_frame < cutoff_frame,
            }
        })
        .collect()
}

/// Min-max scales one signal across the shots; missing values become 0, and a signal that is
/// the same everywhere becomes 0.5 (it tells the shots apart by nothing).
fn scaled(shots: &[ShotSignals], value: impl Fn(&ShotSignals) -> Option<f64>) -> Vec<f64> {
    let values: Vec<Option<f64>> = shots.iter().map(|s| value(s).filter(|v| v.is_finite())).collect();
    let present = values.iter().flatten();
    let min = present.clone().copied().fold(f64::INFINITY, f64::min);
    let max = present.copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => 0.0,
            Some(_) if max - min < 1e-9 => 0.5,
            Some(v) => (v - min) / (max - min),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 10 s shot at frame `start` with the given loudness and motion.
    pub(crate) fn shot(index: usize, start: u64, frames: u64, lufs: Option<f64>, motion: f64) -> ShotSignals {
        ShotSignals {
            index,
            start_frame: start,
            end_frame: start + frames - 1,
            lead_in_frames: 0,
            lead_out_frames: 0,
            loudness_lufs: lufs,
            peak_loudness_lufs: lufs.map(|l| l + 3.0),
            motion,
            sharpness: 10.0,
            contrast: 40.0,
            dialogue_seconds: None,
            words: None,
            per_frame: Vec::new(),
        }
    }

    #[test]
    fn louder_and_busier_shots_score_higher() {
        let shots = [
            shot(0, 0, 100, Some(-30.0), 1.0),
            shot(1, 100, 100, Some(-20.0), 5.0),
            shot(2, 200, 100, None, 0.5),
        ];
        let scores = score_shots(&shots, &ScoreWeights::default(), 300, 1.0);
        assert!(scores[1].total > scores[0].total);
        assert!(scores[0].total > scores[2].total, "silence scores below quiet");
        assert_eq!(scores[1].energy, 1.0);
        assert_eq!(scores[2].loudness, 0.0);
    }

    #[test]
    fn spoiler_cutoff_marks_late_shots() {
        let shots = [shot(0, 0, 100, None, 1.0), shot(1, 100, 100, None, 1.0), shot(2, 200, 100, None, 1.0)];
        let scores = score_shots(&shots, &ScoreWeights::default(), 300, 0.6);
        let before: Vec<bool> = scores.iter().map(|s| s.before_cutoff).collect();
        assert_eq!(before, [true, true, false]);
    }

    #[test]
    fn dialogue_counts_only_when_subtitles_exist() {
        let mut shots = vec![shot(0, 0, 100, Some(-20.0), 1.0), shot(1, 100, 100, Some(-20.0), 1.0)];
        let without = score_shots(&shots, &ScoreWeights::default(), 200, 1.0);
        assert_eq!(without[0].total, without[1].total);
        shots[0].dialogue_seconds = Some(3.0);
        shots[0].words = Some(9);
        shots[1].dialogue_seconds = Some(0.0);
        shots[1].words = Some(0);
        let with = score_shots(&shots, &ScoreWeights::default(), 200, 1.0);
        assert!(with[0].total > with[1].total);
        assert_eq!((with[0].dialogue, with[0].words), (1.0, 1.0));
    }
}
