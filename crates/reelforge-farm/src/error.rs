//! Errors of farm commands, classified so a farm can tell a retry from a lost cause.

use std::io;
use std::path::PathBuf;

use reelforge_core::{Classify, ErrorClass};
use reelforge_pipeline::PipelineError;

#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    /// The plan file cannot be read.
    #[error("cannot read plan {}", .path.display())]
    ReadPlan { path: PathBuf, source: io::Error },

    /// The plan file is not a reelforge plan.
    #[error("{} is not a valid reelforge plan", .path.display())]
    ParsePlan { path: PathBuf, source: serde_json::Error },

    /// A plan written by a newer (or older) reelforge with another plan format.
    #[error("{}: plan format {found} is not supported (this reelforge reads format {supported})", .path.display())]
    PlanFormat { path: PathBuf, found: u32, supported: u32 },

    /// Keys depend on the tool version: a task run by another version would never find its
    /// upstream complete, so this is refused up front.
    #[error(
        "the plan was made by reelforge {planned} but this is reelforge {running}; \
         make the plan again with this version"
    )]
    ToolVersion { planned: String, running: String },

    #[error("no task `{id}` in the plan (its tasks: {known})")]
    UnknownTask { id: String, known: String },

    /// `--chunks` was not `auto` or a positive number.
    #[error("--chunks: `{given}` is neither `auto` nor a positive number")]
    BadChunks { given: String },

    #[error(transparent)]
    Pipeline(#[from] PipelineError),

    /// The task's stage failed; `class` is the stage error's class (its exit code).
    #[error("task `{task}` failed: {message}")]
    TaskFailed { task: String, class: ErrorClass, message: String },

    /// Reading or writing farm files (plan, scripts, job records) failed.
    #[error("cannot {action} {}", .path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },

    /// A scheduler command could not be started (not installed, not on PATH).
    #[error("cannot run `{program}` (is the scheduler's client installed and on PATH?)")]
    SchedulerMissing { program: String, source: io::Error },

    /// A scheduler command ran but refused or answered something unexpected.
    #[error("`{command}` failed: {message}")]
    Scheduler { command: String, message: String },
}

impl Classify for FarmError {
    fn class(&self) -> ErrorClass {
        match self {
            FarmError::ReadPlan { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorClass::Config
            }
            FarmError::ParsePlan { .. }
            | FarmError::PlanFormat { .. }
            | FarmError::ToolVersion { .. }
            | FarmError::UnknownTask { .. }
            | FarmError::BadChunks { .. } => ErrorClass::Config,
            FarmError::Pipeline(error) => error.class(),
            FarmError::TaskFailed { class, .. } => *class,
            FarmError::SchedulerMissing { .. } => ErrorClass::MissingDependency,
            FarmError::ReadPlan { .. } | FarmError::Io { .. } | FarmError::Scheduler { .. } => {
                ErrorClass::Other
            }
        }
    }
}
