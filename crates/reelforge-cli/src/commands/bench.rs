//! `reelforge bench`: speed figures (scripts/bench-* put them next to other tools').

use std::path::PathBuf;

use clap::Subcommand;
use reelforge_core::ProgressSink;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Frames per second of the one decode pass (compare: scripts/bench-decode).
    Decode {
        input: PathBuf,
        /// Also scale every frame to a grey analysis frame this wide (what analyzers cost on top).
        #[arg(long)]
        analysis_width: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &BenchCommand, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    match command {
        BenchCommand::Decode { input, analysis_width, json } => {
            let bench = reelforge_media::bench_decode(input, *analysis_width, progress)?;
            if *json {
                println!("{}", serde_json::to_string(&bench)?);
            } else {
                let what = analysis_width
                    .map_or_else(|| "decode only".to_owned(), |w| format!("decode + {w} px scale"));
                println!(
                    "{}: {} frames in {:.2} s = {:.1} frames/s ({what})",
                    input.display(),
                    bench.frames,
                    bench.seconds,
                    bench.frames_per_second
                );
            }
            Ok(())
        }
    }
}
