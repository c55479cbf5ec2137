//! `reelforge artwork`: the artwork stage on its own, and `reelforge artwork learn`, which
//! updates the per-profile bandit from an impressions log.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use reelforge_artwork::{ArtworkSettings, BanditState, Features};
use reelforge_core::{Classify, ProgressSink};
use reelforge_pipeline::{Pipeline, StageConfig, StageName};
use reelforge_shots::ShotSettings;
use reelforge_stages::documents;

use crate::failure::CliError;

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Writes DIR/artwork.json (every pick with its scores and reasons), DIR/<profile>/<rank>_<crop>.jpg \
and .webp at each delivery size, DIR/sprite_NNN.jpg and DIR/thumbnails.vtt (trick-play scrubbing previews). \
Without --shots, the shots stage runs first into a temporary folder (a second decode of the input). \
DIR is replaced as a whole when the run completes."
)]
pub struct ArtworkArgs {
    #[command(subcommand)]
    pub command: Option<ArtworkCommand>,
    // Options so that `artwork learn` parses without them; clap still requires them otherwise.
    /// The video to pick thumbnails from.
    #[arg(required = true)]
    pub input: Option<PathBuf>,
    /// Output folder (created or replaced when complete).
    #[arg(short, long, required = true)]
    pub out: Option<PathBuf>,
    /// Take artwork (and shots) settings from this pipeline file (default: built-in defaults).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// A finished shots folder for this input (from `reelforge shots` or WORKDIR/shots); skips
    /// running the shots stage.
    #[arg(long, value_name = "DIR")]
    pub shots: Option<PathBuf>,
    /// Rank learned profiles with this bandit state (from `reelforge artwork learn`).
    #[arg(long, value_name = "STATE.json")]
    pub bandit_state: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ArtworkCommand {
    /// Update the per-profile bandit from an impressions log (CSV).
    #[command(
        after_help = "The log is CSV with a header naming the columns profile,image_id,impressions,clicks \
(any order, no quoting). A row may aggregate (`action,f000412-9c0e13a2b4f07788,1200,57`) or stand for \
one impression (impressions 1, clicks 0 or 1). image_id is a pick's image_id in artwork.json; pass \
every artwork.json the logged images came from. The state is created if missing, otherwise added to."
    )]
    Learn(LearnArgs),
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The impressions log (CSV).
    #[arg(long, value_name = "LOG.csv")]
    pub impressions: PathBuf,
    /// The bandit state to update (JSON; created if missing).
    #[arg(long, value_name = "STATE.json")]
    pub state: PathBuf,
    /// artwork.json files that define the logged image ids (repeatable).
    #[arg(long = "artwork", value_name = "artwork.json", required = true)]
    pub artwork: Vec<PathBuf>,
}

pub fn run(args: &ArtworkArgs, progress: &dyn ProgressSink) -> anyhow::Result<()> {
    if let Some(ArtworkCommand::Learn(learn_args)) = &args.command {
        return learn(learn_args);
    }
    let (Some(input), Some(out)) = (&args.input, &args.out) else {
        return Err(CliError::config("artwork needs INPUT and --out DIR").into());
    };
    let pipeline = args.pipeline.as_deref().map(Pipeline::load).transpose()?;
    let mut settings = match pipeline.as_ref().and_then(|p| p.stage(StageName::Artwork)) {
        Some(StageConfig::Artwork(settings)) => settings.clone(),
        _ => ArtworkSettings::default(),
    };
    if let Some(state) = &args.bandit_state {
        settings.bandit_state = Some(state.clone());
    }
    let stage = StageConfig::Artwork(settings);
    // Before the shots stage spends time on the input.
    stage.check("reelforge artwork")?;
    // Kept alive until the artwork stage has read the shots it produced.
    let temporary = tempfile::tempdir().context("creating a temporary folder for shots")?;
    let shots_dir = match &args.shots {
        Some(dir) => dir.clone(),
        None => {
            let shot_settings = match pipeline.as_ref().and_then(|p| p.stage(StageName::Shots)) {
                Some(StageConfig::Shots(settings)) => settings.clone(),
                _ => ShotSettings::default(),
            };
            let dir = temporary.path().join("shots");
            super::run_stage(&StageConfig::Shots(shot_settings), input, &dir, &BTreeMap::new(), progress)?;
            dir
        }
    };
    let manifest =
        super::run_stage(&stage, input, out, &BTreeMap::from([(StageName::Shots, shots_dir)]), progress)?;
    println!("{}: {}", out.display(), manifest.summary.as_deref().unwrap_or("done"));
    Ok(())
}

fn learn(args: &LearnArgs) -> anyhow::Result<()> {
    let mut catalogue: HashMap<String, Features> = HashMap::new();
    for path in &args.artwork {
        catalogue.extend(read_catalogue(path)?);
    }
    let mut state = match std::fs::read_to_string(&args.state) {
        Ok(text) => BanditState::from_json(&text).map_err(|e| classified(&args.state, &e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BanditState::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", args.state.display())),
    };
    let log = std::fs::read_to_string(&args.impressions)
        .with_context(|| format!("reading {}", args.impressions.display()))?;
    let summary =
        state.learn(&log, |id| catalogue.get(id).copied()).map_err(|e| classified(&args.impressions, &e))?;
    reelforge_core::output::write_file_atomic(&args.state, state.to_json().as_bytes())
        .with_context(|| format!("writing {}", args.state.display()))?;
    let profiles: Vec<String> = state
        .profiles
        .iter()
        .map(|(name, model)| format!("{name} ({} impressions, {} clicks)", model.impressions, model.clicks))
        .collect();
    println!(
        "{}: learned {} rows ({} impressions, {} clicks); profiles now: {}",
        args.state.display(),
        summary.rows,
        summary.impressions,
        summary.clicks,
        profiles.join(", ")
    );
    Ok(())
}

/// image_id → features of every pick in one artwork.json.
fn read_catalogue(path: &Path) -> anyhow::Result<Vec<(String, Features)>> {
    let document = documents::read_artwork_file(path)?;
    Ok(document
        .profiles
        .into_iter()
        .flat_map(|profile| profile.picks)
        .map(|pick| (pick.image_id, pick.features))
        .collect())
}

/// Keeps the library error's class (a bad log or state is a usage error, exit 2).
fn classified(path: &Path, error: &(impl Classify + std::fmt::Display)) -> CliError {
    CliError { class: error.class(), message: format!("{}: {error}", path.display()) }
}
