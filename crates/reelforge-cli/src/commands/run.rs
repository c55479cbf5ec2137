//! `reelforge run`: a pipeline file on one episode, with the cache.

use std::path::PathBuf;

use clap::Args;
use reelforge_core::{Classify, ProgressSink};
use reelforge_pipeline::{Pipeline, RunOptions, StageName, StageStatus};

use crate::failure::CliError;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (YAML), e.g. pipelines/default.yaml; the built-in default when omitted.
    pub pipeline: Option<PathBuf>,
    /// The episode to process.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Where every stage writes its folder (created if missing). Reuse it to resume.
    #[arg(long, short)]
    pub workdir: PathBuf,
    /// Run just this stage (its upstream stages must be complete in WORKDIR), as a farm task does.
    #[arg(long, value_name = "STAGE")]
    pub only: Option<String>,
    /// Rerun stages even when their cached outputs are up to date.
    #[arg(long)]
    pub force: bool,
    /// When another run is writing a stage folder of WORKDIR, exit 1 at once instead of
    /// waiting for it.
    #[arg(long)]
    pub no_wait: bool,
}

pub fn run(args: &RunArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    let pipeline = match &args.pipeline {
        Some(path) => Pipeline::load(path)?,
        None => Pipeline::builtin_default()?,
    };
    // What needs the input is checked before any stage starts; a missing input is the
    // executor's to report.
    reelforge_stages::preflight::check_models(&pipeline)?;
    if args.input.is_file() {
        let media = reelforge_media::probe(&args.input)?;
        reelforge_stages::preflight::preflight(&pipeline, &media)?;
    }
    let mut options = RunOptions::new(env!("CARGO_PKG_VERSION"));
    options.force = args.force;
    options.wait_for_locks = !args.no_wait;
    options.only = match &args.only {
        Some(name) => Some(name.parse::<StageName>().map_err(|e| CliError::config(format!("--only: {e}")))?),
        None => None,
    };
    let report = reelforge_pipeline::run(
        &pipeline,
        &args.input,
        &args.workdir,
        &options,
        &reelforge_stages::Runner,
        progress,
    )?;

    for stage in &report.stages {
        let status = match &stage.status {
            StageStatus::Cached { .. } => "cached".to_owned(),
            StageStatus::Ran { seconds, summary, .. } => match summary {
                Some(summary) => format!("ran in {seconds:.1} s: {summary}"),
                None => format!("ran in {seconds:.1} s"),
            },
            StageStatus::Failed { error } => format!("FAILED: {}", error.chain_text()),
            StageStatus::Skipped { because } => format!("skipped ({because} did not complete)"),
        };
        println!("{:<11} {status:<60} {}", stage.stage.as_str(), stage.dir.display());
    }
    println!("pipeline `{}` finished in {:.1} s", report.pipeline, report.total_seconds);
    if let Some((stage, error)) = report.first_failure() {
        return Err(CliError {
            class: error.class(),
            message: format!("stage `{stage}` failed: {}", error.chain_text()),
        }
        .into());
    }
    Ok(())
}
