//! Render-farm commands: `plan`, `task run`, `submit`, `farm status` and `export`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use reelforge_core::Classify;
use reelforge_farm::{ChunkRequest, FarmError, Plan, PlanRequest, openjd, slurm};
use reelforge_pipeline::{Pipeline, StageStatus};

use crate::failure::CliError;
use crate::progress::{self, ProgressMode};

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Farm errors carry their class to the exit code (the CLI's failure report knows CliError).
fn classified(error: FarmError) -> anyhow::Error {
    let message = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    CliError { class: error.class(), message }.into()
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(path)?)
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The pipeline file (YAML); the plan embeds its text.
    pub pipeline: PathBuf,
    /// The episode to process (probed for the cost estimates).
    #[arg(long, short)]
    pub input: PathBuf,
    /// The shared workdir every task writes its stage folder into.
    #[arg(long, short)]
    pub workdir: PathBuf,
    /// How many chunks heavy stages are split into: `auto` or a number. Renditions becomes one
    /// task per rung x segment range (N ranges; `auto`: about a minute each) plus one task per
    /// audio stream and a join; audio is never cut in time, because AAC priming would glitch at
    /// every chunk edge. Subtitles on two or more audio streams becomes one task per stream and
    /// a join. `1` keeps every stage one task. The plan's notes say what was split.
    #[arg(long, default_value = "auto")]
    pub chunks: String,
    /// Where to write the plan (default: WORKDIR/plan.json).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// `reelforge plan`: writes the task graph and prints one line per task.
pub fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    let chunks: ChunkRequest = args.chunks.parse().map_err(classified)?;
    let yaml = std::fs::read_to_string(&args.pipeline).map_err(|source| {
        reelforge_pipeline::PipelineError::ReadPipeline { path: args.pipeline.clone(), source }
    })?;
    let source_name = args.pipeline.display().to_string();
    let pipeline = Pipeline::parse(&yaml, &source_name)?;
    let info = reelforge_media::probe(&args.input)?;
    reelforge_stages::preflight::preflight(&pipeline, &info)?;
    let workdir = absolute(&args.workdir)?;
    let plan_path = absolute(&args.out.clone().unwrap_or_else(|| workdir.join("plan.json")))?;
    let plan = Plan::build(PlanRequest {
        pipeline: &pipeline,
        pipeline_yaml: yaml,
        pipeline_source: source_name,
        input: absolute(&args.input)?,
        workdir,
        plan_path: plan_path.clone(),
        program: std::env::current_exe()?,
        tool_version: TOOL_VERSION.to_owned(),
        media_seconds: info.duration_seconds,
        chunks,
        video: reelforge_stages::source_video(&info),
        audio_streams: info.audio_streams().count(),
    });
    plan.save(&plan_path).map_err(classified)?;
    for task in &plan.tasks {
        let after = if task.dependencies.is_empty() {
            String::new()
        } else {
            format!(" after {}", task.dependencies.join(", "))
        };
        let after = if task.dependencies.len() > 4 {
            format!(" after {} tasks", task.dependencies.len())
        } else {
            after
        };
        println!("{:<19} ~{:>6.0} CPU s{after}", task.id, task.cost.cpu_seconds);
    }
    for note in &plan.notes {
        println!("note: {note}");
    }
    println!("plan with {} tasks written to {}", plan.tasks.len(), plan_path.display());
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Run one task of a plan, as a farm job does. A complete task exits 0 at once.
    #[command(after_help = "Exit codes: 0 done (or already complete); 1 retryable (I/O, killed, \
anything unexpected); 2 fatal: plan, pipeline or version error, or an upstream task not complete; \
3 fatal: bad input media; 4 fatal: missing library, encoder or model.")]
    Run {
        /// The task id as listed by `reelforge plan`: a stage name, or a chunk such as
        /// `renditions-v2-c5` (rung 2, chunk 5), `renditions-a0` or `subtitles-a1` (audio
        /// stream 0 or 1).
        id: String,
        /// The plan.json written by `reelforge plan`.
        #[arg(long)]
        plan: PathBuf,
    },
}

/// `reelforge task run`: progress lines carry the task id (JSON) or are OJD progress lines.
pub fn task(command: &TaskCommand, mode: ProgressMode, quiet: bool) -> anyhow::Result<()> {
    let TaskCommand::Run { id, plan } = command;
    let plan = Plan::load(plan).map_err(classified)?;
    let progress = progress::task_sink(mode, quiet, Some(id));
    let report =
        reelforge_farm::run_task(&plan, id, TOOL_VERSION, &reelforge_stages::Runner, progress.as_ref())
            .map_err(classified)?;
    let status = match report.stages.first().map(|stage| &stage.status) {
        Some(StageStatus::Cached { .. }) => "already complete".to_owned(),
        Some(StageStatus::Ran { seconds, .. }) => format!("done in {seconds:.1} s"),
        _ => "done".to_owned(),
    };
    if mode == ProgressMode::Openjd {
        println!("openjd_progress: 100");
    }
    println!("task {id}: {status}");
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Scheduler {
    Slurm,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The scheduler to submit to.
    #[arg(long, value_enum)]
    pub scheduler: Scheduler,
    /// The plan.json written by `reelforge plan`.
    pub plan: PathBuf,
}

/// `reelforge submit`: one job per task that is not complete yet.
pub fn submit(args: &SubmitArgs) -> anyhow::Result<()> {
    let Scheduler::Slurm = args.scheduler;
    let plan = Plan::load(&args.plan).map_err(classified)?;
    plan.check_tool_version(TOOL_VERSION).map_err(classified)?;
    for (task, submission) in slurm::submit(&plan).map_err(classified)? {
        let line = match submission {
            slurm::Submission::Complete => "complete, not submitted".to_owned(),
            slurm::Submission::Queued { job_id } => {
                format!("job {job_id} (still queued from an earlier submission)")
            }
            slurm::Submission::Submitted { job_id } => format!("job {job_id}"),
        };
        println!("{task:<19} {line}");
    }
    println!("job ids in {}", slurm::record_path(&plan.workdir).display());
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum FarmCommand {
    /// Each task's state: complete in the workdir, and its Slurm job's state from scontrol.
    Status {
        /// The plan.json written by `reelforge plan`.
        plan: PathBuf,
        /// Print JSON (one array of tasks) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn farm(command: &FarmCommand) -> anyhow::Result<()> {
    let FarmCommand::Status { plan, json } = command;
    let plan = Plan::load(plan).map_err(classified)?;
    let statuses = slurm::status(&plan).map_err(classified)?;
    if *json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(());
    }
    println!("{:<19} {:<9} {:<10} {:<12} {:<26} exit", "task", "outputs", "job", "state", "reason");
    for status in statuses {
        let job = status.job.as_ref();
        println!(
            "{:<19} {:<9} {:<10} {:<12} {:<26} {}",
            status.task,
            if status.complete { "complete" } else { "missing" },
            status.job_id.as_deref().unwrap_or("-"),
            job.map_or("-", |job| job.state.as_str()),
            job.and_then(|job| job.reason.as_deref()).unwrap_or("-"),
            job.and_then(|job| job.exit_code.as_deref()).unwrap_or("-"),
        );
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// Open Job Description job template (jobtemplate-2023-09, JSON).
    Openjd,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The plan.json written by `reelforge plan`.
    pub plan: PathBuf,
    /// Where to write the template (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let ExportFormat::Openjd = args.format;
    let plan = Plan::load(&args.plan).map_err(classified)?;
    let template = openjd::job_template(&plan, &absolute(&args.plan)?);
    let text = serde_json::to_string_pretty(&template)? + "\n";
    match &args.out {
        Some(path) => reelforge_core::output::write_file_atomic(path, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}
