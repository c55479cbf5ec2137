//! `reelforge subtitles`: the subtitles stage on its own, into any folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use reelforge_core::ProgressSink;
use reelforge_pipeline::{StageConfig, StageName};

#[derive(Debug, Args)]
#[command(after_help = "Writes DIR/<lang>.srt, <lang>.vtt, <lang>.ttml (IMSC1 text) per audio stream \
(translations: en-from-<lang>.*) and DIR/subtitles.json with segments, word timings, detected \
language and confidence. A missing model exits with code 4: fetch it with `reelforge models fetch base`.")]
pub struct SubtitlesArgs {
    /// The video or audio file.
    pub input: PathBuf,
    /// Output folder (created or replaced when complete).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Take settings from the `subtitles:` stage of this pipeline file.
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// `tiny.en`, `base` or the path of a ggml-*.bin model.
    #[arg(long)]
    pub model: Option<String>,
    /// Spoken language per audio stream, in stream order (repeat: --language en --language fr).
    #[arg(long = "language")]
    pub languages: Vec<String>,
    /// Also translate non-English speech to English.
    #[arg(long)]
    pub translate: bool,
    /// Whisper threads.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Beam size (1 = greedy).
    #[arg(long)]
    pub beam_size: Option<u32>,
    /// A shots stage folder (with shots.json and manifest.json): cues respect its cuts.
    #[arg(long)]
    pub shots: Option<PathBuf>,
}

pub fn run(args: &SubtitlesArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let mut stage = super::configured_stage(args.pipeline.as_deref(), StageName::Subtitles)?;
    if let StageConfig::Subtitles(settings) = &mut stage {
        if args.model.is_some() {
            settings.model.clone_from(&args.model);
        }
        if !args.languages.is_empty() {
            settings.languages.clone_from(&args.languages);
        }
        settings.translate |= args.translate;
        settings.threads = args.threads.or(settings.threads);
        settings.beam_size = args.beam_size.or(settings.beam_size);
    }
    let mut upstream = BTreeMap::new();
    if let Some(shots) = &args.shots {
        upstream.insert(StageName::Shots, shots.clone());
    }
    let manifest = super::run_stage(&stage, &args.input, &args.out, &upstream, progress)?;
    println!("{}: {}", args.out.display(), manifest.summary.as_deref().unwrap_or("done"));
    Ok(())
}
