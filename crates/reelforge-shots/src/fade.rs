//! Fades: a run of flat black (or white) frames, reached by a ramp in which the picture's
//! distance from that flat level shrinks steadily, and/or left by a ramp in which it grows.
//!
//! A fade scales the picture toward a flat level `b`: frame = b + β·(picture − b). Both
//! |mean − b| and the standard deviation scale with β, so their sum (the "level") falls
//! steadily to ~0 during a fade-out and rises during a fade-in, whatever the content.

use crate::features::{FrameFeatures, motion_compensated_distance_below};
use crate::history::History;
use crate::shot_list::{Boundary, TransitionKind};

/// A new peak of the ramp must exceed the old one by this much (plus a share of it).
const RAMP_STEP: f32 = 0.1;
const RAMP_STEP_SHARE: f32 = 0.002;
/// Frames without a new peak (duplicated or near-still frames) before the ramp ends.
const RAMP_PATIENCE: u32 = 2;
/// Next to the flat frames the picture must already be at most this share of its full
/// level, otherwise the change to flat was abrupt (a cut to black, not a fade).
const RAMP_EDGE_SHARE: f32 = 0.6;
/// Fewest partially faded frames in a ramp.
const MIN_RAMP_FRAMES: u64 = 2;
/// A ramp must start from a picture with at least this level (luma levels).
const MIN_PICTURE_LEVEL: f32 = 10.0;
/// A video opens with a leader (blank frames before the first shot) when its first frame is
/// flat to at most this share of the flat limit: a dark, low-contrast first shot is merely
/// flat-ish (standard deviation 9 of 10), a black leader with a faint credit line is at 4.
const LEADER_MAX_STD_SHARE: f32 = 0.5;
/// Flat frames whose mean is within this many levels of the darkest (or brightest) one
/// count as the bottom of the dip, whose middle is the boundary. Encoded black varies by
/// less than a level; a fade's ramp moves several levels a frame.
const DEEPEST_SLACK: f32 = 2.0;

/// What a fade detector needs to know from the settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FadeLimits {
    pub black_level: f32,
    pub white_level: f32,
    pub flat_max_std_dev: f32,
    pub max_ramp_frames: u64,
    /// Pictures before and after a fade must differ by at least this much (luma levels)
    /// for the fade to separate two shots.
    pub min_change: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tone {
    Black,
    White,
}

impl FadeLimits {
    /// A flat frame at the black or white level: where fades go to or come from.
    pub(crate) fn is_black_or_white(&self, features: &FrameFeatures) -> bool {
        self.tone(features).is_some()
    }

    fn tone(&self, features: &FrameFeatures) -> Option<Tone> {
        if features.std_dev > self.flat_max_std_dev {
            None
        } else if features.mean <= self.black_level {
            Some(Tone::Black)
        } else if features.mean >= self.white_level {
            Some(Tone::White)
        } else {
            None
        }
    }
}

/// The ramp on one side of the flat frames.
#[derive(Clone, Copy, Debug)]
struct Ramp {
    /// The frame at full level, just outside the fade.
    full_frame: u64,
    /// Whether the ramp really fades (rather than jumping to the flat level).
    is_fade: bool,
}

#[derive(Clone, Copy, Debug)]
struct Dip {
    tone: Tone,
    /// Mean luma of the first flat frame: the level the picture fades toward.
    level: f32,
    first: u64,
    first_seconds: f64,
    /// `None` when the video starts with the flat frames.
    fade_out: Option<Ramp>,
    /// The video opens with these frames and they are blank: a leader, not a shot.
    is_leader: bool,
}

#[derive(Clone, Copy, Debug)]
struct Rise {
    dip: Dip,
    last: u64,
    last_seconds: f64,
    /// Level of the first frame after the flat frames.
    edge_level: f32,
    peak_frame: u64,
    peak_level: f32,
    frames_since_peak: u32,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    Flat(Dip),
    Rising(Rise),
}

pub(crate) struct FadeDetector {
    limits: FadeLimits,
    state: State,
    /// The picture before the current fade, kept because a long fade can outlast the history.
    before_fade: FrameFeatures,
    /// Mean luma of each flat frame of the current dip, from its first.
    flat_means: Vec<f32>,
    /// Frame spans (inclusive) where no shot can start: black or white leader at the start
    /// of the video up to its first picture, and the closing fade to black at the end.
    edge_spans: Vec<(u64, u64)>,
}

fn level(features: &FrameFeatures, flat_level: f32) -> f32 {
    (features.mean - flat_level).abs() + features.std_dev
}

fn is_new_peak(value: f32, peak: f32) -> bool {
    value > peak + RAMP_STEP + RAMP_STEP_SHARE * peak
}

impl FadeDetector {
    pub(crate) fn new(limits: FadeLimits) -> Self {
        Self {
            limits,
            state: State::Idle,
            before_fade: FrameFeatures::EMPTY,
            flat_means: Vec::new(),
            edge_spans: Vec::new(),
        }
    }

    /// Frames of history the backward search for a fade-out needs.
    pub(crate) fn frames_needed(&self) -> u64 {
        self.limits.max_ramp_frames + u64::from(RAMP_PATIENCE) + 2
    }

    /// Feeds the newest frame (`frame`, already in `history`); a finished fade is returned.
    pub(crate) fn observe(&mut self, history: &History, frame: u64) -> Option<Boundary> {
        let features = &history.get(frame)?.features;
        let tone = self.limits.tone(features);
        match self.state {
            State::Idle => {
                if let Some(tone) = tone {
                    self.start_dip(history, frame, tone);
                }
                None
            }
            State::Flat(dip) => {
                if tone == Some(dip.tone) {
                    self.flat_means.push(features.mean);
                } else {
                    let last_seconds =
                        history.get(frame - 1).map_or(features.seconds, |r| r.features.seconds);
                    let edge_level = level(features, dip.level);
                    self.state = State::Rising(Rise {
                        dip,
                        last: frame - 1,
                        last_seconds,
                        edge_level,
                        peak_frame: frame,
                        peak_level: edge_level,
                        frames_since_peak: 0,
                    });
                }
                None
            }
            State::Rising(mut rise) => {
                let value = level(features, rise.dip.level);
                let ended = tone.is_some()
                    || frame - rise.last > self.limits.max_ramp_frames
                    || if is_new_peak(value, rise.peak_level) {
                        rise.peak_frame = frame;
                        rise.peak_level = value;
                        rise.frames_since_peak = 0;
                        false
                    } else {
                        rise.frames_since_peak += 1;
                        rise.frames_since_peak > RAMP_PATIENCE
                    };
                if !ended {
                    self.state = State::Rising(rise);
                    return None;
                }
                self.state = State::Idle;
                let boundary = self.finish_rise(history, &rise, false);
                if let Some(tone) = tone {
                    self.start_dip(history, frame, tone);
                }
                boundary
            }
        }
    }

    /// Called after the last frame (`total` frames seen): a fade-in still rising ends here;
    /// flat frames at the end are the video fading (or cutting) out, which starts no shot.
    pub(crate) fn finish(&mut self, history: &History, total: u64) -> Option<Boundary> {
        let state = std::mem::replace(&mut self.state, State::Idle);
        match state {
            State::Rising(rise) => self.finish_rise(history, &rise, false),
            // Flat from the first frame to the last is no closing: the "flat" pictures are
            // the content (a dark, low-contrast video), so its cuts stand.
            State::Flat(dip) if dip.first > 0 => {
                let first_dimmed =
                    dip.fade_out.filter(|ramp| ramp.is_fade).map_or(dip.first, |ramp| ramp.full_frame + 1);
                self.edge_spans.push((first_dimmed, total));
                None
            }
            State::Flat(_) => None,
            State::Idle => None,
        }
    }

    /// The leader and closing spans found, for the final assembly.
    pub(crate) fn take_edge_spans(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.edge_spans)
    }

    fn start_dip(&mut self, history: &History, first: u64, tone: Tone) {
        let Some(record) = history.get(first) else {
            return;
        };
        let flat_level = record.features.mean;
        self.flat_means.clear();
        self.flat_means.push(flat_level);
        let fade_out = self.find_fade_out(history, first, flat_level);
        if let Some(before) = fade_out.and_then(|ramp| history.get(ramp.full_frame)) {
            self.before_fade.clone_from(&before.features);
        }
        self.state = State::Flat(Dip {
            tone,
            level: flat_level,
            first,
            first_seconds: record.features.seconds,
            fade_out,
            is_leader: first == 0
                && record.features.std_dev <= LEADER_MAX_STD_SHARE * self.limits.flat_max_std_dev,
        });
    }

    /// The middle (counted from the dip's first frame) of the flat frames nearest the black
    /// or white level. Which frames pass as flat depends on the picture's texture as it dims
    /// (a fine pattern keeps its spread longer than noise does), so the middle of all of them
    /// can lean to one side; the middle of the darkest ones does not.
    fn middle_of_deepest(&self, tone: Tone) -> u64 {
        let depth = |mean: f32| match tone {
            Tone::Black => -mean,
            Tone::White => mean,
        };
        let deepest = self.flat_means.iter().map(|&mean| depth(mean)).fold(f32::NEG_INFINITY, f32::max);
        let is_near = |&mean: &f32| depth(mean) >= deepest - DEEPEST_SLACK;
        let first = self.flat_means.iter().position(is_near).unwrap_or(0);
        let last = self.flat_means.iter().rposition(is_near).unwrap_or(first);
        ((first + last) as u64).div_ceil(2)
    }

    /// Walks back from the first flat frame while the level keeps growing.
    fn find_fade_out(&self, history: &History, first_flat: u64, flat_level: f32) -> Option<Ramp> {
        let edge = history.get(first_flat.checked_sub(1)?)?;
        let edge_level = level(&edge.features, flat_level);
        let mut peak_frame = first_flat - 1;
        let mut peak_level = edge_level;
        let mut frames_since_peak = 0;
        let earliest = history.oldest().max(first_flat.saturating_sub(self.limits.max_ramp_frames + 1));
        for frame in (earliest..first_flat - 1).rev() {
            let Some(record) = history.get(frame) else { break };
            if self.limits.tone(&record.features).is_some() {
                break;
            }
            let value = level(&record.features, flat_level);
            if is_new_peak(value, peak_level) {
                peak_frame = frame;
                peak_level = value;
                frames_since_peak = 0;
            } else {
                frames_since_peak += 1;
                if frames_since_peak > RAMP_PATIENCE {
                    break;
                }
            }
        }
        Some(Ramp {
            full_frame: peak_frame,
            is_fade: is_fade_ramp(edge_level, peak_level, first_flat - 1 - peak_frame),
        })
    }

    fn finish_rise(&mut self, history: &History, rise: &Rise, at_end_of_video: bool) -> Option<Boundary> {
        let dip = &rise.dip;
        // Black before the first picture is a leader, not a shot: whether the picture then
        // fades in or appears at once, the first shot starts there. (The fade-in case is
        // also reported below, at frame 0, so the first shot records how it opened.)
        if dip.is_leader {
            self.edge_spans.push((0, rise.last + 1));
        }
        let fade_in_frames = rise.peak_frame - rise.last - 1;
        let fades_in = is_fade_ramp(rise.edge_level, rise.peak_level, fade_in_frames);
        let fades_out = dip.fade_out.is_some_and(|ramp| ramp.is_fade);
        let after = history.get(rise.peak_frame).map(|r| &r.features);
        let before = match dip.fade_out {
            Some(ramp) if ramp.is_fade => Some(&self.before_fade),
            _ => dip.first.checked_sub(1).and_then(|f| history.get(f)).map(|r| &r.features),
        };
        // A dip back into the same picture (a flash, lights going out and on) is no boundary.
        // (An opening fade-in has nothing before it: it is reported at frame 0, where it
        // starts the first shot and keeps other detectors off its frames.)
        if let (Some(before), Some(after)) = (before, after)
            && !at_end_of_video
            && dip.first > 0
            && motion_compensated_distance_below(before, after, self.limits.min_change)
        {
            return None;
        }
        let first_dimmed = dip.fade_out.map_or(dip.first, |ramp| ramp.full_frame + 1);
        let last_dimmed = rise.peak_frame.saturating_sub(1).max(rise.last);
        // Whichever side fades, the new shot starts in the middle of the flat frames (the
        // convention of PySceneDetect and of edit decision lists: the black is shared), taken
        // at the bottom of the dip.
        let middle_of_flat = dip.first + self.middle_of_deepest(dip.tone);
        let opening = dip.first == 0;
        let (kind, frame, first_frame, last_frame, confidence) = match (fades_out, fades_in) {
            (true, true) => {
                let kind = match dip.tone {
                    Tone::Black => TransitionKind::FadeThroughBlack,
                    Tone::White => TransitionKind::FadeThroughWhite,
                };
                (kind, middle_of_flat, first_dimmed, last_dimmed, 0.9)
            }
            (true, false) => (TransitionKind::FadeOut, middle_of_flat, first_dimmed, rise.last, 0.75),
            (false, true) if opening => (TransitionKind::FadeIn, 0, 0, last_dimmed, 0.75),
            (false, true) => (TransitionKind::FadeIn, middle_of_flat, dip.first, last_dimmed, 0.75),
            (false, false) => return None,
        };
        let time_seconds =
            history.seconds_or_between(frame, (dip.first, dip.first_seconds), (rise.last, rise.last_seconds));
        Some(Boundary { frame, kind, first_frame, last_frame, confidence, time_seconds })
    }
}

/// A ramp fades when it spans enough frames, starts from a real picture and is already
/// well on its way to flat next to the flat frames.
fn is_fade_ramp(edge_level: f32, full_level: f32, partial_frames: u64) -> bool {
    partial_frames >= MIN_RAMP_FRAMES
        && full_level >= MIN_PICTURE_LEVEL
        && edge_level <= RAMP_EDGE_SHARE * full_level
}
