//! `subtitles`: every audio stream gathered at 16 kHz mono from the shared decode pass, then
//! recognised with whisper (language detected or given, optionally translated to English),
//! cut into style-guide cues timed to the shots stage's cuts and written as SRT, WebVTT,
//! TTML (IMSC1 text) and `subtitles.json`.
//!
//! A render farm splits it by audio stream ([`reelforge_pipeline::StagePart`]): a chunk
//! gathers and recognises its one stream into its own folder (the same files and a
//! `subtitles.json` of its tracks); the join gathers the chunks' files under the names one run
//! over every stream gives them and merges their documents, without decoding anything.

use std::path::PathBuf;

use reelforge_core::{
    AudioAnalyzer, AudioBlock, AudioInfo, AudioRequest, AudioStreamChoice, ErrorClass, ProgressSink,
};
use reelforge_media::StreamDamage;
use reelforge_pipeline::{ChunkSpec, ChunkTrack, StageError, StageJob, StageName, StageOutcome};
use reelforge_subtitles::recognize::{Recognizer, Segment, Transcript, UNDETERMINED_LANGUAGE, Word};
use reelforge_subtitles::{SubtitleSettings, cues, formats, models};

use crate::documents::{self, SUBTITLES_JSON, SubtitlesDocument, Track};
use crate::{AnalysisStage, Analyzers};

/// Cue timing needs a frame grid; without a shots stage this is the PAL default.
const DEFAULT_FPS: f64 = 25.0;
/// The file formats of every track (their extensions).
const FORMATS: [&str; 3] = ["srt", "vtt", "ttml"];

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

pub struct SubtitlesAnalysis {
    settings: SubtitleSettings,
    model: PathBuf,
    collectors: Vec<SpeechCollector>,
}

impl SubtitlesAnalysis {
    /// Resolves the model first, so a missing one fails before any decoding. A chunk gathers
    /// its own audio stream only, so the decode pass decodes nothing else.
    pub fn new(
        settings: SubtitleSettings,
        job: &StageJob<'_>,
        chunk: Option<&ChunkSpec>,
    ) -> Result<Self, StageError> {
        let model = models::resolve(settings.model_name())
            .map_err(|e| StageError::from_classified("finding the speech model", e))?;
        let audio = audio_stream_count(job)?;
        let streams = match chunk {
            None => (0..audio).collect(),
            Some(chunk) => vec![chunk_stream(chunk, audio)?],
        };
        let collectors = streams
            .into_iter()
            .map(|ordinal| SpeechCollector { ordinal, info: None, samples: Vec::new() })
            .collect();
        Ok(Self { settings, model, collectors })
    }
}

/// How many audio streams the input has; none is bad input.
fn audio_stream_count(job: &StageJob<'_>) -> Result<usize, StageError> {
    let info = documents::job_media(job)?;
    match info.audio_streams().count() {
        0 => Err(StageError::new(
            ErrorClass::BadInput,
            format!("{}: no audio stream to subtitle", job.input.display()),
        )),
        audio => Ok(audio),
    }
}

/// The audio stream a chunk of the stage recognises.
fn chunk_stream(chunk: &ChunkSpec, audio_streams: usize) -> Result<usize, StageError> {
    match chunk.track {
        ChunkTrack::Audio(ordinal) if ordinal < audio_streams => Ok(ordinal),
        ChunkTrack::Audio(_) => Err(crate::no_track(chunk, audio_streams, "audio streams")),
        ChunkTrack::Video(_) => Err(StageError::new(
            ErrorClass::Config,
            format!("chunk `{}`: subtitles are split by audio stream, not by video track", chunk.id),
        )),
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
        damage: &[StreamDamage],
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError> {
        let mut settings = self.settings.clone();
        settings.fit_threads_to_idle_cores();
        let settings = &settings;
        let (fps, cuts) = match job.upstream.get(&StageName::Shots) {
            Some(dir) => {
                let shots = documents::read_shots(dir)?;
                (Some(shots.fps()).filter(|fps| *fps > 0.0).unwrap_or(DEFAULT_FPS), shots.shot_changes())
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
            // A stream without sound (language undetermined) has nothing to translate.
            let has_foreign_speech = !["en", UNDETERMINED_LANGUAGE].contains(&source_language.as_str());
            if settings.translate && has_foreign_speech && recognizer.multilingual() {
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
        let summary = summary(&tracks);
        let document = SubtitlesDocument {
            source: job.input.display().to_string(),
            model: self.model.display().to_string(),
            frame_rate: fps,
            tracks,
            damage: damage.to_vec(),
        };
        crate::write_json(&job.out_dir.join(SUBTITLES_JSON), &document)?;
        Ok(StageOutcome { summary: Some(summary) })
    }
}

/// The join of per-stream chunks: the chunks' files under the names one run over every stream
/// gives their tracks, and the merged `subtitles.json`.
pub fn join(job: &StageJob<'_>, chunks: &[ChunkSpec]) -> Result<StageOutcome, StageError> {
    let audio = audio_stream_count(job)?;
    let mut parts = Vec::new();
    for (chunk, dir) in chunks.iter().zip(&job.chunk_dirs) {
        parts.push((chunk_stream(chunk, audio)?, dir));
    }
    parts.sort_by_key(|(stream, _)| *stream);
    let streams: Vec<usize> = parts.iter().map(|(stream, _)| *stream).collect();
    if !streams.iter().copied().eq(0..audio) {
        return Err(StageError::new(
            ErrorClass::Config,
            format!(
                "cannot join subtitles: the chunks cover audio streams {streams:?} of the input's {audio}; plan again"
            ),
        ));
    }
    let mut chunk_documents = Vec::new();
    for (_, dir) in &parts {
        chunk_documents.push(documents::read_subtitles(dir)?);
    }
    let (document, origins) = merge_documents(chunk_documents)
        .ok_or_else(|| StageError::new(ErrorClass::Config, "cannot join subtitles: no chunks"))?;
    for (track, (part, origin)) in document.tracks.iter().zip(&origins) {
        for format in FORMATS {
            crate::link_file(
                &parts[*part].1.join(format!("{origin}.{format}")),
                &job.out_dir.join(format!("{}.{format}", track.name)),
            )?;
        }
    }
    crate::write_json(&job.out_dir.join(SUBTITLES_JSON), &document)?;
    Ok(StageOutcome {
        summary: Some(format!("{}, joined from {} chunks", summary(&document.tracks), chunks.len())),
    })
}

/// One document from per-stream documents in stream order: their tracks in that order, named
/// as one run over every stream names them ([`track_name`]); with, for each track, the index
/// of the document it came from and its name there. `None` without documents.
fn merge_documents(parts: Vec<SubtitlesDocument>) -> Option<(SubtitlesDocument, Vec<(usize, String)>)> {
    let header = parts.first()?;
    let mut merged = SubtitlesDocument {
        source: header.source.clone(),
        model: header.model.clone(),
        frame_rate: header.frame_rate,
        tracks: Vec::new(),
        // Every chunk decoded its own stream: their damage together is the input's.
        damage: parts.iter().flat_map(|part| part.damage.iter().cloned()).collect(),
    };
    let mut origins = Vec::new();
    for (index, part) in parts.into_iter().enumerate() {
        for mut track in part.tracks {
            let name = track_name(&merged.tracks, &track.transcript, track.audio_stream);
            track.files = track_files(&name);
            origins.push((index, std::mem::replace(&mut track.name, name)));
            merged.tracks.push(track);
        }
    }
    Some((merged, origins))
}

/// "en: 12 cues, fr: 10 cues".
fn summary(tracks: &[Track]) -> String {
    tracks.iter().map(|t| format!("{}: {} cues", t.name, t.cues.len())).collect::<Vec<_>>().join(", ")
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
    let name = track_name(tracks, &transcript, audio_stream);
    let words: Vec<Word> = transcript.segments.iter().flat_map(segment_words).collect();
    let cps = settings.rules.chars_per_second(&transcript.language);
    let cues = cues::build_cues(&words, &settings.rules, cps, fps, cuts);
    let files = track_files(&name);
    tracks.push(Track { name, audio_stream, stream_language_tag: tag, files, transcript, cues });
}

/// The name of a track made after `earlier`: its language, `en-from-<language>` when
/// translated; two streams in one language (e.g. a commentary track) get numbered names.
fn track_name(earlier: &[Track], transcript: &Transcript, audio_stream: usize) -> String {
    let name = if transcript.translated {
        format!("en-from-{}", transcript.source_language)
    } else {
        transcript.language.clone()
    };
    if earlier.iter().any(|t| t.name == name) { format!("{name}-a{audio_stream}") } else { name }
}

fn track_files(name: &str) -> Vec<String> {
    FORMATS.iter().map(|format| format!("{name}.{format}")).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A transcript of one segment whose words are spread over `start..start + 3` s.
    fn transcript(language: &str, translated_from: Option<&str>, start: f64, text: &str) -> Transcript {
        let words: Vec<Word> = text
            .split_whitespace()
            .enumerate()
            .map(|(index, word)| Word {
                start: start + index as f64 / 3.0,
                end: start + (index + 1) as f64 / 3.0,
                text: format!(" {word}"),
                probability: 0.1 + index as f32 / 7.0,
            })
            .collect();
        Transcript {
            language: language.to_owned(),
            source_language: translated_from.unwrap_or(language).to_owned(),
            language_probability: 0.87,
            translated: translated_from.is_some(),
            segments: vec![Segment {
                start,
                end: start + 3.0,
                text: text.to_owned(),
                no_speech_probability: 0.013,
                words,
            }],
            dropped: Vec::new(),
        }
    }

    fn document(tracks: Vec<Track>) -> SubtitlesDocument {
        SubtitlesDocument {
            source: "/media/episode.mp4".into(),
            model: "/m/ggml-base.bin".into(),
            frame_rate: 25.0,
            tracks,
            damage: Vec::new(),
        }
    }

    #[test]
    fn joined_streams_are_named_and_ordered_as_one_run_over_every_stream_names_them() {
        let settings = SubtitleSettings::default();
        // Stream 0 English, stream 1 French with its translation, stream 2 English commentary.
        let streams = [
            vec![transcript("en", None, 1.0, "good evening and welcome")],
            vec![
                transcript("fr", None, 2.0, "bonsoir et bienvenue"),
                transcript("en", Some("fr"), 2.0, "good evening and welcome"),
            ],
            vec![transcript("en", None, 4.5, "what a scene that was")],
        ];
        // What push_track makes of each stream's transcripts after `tracks`.
        let add_stream = |tracks: &mut Vec<Track>, stream: usize, transcripts: &[Transcript]| {
            for transcript in transcripts {
                let tag = Some("und".to_owned());
                push_track(tracks, stream, tag, transcript.clone(), &settings, 25.0, &[3.0]);
            }
        };
        let mut whole = Vec::new();
        for (stream, transcripts) in streams.iter().enumerate() {
            add_stream(&mut whole, stream, transcripts);
        }
        let chunks: Vec<SubtitlesDocument> = streams
            .iter()
            .enumerate()
            .map(|(stream, transcripts)| {
                let mut tracks = Vec::new();
                add_stream(&mut tracks, stream, transcripts);
                document(tracks)
            })
            .collect();
        assert_eq!(chunks[2].tracks[0].name, "en", "alone, the commentary is plain `en`");

        let (merged, origins) = merge_documents(chunks).unwrap();
        let names: Vec<&str> = merged.tracks.iter().map(|track| track.name.as_str()).collect();
        assert_eq!(names, ["en", "fr", "en-from-fr", "en-a2"]);
        assert_eq!(merged.tracks[3].files, ["en-a2.srt", "en-a2.vtt", "en-a2.ttml"]);
        let origins: Vec<(usize, &str)> = origins.iter().map(|(part, name)| (*part, name.as_str())).collect();
        assert_eq!(origins, [(0, "en"), (1, "fr"), (1, "en-from-fr"), (2, "en")]);
        // Everything else as the whole run has it: the same subtitles.json, byte for byte.
        assert_eq!(
            serde_json::to_string_pretty(&merged).unwrap(),
            serde_json::to_string_pretty(&document(whole)).unwrap()
        );
        assert!(merge_documents(Vec::new()).is_none());
    }

    #[test]
    fn a_document_read_back_is_written_as_the_same_text() {
        // The join reads the chunks' documents and writes them again: every number (f32
        // probabilities, thirds of seconds) must come back as the very same text.
        let settings = SubtitleSettings::default();
        let mut tracks = Vec::new();
        let said = transcript("en", None, 0.1, "one two three four five six seven eight nine ten");
        push_track(&mut tracks, 0, None, said, &settings, 23.976, &[1.7]);
        let text = serde_json::to_string_pretty(&document(tracks)).unwrap();
        let read: SubtitlesDocument = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string_pretty(&read).unwrap(), text);
    }
}
