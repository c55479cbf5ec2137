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

/// `reelforge schema`: the JSON Schema of pipeline files.
pub fn print_schema() -> anyhow::Result<()> {
    let schema = serde_json::to_string_pretty(&reelforge_pipeline::json_schema())?;
    println!("{schema}");
    Ok(())
}
