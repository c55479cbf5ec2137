//! `subtitles`: every audio stream gathered at 16 kHz mono from the shared decode pass, then
//! recognised with whisper (language detected or given, optionally translated to English),
//! cut into style-guide cues timed to the shots stage's cuts and written as SRT, WebVTT,
//! TTML (IMSC1 text) and `subtitles.json`.

use std::path::{Path, PathBuf};

use reelforge_core::{
    AudioAnalyzer, AudioBlock, AudioInfo, AudioRequest, AudioStreamChoice, ErrorClass, ProgressSink,
};
use reelforge_pipeline::{StageError, StageJob, StageName, StageOutcome};
use reelforge_subtitles::recognize::{Recognizer, Segment, Transcript, Word};
use reelforge_subtitles::{Cue, SubtitleSettings, cues, formats, models};
use serde::{Deserialize, Serialize};

use crate::{AnalysisStage, Analyzers};

pub const SUBTITLES_JSON: &str = "subtitles.json";
/// Cue timing needs a frame grid; without a shots stage this is the PAL default.
const DEFAULT_FPS: f64 = 25.0;

/// Collects one audio stream's speech samples, placed by their timestamps.
struct SpeechCollector {
    ordinal: usize,
    info: Option<AudioInfo>,
    samples: Vec<f32>,
}

impl AudioAnalyzer for SpeechCollector {
    fn request(&self) -> AudioRequest {
        AudioRequest::speech(AudioStreamChoice::Ordinal(self.ordinal))
    }

    fn configure(&mut self, source: &AudioInfo) {
        self.info = Some(source.clone());
    }

    fn analyze(&mut self, block: &AudioBlock<'_>) {
        // Blocks carry their position: a gap in the stream becomes silence, so times stay exact.
        let at = usize::try_from(block.first_sample).unwrap_or(usize::MAX);
        if at > self.samples.len() {
            self.samples.resize(at, 0.0);
        }
        self.samples.truncate(at);
        self.samples.extend_from_slice(block.samples);
    }
}

/// `subtitles.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubtitlesDocument {
    pub source: String,
    pub model: String,
    pub frame_rate: f64,
    pub tracks: Vec<Track>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Track {
    /// Base name of the track's files (`en`, `fr`, `en-from-fr`).
    pub name: String,
    /// 0-based audio stream it was made from.
    pub audio_stream: usize,
    /// The stream's own language tag, if any.
    pub stream_language_tag: Option<String>,
    pub files: Vec<String>,
    #[serde(flatten)]
    pub transcript: Transcript,
    pub cues: Vec<Cue>,
}

pub struct SubtitlesAnalysis {
    settings: SubtitleSettings,
    model: PathBuf,
    collectors: Vec<SpeechCollector>,
}

impl SubtitlesAnalysis {
    /// Resolves the model first, so a missing one fails before any decoding.
    pub fn new(settings: SubtitleSettings, input: &Path) -> Result<Self, StageError> {
        let model = models::resolve(settings.model_name())
            .map_err(|e| StageError::from_classified("finding the speech model", e))?;
        let info = reelforge_media::probe(input).map_err(|e| StageError::from_classified("probing", e))?;
        let audio = info.streams.iter().filter(|s| s.kind == reelforge_media::StreamKind::Audio).count();
        if audio == 0 {
            return Err(StageError::new(
                ErrorClass::BadInput,
                format!("{}: no audio stream to subtitle", input.display()),
            ));
        }
        let collectors =
            (0..audio).map(|ordinal| SpeechCollector { ordinal, info: None, samples: Vec::new() }).collect();
        Ok(Self { settings, model, collectors })
    }
}

impl AnalysisStage for SubtitlesAnalysis {
    fn analyzers(&mut self) -> Analyzers<'_> {
        Analyzers {
            video: Vec::new(),
            audio: self.collectors.iter_mut().map(|c| c as &mut dyn AudioAnalyzer).collect(),
        }
    }

    fn share_cpu_with(&mut self, stages: usize) {
        self.settings.share_cpu_with(stages);
    }

    fn write(
        self: Box<Self>,
        job: &StageJob<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError> {
        let mut settings = self.settings.clone();
        settings.fit_threads_to_idle_cores();
        let settings = &settings;
        let (fps, cuts) = match job.upstream.get(&StageName::Shots) {
            Some(dir) => {
                let (fps, cuts) = formats::read_shot_cuts(&dir.join(crate::shots_stage::SHOTS_JSON))
                    .map_err(|e| StageError::from_classified("reading the shots stage's cuts", e))?;
                (fps.unwrap_or(DEFAULT_FPS), cuts)
            }
            None => (settings.fps.unwrap_or(DEFAULT_FPS), Vec::new()),
        };
        let recognizer = Recognizer::load(&self.model)
            .map_err(|e| StageError::from_classified("loading the speech model", e))?;
        let mut tracks: Vec<Track> = Vec::new();
        for collector in &self.collectors {
            let tag = collector.info.as_ref().and_then(|i| i.language.clone());
            let task = format!("subtitles a:{}", collector.ordinal);
            let options = settings.options(collector.ordinal, tag.as_deref(), false);
            let transcript =
                recognizer.transcribe(&collector.samples, &options, &task, progress).map_err(|e| {
                    StageError::from_classified(format!("recognising audio stream {}", collector.ordinal), e)
                })?;
            let source_language = transcript.source_language.clone();
            push_track(&mut tracks, collector.ordinal, tag.clone(), transcript, settings, fps, &cuts);
            if settings.translate && source_language != "en" && recognizer.multilingual() {
                let options = reelforge_subtitles::recognize::RecognizeOptions {
                    language: Some(source_language),
                    ..settings.options(collector.ordinal, tag.as_deref(), true)
                };
                let translated = recognizer
                    .transcribe(&collector.samples, &options, &format!("{task} → en"), progress)
                    .map_err(|e| {
                        StageError::from_classified(
                            format!("translating audio stream {}", collector.ordinal),
                            e,
                        )
                    })?;
                push_track(&mut tracks, collector.ordinal, tag, translated, settings, fps, &cuts);
            }
        }
        for track in &tracks {
            let base = job.out_dir.join(&track.name);
            crate::write_text(&base.with_extension("srt"), &formats::to_srt(&track.cues))?;
            crate::write_text(&base.with_extension("vtt"), &formats::to_vtt(&track.cues))?;
            crate::write_text(
                &base.with_extension("ttml"),
                &formats::to_ttml(&track.cues, &track.transcript.language),
            )?;
        }
        let summary = tracks
            .iter()
            .map(|t| format!("{}: {} cues", t.name, t.cues.len()))
            .collect::<Vec<_>>()
            .join(", ");
        let document = SubtitlesDocument {
            source: job.input.display().to_string(),
            model: self.model.display().to_string(),
            frame_rate: fps,
            tracks,
        };
        crate::write_json(&job.out_dir.join(SUBTITLES_JSON), &document)?;
        Ok(StageOutcome { summary: Some(summary) })
    }
}

fn push_track(
    tracks: &mut Vec<Track>,
    audio_stream: usize,
    tag: Option<String>,
    transcript: Transcript,
    settings: &SubtitleSettings,
    fps: f64,
    cuts: &[f64],
) {
    let mut name = if transcript.translated {
        format!("en-from-{}", transcript.source_language)
    } else {
        transcript.language.clone()
    };
    // Two streams in one language (e.g. a commentary track) get numbered names.
    if tracks.iter().any(|t| t.name == name) {
        name = format!("{name}-a{audio_stream}");
    }
    let words: Vec<Word> = transcript.segments.iter().flat_map(segment_words).collect();
    let cps = settings.rules.chars_per_second(&transcript.language);
    let cues = cues::build_cues(&words, &settings.rules, cps, fps, cuts);
    let files = ["srt", "vtt", "ttml"].iter().map(|ext| format!("{name}.{ext}")).collect();
    tracks.push(Track { name, audio_stream, stream_language_tag: tag, files, transcript, cues });
}

/// A segment's words, or the whole segment as one "word" when whisper gave no token times.
fn segment_words(segment: &Segment) -> Vec<Word> {
    if segment.words.is_empty() {
        segment
            .text
            .split_whitespace()
            .map(|w| Word { start: segment.start, end: segment.end, text: w.to_owned(), probability: 1.0 })
            .collect()
    } else {
        segment.words.clone()
    }
}
