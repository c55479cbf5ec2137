//! `reelforge shots`: the shots stage on its own, into any folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use reelforge_core::ProgressSink;
use reelforge_pipeline::{StageConfig, StageName};

#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/shots.json, shots.csv, shots.otio (OpenTimelineIO), shots.edl (CMX3600), \
shots.fcpxml (Final Cut Pro X), shots.fcp7.xml (Final Cut 7 XML: Premiere Pro, DaVinci Resolve) and \
keyframes/shot_NNN.jpg. Fades and dissolves are transitions in every edit file. DIR is replaced as a whole \
when the run completes."
)]
pub struct ShotsArgs {
    /// The video to analyse.
    pub input: PathBuf,
    /// Output folder (created or replaced when complete).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Take detector settings from the `shots:` stage of this pipeline file (default: built-in defaults).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// Override the minimum shot length in frames.
    #[arg(long)]
    pub min_shot_frames: Option<u32>,
}

pub fn run(args: &ShotsArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let mut stage = super::configured_stage(args.pipeline.as_deref(), StageName::Shots)?;
    if let (StageConfig::Shots(settings), Some(frames)) = (&mut stage, args.min_shot_frames) {
        settings.min_shot_frames = frames;
    }
    let manifest = super::run_stage(&stage, &args.input, &args.out, &BTreeMap::new(), progress)?;
    println!("{}: {}", args.out.display(), manifest.summary.as_deref().unwrap_or("done"));
    Ok(())
}
