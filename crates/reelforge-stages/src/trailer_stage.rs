//! `trailer`: measures loudness (EBU R128), motion and picture quality during the shared
//! decode pass, per frame and per shot, scores every shot (with dialogue from `subtitles` when
//! that stage ran), plans the edit and renders it with its title card: `trailer.mp4`,
//! `trailer.otio`, `trailer.edl` and `trailer.json` (why each shot, and each part of it, was
//! chosen).

use std::path::Path;

use reelforge_core::{AudioAnalyzer, ErrorClass, ProgressSink};
use reelforge_media::StreamDamage;
use reelforge_media::{
    LoudnessAnalyzer, LoudnessPoint, PictureSignal, PictureSignalAnalyzer, TrailerClipRange,
    TrailerRenderSpec,
};
use reelforge_pipeline::{StageError, StageJob, StageName, StageOutcome};
use reelforge_shots::TransitionKind;
use reelforge_trailer::{
    FrameSignal, PlannedClip, ShotScore, ShotSignals, TitleCard, TrailerPlan, TrailerSettings, Transition,
};
use serde::Serialize;

use crate::documents::{self, ShotsDocument};
use crate::{AnalysisStage, Analyzers};

/// A short-term loudness reading covers the 3 s before it: the one centred on a frame is
/// this much later.
const SHORT_TERM_CENTRE_SECONDS: f64 = 1.5;

/// The analyzers while the decode pass runs.
pub struct TrailerAnalysis {
    settings: TrailerSettings,
    /// `None` for an input without sound.
    loudness: Option<LoudnessAnalyzer>,
    pictures: PictureSignalAnalyzer,
}

impl TrailerAnalysis {
    /// Settings were checked when the pipeline loaded. An input without sound gets a
    /// trailer with a silent track: loudness then plays no part in the scores.
    pub fn new(settings: TrailerSettings, job: &StageJob<'_>) -> Result<Self, StageError> {
        let has_audio = documents::job_media(job)?.audio_streams().next().is_some();
        if !has_audio {
            tracing::warn!(
                "{}: no audio stream; the trailer gets a silent track and loudness plays no part in choosing shots",
                job.input.display()
            );
        }
        Ok(Self {
            settings,
            loudness: has_audio.then(LoudnessAnalyzer::new),
            pictures: PictureSignalAnalyzer::new(),
        })
    }
}

/// `trailer.json`.
#[derive(Serialize)]
struct TrailerDocument<'a> {
    source: String,
    frame_rate: reelforge_core::Rational,
    total_frames: u64,
    duration_seconds: f64,
    settings: &'a TrailerSettings,
    /// Whether dialogue came from the subtitles stage.
    used_subtitles: bool,
    loudness: LoudnessReport,
    /// The end card as drawn into trailer.mp4: its text, where it starts and how long it is.
    title_card: Option<&'a TitleCard>,
    clips: Vec<ClipReport<'a>>,
    /// Every source shot's scores, used or not.
    shots: &'a [ShotScore],
    /// Decode errors the pass met in the input (empty when it decoded cleanly).
    damage: &'a [StreamDamage],
}

#[derive(Serialize)]
struct LoudnessReport {
    target_lufs: f64,
    /// Integrated loudness of the cut before normalising.
    source_lufs: Option<f64>,
    gain_db: f64,
    /// Integrated loudness of the encoded audio (as rendered).
    lufs: Option<f64>,
    /// True peak of the rendered mix (4× oversampled), in dBTP; at most -1.
    true_peak_dbtp: f64,
}

#[derive(Serialize)]
struct ClipReport<'a> {
    number: usize,
    #[serde(flatten)]
    clip: &'a PlannedClip,
    frames: u64,
    source_start_seconds: f64,
    record_start_seconds: f64,
    scores: Option<&'a ShotScore>,
}

impl AnalysisStage for TrailerAnalysis {
    fn analyzers(&mut self) -> Analyzers<'_> {
        let audio = self.loudness.iter_mut().map(|loudness| loudness as &mut dyn AudioAnalyzer).collect();
        Analyzers { video: vec![&mut self.pictures], audio }
    }

    fn write(
        self: Box<Self>,
        job: &StageJob<'_>,
        damage: &[StreamDamage],
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError> {
        let (input, out_dir) = (job.input, job.out_dir);
        let shots_dir = job
            .upstream
            .get(&StageName::Shots)
            .ok_or_else(|| StageError::new(ErrorClass::Config, "the trailer stage needs the shots stage"))?;
        let shots = documents::read_shots(shots_dir)?;
        let cues = job.upstream.get(&StageName::Subtitles).map(|dir| read_cues(dir)).transpose()?;
        let used_subtitles = cues.is_some();
        let signals = shot_signals(
            &shots,
            self.pictures.signals(),
            self.loudness.as_ref().map_or(&[], |l| l.points()),
            cues.as_deref(),
        );
        let plan =
            reelforge_trailer::plan_trailer(&signals, shots.total_frames, shots.frame_rate, &self.settings)
                .map_err(|e| StageError::from_classified("planning the trailer", e))?;

        let fps = shots.frame_rate.as_f64();
        let source_seconds = |clip: &PlannedClip| {
            let shot = &shots.shots[clip.shot_index].shot;
            shot.start_seconds + (clip.source_start_frame - shot.start_frame) as f64 / fps
        };
        let spec = TrailerRenderSpec {
            clips: plan
                .clips
                .iter()
                .map(|clip| TrailerClipRange {
                    source_start_seconds: source_seconds(clip),
                    frames: clip.frames(),
                    dissolve_in_frames: dissolve_frames(clip),
                    handle_after_frames: clip.handle_after_frames,
                })
                .collect(),
            frame_rate: shots.frame_rate,
            loudness_target_lufs: self.settings.loudness_target_lufs,
            audio_crossfade_ms: self.settings.audio_crossfade_ms,
            fade_out_seconds: self.settings.fade_out_seconds,
            title_card: plan.title_card.as_ref().map(|card| reelforge_media::TitleCardSpec {
                text: card.text.clone(),
                frames: card.frames,
                audio_run_on_frames: card.audio_run_on_frames,
            }),
        };
        let report = reelforge_media::render_trailer(input, &out_dir.join("trailer.mp4"), &spec, progress)
            .map_err(|e| StageError::from_classified("rendering the trailer", e))?;

        write_edit(input, out_dir, &plan, &shots)?;
        let document = TrailerDocument {
            source: input.display().to_string(),
            frame_rate: plan.frame_rate,
            total_frames: plan.total_frames,
            duration_seconds: plan.total_frames as f64 / fps,
            settings: &self.settings,
            used_subtitles,
            loudness: LoudnessReport {
                target_lufs: self.settings.loudness_target_lufs,
                source_lufs: report.source_loudness_lufs,
                gain_db: report.gain_db,
                lufs: report.loudness_lufs,
                true_peak_dbtp: report.true_peak_dbtp,
            },
            title_card: plan.title_card.as_ref(),
            clips: plan
                .clips
                .iter()
                .enumerate()
                .map(|(i, clip)| ClipReport {
                    number: i + 1,
                    clip,
                    frames: clip.frames(),
                    source_start_seconds: source_seconds(clip),
                    record_start_seconds: clip.record_start_frame as f64 / fps,
                    scores: plan.scores.iter().find(|s| s.index == clip.shot_index),
                })
                .collect(),
            shots: &plan.scores,
            damage,
        };
        crate::write_json(&out_dir.join("trailer.json"), &document)?;
        let dissolves = plan.clips.iter().filter(|c| dissolve_frames(c) > 0).count();
        Ok(StageOutcome {
            summary: Some(format!(
                "{:.2} s trailer, {} clips{}, {} dissolves, {}",
                plan.total_frames as f64 / fps,
                plan.clips.len(),
                if plan.title_card.is_some() { " and a title card" } else { "" },
                dissolves,
                report.loudness_lufs.map_or_else(|| "silent".to_owned(), |l| format!("{l:.1} LUFS")),
            )),
        })
    }
}

fn dissolve_frames(clip: &PlannedClip) -> u64 {
    match clip.transition_in {
        Transition::Dissolve { frames } => frames,
        Transition::Cut => 0,
    }
}

/// A subtitle cue: when it is shown and how many words it holds.
struct Cue {
    start: f64,
    end: f64,
    words: u32,
}

/// Cues of the first subtitles track (the programme's language).
fn read_cues(dir: &Path) -> Result<Vec<Cue>, StageError> {
    let document = documents::read_subtitles(dir)?;
    let cues = document.tracks.first().map(|track| track.cues.as_slice()).unwrap_or_default();
    Ok(cues
        .iter()
        .map(|cue| Cue {
            start: cue.start,
            end: cue.end,
            words: cue.lines.iter().map(|line| line.split_whitespace().count() as u32).sum(),
        })
        .collect())
}

/// Turns the decode pass's per-frame and per-100 ms readings into per-shot signals.
fn shot_signals(
    shots: &ShotsDocument,
    pictures: &[PictureSignal],
    loudness: &[LoudnessPoint],
    cues: Option<&[Cue]>,
) -> Vec<ShotSignals> {
    let entries = &shots.shots;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let shot = &entry.shot;
            let (start, end) = (shot.start_seconds, shot.end_seconds);
            let frames: Vec<&PictureSignal> =
                pictures.iter().filter(|p| p.seconds >= start && p.seconds < end).collect();
            let mean = |f: fn(&PictureSignal) -> f64| {
                frames.iter().map(|p| f(p)).sum::<f64>() / frames.len().max(1) as f64
            };
            // The first frame of a shot changes from the previous shot: that is the cut, not motion.
            let motion = frames.iter().skip(1).map(|p| p.motion).sum::<f64>()
                / frames.len().saturating_sub(1).max(1) as f64;
            let per_frame = frames
                .iter()
                .map(|p| FrameSignal {
                    short_term_lufs: short_term_at(loudness, p.seconds),
                    motion: p.motion,
                })
                .collect();
            let readings: Vec<&LoudnessPoint> =
                loudness.iter().filter(|p| p.seconds > start && p.seconds <= end).collect();
            let short_term: Vec<f64> =
                readings.iter().map(|p| p.short_term_lufs).filter(|l| l.is_finite()).collect();
            let peak = readings
                .iter()
                .map(|p| p.momentary_lufs)
                .filter(|l| l.is_finite())
                .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
            // Frames of a gradual transition into or out of the shot cannot be used.
            let boundary_at = |frame: u64| shots.boundaries.iter().find(|b| b.frame == frame);
            let lead_in = boundary_at(shot.start_frame)
                .filter(|b| b.kind != TransitionKind::Cut)
                .map_or(0, |b| (b.last_frame + 1).saturating_sub(shot.start_frame));
            let lead_out = entries
                .get(i + 1)
                .and_then(|next| boundary_at(next.shot.start_frame))
                .filter(|b| b.kind != TransitionKind::Cut)
                .map_or(0, |b| (shot.end_frame + 1).saturating_sub(b.first_frame));
            let dialogue = cues
                .map(|cues| cues.iter().map(|c| (c.end.min(end) - c.start.max(start)).max(0.0)).sum::<f64>());
            let words = cues.map(|cues| {
                cues.iter()
                    .filter(|c| (c.start + c.end) / 2.0 >= start && (c.start + c.end) / 2.0 < end)
                    .map(|c| c.words)
                    .sum()
            });
            ShotSignals {
                index: i,
                start_frame: shot.start_frame,
                end_frame: shot.end_frame,
                lead_in_frames: lead_in,
                lead_out_frames: lead_out,
                loudness_lufs: (!short_term.is_empty())
                    .then(|| short_term.iter().sum::<f64>() / short_term.len() as f64),
                peak_loudness_lufs: peak,
                motion,
                sharpness: mean(|p| p.sharpness),
                contrast: mean(|p| p.contrast),
                dialogue_seconds: dialogue,
                words,
                per_frame,
            }
        })
        .collect()
}

/// The short-term loudness (LUFS) of the 3 s centred on `seconds`; `None` in silence.
fn short_term_at(loudness: &[LoudnessPoint], seconds: f64) -> Option<f64> {
    let after = loudness.partition_point(|p| p.seconds < seconds + SHORT_TERM_CENTRE_SECONDS);
    let reading = loudness.get(after).or_else(|| loudness.last())?;
    reading.short_term_lufs.is_finite().then_some(reading.short_term_lufs)
}

/// `trailer.otio` (video and audio tracks with dissolves, the title card) and `trailer.edl`
/// (CMX3600: video and audio events, the card as black).
fn write_edit(
    input: &Path,
    out_dir: &Path,
    plan: &TrailerPlan,
    shots: &ShotsDocument,
) -> Result<(), StageError> {
    let rate = reelforge_timeline::FrameRate::from_signed(plan.frame_rate.num, plan.frame_rate.den)
        .map_err(|e| StageError::with_source(ErrorClass::BadInput, "the source frame rate", e))?;
    let fps = rate.as_f64();
    let absolute = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
    let source_name =
        input.file_name().map_or_else(|| "source".to_owned(), |n| n.to_string_lossy().into_owned());
    let timeline = reelforge_timeline::Timeline {
        name: format!("{source_name} trailer"),
        source_url: absolute.display().to_string(),
        source_name,
        rate,
        total_frames: shots.total_frames,
        clips: plan
            .clips
            .iter()
            .enumerate()
            .map(|(i, clip)| reelforge_timeline::Clip {
                name: format!("clip_{:02}_shot_{:03}", i + 1, clip.shot_index + 1),
                start_frame: clip.source_start_frame,
                end_frame_exclusive: clip.source_end_frame_exclusive,
                start_seconds: clip.source_start_frame as f64 / fps,
                end_seconds: clip.source_end_frame_exclusive as f64 / fps,
                transition: if dissolve_frames(clip) > 0 { "dissolve".into() } else { "cut".into() },
            })
            .collect(),
    };
    let options = reelforge_timeline::EditOptions {
        dissolve_frames: plan.clips.iter().map(dissolve_frames).collect(),
        audio_track: true,
        title_card: plan.title_card.as_ref().map(|card| reelforge_timeline::TitleCardEdit {
            text: card.text.clone(),
            frames: card.frames,
            audio_run_on_frames: card.audio_run_on_frames,
        }),
    };
    crate::write_text(
        &out_dir.join("trailer.otio"),
        &reelforge_timeline::to_otio_json_with(&timeline, &options),
    )?;
    crate::write_text(
        &out_dir.join("trailer.edl"),
        &reelforge_timeline::to_cmx3600_edl_with(&timeline, &options),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_frame_reads_the_short_term_loudness_centred_on_it() {
        // Readings every 100 ms from 0.1 s; reading k measures the 3 s before it.
        let readings: Vec<LoudnessPoint> = (1..=100)
            .map(|k| {
                let seconds = f64::from(k) / 10.0;
                let short_term_lufs = if k < 5 { f64::NEG_INFINITY } else { -30.0 + seconds };
                LoudnessPoint { seconds, momentary_lufs: short_term_lufs, short_term_lufs }
            })
            .collect();
        // A frame at 2 s is the middle of the window 0.5..3.5 s, read at 3.5 s.
        let at_two = short_term_at(&readings, 2.0).expect("loud");
        assert!((at_two - -26.5).abs() < 1e-9, "{at_two}");
        // Past the last reading: the last one; in silence: none.
        assert_eq!(short_term_at(&readings, 9.5), Some(-20.0));
        assert_eq!(short_term_at(&readings[..3], 0.0), None);
        assert_eq!(short_term_at(&[], 1.0), None);
    }
}
