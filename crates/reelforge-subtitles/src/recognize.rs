//! Speech recognition with whisper-rs over 16 kHz mono samples: language detection,
//! transcription or translation to English, hallucination suppression, windows for long audio.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

pub use crate::cues::Word;
use reelforge_core::{ProgressSink, ProgressUnit};
use serde::{Deserialize, Serialize};
use whisper_rs::whisper_rs_sys;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState, WhisperTokenId,
};

use crate::SubtitleError;

pub const SAMPLE_RATE: usize = 16_000;
/// Energy is measured over 30 ms frames: short enough to find pauses between words.
const ENERGY_FRAME: usize = SAMPLE_RATE * 3 / 100;
/// A window is cut at the quietest frame of its last seconds, so no word is split.
const CUT_SEARCH_SECONDS: usize = 10;
/// Language detection guesses from the first 5 s of sound, and the first pass checks the guess
/// (see `PassProbe`). Over 5 s the encoder costs 0.17–0.26 s, against 0.54–0.60 s over 10 s,
/// and FLEURS fr/de/es are guessed right with p ≥ 0.93; over 3 s de is not.
const GUESS_SECONDS: usize = 5;
/// One position of whisper's encoder covers two 10 ms mel frames.
const SAMPLES_PER_AUDIO_POSITION: usize = SAMPLE_RATE / 50;
/// Shortened encoder contexts are a multiple of 8 positions. ggml's tiled f16 matrix products
/// (llamafile's tinyBLAS, built in with GGML_LLAMAFILE) need an inner dimension that is a
/// multiple of 8, and the attention's product of values and weights has the context as its
/// inner one; otherwise it falls back to ggml's f16 dot products (24 % of the CPU time on FLEURS
/// es in perf, against 2 % with the rounding). The model's own 1500 is not one, but full passes
/// of 1496 positions changed the sample episode's English text (no punctuation, WER 5.8 → 15.4 %).
const CONTEXT_MULTIPLE: usize = 8;
/// The language of a stream in which the sound gate finds no sound (only silence or noise):
/// nothing to detect it from (BCP 47 "undetermined", which TTML's `xml:lang` accepts).
pub const UNDETERMINED_LANGUAGE: &str = "und";
/// Text that deflate shrinks by more than this repeats itself: whisper's decoder caught in a
/// loop ("Thank you. Thank you. …"). openai-whisper's threshold for the same measure.
const MAX_COMPRESSION_RATIO: f64 = 2.4;
/// A segment that says again, word for word, what a segment of the last 30 s (one whisper
/// window) said is a loop too: over speech it cannot make out, whisper tends to repeat an
/// earlier line. Shorter lines ("No. … No.", "Thank you.") are said again in real dialogue;
/// letters rather than words are counted, as Thai or Chinese text has no spaces.
const REPEAT_WINDOW_SECONDS: f64 = 30.0;
const MIN_REPEAT_LETTERS: usize = 16;
/// Frames whose spectral flatness is above this are noise, not speech. Measured over the
/// frames above −50 dBFS: jfk.wav, FLEURS de, Tears of Steel and Big Buck Bunny's music have a
/// median of at most 0.04 and a 90th percentile of at most 0.18; uniform noise 0.51–0.63.
const MAX_SPECTRAL_FLATNESS: f32 = 0.35;
/// Flatness is measured from 100 Hz to 4 kHz, where voices put their formants.
const FLATNESS_BAND_HZ: (usize, usize) = (100, 4000);
const FLATNESS_FFT_LEN: usize = 512;
/// Audio kept before the first and after the last frame of sound when silence is left out:
/// soft onsets and endings (fricatives, breath) fall below the gate.
const TRIM_MARGIN: usize = SAMPLE_RATE / 2;
/// Silence the shortened encoder sees after the audio: without it the model tends to end its
/// last segment early and whisper encodes the remaining second again (measured on FLEURS).
const AUDIO_CTX_TAIL_SECONDS: usize = 3;
/// The gate's frame, in seconds.
const ENERGY_FRAME_SECONDS: f64 = ENERGY_FRAME as f64 / SAMPLE_RATE as f64;
/// Silence this long or longer inside a segment can part its sentences (see `onto_sound`).
const LONG_PAUSE_SECONDS: f64 = 1.0;
/// How far from such a silence whisper may place a sentence's end for it to part there.
const SENTENCE_PAUSE_REACH_SECONDS: f64 = 1.0;
/// A last pass shorter than this gets no prompt (whisper.cpp's rule between its own passes).
const PROMPTLESS_SECONDS: usize = 5;
/// Silence longer than this before the sound is left out of a full encoder pass.
const SKIPPED_SILENCE_SECONDS: usize = 10;
/// Sent after whisper's progress percentages (0–100) to end the thread that reports them.
const END_OF_REPORTS: i32 = -1;

/// How to recognise one audio stream.
#[derive(Clone, Debug, PartialEq)]
pub struct RecognizeOptions {
    /// ISO 639-1 code, or `None` to detect it.
    pub language: Option<String>,
    /// Translate to English (whisper's translate task) instead of transcribing.
    pub translate: bool,
    pub beam_size: u32,
    pub threads: u32,
    /// Segments whose no-speech probability is above this and whose tokens are unsure are dropped.
    pub no_speech_threshold: f32,
    /// Audio quieter than this (dBFS, RMS over 30 ms) counts as silence, as does noise with a
    /// flat spectrum: not transcribed.
    pub energy_gate_db: f32,
    /// Longest stretch transcribed in one go (seconds): stretches are cut at a quiet frame,
    /// and no text carries over a cut to condition whisper.
    pub window_seconds: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Language of the text (`en` when translated).
    pub language: String,
    /// Spoken language (detected or given).
    pub source_language: String,
    /// Probability of the spoken language from detection (1 when given or English-only model).
    pub language_probability: f32,
    pub translated: bool,
    pub segments: Vec<Segment>,
    /// What whisper said that the hallucination filter threw away, and why: nothing is lost
    /// without a trace.
    #[serde(default)]
    pub dropped: Vec<DroppedSegment>,
}

/// A segment the hallucination filter dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DroppedSegment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Which rule dropped it, with the number that decided.
    pub reason: String,
}

impl DroppedSegment {
    fn new(segment: &Segment, reason: String) -> DroppedSegment {
        tracing::debug!(start = segment.start, text = segment.text, reason, "dropped a segment");
        DroppedSegment { start: segment.start, end: segment.end, text: segment.text.clone(), reason }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub no_speech_probability: f32,
    pub words: Vec<Word>,
}

fn load(path: &Path) -> Result<WhisperContext, SubtitleError> {
    route_whisper_log();
    let started = Instant::now();
    // Flash attention stays off: on the CPU it made tiny.en 25 % slower here.
    let context =
        WhisperContext::new_with_params(path, WhisperContextParameters::default()).map_err(|e| {
            SubtitleError::BadModel {
                path: path.to_path_buf(),
                why: format!("whisper.cpp cannot load it ({e}); it may be damaged or cut short"),
            }
        })?;
    tracing::debug!(model = %path.display(), seconds = started.elapsed().as_secs_f64(), "loaded the speech model");
    Ok(context)
}

/// Whether whisper.cpp's ggml has llamafile's tiled matrix products (see `CONTEXT_MULTIPLE`).
fn built_with_tiled_products() -> bool {
    // SAFETY: returns a constant that ggml was compiled with.
    unsafe { whisper_rs_sys::ggml_cpu_has_llamafile() != 0 }
}

/// Sends whisper.cpp's and ggml's log lines to tracing, under the target `whisper` (shown with
/// REELFORGE_LOG=whisper=info).
fn route_whisper_log() {
    static ROUTED: std::sync::Once = std::sync::Once::new();
    // SAFETY: `whisper_log` is a function with the signature whisper.cpp calls, valid for the
    // life of the process, and it needs no user data.
    ROUTED.call_once(|| unsafe { whisper_rs_sys::whisper_log_set(Some(whisper_log), std::ptr::null_mut()) });
}

unsafe extern "C" fn whisper_log(
    level: whisper_rs_sys::ggml_log_level,
    text: *const std::ffi::c_char,
    _user_data: *mut std::ffi::c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp and ggml pass a NUL-terminated string that lives through the call.
    let text = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy();
    let text = text.trim();
    match level {
        // `run_window` stops whisper after one pass on purpose; whisper.cpp calls that an error.
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_ERROR
            if text.contains("encoder_begin_callback returned false") =>
        {
            tracing::debug!(target: "whisper", "{text}");
        }
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_ERROR => tracing::error!(target: "whisper", "{text}"),
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_WARN => tracing::warn!(target: "whisper", "{text}"),
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_INFO => tracing::info!(target: "whisper", "{text}"),
        _ => tracing::debug!(target: "whisper", "{text}"),
    }
}

/// Fails unless whisper.cpp loads the model file.
pub fn check_loads(path: &Path) -> Result<(), SubtitleError> {
    load(path).map(drop)
}

/// A loaded model, reusable across streams.
pub struct Recognizer {
    context: WhisperContext,
}

impl Recognizer {
    pub fn load(path: &Path) -> Result<Self, SubtitleError> {
        if !built_with_tiled_products() {
            tracing::warn!(
                "whisper.cpp was built without llamafile's matrix products, which makes recognition \
                 slower: rebuild it with `cargo clean -p whisper-rs-sys && cargo build --release` \
                 (the build reads GGML_LLAMAFILE from .cargo/config.toml only when it runs)"
            );
        }
        Ok(Self { context: load(path)? })
    }

    pub fn multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    /// Recognises `samples` (16 kHz mono). `task` names the progress line.
    pub fn transcribe(
        &self,
        samples: &[f32],
        options: &RecognizeOptions,
        task: &str,
        progress: &dyn ProgressSink,
    ) -> Result<Transcript, SubtitleError> {
        let threads = options.threads.max(1) as i32;
        let mut state =
            self.context.create_state().map_err(|e| SubtitleError::whisper("creating a whisper state", e))?;
        let gate = sound_gate(samples, options.energy_gate_db);
        let mut detect_seconds = 0.0;
        let mut unchecked_guess = false;
        let (mut source_language, mut language_probability) = match &options.language {
            Some(code) => {
                if whisper_rs::get_lang_id(code).is_none() {
                    return Err(SubtitleError::Config(format!(
                        "whisper does not know the language `{code}`"
                    )));
                }
                if !self.multilingual() && code != "en" {
                    return Err(SubtitleError::Config(format!(
                        "the model is English-only and cannot recognise `{code}`; use a multilingual model such as base"
                    )));
                }
                (code.clone(), 1.0)
            }
            None if !self.multilingual() => ("en".to_owned(), 1.0),
            // Without sound nothing will be transcribed, and whisper would name a language
            // for silence (Welsh, on zeros).
            None if !gate.iter().any(|loud| *loud) => (UNDETERMINED_LANGUAGE.to_owned(), 0.0),
            None => {
                let started = Instant::now();
                let guess = self.guess_language(&mut state, samples, &gate, threads)?;
                detect_seconds = started.elapsed().as_secs_f64();
                unchecked_guess = true;
                guess
            }
        };
        if options.translate && !self.multilingual() {
            return Err(SubtitleError::Config(
                "the model is English-only and cannot translate; use a multilingual model such as base"
                    .into(),
            ));
        }

        let total_seconds = samples.len().div_ceil(SAMPLE_RATE) as u64;
        progress.started(task, Some(total_seconds), ProgressUnit::Seconds);
        let mut segments = Vec::new();
        let mut dropped = Vec::new();
        let mut whisper_seconds = 0.0;
        let model_ctx = self.context.n_audio_ctx();
        let prompt_limit = usize::try_from(self.context.n_text_ctx() / 2).unwrap_or(0);
        for (window_start, window_end) in
            windows(samples, &gate, options.window_seconds as usize * SAMPLE_RATE)
        {
            let mut from = window_start;
            let mut prompt = Vec::new();
            // Silence or near-silence: nothing to say, nothing to hallucinate.
            while let Some(pass) = next_pass(&gate, from, window_end, model_ctx) {
                // Like whisper between its own passes: the text so far conditions the next
                // pass, unless only a few seconds are left (it tends to make those repeat it).
                if pass.end - pass.start < PROMPTLESS_SECONDS * SAMPLE_RATE {
                    prompt.clear();
                }
                let started = Instant::now();
                let recognise = |state: &mut WhisperState, language: &str| {
                    self.run_window(state, samples, &pass, &prompt, options, language, task, progress)
                };
                let mut run = recognise(&mut state, &source_language)?;
                // The guess came from a few seconds; the first pass hears up to 30 s (as much as
                // openai-whisper detects from), at no cost. Should it hear another language, it
                // is recognised again in that one.
                if let Some((heard, probability)) = run.heard_language.take().filter(|_| unchecked_guess) {
                    unchecked_guess = false;
                    tracing::debug!(
                        guessed = source_language,
                        heard,
                        probability,
                        "language over the first pass"
                    );
                    language_probability = probability;
                    if heard != source_language {
                        source_language = heard;
                        run = recognise(&mut state, &source_language)?;
                    }
                }
                whisper_seconds += started.elapsed().as_secs_f64();
                for segment in run.segments {
                    match why_dropped(&segment, &gate, options.no_speech_threshold) {
                        Some(reason) => dropped.push(DroppedSegment::new(&segment, reason)),
                        None => segments.push(onto_sound(segment, &gate)),
                    }
                }
                progress.advanced(task, (pass.end / SAMPLE_RATE) as u64);
                // At least a second on, should whisper's timestamps not move.
                from = pass.start + run.resume_at.unwrap_or(pass.end - pass.start).max(SAMPLE_RATE);
                // whisper reads no more of it than the last half of its text context.
                prompt.extend(run.prompt);
                prompt.drain(..prompt.len().saturating_sub(prompt_limit));
            }
            progress.advanced(task, (window_end / SAMPLE_RATE) as u64);
        }
        progress.finished(task);
        let (segments, repeated) = without_repeats(segments);
        dropped.extend(repeated);
        dropped.sort_by(|a, b| a.start.total_cmp(&b.start));
        // The benchmark reads this line: recognition time without model load and decoding.
        tracing::info!(
            task,
            threads,
            audio_seconds = samples.len() as f64 / SAMPLE_RATE as f64,
            detect_seconds,
            whisper_seconds,
            "recognised"
        );
        Ok(Transcript {
            language: if options.translate { "en".to_owned() } else { source_language.clone() },
            source_language,
            language_probability,
            translated: options.translate,
            segments,
            dropped,
        })
    }

    /// Whisper's language detection over the first `GUESS_SECONDS` that contain sound.
    fn guess_language(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        gate: &[bool],
        threads: i32,
    ) -> Result<(String, f32), SubtitleError> {
        let first_loud = gate.iter().position(|loud| *loud).unwrap_or(0);
        let sound = &samples[(first_loud * ENERGY_FRAME).min(samples.len())..];
        let excerpt = &sound[..sound.len().min(GUESS_SECONDS * SAMPLE_RATE)];
        // The encoder pass of detection costs as much as a transcription pass; on short audio it
        // need only cover the audio. whisper_full is the one call that sets a state's encoder
        // context (audio_ctx). Asked for exactly 100 ms, whisper's shortest input, it computes the
        // mel spectrogram and sets the context, then stops before encoding anything. Detection
        // reads no timestamps, so the excerpt needs no tail of silence.
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(threads);
        params.set_language(Some("en")); // no detection inside whisper_full
        params.set_duration_ms(100);
        let model_ctx = self.context.n_audio_ctx();
        params.set_audio_ctx(encoder_positions(excerpt.len(), model_ctx).unwrap_or(model_ctx));
        state
            .full(params, excerpt)
            .map_err(|e| SubtitleError::whisper("computing the mel spectrogram", e))?;
        let (id, probabilities) = state
            .lang_detect(0, threads as usize)
            .map_err(|e| SubtitleError::whisper("detecting the language", e))?;
        let probability = probabilities.get(id as usize).copied().unwrap_or(0.0);
        Ok((language_code(id)?, probability))
    }

    #[allow(clippy::too_many_arguments)]
    fn run_window(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        pass: &Pass,
        prompt: &[WhisperTokenId],
        options: &RecognizeOptions,
        language: &str,
        task: &str,
        progress: &dyn ProgressSink,
    ) -> Result<WindowRun, SubtitleError> {
        let samples = &samples[pass.start..pass.end];
        let offset = pass.start as f64 / SAMPLE_RATE as f64;
        let mut params = FullParams::new(if options.beam_size > 1 {
            SamplingStrategy::BeamSearch { beam_size: options.beam_size as i32, patience: -1.0 }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        });
        params.set_n_threads(options.threads.max(1) as i32);
        params.set_language(Some(language));
        params.set_translate(options.translate);
        params.set_token_timestamps(true);
        params.set_no_context(true);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_no_speech_thold(options.no_speech_threshold);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_audio_ctx(pass.audio_ctx);
        if !prompt.is_empty() {
            params.set_tokens(prompt);
        }
        // whisper's callback must be 'static: it sends percentages to a thread that reports
        // them. whisper-rs leaks the callback (so the channel never closes): a message that is
        // no percentage ends the reporting thread instead, at once (a polling thread held up
        // every call for up to its polling interval).
        let (sender, receiver) = std::sync::mpsc::channel::<i32>();
        let end_reporting = sender.clone();
        // whisper reports where each pass begins as a percentage of the audio: stopped before
        // its second pass, the last report says where that pass would have begun.
        let last_percent = Arc::new(AtomicI32::new(0));
        let reported = Arc::clone(&last_percent);
        params.set_progress_callback_safe(move |percent: i32| {
            reported.store(percent, Ordering::Relaxed);
            let _ = sender.send(percent);
        });
        let mut probe = PassProbe::new(&self.context, options.threads.max(1) as i32);
        // SAFETY: `probe` outlives `state.full` below, the only call that runs the hook, and
        // nothing else touches it meanwhile.
        unsafe {
            params.set_start_encoder_callback(Some(PassProbe::before_encoding));
            params.set_start_encoder_callback_user_data((&raw mut probe).cast());
        }
        let window_seconds = samples.len() as f64 / SAMPLE_RATE as f64;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                while let Ok(percent @ 0..=100) = receiver.recv() {
                    let seconds = offset + window_seconds * f64::from(percent) / 100.0;
                    progress.advanced(task, seconds as u64);
                }
            });
            let result = state.full(params, samples);
            let _ = end_reporting.send(END_OF_REPORTS);
            result
        })
        .map_err(|e| SubtitleError::whisper("running whisper", e))?;
        probe.finish(state)?;
        let first_token = probe.first_token.unwrap_or_default();
        tracing::debug!(
            offset,
            window_seconds,
            no_speech_probability = first_token.no_speech_probability,
            stopped = probe.stopped,
            "whisper's pass"
        );

        let eot = self.context.token_eot();
        // Per segment: the segment, its end in whisper's centiseconds, its text tokens.
        let mut decoded: Vec<(Segment, i64, Vec<WhisperTokenId>)> = Vec::new();
        for segment in state.as_iter() {
            let text = segment.to_str_lossy().map_err(|e| SubtitleError::whisper("reading a segment", e))?;
            let mut words: Vec<(Vec<u8>, i64, i64, Vec<f32>)> = Vec::new();
            let mut tokens = Vec::new();
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else { continue };
                let data = token.token_data();
                if data.id >= eot {
                    continue; // special and timestamp tokens carry no text
                }
                tokens.push(data.id);
                let bytes = token.to_bytes().map_err(|e| SubtitleError::whisper("reading a token", e))?;
                // A token starting with a space begins a new word; others continue it
                // (including the bytes of a character split across tokens).
                match words.last_mut() {
                    Some(word) if !bytes.starts_with(b" ") => {
                        word.0.extend_from_slice(bytes);
                        word.2 = data.t1;
                        word.3.push(data.p);
                    }
                    _ => words.push((bytes.to_vec(), data.t0, data.t1, vec![data.p])),
                }
            }
            let start = offset + segment.start_timestamp() as f64 / 100.0;
            let end_centiseconds = segment.end_timestamp();
            let end = offset + end_centiseconds as f64 / 100.0;
            let segment = Segment {
                start,
                end,
                text: text.trim().to_owned(),
                no_speech_probability: first_token.no_speech_probability,
                words: words
                    .into_iter()
                    .map(|(bytes, t0, t1, p)| Word {
                        start: (offset + t0 as f64 / 100.0).clamp(start, end),
                        end: (offset + t1 as f64 / 100.0).clamp(start, end),
                        text: String::from_utf8_lossy(&bytes).trim().to_owned(),
                        probability: p.iter().sum::<f32>() / p.len().max(1) as f32,
                    })
                    .filter(|w| !w.text.is_empty())
                    .collect(),
            };
            decoded.push((segment, end_centiseconds, tokens));
        }
        // Stopped before its next pass, whisper would go on from its last timestamp. Text
        // after it is a segment cut off by the end of the pass (whisper gives it no length):
        // the next pass reads it again, whole. The last timestamp is the end of the last
        // segment left, unless whisper found the pass to be no speech and kept no segment; the
        // whole percentage whisper last reported is never past it either.
        let mut resume_at = None;
        if probe.stopped {
            while decoded.last().is_some_and(|(segment, _, _)| segment.end <= segment.start) {
                decoded.pop();
            }
            let reported =
                usize::try_from(last_percent.load(Ordering::Relaxed)).unwrap_or(0) * samples.len() / 100;
            let segments_end = decoded
                .last()
                .map_or(0, |(_, end, _)| usize::try_from(*end).unwrap_or(0) * SAMPLE_RATE / 100);
            resume_at = Some(reported.max(segments_end));
        }
        let prompt = decoded.iter().flat_map(|(_, _, tokens)| tokens.iter().copied()).collect();
        let heard_language = match first_token.language {
            Some((id, probability)) => Some((language_code(id)?, probability)),
            None => None,
        };
        Ok(WindowRun {
            segments: decoded.into_iter().map(|(segment, _, _)| segment).collect(),
            prompt,
            resume_at,
            heard_language,
        })
    }
}

/// What one `run_window` call found.
struct WindowRun {
    segments: Vec<Segment>,
    /// The text tokens of `segments`, to condition the pass that follows.
    prompt: Vec<WhisperTokenId>,
    /// Where whisper's next pass would have begun (in samples from the start of the audio
    /// given), when it was stopped after one pass.
    resume_at: Option<usize>,
    /// The language whisper hears in the pass (of a multilingual model), and its probability.
    heard_language: Option<(String, f32)>,
}

/// The ISO 639-1 code of whisper's language `id`.
fn language_code(id: i32) -> Result<String, SubtitleError> {
    whisper_rs::get_lang_str(id)
        .map(str::to_owned)
        .ok_or_else(|| SubtitleError::Config(format!("whisper returned unknown language id {id}")))
}

/// What whisper's first token says of a `whisper_full` call's one encoder pass: the
/// probability of `<|nospeech|>` right after `<|startoftranscript|>`, read as openai-whisper
/// reads it (whisper.cpp's own per-segment value reads a row of logits it never computed: ≈ 0
/// over music and noise; whisper.cpp pull request #3945), and, from the same logits, the
/// language it hears, as whisper's language detection reads it.
///
/// Each call encodes one pass: the hook that runs before each encoding lets the first one go.
/// Before a second, it decodes `<|startoftranscript|>` against the first (whose encoder
/// output the state still holds) and stops whisper, which returns the first pass's segments.
/// A call whisper ends after one pass is read by `finish`.
struct PassProbe {
    sot: WhisperTokenId,
    no_speech: WhisperTokenId,
    /// Language tokens follow `<|startoftranscript|>`, up to `<|translate|>` (99 of them,
    /// or 100 in large-v3); none in an English-only model.
    languages: std::ops::Range<usize>,
    threads: i32,
    /// Whether whisper has begun encoding its pass.
    encoding: bool,
    /// The pass's first token, once read.
    first_token: Option<FirstToken>,
    /// Whether whisper was stopped before a second pass.
    stopped: bool,
}

/// See [`PassProbe`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct FirstToken {
    no_speech_probability: f32,
    /// Whisper's id of the most likely language, and its probability among the languages.
    language: Option<(i32, f32)>,
}

impl PassProbe {
    fn new(context: &WhisperContext, threads: i32) -> Self {
        let sot = context.token_sot();
        let first_language = usize::try_from(sot).unwrap_or(0) + 1;
        let languages = if context.is_multilingual() {
            first_language..usize::try_from(context.token_translate()).unwrap_or(first_language)
        } else {
            first_language..first_language
        };
        Self {
            sot,
            no_speech: context.token_nosp(),
            languages,
            threads,
            encoding: false,
            first_token: None,
            stopped: false,
        }
    }

    /// whisper.cpp's encoder-begin hook; returning false ends `whisper_full` with the
    /// segments decoded so far.
    unsafe extern "C" fn before_encoding(
        context: *mut whisper_rs_sys::whisper_context,
        state: *mut whisper_rs_sys::whisper_state,
        user_data: *mut std::ffi::c_void,
    ) -> bool {
        // SAFETY: `user_data` is the probe `run_window` registered; whisper.cpp hands over its
        // own context and state, between two passes (no decoding under way).
        unsafe {
            let probe = &mut *user_data.cast::<PassProbe>();
            if !probe.encoding {
                probe.encoding = true;
                return true;
            }
            let sot = [probe.sot];
            let decoded =
                whisper_rs_sys::whisper_decode_with_state(context, state, sot.as_ptr(), 1, 0, probe.threads);
            let logits = whisper_rs_sys::whisper_get_logits_from_state(state);
            let vocabulary = usize::try_from(whisper_rs_sys::whisper_n_vocab(context)).unwrap_or(0);
            // A failed decode leaves the pass at 0: its segments are judged on their words.
            probe.first_token = Some(if decoded == 0 && !logits.is_null() {
                probe.read(std::slice::from_raw_parts(logits, vocabulary))
            } else {
                FirstToken::default()
            });
            probe.stopped = true;
        }
        false
    }

    /// Reads the pass of a call whisper ended by itself; the state still holds its encoder
    /// output.
    fn finish(&mut self, state: &mut WhisperState) -> Result<(), SubtitleError> {
        if self.encoding && self.first_token.is_none() {
            state
                .decode(&[self.sot], 0, self.threads as usize)
                .map_err(|e| SubtitleError::whisper("reading the no-speech probability", e))?;
            let logits = state
                .get_logits()
                .map_err(|e| SubtitleError::whisper("reading the no-speech probability", e))?;
            self.first_token = Some(self.read(logits));
        }
        Ok(())
    }

    /// Reads the logits of the token after `<|startoftranscript|>`.
    fn read(&self, logits: &[f32]) -> FirstToken {
        let language = logits.get(self.languages.clone()).and_then(|languages| {
            let (id, _) = languages.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
            Some((i32::try_from(id).ok()?, softmax_share(languages, id)))
        });
        let no_speech_probability =
            usize::try_from(self.no_speech).map_or(0.0, |token| softmax_share(logits, token));
        FirstToken { no_speech_probability, language }
    }
}

/// The softmax probability of `logits[index]` among `logits` (0 for an index outside them).
fn softmax_share(logits: &[f32], index: usize) -> f32 {
    let Some(&own) = logits.get(index) else { return 0.0 };
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    (f64::from(own - max).exp() / total) as f32
}

/// Whether each 30 ms frame may hold speech: louder than `gate_db` (RMS, dBFS) and not
/// noise, whose spectrum is flat (see `MAX_SPECTRAL_FLATNESS`). Over silence and noise
/// whisper makes text up ("1.5% deurice.com." over hiss at −40 dBFS).
pub fn sound_gate(samples: &[f32], gate_db: f32) -> Vec<bool> {
    let threshold = 10f32.powf(gate_db / 20.0);
    let mut flatness = SpectralFlatness::new();
    samples
        .chunks(ENERGY_FRAME)
        .map(|frame| frame_energy(frame).sqrt() > threshold && flatness.of(frame) <= MAX_SPECTRAL_FLATNESS)
        .collect()
}

/// Spectral flatness (geometric over arithmetic mean of the power spectrum) of a frame in
/// the band where speech has its structure: near 0 for voices and music, whose power sits
/// in harmonics and formants; about 0.56 for white noise.
struct SpectralFlatness {
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    window: Vec<f32>,
    buffer: Vec<rustfft::num_complex::Complex<f32>>,
}

impl SpectralFlatness {
    fn new() -> Self {
        let fft = rustfft::FftPlanner::new().plan_fft_forward(FLATNESS_FFT_LEN);
        // Hann window over a whole energy frame, so the frame's edges do not spread power.
        let window = (0..ENERGY_FRAME)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / (ENERGY_FRAME - 1) as f32).cos())
            .collect();
        Self { fft, window, buffer: Vec::with_capacity(FLATNESS_FFT_LEN) }
    }

    fn of(&mut self, frame: &[f32]) -> f32 {
        self.buffer.clear();
        self.buffer.extend(
            frame.iter().zip(&self.window).map(|(s, w)| rustfft::num_complex::Complex::new(s * w, 0.0)),
        );
        self.buffer.resize(FLATNESS_FFT_LEN, rustfft::num_complex::Complex::new(0.0, 0.0));
        self.fft.process(&mut self.buffer);
        let bin = |hz: usize| hz * FLATNESS_FFT_LEN / SAMPLE_RATE;
        let band = &self.buffer[bin(FLATNESS_BAND_HZ.0)..=bin(FLATNESS_BAND_HZ.1)];
        // The floor keeps a digital-silence bin from sending the geometric mean to zero.
        let powers = band.iter().map(|c| c.norm_sqr() + 1e-12);
        let (log_sum, sum) =
            powers.fold((0.0f64, 0.0f64), |(l, s), p| (l + f64::from(p).ln(), s + f64::from(p)));
        let n = band.len() as f64;
        ((log_sum / n).exp() / (sum / n)) as f32
    }
}

/// Splits `samples` into windows of at most `max_len` samples, each cut at the quietest
/// frame of its last seconds; boundaries are sample positions, so timestamps stay exact.
pub fn windows(samples: &[f32], gate: &[bool], max_len: usize) -> Vec<(usize, usize)> {
    let max_len = max_len.max(SAMPLE_RATE);
    let mut windows = Vec::new();
    let mut start = 0;
    while start < samples.len() {
        let mut end = (start + max_len).min(samples.len());
        if end < samples.len() {
            let search_from = end.saturating_sub(CUT_SEARCH_SECONDS * SAMPLE_RATE).max(start + SAMPLE_RATE);
            let quietest = (search_from / ENERGY_FRAME..end / ENERGY_FRAME)
                .filter(|&f| f < gate.len())
                .min_by(|&a, &b| {
                    let rms = |f: usize| {
                        frame_energy(&samples[f * ENERGY_FRAME..((f + 1) * ENERGY_FRAME).min(samples.len())])
                    };
                    rms(a).total_cmp(&rms(b))
                });
            if let Some(frame) = quietest {
                end = (frame * ENERGY_FRAME).max(start + 1);
            }
        }
        windows.push((start, end));
        start = end;
    }
    windows
}

/// The part of `start..end` to give whisper: from 0.5 s before the gate's first sound to 0.5 s
/// after its last, or `None` when it finds no sound. Encoding costs time in proportion to the
/// context, and FLEURS fr opens with 3 s and ends with 2.6 s of silence.
fn sound_span(gate: &[bool], start: usize, end: usize) -> Option<(usize, usize)> {
    // An empty stretch could still meet the gate frame that holds its position.
    if start >= end {
        return None;
    }
    let (first, last) = loud_frames(gate, start / ENERGY_FRAME..end.div_ceil(ENERGY_FRAME))?;
    Some((
        (first * ENERGY_FRAME).saturating_sub(TRIM_MARGIN).max(start),
        ((last + 1) * ENERGY_FRAME + TRIM_MARGIN).min(end),
    ))
}

/// The first and the last of `frames` in which the gate finds sound, if any.
fn loud_frames(gate: &[bool], frames: std::ops::Range<usize>) -> Option<(usize, usize)> {
    let frames = frames.start..frames.end.min(gate.len());
    Some((frames.clone().find(|&frame| gate[frame])?, frames.rev().find(|&frame| gate[frame])?))
}

/// A stretch of audio for one `whisper_full` call.
#[derive(Debug, PartialEq)]
struct Pass {
    start: usize,
    end: usize,
    /// The encoder context for it (see `audio_ctx`): shortened when it reaches the end of the
    /// sound, else the model's own 30 s.
    audio_ctx: i32,
}

/// The next pass over `from..window_end`, or `None` when the gate finds no more sound there.
/// Sound that fits one shortened encoder pass (see `audio_ctx`) goes to whisper at once.
/// Longer sound goes one full pass at a time. Every call is one encoder pass (whisper is
/// stopped before a second, see `PassProbe`), and the next begins where whisper would
/// have begun its next one, so each gets a context of its own length: within one call,
/// whisper encodes every pass with the same context (FLEURS de, 43 s: two full 30 s passes;
/// and its last 11 s, one shortened pass, needed a second pass over their last 4 s).
fn next_pass(gate: &[bool], from: usize, window_end: usize, model_ctx: i32) -> Option<Pass> {
    let (sound_start, sound_end) = sound_span(gate, from, window_end)?;
    if let Some(shortened) = audio_ctx(sound_end - sound_start, model_ctx) {
        return Some(Pass { start: sound_start, end: sound_end, audio_ctx: shortened });
    }
    // A full pass keeps a short silence before the sound, as whisper would: leaving out the
    // sample episode's first second changed words of its first pass.
    let start = if sound_start - from > SKIPPED_SILENCE_SECONDS * SAMPLE_RATE { sound_start } else { from };
    let pass_len = usize::try_from(model_ctx).unwrap_or(0) * SAMPLES_PER_AUDIO_POSITION;
    Some(Pass { start, end: (start + pass_len).min(sound_end), audio_ctx: model_ctx })
}

/// The encoder context (whisper's `audio_ctx`, in 20 ms positions) for `len` samples: the audio
/// and a short tail of silence, or `None` when that does not fit in less than the model's 30 s.
/// whisper pads every input to 30 s, so an 11 s window would otherwise cost a 30 s encoder pass;
/// WER on the FLEURS clips and jfk.wav is the same or lower with the shortened context. One
/// context serves every pass of a `whisper_full` call, so longer audio goes in full passes
/// (see `next_pass`).
pub fn audio_ctx(len: usize, model_ctx: i32) -> Option<i32> {
    encoder_positions(len + AUDIO_CTX_TAIL_SECONDS * SAMPLE_RATE, model_ctx)
}

/// The encoder positions that cover `len` samples, rounded up to a multiple of
/// `CONTEXT_MULTIPLE`, or `None` when they reach the model's own context (`model_ctx`).
fn encoder_positions(len: usize, model_ctx: i32) -> Option<i32> {
    let positions = len.div_ceil(SAMPLES_PER_AUDIO_POSITION).next_multiple_of(CONTEXT_MULTIPLE);
    i32::try_from(positions).ok().filter(|&positions| positions < model_ctx)
}

fn frame_energy(frame: &[f32]) -> f32 {
    frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32
}

/// Moves a segment and its words onto the sound under it: its start to the gate's first frame
/// of sound, its end to the last, and its words along in proportion. Whisper's timestamps can
/// stretch a segment over the silence around it (the sample episode's "The lighthouse keeper
/// wakes before the sun." came back as 0–9 s for speech at 1.0–3.4 s), and cues would then be
/// timed to silence. Where sound fills the segment nothing moves.
///
/// A segment can also hold two sentences with a long silence between them, over which whisper
/// spreads the words of both. Where a sentence ends near such a silence (see
/// `sentence_pauses`), the words before it go onto the sound before it, and the words after
/// it onto the sound after it, each part in proportion.
fn onto_sound(mut segment: Segment, gate: &[bool]) -> Segment {
    let (from, to) = (segment.start, segment.end);
    let Some((first, last)) = loud_frames(
        gate,
        (from / ENERGY_FRAME_SECONDS) as usize..(to / ENERGY_FRAME_SECONDS).ceil() as usize,
    ) else {
        return segment;
    };
    let start = (first as f64 * ENERGY_FRAME_SECONDS).max(from);
    let end = ((last + 1) as f64 * ENERGY_FRAME_SECONDS).min(to);
    if end <= start {
        return segment;
    }
    rescale(&mut segment.words, (from, to), (start, end));
    let splits = sentence_pauses(&segment.words, &long_pauses(gate, first, last));
    if !splits.is_empty() {
        let mut part_start = (0, start);
        for (word, (pause_start, pause_end)) in splits.into_iter().chain([(segment.words.len(), (end, end))])
        {
            let words = &mut segment.words[part_start.0..word];
            // A part runs from its first word's start to its last word's end.
            if let (Some(said_from), Some(said_to)) =
                (words.first().map(|w| w.start), words.last().map(|w| w.end))
            {
                rescale(words, (said_from, said_to), (part_start.1, pause_start));
            }
            part_start = (word, pause_end);
        }
    }
    segment.start = start;
    segment.end = end;
    segment
}

/// The silences of `LONG_PAUSE_SECONDS` or more between gate frames `first` and `last` (both
/// loud), as (start, end) in seconds.
fn long_pauses(gate: &[bool], first: usize, last: usize) -> Vec<(f64, f64)> {
    let mut pauses = Vec::new();
    let mut last_loud = first;
    for frame in (first..=last).filter(|&frame| gate[frame]) {
        let silent_frames = (frame - last_loud).saturating_sub(1);
        if silent_frames as f64 * ENERGY_FRAME_SECONDS >= LONG_PAUSE_SECONDS {
            pauses.push(((last_loud + 1) as f64 * ENERGY_FRAME_SECONDS, frame as f64 * ENERGY_FRAME_SECONDS));
        }
        last_loud = frame;
    }
    pauses
}

/// Where the words part at a long pause: the index of the word that begins a sentence, and
/// the pause, for each sentence end whisper placed in or within `SENTENCE_PAUSE_REACH_SECONDS`
/// of a pause (a pause parts the words once).
fn sentence_pauses(words: &[Word], pauses: &[(f64, f64)]) -> Vec<(usize, (f64, f64))> {
    let mut splits: Vec<(usize, (f64, f64))> = Vec::new();
    for (index, pair) in words.windows(2).enumerate() {
        if !pair[0].text.ends_with(['.', '!', '?', '…', '。']) {
            continue;
        }
        let said = (pair[0].end + pair[1].start) / 2.0;
        let distance = |(a, b): &(f64, f64)| (a - said).max(said - b).max(0.0);
        let nearest = pauses.iter().min_by(|x, y| distance(x).total_cmp(&distance(y)));
        if let Some(&pause) = nearest.filter(|pause| distance(pause) <= SENTENCE_PAUSE_REACH_SECONDS)
            && splits.last().is_none_or(|(_, used)| used.1 <= pause.0)
        {
            splits.push((index + 1, pause));
        }
    }
    splits
}

/// Moves `words` in proportion from the span `from..to` onto `start..end`; words of an empty
/// span all take the whole of `start..end`.
fn rescale(words: &mut [Word], (from, to): (f64, f64), (start, end): (f64, f64)) {
    let scale = if to > from { (end - start) / (to - from) } else { 0.0 };
    for word in words {
        word.start = start + (word.start - from) * scale;
        word.end = if scale > 0.0 { start + (word.end - from) * scale } else { end };
    }
}

/// Hallucination filter: why a segment is dropped (over silence, whisper itself believes it
/// is not speech while unsure of its words, or it repeats itself), `None` to keep it.
fn why_dropped(segment: &Segment, gate: &[bool], no_speech_threshold: f32) -> Option<String> {
    if segment.text.is_empty() {
        return Some("no text".to_owned());
    }
    let ratio = compression_ratio(&segment.text);
    if ratio > MAX_COMPRESSION_RATIO {
        return Some(format!("loops: compression ratio {ratio:.1} above {MAX_COMPRESSION_RATIO}"));
    }
    let first = (segment.start * SAMPLE_RATE as f64) as usize / ENERGY_FRAME;
    let last = ((segment.end * SAMPLE_RATE as f64) as usize / ENERGY_FRAME + 1).min(gate.len());
    let loud = gate.get(first.min(last)..last).is_some_and(|frames| frames.iter().any(|l| *l));
    if !loud {
        return Some("over silence or noise: the sound gate passed none of it".to_owned());
    }
    let certainty =
        segment.words.iter().map(|w| w.probability).sum::<f32>() / (segment.words.len().max(1) as f32);
    (segment.no_speech_probability > no_speech_threshold && certainty < 0.5).then(|| {
        format!(
            "not speech: no-speech probability {:.2} above {no_speech_threshold} with word certainty {certainty:.2}",
            segment.no_speech_probability
        )
    })
}

/// How many times deflate (zlib) shrinks `text`: near 1 for speech, higher for loops.
fn compression_ratio(text: &str) -> f64 {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail; if it somehow did, the text is kept.
    match encoder.write_all(text.as_bytes()).and_then(|()| encoder.finish()) {
        Ok(compressed) if !compressed.is_empty() => text.len() as f64 / compressed.len() as f64,
        _ => 1.0,
    }
}

/// The segments without those that repeat one of the 30 s before them (see
/// `REPEAT_WINDOW_SECONDS`), kept or not, so a loop stays out however long it runs. Words are
/// compared without case and punctuation.
fn without_repeats(segments: Vec<Segment>) -> (Vec<Segment>, Vec<DroppedSegment>) {
    let words_of = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut said: Vec<(f64, Vec<String>)> = Vec::with_capacity(segments.len());
    let mut kept = Vec::with_capacity(segments.len());
    let mut dropped = Vec::new();
    for segment in segments {
        let words = words_of(&segment.text);
        let repeats = words.iter().map(|w| w.chars().count()).sum::<usize>() >= MIN_REPEAT_LETTERS
            && said
                .iter()
                .rev()
                .take_while(|(start, _)| *start >= segment.start - REPEAT_WINDOW_SECONDS)
                .any(|(_, earlier)| *earlier == words);
        said.push((segment.start, words));
        if repeats {
            let reason = format!("repeats a line said within the {REPEAT_WINDOW_SECONDS} s before");
            dropped.push(DroppedSegment::new(&segment, reason));
        } else {
            kept.push(segment);
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tone in parts of (seconds, amplitude); amplitude 0 is silence.
    fn tones(parts: &[(f32, f32)]) -> Vec<f32> {
        parts
            .iter()
            .flat_map(|&(seconds, amplitude)| {
                (0..(seconds * SAMPLE_RATE as f32) as usize).map(move |i| amplitude * (i as f32 * 0.1).sin())
            })
            .collect()
    }

    #[test]
    fn gate_separates_silence_from_sound() {
        let samples = tones(&[(1.0, 0.0), (1.0, 0.3)]);
        let gate = sound_gate(&samples, -50.0);
        assert!(!gate[..30].iter().any(|l| *l));
        assert!(gate[40..].iter().all(|l| *l));
    }

    #[test]
    fn gate_takes_noise_for_silence() {
        // Uniform noise at about −15 dBFS from a fixed linear congruential sequence.
        let mut state: u32 = 12_345;
        let noise: Vec<f32> = (0..SAMPLE_RATE)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff;
                (state >> 16) as f32 / 32_768.0 * 0.6 - 0.3
            })
            .collect();
        assert!(!sound_gate(&noise, -50.0).iter().any(|l| *l));
        // A voice-like buzz (harmonics of 120 Hz) with the same noise under it is sound.
        let buzz: Vec<f32> = noise
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let t = i as f32 / SAMPLE_RATE as f32;
                0.1 * n
                    + (1..=20)
                        .map(|h| (std::f32::consts::TAU * 120.0 * h as f32 * t).sin() / h as f32)
                        .sum::<f32>()
                        * 0.2
            })
            .collect();
        assert!(sound_gate(&buzz, -50.0).iter().all(|l| *l));
    }

    #[test]
    fn windows_cover_everything_and_cut_in_pauses() {
        // 25 s of sound with a pause at 8.0–8.3 s; windows of at most 10 s.
        let samples = tones(&[(8.0, 0.3), (0.3, 0.0), (16.7, 0.3)]);
        let gate = sound_gate(&samples, -50.0);
        let windows = windows(&samples, &gate, 10 * SAMPLE_RATE);
        assert_eq!(windows[0].0, 0);
        assert_eq!(windows.last().map(|w| w.1), Some(samples.len()));
        for pair in windows.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "windows are contiguous");
        }
        let first_cut = windows[0].1 as f64 / SAMPLE_RATE as f64;
        assert!((8.0..8.3).contains(&first_cut), "cut at {first_cut}");
        assert!(windows.iter().all(|(a, b)| b - a <= 10 * SAMPLE_RATE));
    }

    #[test]
    fn audio_ctx_covers_the_audio_and_a_tail_in_multiples_of_8_or_falls_back_to_a_full_pass() {
        // Whisper's 30 s are 1500 positions of 20 ms.
        assert_eq!(audio_ctx(11 * SAMPLE_RATE, 1500), Some((11 + 3) * 50 + 4), "700 rounded up to 704");
        assert_eq!(audio_ctx(SAMPLE_RATE + 1, 1500), Some(4 * 50 + 8), "a partial position counts whole");
        assert_eq!(audio_ctx(26 * SAMPLE_RATE, 1500), Some(1456));
        assert_eq!(audio_ctx(27 * SAMPLE_RATE - 4 * SAMPLES_PER_AUDIO_POSITION, 1500), Some(1496));
        assert_eq!(
            audio_ctx(27 * SAMPLE_RATE - 3 * SAMPLES_PER_AUDIO_POSITION, 1500),
            None,
            "1504: a full pass"
        );
        assert_eq!(audio_ctx(600 * SAMPLE_RATE, 1500), None);
        // Detection's excerpt has no tail.
        assert_eq!(encoder_positions(GUESS_SECONDS * SAMPLE_RATE, 1500), Some(256));
    }

    #[test]
    fn silence_around_sound_is_left_out() {
        // 3 s of silence, 17 s of sound, 3.4 s of silence.
        let samples = tones(&[(3.0, 0.0), (17.0, 0.3), (3.4, 0.0)]);
        let gate = sound_gate(&samples, -50.0);
        let (start, end) = sound_span(&gate, 0, samples.len()).unwrap();
        // 0.5 s kept on each side of the 30 ms frames with sound (the last one reaches past 20 s).
        assert_eq!(start, 5 * SAMPLE_RATE / 2);
        assert!((41 * SAMPLE_RATE / 2..41 * SAMPLE_RATE / 2 + ENERGY_FRAME).contains(&end), "end {end}");
        // A window of only part of it is trimmed within its own bounds.
        assert_eq!(sound_span(&gate, 10 * SAMPLE_RATE, samples.len()), Some((10 * SAMPLE_RATE, end)));
        assert_eq!(sound_span(&gate, 0, 3 * SAMPLE_RATE), None, "silence alone");
    }

    #[test]
    fn long_sound_goes_one_full_pass_at_a_time_and_ends_in_a_shortened_one() {
        // 2 s of silence, 40 s of sound, 2 s of silence; the model's 30 s are 1500 positions.
        let samples = tones(&[(2.0, 0.0), (40.0, 0.3), (2.0, 0.0)]);
        let gate = sound_gate(&samples, -50.0);
        assert_eq!(
            next_pass(&gate, 0, samples.len(), 1500),
            Some(Pass { start: 0, end: 30 * SAMPLE_RATE, audio_ctx: 1500 }),
            "a full pass keeps a short silence before the sound"
        );
        // Resumed at 28 s: 14.5 s are left, sound and margin, for one shortened pass of them
        // and the 3 s tail.
        assert_eq!(
            next_pass(&gate, 28 * SAMPLE_RATE, samples.len(), 1500),
            Some(Pass { start: 28 * SAMPLE_RATE, end: 85 * SAMPLE_RATE / 2, audio_ctx: (145 + 30) * 5 + 5 })
        );
        assert_eq!(next_pass(&gate, 85 * SAMPLE_RATE / 2, samples.len(), 1500), None, "only silence left");
        assert_eq!(next_pass(&gate, samples.len(), samples.len(), 1500), None, "nothing left");
        // A long silence before the sound is left out.
        let late = tones(&[(12.0, 0.0), (40.0, 0.3)]);
        let gate = sound_gate(&late, -50.0);
        assert_eq!(
            next_pass(&gate, 0, late.len(), 1500),
            Some(Pass { start: 23 * SAMPLE_RATE / 2, end: 83 * SAMPLE_RATE / 2, audio_ctx: 1500 })
        );
        // Ended in sound, in the middle of a gate frame: nothing is left after the end either.
        assert_eq!(late.len() % ENERGY_FRAME, ENERGY_FRAME / 3);
        assert_eq!(next_pass(&gate, late.len(), late.len(), 1500), None);
    }

    fn segment(start: f64, text: &str) -> Segment {
        Segment { start, end: start + 2.0, text: text.into(), no_speech_probability: 0.1, words: vec![] }
    }

    #[test]
    fn looping_text_is_dropped() {
        let gate = vec![true; 1000];
        let speech = segment(0.0, "And so, my fellow Americans, ask not what your country can do for you.");
        assert_eq!(why_dropped(&speech, &gate, 0.6), None);
        let thanks = segment(0.0, "Thank you. Thank you. Thank you. Thank you. Thank you.");
        assert!(
            why_dropped(&thanks, &gate, 0.6).is_some_and(|why| why.starts_with("loops: compression ratio"))
        );
        assert!(why_dropped(&segment(0.0, &"1.0m2.3m".repeat(30)), &gate, 0.6).is_some());
    }

    #[test]
    fn a_line_said_again_over_later_speech_is_dropped() {
        let texts = |segments: Vec<Segment>| segments.into_iter().map(|s| s.text).collect::<Vec<_>>();
        let said = vec![
            segment(0.0, "Il ne doit pas m'étaler."),
            segment(2.0, "Non."),
            segment(4.0, "Où est passé le gardien du phare ?"),
            segment(6.0, "Non !"),
            segment(8.0, "il ne doit pas m’étaler"),
            segment(29.0, "Où est passé le gardien du phare ?"),
            segment(50.0, "Où est passé le gardien du phare ?"),
            segment(90.0, "Où est passé le gardien du phare ?"),
        ];
        assert_eq!(
            texts(without_repeats(said.clone()).0),
            [
                "Il ne doit pas m'étaler.",
                "Non.",
                "Où est passé le gardien du phare ?",
                "Non !",
                "Où est passé le gardien du phare ?"
            ],
            "lines of 16 letters or more said again within 30 s of their last saying are dropped"
        );
        // Each dropped line is kept on record with its rule.
        let dropped = without_repeats(said).1;
        assert_eq!(dropped.iter().map(|d| d.start).collect::<Vec<_>>(), [8.0, 29.0, 50.0]);
        assert!(dropped.iter().all(|d| d.reason.starts_with("repeats a line said within the 30 s")));
    }

    #[test]
    fn whisper_cpp_is_built_with_tiled_matrix_products() {
        assert!(
            built_with_tiled_products(),
            "GGML_LLAMAFILE from .cargo/config.toml did not reach whisper.cpp's build; an older build \
             is not rebuilt when it changes: cargo clean -p whisper-rs-sys"
        );
    }

    #[test]
    fn the_first_token_gives_the_no_speech_share_and_the_likeliest_language() {
        // Tokens: 0 text, 1 <|startoftranscript|>, 2–4 three languages, 5 <|translate|>,
        // 6 <|nospeech|>.
        let probe = |no_speech, languages| PassProbe {
            sot: 1,
            no_speech,
            languages,
            threads: 1,
            encoding: true,
            first_token: None,
            stopped: false,
        };
        let ln2 = std::f32::consts::LN_2;
        let logits = [0.0, f32::NEG_INFINITY, 0.0, ln2, 0.0, 0.0, ln2];
        let read = probe(6, 2..5).read(&logits);
        assert!((read.no_speech_probability - 2.0 / 8.0).abs() < 1e-6, "{read:?}");
        let (language, probability) = read.language.unwrap();
        assert_eq!(language, 1, "the second language");
        assert!((probability - 0.5).abs() < 1e-6, "a share among the languages only: {read:?}");
        let english_only = probe(7, 2..2).read(&logits);
        assert_eq!(english_only, FirstToken::default(), "no languages, and a token outside the logits");
    }

    #[test]
    fn a_segment_stretched_over_silence_is_moved_onto_its_sound() {
        // Sound from 1.02 to 3.51 s (frames 34..117 of 30 ms); whisper said 0–9 s.
        let gate: Vec<bool> = (0..400).map(|frame| (34..117).contains(&frame)).collect();
        let word =
            |text: &str, start: f64, end: f64| Word { start, end, text: text.into(), probability: 0.9 };
        let segment = Segment {
            start: 0.0,
            end: 9.0,
            text: "Wakes before the sun.".into(),
            no_speech_probability: 0.1,
            words: vec![word("Wakes", 0.0, 3.0), word("before", 3.0, 6.0), word("the sun.", 6.0, 9.0)],
        };
        let moved = onto_sound(segment.clone(), &gate);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(moved.start, 1.02) && close(moved.end, 3.51), "{moved:?}");
        let words: Vec<(f64, f64)> = moved.words.iter().map(|w| (w.start, w.end)).collect();
        for ((start, end), expected) in words.iter().zip([(1.02, 1.85), (1.85, 2.68), (2.68, 3.51)]) {
            assert!(close(*start, expected.0) && close(*end, expected.1), "{words:?}");
        }
        // Sound under the whole segment: nothing moves.
        assert_eq!(onto_sound(segment.clone(), &[true; 400]), segment);
    }

    #[test]
    fn two_sentences_apart_by_a_long_silence_go_onto_their_own_sound() {
        // Sound from 1.02 to 3.51 s and from 7.5 to 9.0 s; whisper spread the words evenly.
        let gate: Vec<bool> =
            (0..400).map(|frame| (34..117).contains(&frame) || (250..300).contains(&frame)).collect();
        let word =
            |text: &str, start: f64, end: f64| Word { start, end, text: text.into(), probability: 0.9 };
        let segment = |first_sentence_end: &str| Segment {
            start: 1.0,
            end: 9.0,
            text: String::new(),
            no_speech_probability: 0.1,
            words: vec![
                word("Wakes", 1.0, 3.0),
                word(first_sentence_end, 3.0, 5.0),
                word("Sleeps", 5.0, 7.0),
                word("late.", 7.0, 9.0),
            ],
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let moved = onto_sound(segment("early."), &gate);
        assert!(close(moved.start, 1.02) && close(moved.end, 9.0), "{moved:?}");
        let words: Vec<(f64, f64)> = moved.words.iter().map(|w| (w.start, w.end)).collect();
        let expected = [(1.02, 2.265), (2.265, 3.51), (7.5, 8.25), (8.25, 9.0)];
        for ((start, end), expected) in words.iter().zip(expected) {
            assert!(close(*start, expected.0) && close(*end, expected.1), "{words:?}");
        }
        // No sentence ends there: the words only move along with the segment's start.
        let moved = onto_sound(segment("early"), &gate);
        assert!(close(moved.words[2].start, 1.02 + 4.0 * 7.98 / 8.0), "{moved:?}");
    }

    #[test]
    fn segments_over_silence_are_dropped() {
        let gate = vec![false; 100];
        let segment = Segment {
            start: 0.0,
            end: 1.0,
            text: "Thank you.".into(),
            no_speech_probability: 0.1,
            words: vec![],
        };
        assert!(why_dropped(&segment, &gate, 0.6).is_some_and(|why| why.starts_with("over silence")));
        let gate = vec![true; 100];
        assert_eq!(why_dropped(&segment, &gate, 0.6), None);
    }
}
