//! `reelforge trailer`: the trailer stage on its own. Without `--shots` the shots stage runs
//! first into a temporary folder, as the trailer cannot be cut without knowing the cuts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reelforge_core::ProgressSink;
use reelforge_pipeline::{Pipeline, StageConfig, StageName};

#[derive(Debug, Args)]
#[command(after_help = "Writes DIR/trailer.mp4 (H.264 + AAC, loudness-normalised, exactly --duration \
seconds to the frame, ending on the pipeline's title_card if it sets one), DIR/trailer.otio (video and \
audio tracks, dissolves, the title card), DIR/trailer.edl (CMX3600: video and audio events, the card as \
black) and DIR/trailer.json (every clip with the scores that chose it and where in its shot it sits). \
30, 60 and 90 s are the usual cuts; any length from 5 s the episode has footage for works. DIR is \
replaced as a whole when the run completes.")]
pub struct TrailerArgs {
    /// The episode to cut a trailer from.
    pub input: PathBuf,
    /// Output folder (created or replaced when complete).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Trailer length in seconds (default: the pipeline's, else 30).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u32>,
    /// Take trailer (and shots) settings from this pipeline file (default: built-in defaults).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// A finished shots folder for this input (from `reelforge shots`); skips running shots.
    #[arg(long, value_name = "DIR")]
    pub shots: Option<PathBuf>,
    /// A finished subtitles folder for this input: dialogue then counts in the scores.
    #[arg(long, value_name = "DIR")]
    pub subtitles: Option<PathBuf>,
}

pub fn run(args: &TrailerArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let pipeline = args.pipeline.as_deref().map(Pipeline::load).transpose()?;
    let configured = |name: StageName| {
        pipeline
            .as_ref()
            .and_then(|p| p.stage(name))
            .cloned()
            .unwrap_or_else(|| StageConfig::with_defaults(name))
    };
    let mut stage = configured(StageName::Trailer);
    if let (StageConfig::Trailer(settings), Some(seconds)) = (&mut stage, args.duration) {
        settings.duration_seconds = seconds;
    }
    // Before the shots stage spends time on the input.
    stage.check("reelforge trailer")?;
    // Kept alive until the trailer stage has read the shots it produced.
    let temporary = tempfile::tempdir().context("creating a temporary folder for shots")?;
    let shots_dir = match &args.shots {
        Some(dir) => dir.clone(),
        None => {
            let dir = temporary.path().join("shots");
            super::run_stage(&configured(StageName::Shots), &args.input, &dir, &BTreeMap::new(), progress)?;
            dir
        }
    };
    let mut upstream = BTreeMap::from([(StageName::Shots, shots_dir)]);
    if let Some(dir) = &args.subtitles {
        upstream.insert(StageName::Subtitles, dir.clone());
    }
    let manifest = super::run_stage(&stage, &args.input, &args.out, &upstream, progress)?;
    println!("{}: {}", args.out.display(), manifest.summary.as_deref().unwrap_or("done"));
    Ok(())
}
