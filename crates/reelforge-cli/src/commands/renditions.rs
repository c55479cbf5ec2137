//! `reelforge renditions`: the adaptive-bitrate ladder on its own, into any folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use reelforge_core::ProgressSink;
use reelforge_pipeline::{StageConfig, StageName};

#[derive(Debug, Args)]
#[command(after_help = "Writes DIR/media/<track>/ (CMAF init + ~6 s fMP4 segments, shared), \
DIR/subtitles/ (with --subtitles), DIR/hls/master.m3u8 (+ media, I-frame and subtitle playlists), DIR/dash/manifest.mpd and DIR/renditions.json. \
DIR is replaced as a whole when the run completes.")]
pub struct RenditionsArgs {
    /// The episode to encode.
    pub input: PathBuf,
    /// Output folder (created or replaced when complete).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Take the ladder and settings from the `renditions:` stage of this pipeline file
    /// (default: Apple's H.264 ladder trimmed to the source).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// A folder written by `reelforge shots`: with `--keyframes-at-cuts`, IDR frames go at its cuts too.
    #[arg(long)]
    pub shots: Option<PathBuf>,
    /// Put an IDR frame at every shot cut (needs `--shots`).
    #[arg(long, requires = "shots")]
    pub keyframes_at_cuts: bool,
    /// A folder written by `reelforge subtitles`: its WebVTT tracks are packaged beside the
    /// media (segmented like it for HLS, whole for DASH).
    #[arg(long)]
    pub subtitles: Option<PathBuf>,
}

pub fn run(args: &RenditionsArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let mut stage = super::configured_stage(args.pipeline.as_deref(), StageName::Renditions)?;
    if let StageConfig::Renditions(settings) = &mut stage {
        settings.keyframes_at_cuts |= args.keyframes_at_cuts;
    }
    let upstream: BTreeMap<StageName, PathBuf> = args
        .shots
        .iter()
        .map(|dir| (StageName::Shots, dir.clone()))
        .chain(args.subtitles.iter().map(|dir| (StageName::Subtitles, dir.clone())))
        .collect();
    let manifest = super::run_stage(&stage, &args.input, &args.out, &upstream, progress)?;
    println!("{}: {}", args.out.display(), manifest.summary.as_deref().unwrap_or("done"));
    println!("  HLS:  {}", args.out.join("hls/master.m3u8").display());
    println!("  DASH: {}", args.out.join("dash/manifest.mpd").display());
    Ok(())
}
