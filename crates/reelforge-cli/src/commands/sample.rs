//! `reelforge sample`: the bundled sample episode, generated.

use std::path::PathBuf;

use clap::Args;
use reelforge_core::ProgressSink;
use reelforge_media::SampleSpec;

use crate::failure::CliError;

#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/episode.mp4 (H.264 + two AAC tracks: English `eng` and French `fra` speech \
made with espeak-ng) and DIR/truth.json (cut, fade and dissolve frames; the spoken lines and their times)."
)]
pub struct SampleArgs {
    /// Output folder.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Picture size as WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    pub size: String,
    /// Length in seconds (at least 30: the shot plan needs room).
    #[arg(long, default_value_t = 60)]
    pub duration: u32,
}

pub fn run(args: &SampleArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let (width, height) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| *w >= 64 && *h >= 64 && w % 2 == 0 && h % 2 == 0)
        .ok_or_else(|| {
            CliError::config(format!(
                "--size {}: expected WIDTHxHEIGHT with even numbers ≥ 64, e.g. 1920x1080",
                args.size
            ))
        })?;
    let spec = SampleSpec { width, height, duration_seconds: args.duration, ..SampleSpec::default() };
    let truth = reelforge_media::generate_sample(&spec, &args.out, progress)?;
    println!(
        "{}: {} frames, {} shots, {} transitions, {} spoken lines",
        args.out.join("episode.mp4").display(),
        truth.frame_count,
        truth.shots.len(),
        truth.transitions.len(),
        truth.speech.len()
    );
    Ok(())
}
