//! `reelforge validate`: every check `plan` and `run` make before any stage starts, and what
//! would run, without touching a workdir.

use std::path::PathBuf;

use clap::Args;
use reelforge_pipeline::Pipeline;

#[derive(Debug, Args)]
#[command(after_help = "Exit 0 when the pipeline would run; 2 for a settings error (each named by \
file:line:column, field, value and what is valid), 4 for a missing model (with the command that \
installs it), 3 for an input that cannot be read.")]
pub struct ValidateArgs {
    /// The pipeline file (YAML) to check.
    pub pipeline: PathBuf,
    /// Also check what needs the input: the streams each stage reads, the length a trailer
    /// needs, the frame rate.
    #[arg(long, short)]
    pub input: Option<PathBuf>,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    let pipeline = Pipeline::load(&args.pipeline)?;
    reelforge_stages::preflight::check_models(&pipeline)?;
    if let Some(input) = &args.input {
        let media = reelforge_media::probe(input)?;
        reelforge_stages::preflight::preflight(&pipeline, &media)?;
    }
    let checked = match &args.input {
        Some(input) => format!(" for {}", input.display()),
        None => String::new(),
    };
    println!("{}: valid{checked}; pipeline `{}` would run:", args.pipeline.display(), pipeline.name());
    for (position, wave) in pipeline.waves().iter().enumerate() {
        let stages: Vec<String> = wave
            .iter()
            .map(|&stage| {
                if pipeline.is_implied(stage) {
                    format!("{stage} (implied, default settings)")
                } else {
                    stage.to_string()
                }
            })
            .collect();
        println!("  {}. {}", position + 1, stages.join(", "));
    }
    Ok(())
}
