//! `reelforge qc`: checks deliverables against style-guide rules.

use std::path::{Path, PathBuf};

use crate::failure::CliError;
use clap::Subcommand;
use reelforge_pipeline::StageManifest;
use reelforge_subtitles::{CueRules, formats, qc};

#[derive(Debug, Subcommand)]
pub enum QcCommand {
    /// Report every rule violation in an SRT or WebVTT file (Netflix style-guide defaults).
    #[command(after_help = "Exit code 0 when clean, 1 when any rule is violated.")]
    Subtitles {
        /// The SRT or WebVTT file.
        file: PathBuf,
        /// shots.json from the shots stage: cues must not cross its cuts (its frame rate is used).
        #[arg(long)]
        shots: Option<PathBuf>,
        /// Frame rate for frame-based rules (default: from --shots, else 25).
        #[arg(long)]
        fps: Option<f64>,
        /// Reading speed limit in characters per second.
        #[arg(long, default_value_t = 17.0)]
        max_cps: f64,
        /// Print the violations as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &QcCommand) -> anyhow::Result<()> {
    let QcCommand::Subtitles { file, shots, fps, max_cps, json } = command;
    let cues = formats::read_subtitles(file)?;
    let (shots_fps, cuts) = match shots {
        Some(path) => {
            same_input(file, path)?;
            let shots = reelforge_stages::documents::read_shots_file(path)?;
            (Some(shots.fps()).filter(|fps| *fps > 0.0), shots.shot_changes())
        }
        None => (None, Vec::new()),
    };
    let fps = fps.or(shots_fps).filter(|f| *f > 0.0).unwrap_or(25.0);
    let rules = CueRules { max_chars_per_second: *max_cps, ..CueRules::default() };
    let violations = qc::check(&cues, &rules, *max_cps, fps, &cuts);
    if *json {
        println!("{}", serde_json::to_string_pretty(&violations)?);
    } else {
        for v in &violations {
            println!("cue {}: {}: {}", v.cue, v.rule, v.detail);
        }
        println!("{}: {} cues, {} violations", file.display(), cues.len(), violations.len());
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(CliError {
            class: reelforge_core::ErrorClass::Other,
            message: format!("{} rule violations", violations.len()),
        }
        .into())
    }
}

/// Subtitles checked against the cuts of another episode would report nonsense: when both
/// files sit in reelforge stage folders, their manifests must name the same input.
fn same_input(subtitles: &Path, shots: &Path) -> anyhow::Result<()> {
    let manifest_of = |file: &Path| file.parent().and_then(StageManifest::read);
    if let (Some(cues), Some(cuts)) = (manifest_of(subtitles), manifest_of(shots))
        && cues.input.blake3 != cuts.input.blake3
    {
        return Err(CliError::config(format!(
            "{} is from {} but {} is from {} (the file contents differ); check subtitles against \
             the shots of the same episode",
            subtitles.display(),
            cues.input.path.display(),
            shots.display(),
            cuts.input.path.display()
        ))
        .into());
    }
    Ok(())
}
