//! The `reelforge` command. Thin: parses arguments, wires library crates together, renders
//! progress and turns errors into one-line messages with exit codes.

mod commands;
mod failure;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clap_complete::Shell;

use crate::progress::ProgressMode;

const EXAMPLES: &str = "\
Examples:
  reelforge sample --out demo                      # generate the bundled sample episode
  reelforge probe demo/episode.mp4                 # what is in a media file
  reelforge run pipelines/full.yaml --input demo/episode.mp4 --workdir demo/work
                                                   # every stage; rerun: cached stages are skipped
  reelforge shots demo/episode.mp4 -o demo/shots   # one stage on its own (also: subtitles,
                                                   # artwork, trailer, renditions)
  reelforge models fetch tiny.en                   # a Whisper model for subtitles
  reelforge plan pipelines/full.yaml --input EP --workdir /shared/w && reelforge submit --scheduler slurm /shared/w/plan.json
  reelforge schema > pipeline.schema.json          # JSON Schema for editors

Exit codes: 0 ok, 1 other failure, 2 usage or pipeline error, 3 bad input media,
4 missing dependency or model.";

/// reelforge turns an episode into what a streaming service delivers: shot lists,
/// subtitles, trailers, artwork and adaptive-bitrate renditions.
#[derive(Debug, Parser)]
#[command(name = "reelforge", version, after_help = EXAMPLES)]
struct Cli {
    /// More log output (-v: debug, -vv: trace, including FFmpeg's own messages).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors; no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// How to show progress on stderr.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the container and every stream of a media file.
    Probe {
        /// The media file to inspect.
        input: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a pipeline file (and, with --input, that the episode can feed it) without running it.
    Validate(commands::validate::ValidateArgs),
    /// Run a pipeline file on an episode; finished stages are cached and skipped on rerun.
    #[command(after_help = "Each stage writes WORKDIR/<stage>/ with a manifest.json; a stage whose inputs, \
settings and tool version are unchanged is skipped. A killed run resumes where it stopped.")]
    Run(commands::run::RunArgs),
    /// Detect shot boundaries (cuts, fades, dissolves) and write CSV/JSON/OTIO/EDL and keyframes.
    Shots(commands::shots::ShotsArgs),
    /// Pick thumbnails per audience profile, crop them for delivery, and write a trick-play sprite;
    /// `artwork learn` updates the per-profile bandit from impression logs.
    Artwork(commands::artwork::ArtworkArgs),
    /// Encode the adaptive-bitrate ladder once and package it as CMAF for HLS and DASH.
    Renditions(commands::renditions::RenditionsArgs),
    /// Cut a trailer (30/60/90 s) from scored shots: MP4, OTIO, EDL and the reasons per shot.
    Trailer(commands::trailer::TrailerArgs),
    /// Generate the bundled sample episode (60 s, known cuts, English and French speech).
    Sample(commands::sample::SampleArgs),
    /// Print the JSON Schema of pipeline files (for editor validation).
    Schema,
    /// Print a shell completion script, e.g. `reelforge completions bash > /etc/bash_completion.d/reelforge`.
    Completions { shell: Shell },
    /// Measure speed (prints figures; compare with scripts/bench-*.sh).
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Measure accuracy against ground truth.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Write a pipeline's render-farm task graph (plan.json): tasks, dependencies, commands, costs.
    Plan(commands::farm::PlanArgs),
    /// Run one task of a plan, as a farm job does (idempotent; exit 1 retryable, 2-4 fatal).
    #[command(subcommand)]
    Task(commands::farm::TaskCommand),
    /// Submit a plan's unfinished tasks to a render farm (Slurm), dependencies included.
    Submit(commands::farm::SubmitArgs),
    /// Render-farm state of a plan's tasks.
    #[command(subcommand)]
    Farm(commands::farm::FarmCommand),
    /// Export a plan for another scheduler (Open Job Description job template).
    Export(commands::farm::ExportArgs),
    /// Fetch (download, verify, convert) and list Whisper speech models.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Transcribe every audio stream with whisper and write SRT, WebVTT, TTML and JSON subtitles.
    Subtitles(commands::subtitles::SubtitlesArgs),
    /// Check deliverables against style-guide rules.
    #[command(subcommand)]
    Qc(commands::qc::QcCommand),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`reelforge schema | head`) instead of panicking inside println!.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    reelforge_media::set_ffmpeg_log_verbose(cli.verbose >= 2);
    let progress = progress::sink(cli.progress, cli.quiet);
    let result = match cli.command {
        Command::Probe { input, json } => commands::probe::run(&input, json),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Run(args) => commands::run::run(&args, progress.as_ref()),
        Command::Shots(args) => commands::shots::run(&args, progress.as_ref()),
        Command::Artwork(args) => commands::artwork::run(&args, progress.as_ref()),
        Command::Renditions(args) => commands::renditions::run(&args, progress.as_ref()),
        Command::Trailer(args) => commands::trailer::run(&args, progress.as_ref()),
        Command::Sample(args) => commands::sample::run(&args, progress.as_ref()),
        Command::Schema => commands::print_schema(),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "reelforge",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Bench(command) => commands::bench::run(&command, progress.as_ref()),
        Command::Eval(command) => commands::eval::run(&command),
        Command::Plan(args) => commands::farm::plan(&args),
        Command::Task(command) => commands::farm::task(&command, cli.progress, cli.quiet),
        Command::Submit(args) => commands::farm::submit(&args),
        Command::Farm(command) => commands::farm::farm(&command),
        Command::Export(args) => commands::farm::export(&args),
        Command::Models(command) => commands::models::run(&command),
        Command::Subtitles(args) => commands::subtitles::run(&args, progress.as_ref()),
        Command::Qc(command) => commands::qc::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failure::report(&error),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REELFORGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour codes only for a person at a terminal, never in a log file or a farm's capture.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .init();
}
