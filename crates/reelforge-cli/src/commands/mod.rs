//! One module per subcommand; each turns parsed arguments into library calls.

pub mod artwork;
pub mod bench;
pub mod eval;
pub mod farm;
pub mod models;
pub mod probe;
pub mod qc;
pub mod renditions;
pub mod run;
pub mod sample;
pub mod shots;
pub mod subtitles;
pub mod trailer;
pub mod validate;

/// `reelforge schema`: the JSON Schema of pipeline files.
pub fn print_schema() -> anyhow::Result<()> {
    let schema = serde_json::to_string_pretty(&reelforge_pipeline::json_schema())?;
    println!("{schema}");
    Ok(())
}

/// The `name` stage as the `--pipeline` file configures it, else at its defaults.
pub fn configured_stage(
    pipeline: Option<&std::path::Path>,
    name: reelforge_pipeline::StageName,
) -> anyhow::Result<reelforge_pipeline::StageConfig> {
    let configured = match pipeline {
        Some(path) => reelforge_pipeline::Pipeline::load(path)?.stage(name).cloned(),
        None => None,
    };
    Ok(configured.unwrap_or_else(|| reelforge_pipeline::StageConfig::with_defaults(name)))
}

/// Runs one stage on its own into `out` (replaced whole when complete), as the standalone
/// stage commands do.
pub fn run_stage(
    stage: &reelforge_pipeline::StageConfig,
    input: &std::path::Path,
    out: &std::path::Path,
    upstream: &std::collections::BTreeMap<reelforge_pipeline::StageName, std::path::PathBuf>,
    progress: &dyn reelforge_core::ProgressSink,
) -> Result<reelforge_pipeline::StageManifest, reelforge_pipeline::PipelineError> {
    reelforge_pipeline::run_stage_into(
        stage,
        input,
        out,
        upstream,
        env!("CARGO_PKG_VERSION"),
        &reelforge_stages::Runner,
        progress,
    )
}
