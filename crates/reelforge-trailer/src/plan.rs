//! The edit: which part of which shot plays when, in four sections (opening, build, peak,
//! closing), trimmed so the clips add up to the target duration exactly to the frame.

use reelforge_core::{Classify, ErrorClass, Rational};
use serde::{Deserialize, Serialize};

use crate::score::{ShotScore, ShotSignals, score_shots};
use crate::settings::{SettingsError, TrailerSettings};

/// Share of the trailer each section gets: the closing takes what is left.
const OPENING_SHARE: f64 = 0.20;
const BUILD_SHARE: f64 = 0.35;
const PEAK_SHARE: f64 = 0.30;
/// The build starts with clips this long and shortens each by `BUILD_SHRINK` (quickening pace).
const BUILD_FIRST_SECONDS: f64 = 3.0;
const BUILD_SHRINK: f64 = 0.8;
const BUILD_SHORTEST_SECONDS: f64 = 1.2;
/// Peak clips are short: many high-energy moments in quick succession.
const PEAK_CLIP_SECONDS: f64 = 1.0;
/// How much a shot's preference drops each time it was already used: fresh shots first.
const REUSE_PENALTY: f64 = 0.5;

/// The four parts of the trailer, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Establishes the world: a calm, good-looking, early shot held for a while.
    Opening,
    /// Rising pace: the best-scoring shots in story order, each clip shorter than the last.
    Build,
    /// The highest-energy moments (loud, fast), short clips, rising to the strongest.
    Peak,
    /// The closing beat: a strong shot held, ideally with a line of dialogue.
    Closing,
}

/// How a clip begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transition {
    Cut,
    /// A cross-dissolve that starts at the clip's first frame: during its `frames` frames
    /// the previous clip continues past its out-point (its handle) and fades out.
    Dissolve {
        frames: u64,
    },
}

/// One clip of the trailer: a frame range of one source shot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedClip {
    pub section: Section,
    /// The source shot (its position in the shot list); the clip lies inside it.
    pub shot_index: usize,
    pub source_start_frame: u64,
    pub source_end_frame_exclusive: u64,
    /// Where the clip starts in the trailer.
    pub record_start_frame: u64,
    pub transition_in: Transition,
    /// Source frames after the out-point that the dissolve into the next clip shows (0 when
    /// the next clip starts with a cut). They lie inside the same source shot.
    pub handle_after_frames: u64,
    /// Why this shot: its score for the section and the signals behind it.
    pub reason: String,
    pub section_score: f64,
    /// Why this part of the shot.
    pub placement: Placement,
}

/// Where in its shot a clip's window sits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// In the middle of the free part of the shot: the opening's calm establishing shots, and
    /// shots without per-frame readings.
    Centred,
    /// On the frames where loudness and motion together peak. Energies are per-frame means,
    /// 0..1 across the episode: of the window, and of the shot's usable frames.
    Peak { window_energy: f64, shot_energy: f64 },
}

/// The end title card: drawn on black after the last clip; the last clip's sound runs on
/// under it for `audio_run_on_frames` and fades out (the rest of the card is silent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TitleCard {
    pub text: String,
    pub record_start_frame: u64,
    pub frames: u64,
    /// Source frames after the last clip's out-point whose sound plays under the card: the
    /// fade-out's length, or as much of it as the shot has usable frames for.
    pub audio_run_on_frames: u64,
}

impl PlannedClip {
    pub fn frames(&self) -> u64 {
        self.source_end_frame_exclusive - self.source_start_frame
    }
}

/// The whole edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrailerPlan {
    pub frame_rate: Rational,
    /// The trailer's length in frames; the clips and the title card add up to exactly this.
    pub total_frames: u64,
    pub clips: Vec<PlannedClip>,
    pub title_card: Option<TitleCard>,
    /// Every source shot's scores, used or not.
    pub scores: Vec<ShotScore>,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("frame rate {num}/{den} is not a positive number of frames per second")]
    InvalidFrameRate { num: i32, den: i32 },
    #[error(
        "not enough usable footage for a {wanted:.1} s trailer: {available:.1} s of shots before the \
         spoiler cut-off; ask for a shorter --duration or raise spoiler_cutoff"
    )]
    NotEnoughMaterial { wanted: f64, available: f64 },
}

impl Classify for PlanError {
    fn class(&self) -> ErrorClass {
        // Each is fixed by asking differently (shorter trailer, other settings).
        ErrorClass::Config
    }
}

/// A shot the plan may cut from: its usable frames and what is still free of it.
struct Source {
    position: usize,
    /// Usable frames `lo..hi` (margins and gradual transitions removed).
    lo: u64,
    hi: u64,
    /// Free ranges, sorted.
    free: Vec<(u64, u64)>,
    uses: u32,
}

impl Source {
    fn largest_free(&self) -> Option<(u64, u64)> {
        self.free.iter().copied().max_by_key(|(a, b)| (b - a, std::cmp::Reverse(*a)))
    }

    fn take(&mut self, start: u64, end: u64) {
        let mut rest = Vec::with_capacity(self.free.len() + 1);
        for &(a, b) in &self.free {
            if b <= start || a >= end {
                rest.push((a, b));
                continue;
            }
            if a < start {
                rest.push((a, start));
            }
            if end < b {
                rest.push((end, b));
            }
        }
        self.free = rest;
        self.uses += 1;
    }
}

/// Scores the shots and cuts the trailer. `total_frames` is the episode's length in frames.
pub fn plan_trailer(
    shots: &[ShotSignals],
    total_frames: u64,
    frame_rate: Rational,
    settings: &TrailerSettings,
) -> Result<TrailerPlan, PlanError> {
    settings.validate()?;
    if frame_rate.num <= 0 || frame_rate.den <= 0 {
        return Err(PlanError::InvalidFrameRate { num: frame_rate.num, den: frame_rate.den });
    }
    let fps = frame_rate.as_f64();
    let frames_of = |seconds: f64| (seconds * fps).round().max(1.0) as u64;
    let total = frames_of(f64::from(settings.duration_seconds));
    let card_frames = settings.title_card.as_ref().map_or(0, |_| frames_of(settings.title_card_seconds));
    // The clips fill what the card leaves.
    let target = total - card_frames;
    let min_clip = frames_of(settings.min_clip_seconds);
    let scores = score_shots(shots, &settings.weights, total_frames, settings.spoiler_cutoff);

    let margin = u64::from(settings.edge_margin_frames);
    let mut sources: Vec<Source> = shots
        .iter()
        .zip(&scores)
        .enumerate()
        .filter(|(_, (_, score))| score.before_cutoff)
        .filter_map(|(position, (shot, _))| {
            let lo = shot.start_frame + shot.lead_in_frames + margin;
            let hi = (shot.end_frame + 1).saturating_sub(shot.lead_out_frames + margin);
            (hi >= lo + min_clip).then(|| Source { position, lo, hi, free: vec![(lo, hi)], uses: 0 })
        })
        .collect();
    let available: u64 = sources.iter().map(|s| s.hi - s.lo).sum();
    if available < target {
        return Err(PlanError::NotEnoughMaterial {
            wanted: target as f64 / fps,
            available: available as f64 / fps,
        });
    }

    let opening = (target as f64 * OPENING_SHARE).round() as u64;
    let build = (target as f64 * BUILD_SHARE).round() as u64;
    let peak = (target as f64 * PEAK_SHARE).round() as u64;
    let closing = target - opening - build - peak;
    let cutoff = (total_frames as f64 * settings.spoiler_cutoff).max(1.0);

    let shortage =
        PlanError::NotEnoughMaterial { wanted: target as f64 / fps, available: available as f64 / fps };
    // The sound runs on under the card as long as it takes to fade out.
    let run_on_wanted = card_frames.min((settings.fade_out_seconds * fps).round() as u64);
    let energy = frame_energy(shots);
    let mut filler = Filler {
        shots,
        scores: &scores,
        energy: &energy,
        sources: &mut sources,
        min_clip,
        closing_reserve: run_on_wanted,
        shortage,
    };
    let mut clips = filler.fill(
        Section::Opening,
        opening,
        |_| opening,
        |shot, score| {
            let earliness = 1.0 - (shot.start_frame as f64 / cutoff).min(1.0);
            0.4 * score.quality + 0.2 * score.length + 0.2 * (1.0 - score.motion) + 0.2 * earliness
        },
    )?;
    let mut build_clips = filler.fill(
        Section::Build,
        build,
        |n| {
            let seconds = BUILD_FIRST_SECONDS * BUILD_SHRINK.powi(n as i32);
            frames_of(seconds.max(BUILD_SHORTEST_SECONDS))
        },
        |_, score| score.total,
    )?;
    // Story order: the build retells the episode's set-up as it quickens.
    build_clips.sort_by_key(|c| c.source_start_frame);
    let mut peak_clips =
        filler.fill(Section::Peak, peak, |_| frames_of(PEAK_CLIP_SECONDS), |_, s| s.energy)?;
    // Rising to the strongest moment, which plays last before the closing.
    peak_clips.sort_by(|a, b| a.section_score.total_cmp(&b.section_score));
    let closing_clips = filler.fill(
        Section::Closing,
        closing,
        |_| closing,
        |_, score| 0.5 * score.total + 0.5 * score.dialogue.max(score.loudness),
    )?;
    clips.extend(build_clips);
    clips.extend(peak_clips);
    clips.extend(closing_clips);
    separate_same_shot(&mut clips, frames_of(FAR_APART_SECONDS));

    let usable_end = usable_ends(shots, margin);
    join(&mut clips, &usable_end, u64::from(settings.dissolve_frames));
    let title_card = settings.title_card.as_ref().map(|text| {
        // The closing kept the run-on's frames free when its shot had them. When footage is
        // short the run-on stops before the next frames another clip shows, so no sound is
        // heard twice (it may then be shorter than the fade, or nothing).
        let room = clips.len().checked_sub(1).map_or(0, |last| free_frames_after(&clips, last, &usable_end));
        TitleCard {
            text: text.clone(),
            record_start_frame: target,
            frames: card_frames,
            audio_run_on_frames: room.min(run_on_wanted),
        }
    });
    Ok(TrailerPlan { frame_rate, total_frames: total, clips, title_card, scores })
}

/// Per shot, per frame: loudness and motion each scaled 0..1 across the whole episode, then
/// averaged (silence counts as the quietest reading).
fn frame_energy(shots: &[ShotSignals]) -> Vec<Vec<f64>> {
    let frames = || shots.iter().flat_map(|s| &s.per_frame);
    let range = |values: Vec<f64>| {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        move |v: f64| if max - min > 1e-9 { (v - min) / (max - min) } else { 0.0 }
    };
    let loudness = range(frames().filter_map(|f| f.short_term_lufs).filter(|l| l.is_finite()).collect());
    let motion = range(frames().map(|f| f.motion).filter(|m| m.is_finite()).collect());
    shots
        .iter()
        .map(|shot| {
            shot.per_frame
                .iter()
                .map(|f| {
                    let loud = f.short_term_lufs.filter(|l| l.is_finite()).map_or(0.0, &loudness);
                    let moving = if f.motion.is_finite() { motion(f.motion) } else { 0.0 };
                    0.5 * (loud + moving)
                })
                .collect()
        })
        .collect()
}

/// The start of the `len`-frame window inside `a..b` whose frames carry the most energy
/// (`energy[i]` belongs to frame `first_frame + i`; frames without a reading count 0), with its
/// mean energy. Of equal windows the one nearest the middle wins. `None` when no frame of
/// `a..b` has a reading.
fn peak_window(energy: &[f64], first_frame: u64, a: u64, b: u64, len: u64) -> Option<(u64, f64)> {
    let at = |frame: u64| {
        frame.checked_sub(first_frame).and_then(|i| energy.get(i as usize)).copied().unwrap_or(0.0)
    };
    let covered = (a..b).any(|f| f >= first_frame && ((f - first_frame) as usize) < energy.len());
    if len == 0 || b < a + len || !covered {
        return None;
    }
    let centre = a + (b - a - len) / 2;
    let mut sum: f64 = (a..a + len).map(at).sum();
    let mut best = (a, sum);
    for start in a + 1..=b - len {
        sum += at(start + len - 1) - at(start - 1);
        let nearer = start.abs_diff(centre) < best.0.abs_diff(centre);
        if sum > best.1 + 1e-9 || ((sum - best.1).abs() <= 1e-9 && nearer) {
            best = (start, sum);
        }
    }
    Some((best.0, best.1 / len as f64))
}

/// The last usable frame (exclusive) of each shot, by shot position: how far a handle may run.
fn usable_ends(shots: &[ShotSignals], margin: u64) -> Vec<u64> {
    shots.iter().map(|s| (s.end_frame + 1).saturating_sub(s.lead_out_frames + margin)).collect()
}

/// Frames after `clips[index]`'s out-point, inside its shot, that no other clip shows (in its
/// range or its dissolve handle): how far a handle or the card's sound may run on without
/// repeating footage.
fn free_frames_after(clips: &[PlannedClip], index: usize, usable_end: &[u64]) -> u64 {
    let clip = &clips[index];
    let out = clip.source_end_frame_exclusive;
    let shot_end = usable_end.get(clip.shot_index).copied().unwrap_or(0);
    let next_shown = clips
        .iter()
        .enumerate()
        .filter(|&(k, other)| {
            k != index && other.source_end_frame_exclusive + other.handle_after_frames > out
        })
        .map(|(_, other)| other.source_start_frame.max(out))
        .min()
        .unwrap_or(u64::MAX);
    shot_end.min(next_shown).saturating_sub(out)
}

/// Sets record positions and transitions: a dissolve where a section gives way to a calmer
/// or a final one (opening → build, peak → closing) when the outgoing shot has the frames for
/// it; cuts everywhere else (a hard cut into the peak is the trailer idiom).
fn join(clips: &mut [PlannedClip], usable_end: &[u64], dissolve: u64) {
    let mut record = 0;
    for k in 0..clips.len() {
        clips[k].record_start_frame = record;
        record += clips[k].frames();
        if k == 0 {
            continue;
        }
        let handle_room = free_frames_after(clips, k - 1, usable_end);
        let (before, after) = clips.split_at_mut(k);
        let (previous, clip) = (&mut before[k - 1], &mut after[0]);
        let section_change = matches!(
            (previous.section, clip.section),
            (Section::Opening, Section::Build) | (Section::Peak, Section::Closing)
        );
        if section_change && dissolve > 0 && handle_room >= dissolve && clip.frames() > dissolve {
            clip.transition_in = Transition::Dissolve { frames: dissolve };
            previous.handle_after_frames = dissolve;
        }
    }
}

/// Picks clips for one section at a time, sharing what is left of every shot.
struct Filler<'a> {
    shots: &'a [ShotSignals],
    scores: &'a [ShotScore],
    /// Per shot, per frame, from `frame_energy`.
    energy: &'a [Vec<f64>],
    sources: &'a mut Vec<Source>,
    min_clip: u64,
    /// Frames kept free after each closing clip when its shot has them, so its sound can run
    /// on under the title card without repeating another clip's.
    closing_reserve: u64,
    /// The error when the shots run out: the whole trailer's length against the footage.
    shortage: PlanError,
}

impl Filler<'_> {
    /// Fills `budget` frames with clips; clip `n` wants `length(n)` frames; shots are chosen
    /// by `preference` (higher first), less for each earlier use.
    fn fill(
        &mut self,
        section: Section,
        budget: u64,
        length: impl Fn(usize) -> u64,
        preference: impl Fn(&ShotSignals, &ShotScore) -> f64,
    ) -> Result<Vec<PlannedClip>, PlanError> {
        let mut clips = Vec::new();
        let mut remaining = budget;
        while remaining > 0 {
            let mut want = length(clips.len()).clamp(1, remaining);
            // A leftover too short to be a clip is absorbed by this one.
            if remaining - want < self.min_clip {
                want = remaining;
            }
            let need = want.min(self.min_clip);
            let reserve = if section == Section::Closing { self.closing_reserve } else { 0 };
            let best = self
                .sources
                .iter()
                .enumerate()
                .filter_map(|(i, source)| {
                    let (a, b) = source.largest_free()?;
                    (b - a >= need).then(|| {
                        let shot = &self.shots[source.position];
                        let score = &self.scores[source.position];
                        // A shot that can give the whole clip beats one that gives part of it.
                        let whole = if b - a >= want + reserve { 1.0 } else { 0.0 };
                        let raw = preference(shot, score);
                        (i, raw, raw - REUSE_PENALTY * f64::from(source.uses) + whole)
                    })
                })
                .max_by(|x, y| x.2.total_cmp(&y.2));
            let Some((i, raw, _)) = best else {
                return Err(self.shortage.clone());
            };
            // Where this shot stands for the section among every shot still usable.
            let rank = 1 + self
                .sources
                .iter()
                .filter(|other| other.largest_free().is_some())
                .filter(|other| preference(&self.shots[other.position], &self.scores[other.position]) > raw)
                .count();
            let candidates = self.sources.iter().filter(|other| other.largest_free().is_some()).count();
            let source = &mut self.sources[i];
            let Some((a, b)) = source.largest_free() else { break };
            let len = want.min(b - a);
            let reserve = reserve.min(b - a - len);
            let position = source.position;
            let shot = &self.shots[position];
            let (lo, hi) = (source.lo, source.hi);
            let peak = match section {
                // The opening establishes: its calm middle, not its loudest moment.
                Section::Opening => None,
                _ => peak_window(&self.energy[position], shot.start_frame, a, b - reserve, len),
            };
            let (start, placement) = match peak {
                Some((start, window_energy)) => {
                    let usable = lo.saturating_sub(shot.start_frame) as usize
                        ..(hi.saturating_sub(shot.start_frame) as usize).min(self.energy[position].len());
                    let values = self.energy[position].get(usable).unwrap_or(&[]);
                    let shot_energy = values.iter().sum::<f64>() / values.len().max(1) as f64;
                    (start, Placement::Peak { window_energy, shot_energy })
                }
                // Centred, so the shot's action (rarely at its very edges) plays.
                None => (a + (b - a - len - reserve) / 2, Placement::Centred),
            };
            source.take(start, start + len + reserve);
            clips.push(PlannedClip {
                section,
                shot_index: shot.index,
                source_start_frame: start,
                source_end_frame_exclusive: start + len,
                record_start_frame: 0,
                transition_in: Transition::Cut,
                handle_after_frames: 0,
                reason: reason(section, &self.scores[position], raw, (rank, candidates), placement),
                section_score: raw,
                placement,
            });
            remaining -= len;
        }
        Ok(clips)
    }
}

/// Why a clip was chosen, in words built from its numbers: what the section looks for, where
/// the shot ranked for it, and which measured signals are strong or weak.
fn reason(
    section: Section,
    score: &ShotScore,
    section_score: f64,
    (rank, candidates): (usize, usize),
    placement: Placement,
) -> String {
    let wanted = match section {
        Section::Opening => "an establishing shot (sharp, steady, early)",
        Section::Build => "the best overall score",
        Section::Peak => "energy (loudness and motion)",
        Section::Closing => "a closing beat (overall score, dialogue or loudness)",
    };
    let mut signals = [
        ("loudness", score.loudness),
        ("motion", score.motion),
        ("quality", score.quality),
        ("dialogue", score.dialogue),
        ("length", score.length),
    ];
    signals.sort_by(|a, b| b.1.total_cmp(&a.1));
    let listed = |part: &[(&str, f64)]| {
        part.iter().map(|(name, value)| format!("{name} {value:.2}")).collect::<Vec<_>>().join(", ")
    };
    let strong: Vec<(&str, f64)> = signals.iter().copied().filter(|(_, v)| *v >= 0.5).collect();
    let strengths = if strong.is_empty() {
        format!("no signal above 0.50, highest {}", listed(&signals[..1]))
    } else {
        format!("strong {}", listed(&strong))
    };
    let weak: Vec<(&str, f64)> = signals.iter().copied().filter(|(_, v)| *v < 0.2).collect();
    let weaknesses = if weak.is_empty() { String::new() } else { format!("; weak {}", listed(&weak)) };
    let place = match placement {
        Placement::Centred => "; centred in the shot".to_owned(),
        Placement::Peak { window_energy, shot_energy } => format!(
            "; placed on the shot's peak (frame energy {window_energy:.2} against {shot_energy:.2} for the whole shot)"
        ),
    };
    format!(
        "{}: ranked {rank} of {candidates} usable shots for {wanted} (section score {section_score:.2}, \
         total {:.2}, energy {:.2}); {strengths}{weaknesses}{place}",
        section_name(section),
        score.total,
        score.energy
    )
}

fn section_name(section: Section) -> &'static str {
    match section {
        Section::Opening => "opening",
        Section::Build => "build",
        Section::Peak => "peak",
        Section::Closing => "closing",
    }
}

/// Two clips of one shot in a row are a jump cut unless this far apart in the shot.
const FAR_APART_SECONDS: f64 = 2.0;

/// Frames between two clips of one shot (0 when they touch or overlap).
fn gap_frames(a: &PlannedClip, b: &PlannedClip) -> u64 {
    b.source_start_frame
        .saturating_sub(a.source_end_frame_exclusive)
        .max(a.source_start_frame.saturating_sub(b.source_end_frame_exclusive))
}

/// No jump cuts: a clip that continues the one before it in the same take becomes part of
/// it, and two clips of one shot closer than `far_apart` frames in it are split up by the
/// next clip of the same section from another shot (where the section has one).
fn separate_same_shot(clips: &mut Vec<PlannedClip>, far_apart: u64) {
    let mut k = 1;
    while k < clips.len() {
        let continues = clips[k].shot_index == clips[k - 1].shot_index
            && clips[k].source_start_frame == clips[k - 1].source_end_frame_exclusive;
        if continues {
            clips[k - 1].source_end_frame_exclusive = clips[k].source_end_frame_exclusive;
            clips.remove(k);
        } else {
            k += 1;
        }
    }
    let jump =
        |a: &PlannedClip, b: &PlannedClip| a.shot_index == b.shot_index && gap_frames(a, b) < far_apart;
    let clash = |clips: &[PlannedClip], at: usize| {
        (at > 0 && jump(&clips[at - 1], &clips[at]))
            || clips.get(at + 1).is_some_and(|next| jump(&clips[at], next))
    };
    for k in 1..clips.len() {
        if !jump(&clips[k - 1], &clips[k]) {
            continue;
        }
        for j in k + 1..clips.len() {
            if clips[j].section != clips[k].section {
                continue;
            }
            clips.swap(k, j);
            if !clash(clips, k) && !clash(clips, j) {
                break;
            }
            clips.swap(k, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::FrameSignal;
    use crate::score::tests::shot;

    const FPS: Rational = Rational::new(25, 1);

    /// Ten 6 s shots with rising motion; shot 4 is the loudest.
    fn episode() -> Vec<ShotSignals> {
        (0..10)
            .map(|i| {
                let lufs = if i == 4 { -12.0 } else { -30.0 + i as f64 };
                shot(i, i as u64 * 150, 150, Some(lufs), 1.0 + i as f64)
            })
            .collect()
    }

    fn plan(shots: &[ShotSignals], seconds: u32) -> TrailerPlan {
        let settings = TrailerSettings { duration_seconds: seconds, ..TrailerSettings::default() };
        plan_trailer(shots, 1500, FPS, &settings).unwrap()
    }

    #[test]
    fn clips_add_up_to_the_target_exactly() {
        let shots = episode();
        for seconds in [5, 17, 30] {
            let plan = plan(&shots, seconds);
            let total: u64 = plan.clips.iter().map(PlannedClip::frames).sum();
            assert_eq!(total, u64::from(seconds) * 25);
            assert_eq!(plan.total_frames, total);
            let last = plan.clips.last().unwrap();
            assert_eq!(last.record_start_frame + last.frames(), total, "record positions are contiguous");
        }
    }

    #[test]
    fn no_clip_or_handle_crosses_a_source_cut_or_the_spoiler_cutoff() {
        let mut shots = episode();
        shots[3].lead_in_frames = 10;
        let plan = plan(&shots, 30);
        for clip in &plan.clips {
            let shot = &shots[clip.shot_index];
            assert!(clip.source_start_frame >= shot.start_frame + shot.lead_in_frames + 2, "{clip:?}");
            assert!(clip.source_end_frame_exclusive + clip.handle_after_frames + 2 <= shot.end_frame + 1);
            // 0.75 of 1500 frames: shots from frame 1125 on are spoilers.
            assert!(shot.start_frame < 1125, "{clip:?}");
        }
        // Used ranges of one shot never overlap.
        for (i, a) in plan.clips.iter().enumerate() {
            for b in &plan.clips[i + 1..] {
                let apart = a.source_end_frame_exclusive <= b.source_start_frame
                    || b.source_end_frame_exclusive <= a.source_start_frame;
                assert!(apart, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sections_in_order_build_shortens_and_peak_ends_on_the_loudest() {
        let plan = plan(&episode(), 30);
        let sections: Vec<Section> = plan.clips.iter().map(|c| c.section).collect();
        let mut sorted = sections.clone();
        sorted.sort_by_key(|s| *s as u8);
        assert_eq!(sections, sorted);
        let build: Vec<&PlannedClip> = plan.clips.iter().filter(|c| c.section == Section::Build).collect();
        assert!(build.len() >= 2);
        assert!(build.windows(2).all(|w| w[0].source_start_frame < w[1].source_start_frame), "story order");
        let mut lengths: Vec<u64> = build.iter().map(|c| c.frames()).collect();
        let first = lengths[0].max(lengths[1]);
        lengths.sort_unstable();
        assert!(first > lengths[0], "the build starts long and gets shorter");
        let peak: Vec<&PlannedClip> = plan.clips.iter().filter(|c| c.section == Section::Peak).collect();
        assert!(peak.len() >= 3, "several short peak moments");
        // Rising to the strongest, which plays last (clips of one shot are kept apart).
        let strongest = peak.iter().map(|c| c.section_score).fold(f64::MIN, f64::max);
        assert_eq!(peak.last().map(|c| c.section_score), Some(strongest));
        let far_apart = (FAR_APART_SECONDS * FPS.as_f64()) as u64;
        assert!(
            plan.clips
                .windows(2)
                .all(|w| w[0].shot_index != w[1].shot_index || gap_frames(&w[0], &w[1]) >= far_apart),
            "no jump cuts"
        );
        // The loudest shot (4) plays in the peak.
        assert!(peak.iter().any(|c| c.shot_index == 4), "{peak:?}");
    }

    fn clip(section: Section, shot_index: usize, start: u64, end: u64) -> PlannedClip {
        PlannedClip {
            section,
            shot_index,
            source_start_frame: start,
            source_end_frame_exclusive: end,
            record_start_frame: 0,
            transition_in: Transition::Cut,
            handle_after_frames: 0,
            reason: String::new(),
            section_score: 0.0,
            placement: Placement::Centred,
        }
    }

    #[test]
    fn clips_of_one_shot_never_follow_each_other() {
        // A continuation of the same take (198-223 then 223-248) becomes one clip; a jump
        // inside shot 7 is broken up by the next peak clip from another shot.
        let mut clips = vec![
            clip(Section::Peak, 3, 198, 223),
            clip(Section::Peak, 3, 223, 248),
            clip(Section::Peak, 7, 10, 35),
            clip(Section::Peak, 7, 80, 105),
            clip(Section::Peak, 2, 40, 65),
            clip(Section::Closing, 9, 0, 50),
        ];
        separate_same_shot(&mut clips, 50);
        let order: Vec<(usize, u64, u64)> = clips
            .iter()
            .map(|c| (c.shot_index, c.source_start_frame, c.source_end_frame_exclusive))
            .collect();
        assert_eq!(order, [(3, 198, 248), (7, 10, 35), (2, 40, 65), (7, 80, 105), (9, 0, 50)]);
    }

    #[test]
    fn reasons_say_what_the_numbers_say() {
        let plan = plan(&episode(), 30);
        for clip in &plan.clips {
            let score = &plan.scores[clip.shot_index];
            assert!(clip.reason.contains("ranked "), "{}", clip.reason);
            let weak = clip.reason.split("; weak ").nth(1).unwrap_or("");
            let strong =
                clip.reason.split("; strong ").nth(1).map_or("", |rest| rest.split(';').next().unwrap_or(""));
            let loudness = format!("loudness {:.2}", score.loudness);
            if score.loudness < 0.2 {
                assert!(weak.contains(&loudness), "{}", clip.reason);
            } else if score.loudness >= 0.5 {
                assert!(strong.contains(&loudness), "{}", clip.reason);
            }
        }
    }

    #[test]
    fn dissolves_only_between_sections_and_with_handles() {
        let plan = plan(&episode(), 30);
        let dissolves: Vec<usize> = (0..plan.clips.len())
            .filter(|&k| matches!(plan.clips[k].transition_in, Transition::Dissolve { .. }))
            .collect();
        assert!(!dissolves.is_empty());
        for k in dissolves {
            assert_ne!(plan.clips[k - 1].section, plan.clips[k].section);
            assert_eq!(plan.clips[k - 1].handle_after_frames, 12);
        }
        assert_eq!(plan.clips[0].transition_in, Transition::Cut);
    }

    #[test]
    fn short_episodes_are_refused_with_the_numbers() {
        let shots: Vec<ShotSignals> = episode().into_iter().take(2).collect();
        let settings = TrailerSettings { duration_seconds: 30, ..TrailerSettings::default() };
        let error = plan_trailer(&shots, 300, FPS, &settings).unwrap_err();
        assert!(matches!(error, PlanError::NotEnoughMaterial { .. }), "{error}");
        assert_eq!(error.class(), ErrorClass::Config);
    }

    #[test]
    fn one_long_shot_is_reused_without_overlap() {
        let shots = [shot(0, 0, 2000, Some(-20.0), 2.0)];
        let settings =
            TrailerSettings { duration_seconds: 30, spoiler_cutoff: 1.0, ..TrailerSettings::default() };
        let plan = plan_trailer(&shots, 2000, FPS, &settings).unwrap();
        assert!(plan.clips.len() > 4);
        assert_eq!(plan.clips.iter().map(PlannedClip::frames).sum::<u64>(), 750);
    }

    #[test]
    fn the_window_sits_on_the_energy_peak_and_ties_go_to_the_middle() {
        // Frames 100..140 of a shot starting at 100; the energy bump is at frames 125..130.
        let mut energy = vec![0.1; 40];
        energy[25..30].fill(0.9);
        assert_eq!(peak_window(&energy, 100, 102, 138, 5).map(|w| w.0), Some(125));
        let (start, mean) = peak_window(&energy, 100, 102, 138, 10).expect("readings");
        assert!((120..=125).contains(&start), "{start}");
        assert!((mean - 0.5).abs() < 1e-9, "{mean}");
        // Flat energy: the middle of the range, as a centred clip would be.
        assert_eq!(peak_window(&[0.3; 40], 100, 100, 140, 10).map(|w| w.0), Some(115));
        // Outside the free range the peak is not reachable: the best window inside it.
        assert_eq!(peak_window(&energy, 100, 100, 126, 5).map(|w| w.0), Some(121));
        assert_eq!(peak_window(&[], 100, 100, 140, 10), None);
    }

    #[test]
    fn peak_clips_are_placed_where_loudness_and_motion_peak() {
        let mut shots = episode();
        // Shot 4 (frames 600..750, the loudest) is quiet and still but for frames 700..725.
        shots[4].per_frame = (0..150)
            .map(|i| {
                let on_peak = (100..125).contains(&i);
                FrameSignal {
                    short_term_lufs: Some(if on_peak { -10.0 } else { -30.0 }),
                    motion: if on_peak { 20.0 } else { 1.0 },
                }
            })
            .collect();
        let plan = plan(&shots, 30);
        // Shot 4 first plays where it peaks (in the build or the peak section, whichever
        // chose it first); later uses get what is left.
        let peak = plan
            .clips
            .iter()
            .find(|c| c.shot_index == 4 && c.source_start_frame <= 700 && c.source_end_frame_exclusive >= 725)
            .unwrap_or_else(|| panic!("no clip on shot 4's peak: {:?}", plan.clips));
        assert_ne!(peak.section, Section::Opening);
        let Placement::Peak { window_energy, shot_energy } = peak.placement else {
            panic!("{:?}", peak.placement)
        };
        assert!(window_energy > shot_energy && shot_energy < 0.3, "{window_energy} {shot_energy}");
        assert!(peak.reason.contains("placed on the shot's peak"), "{}", peak.reason);
        // Shots without readings stay centred, and the opening is always centred.
        assert!(plan.clips.iter().filter(|c| c.shot_index != 4).all(|c| c.placement == Placement::Centred));
        assert!(
            plan.clips
                .iter()
                .filter(|c| c.section == Section::Opening)
                .all(|c| c.placement == Placement::Centred)
        );
    }

    #[test]
    fn the_title_card_counts_in_the_duration_and_the_last_sound_runs_on_under_it() {
        let settings = TrailerSettings {
            duration_seconds: 30,
            title_card: Some("Coming soon".into()),
            ..TrailerSettings::default()
        };
        // 20 s shots: the closing shot has room for its sound to run on under the card.
        let shots: Vec<ShotSignals> = episode()
            .into_iter()
            .map(|s| shot(s.index, s.index as u64 * 500, 500, s.loudness_lufs, s.motion))
            .collect();
        let plan = plan_trailer(&shots, 5000, FPS, &settings).unwrap();
        let card = plan.title_card.as_ref().expect("card");
        assert_eq!(plan.total_frames, 750);
        assert_eq!(card.frames, 63, "2.5 s at 25 fps, rounded");
        let clip_frames: u64 = plan.clips.iter().map(PlannedClip::frames).sum();
        assert_eq!(clip_frames + card.frames, 750);
        assert_eq!(card.record_start_frame, clip_frames);
        // The run-on lasts the 1.5 s fade-out, in the last clip's shot, on frames no other
        // clip shows.
        let last = plan.clips.last().expect("clips");
        assert_eq!(card.audio_run_on_frames, 38);
        let run_on =
            last.source_end_frame_exclusive..last.source_end_frame_exclusive + card.audio_run_on_frames;
        let shot = &shots[last.shot_index];
        assert!(run_on.end <= shot.end_frame + 1 - 2);
        for clip in &plan.clips {
            assert!(
                clip.source_end_frame_exclusive <= run_on.start || clip.source_start_frame >= run_on.end,
                "{clip:?} overlaps the run-on {run_on:?}"
            );
        }
    }

    #[test]
    fn on_short_footage_the_run_on_never_repeats_frames_another_clip_shows() {
        // Four 3 s shots, 9 s before the cut-off, for a 10 s trailer with its card: clips,
        // dissolve handles and the run-on crowd the same shots.
        let shots: Vec<ShotSignals> =
            (0..4).map(|i| shot(i, i as u64 * 75, 75, Some(-30.0 + i as f64), 1.0 + i as f64)).collect();
        for seconds in [8, 10] {
            let settings = TrailerSettings {
                duration_seconds: seconds,
                title_card: Some("Coming soon".into()),
                // Short clips, so the four shots are crowded as tightly as possible.
                min_clip_seconds: 0.8,
                ..TrailerSettings::default()
            };
            let plan = plan_trailer(&shots, 300, FPS, &settings).unwrap();
            let card = plan.title_card.as_ref().expect("card");
            let last = plan.clips.last().expect("clips");
            let run_on =
                last.source_end_frame_exclusive..last.source_end_frame_exclusive + card.audio_run_on_frames;
            for clip in &plan.clips {
                let shown =
                    clip.source_start_frame..clip.source_end_frame_exclusive + clip.handle_after_frames;
                assert!(
                    shown.end <= run_on.start || shown.start >= run_on.end || clip == last,
                    "{seconds} s: {clip:?} shows frames of the run-on {run_on:?}"
                );
            }
            // Nor does a dissolve handle show frames another clip shows.
            for (i, a) in plan.clips.iter().enumerate() {
                for b in &plan.clips[i + 1..] {
                    let a_shown = a.source_start_frame..a.source_end_frame_exclusive + a.handle_after_frames;
                    let b_shown = b.source_start_frame..b.source_end_frame_exclusive + b.handle_after_frames;
                    assert!(
                        a_shown.end <= b_shown.start || b_shown.end <= a_shown.start,
                        "{seconds} s: {a:?} and {b:?} show the same frames"
                    );
                }
            }
        }
    }
}
