//! Speech recognition (whisper-rs), cue segmentation and timing rules, SRT/WebVTT/TTML.
//!
//! Without the `recognition` feature the crate is settings, cue rules, formats, QC and the
//! model catalogue only, and does not link whisper.cpp (the pipeline and farm crates use it so).

#[cfg(feature = "recognition")]
pub mod convert;
pub mod cues;
mod error;
#[cfg(feature = "recognition")]
mod fetch;
pub mod formats;
pub mod languages;
pub mod models;
pub mod qc;
#[cfg(feature = "recognition")]
pub mod recognize;

use reelforge_core::suggest::did_you_mean;
use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cues::{Cue, CueRules};
pub use error::SubtitleError;
pub use languages::iso639_1;

/// Settings of the `subtitles` stage, as written under `subtitles:` in a pipeline file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SubtitleSettings {
    /// `tiny.en`, `base` (fetched with `reelforge models fetch`) or the path of any
    /// whisper.cpp ggml-*.bin file (default: `base`).
    pub model: Option<String>,
    /// Spoken language per audio stream (0-based), e.g. `[en, fr]`; an empty or missing entry
    /// takes the stream's language tag, else detects it (default: detect).
    pub languages: Vec<String>,
    /// Ignore the streams' language tags and always detect (default: false).
    pub detect_language: bool,
    /// Also write an English translation of every non-English stream (default: false).
    pub translate: bool,
    /// Beam size; 1 = greedy (default 5).
    #[schemars(range(min = 1, max = 8))]
    pub beam_size: Option<u32>,
    /// Whisper threads (default: all cores, at most 4; half the cores when other stages of
    /// the same wave run beside it).
    #[schemars(range(min = 1, max = 64))]
    pub threads: Option<u32>,
    /// Drop segments whisper rates above this no-speech probability when their words are
    /// unsure (default 0.6).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub no_speech_threshold: Option<f32>,
    /// Audio quieter than this RMS level (dBFS) is not transcribed (default -50).
    #[schemars(range(min = -120.0, max = 0.0))]
    pub energy_gate_db: Option<f32>,
    /// Frame rate for cue timing when there is no shots stage (default 25).
    #[schemars(range(min = 1.0, max = 240.0))]
    pub fps: Option<f64>,
    /// Cue rules (Netflix Timed Text Style Guide defaults).
    pub rules: CueRules,
}

impl SubtitleSettings {
    pub fn model_name(&self) -> &str {
        self.model.as_deref().unwrap_or("base")
    }

    /// Leaves CPU for `stages` other stages running at the same time, unless the threads are
    /// set explicitly. ggml's threads meet at a spinning barrier after every operation: when
    /// one of them is descheduled the others burn their time slices waiting (a full pipeline
    /// took 618 s instead of 74 s while a build ran beside it), so whisper gets half the cores
    /// — one on a 2-core machine, where no barrier is needed at all.
    pub fn share_cpu_with(&mut self, stages: usize) {
        if stages > 0 && self.threads.is_none() {
            self.threads = Some((available_cores() / 2).clamp(1, MAX_THREADS));
        }
    }

    /// Unless set, the whisper threads fit the cores that are idle now (measured over 0.2 s),
    /// for the same reason: other programs, such as a build, may keep the machine busy.
    pub fn fit_threads_to_idle_cores(&mut self) {
        if self.threads.is_none() {
            self.threads = Some(threads_for_idle_cores(idle_cores(), available_cores()));
        }
    }

    /// The language stream `stream` is recognised in: its `languages` entry, else its tag
    /// (`tag`, ISO 639-2 from the container) unless `detect_language`; `None` detects it.
    pub fn language_of(&self, stream: usize, tag: Option<&str>) -> Option<String> {
        let configured = self.languages.get(stream).filter(|l| !l.is_empty()).cloned();
        let tagged = if self.detect_language { None } else { tag.and_then(iso639_1) };
        configured.or(tagged)
    }

    /// Recognition options for one stream; `tag` is the stream's language tag if any.
    #[cfg(feature = "recognition")]
    pub fn options(&self, stream: usize, tag: Option<&str>, translate: bool) -> recognize::RecognizeOptions {
        recognize::RecognizeOptions {
            language: self.language_of(stream, tag),
            translate,
            beam_size: self.beam_size.unwrap_or(5),
            threads: self.threads.unwrap_or_else(|| available_cores().clamp(1, MAX_THREADS)),
            no_speech_threshold: self.no_speech_threshold.unwrap_or(0.6),
            energy_gate_db: self.energy_gate_db.unwrap_or(-50.0),
            window_seconds: 600,
        }
    }
}

/// Whisper threads by default at most: ggml threads spin, more rarely helps and starves
/// decoding running beside it.
const MAX_THREADS: u32 = 4;

fn available_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// One thread per idle core (rounded), at least one and at most [`MAX_THREADS`]; all cores
/// when unknown.
fn threads_for_idle_cores(idle: Option<f64>, cores: u32) -> u32 {
    let idle = idle.map_or(cores, |idle| idle.round().max(0.0) as u32);
    idle.clamp(1, cores.clamp(1, MAX_THREADS))
}

/// Cores left idle by every process over 0.2 s, from the kernel's CPU counters (Linux).
fn idle_cores() -> Option<f64> {
    // user nice system idle iowait irq softirq steal (guest time is already in user/nice).
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let ticks: Vec<u64> =
            line.split_whitespace().take(8).map(|t| t.parse().ok()).collect::<Option<_>>()?;
        Some((ticks.get(3)? + ticks.get(4)?, ticks.iter().sum()))
    }
    let (idle_before, total_before) = sample()?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (idle_after, total_after) = sample()?;
    let total = total_after.checked_sub(total_before).filter(|t| *t > 0)?;
    let idle = idle_after.checked_sub(idle_before)?;
    Some(idle as f64 / total as f64 * available_cores() as f64)
}

impl CheckSettings for SubtitleSettings {
    /// Ranges are in the schema; these rules need the model catalogue and whisper's languages.
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        if let Some(model) = &self.model
            && models::parse_name(model).is_none()
            && !std::path::Path::new(model).is_file()
        {
            let names: Vec<&str> = models::MODELS.iter().map(|spec| spec.name).collect();
            problems.push(SettingProblem::new(
                "model",
                format!(
                    "is `{model}`: not a model reelforge knows nor an existing file{} (known: {}, each \
                     optionally quantised as e.g. base-q8_0; or the path of a ggml-*.bin file)",
                    did_you_mean(model, names.iter().copied()),
                    names.join(", ")
                ),
            ));
        }
        for (stream, language) in self.languages.iter().enumerate() {
            if !language.is_empty() && !languages::is_whisper_language(language) {
                problems.push(SettingProblem::new(
                    format!("languages[{stream}]"),
                    format!(
                        "is `{language}`{}, not a language whisper knows (ISO 639-1 codes such as \
                         en, fr, de, es; empty to use the stream's tag)",
                        did_you_mean(language, languages::WHISPER_LANGUAGES.iter().copied())
                    ),
                ));
            }
        }
        problems.extend(
            self.rules
                .problems()
                .into_iter()
                .map(|problem| SettingProblem { field: format!("rules.{}", problem.field), ..problem }),
        );
        problems
    }
}

#[cfg(all(test, feature = "recognition"))]
mod tests {
    use super::*;

    #[test]
    fn language_tags_map_to_whisper_codes() {
        assert_eq!(iso639_1("eng").as_deref(), Some("en"));
        assert_eq!(iso639_1("FRE").as_deref(), Some("fr"));
        assert_eq!(iso639_1("und"), None);
        assert_eq!(iso639_1("de").as_deref(), Some("de"));
        let settings = SubtitleSettings { languages: vec![String::new(), "es".into()], ..Default::default() };
        assert_eq!(settings.options(0, Some("fra"), false).language.as_deref(), Some("fr"));
        assert_eq!(settings.options(1, Some("fra"), false).language.as_deref(), Some("es"));
        let detect = SubtitleSettings { detect_language: true, ..Default::default() };
        assert_eq!(detect.options(0, Some("fra"), false).language, None);
    }

    #[test]
    fn stages_beside_whisper_halve_its_threads_unless_set() {
        let cores = available_cores();
        let mut alone = SubtitleSettings::default();
        alone.share_cpu_with(0);
        assert_eq!(alone.options(0, None, false).threads, cores.clamp(1, 4));
        let mut shared = SubtitleSettings::default();
        shared.share_cpu_with(2);
        assert_eq!(shared.options(0, None, false).threads, (cores / 2).clamp(1, 4));
        let mut explicit = SubtitleSettings { threads: Some(3), ..Default::default() };
        explicit.share_cpu_with(2);
        explicit.fit_threads_to_idle_cores();
        assert_eq!(explicit.options(0, None, false).threads, 3);
    }

    #[test]
    fn busy_cores_leave_whisper_fewer_threads() {
        assert_eq!(threads_for_idle_cores(Some(1.9), 2), 2);
        assert_eq!(threads_for_idle_cores(Some(1.2), 2), 1);
        assert_eq!(threads_for_idle_cores(Some(0.1), 2), 1);
        assert_eq!(threads_for_idle_cores(Some(7.6), 16), 4);
        assert_eq!(threads_for_idle_cores(None, 2), 2);
        let idle = idle_cores().expect("/proc/stat is readable on Linux");
        assert!((0.0..=available_cores() as f64 + 0.01).contains(&idle), "{idle}");
    }
}
