//! Errors of this crate, each with the [`ErrorClass`] the CLI turns into an exit code.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;

use reelforge_core::{Classify, ErrorClass};

use crate::stage::StageName;

/// A 1-based line and column in a pipeline file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceLocation {
    pub line: u64,
    pub column: u64,
}

/// Everything that stops a pipeline from loading or running (a failing stage does not: it is
/// reported in the [`RunReport`](crate::RunReport)).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file does not exist or cannot be read.
    #[error("{}: {}", .path.display(), describe_read_error(.source))]
    ReadPipeline { path: PathBuf, source: io::Error },

    /// The pipeline file is not valid: YAML syntax, an unknown name, an unavailable stage…
    /// Displays as `FILE:LINE:COLUMN: MESSAGE` (or `FILE: MESSAGE` without a position).
    #[error("{}", render_diagnostic(.source_name, .location, .message))]
    InvalidPipeline { source_name: String, location: Option<SourceLocation>, message: String },

    /// Settings out of range or contradicting each other, found before any stage ran: one
    /// line per problem, each `FILE:LINE:COLUMN: message`.
    #[error("{}", .0.iter().map(Diagnostic::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidSettings(Vec<Diagnostic>),

    /// `--only` named a stage the pipeline does not contain.
    #[error("stage `{stage}` is not in pipeline `{pipeline}` (its stages: {stages})")]
    StageNotInPipeline { stage: StageName, pipeline: String, stages: String },

    /// `--only` was asked to run a stage whose dependency is not complete in the workdir.
    #[error(
        "cannot run only `{stage}`: it needs `{missing}`, which is {state} in {}; \
         produce it first with `--only {missing}` (or run the whole pipeline without `--only`)",
        .workdir.display()
    )]
    UpstreamIncomplete { stage: StageName, missing: StageName, state: UpstreamState, workdir: PathBuf },

    /// A join ran before all of its chunks were complete.
    #[error("cannot join `{stage}`: chunks not complete: {missing}")]
    ChunksIncomplete { stage: StageName, missing: String },

    /// A standalone command was given an upstream directory that is not a completed stage.
    #[error("{} is not a completed `{stage}` output (no valid manifest.json, or its files changed)", .path.display())]
    UpstreamDirInvalid { stage: StageName, path: PathBuf },

    /// A standalone command was given an upstream folder made from another file (or from an
    /// earlier version of this one): its shots or cues would not match the input.
    #[error(
        "{} holds the `{stage}` output of {}, not of {} (the file contents differ); make it for \
         this input (reelforge {stage} {} -o DIR) or give the folder that was",
        .dir.display(), .made_from.display(), .input.display(), .input.display()
    )]
    UpstreamOfOtherInput { stage: StageName, dir: PathBuf, made_from: PathBuf, input: PathBuf },

    /// Another run holds the lock on a folder this run would write, and the run was asked
    /// not to wait (`--no-wait`). Retryable: the other run will finish.
    #[error(
        "`{name}` is being written by another reelforge run ({holder}, lock {}); wait for it, \
         or rerun without --no-wait to wait automatically",
        .lock.display()
    )]
    WorkdirBusy { lock: PathBuf, name: String, holder: String },

    /// The input is a folder, a device or a pipe.
    #[error("input {} is {what}; give a media file", .path.display())]
    InputNotAFile { path: PathBuf, what: &'static str },

    /// The input file does not exist.
    #[error("input {} not found", .path.display())]
    InputNotFound { path: PathBuf },

    /// A standalone command was pointed at a non-empty directory that reelforge cannot prove
    /// it wrote: replacing it would delete someone's files.
    #[error(
        "{} cannot be replaced: {why}; refusing to delete it (choose a new or empty directory, \
         or remove it yourself: rm -r {})",
        .path.display(), .path.display()
    )]
    OutputDirNotOurs { path: PathBuf, why: String },

    /// `run` found a folder named like a stage that reelforge cannot prove it wrote.
    #[error(
        "{} is named like the `{stage}` stage's folder but cannot be replaced: {why}; move it \
         away, or rerun with --force to replace it",
        .path.display()
    )]
    StageDirNotOurs { stage: StageName, path: PathBuf, why: String },

    /// The folder to be replaced holds the input itself: reelforge never deletes its input.
    #[error(
        "{} holds the input {}; reelforge never deletes its input: choose an output folder \
         that does not contain it",
        .dir.display(), .input.display()
    )]
    InputInsideOutput { input: PathBuf, dir: PathBuf },

    /// A stage run by [`run_stage_into`](crate::run_stage_into) failed.
    #[error("stage `{stage}` failed")]
    StageFailed { stage: StageName, source: StageError },

    /// Reading or writing the workdir failed (full disk, permissions…).
    #[error("cannot {action} {}", .path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

/// One problem in a pipeline file, at a position when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub source_name: String,
    pub location: Option<SourceLocation>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_diagnostic(&self.source_name, &self.location, &self.message))
    }
}

/// Why an upstream stage does not count as complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamState {
    /// No finished output (no manifest, or outputs missing or resized).
    NotComplete,
    /// Finished, but for other settings, input, tool version or upstream results.
    OutOfDate,
}

impl fmt::Display for UpstreamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpstreamState::NotComplete => "not complete",
            UpstreamState::OutOfDate => "out of date (settings, input, version or its upstream changed)",
        })
    }
}

impl Classify for PipelineError {
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::ReadPipeline { .. }
            | PipelineError::InvalidPipeline { .. }
            | PipelineError::InvalidSettings(_)
            | PipelineError::StageNotInPipeline { .. }
            | PipelineError::UpstreamIncomplete { .. }
            | PipelineError::ChunksIncomplete { .. }
            | PipelineError::UpstreamDirInvalid { .. }
            | PipelineError::UpstreamOfOtherInput { .. }
            | PipelineError::OutputDirNotOurs { .. }
            | PipelineError::StageDirNotOurs { .. }
            | PipelineError::InputInsideOutput { .. } => ErrorClass::Config,
            PipelineError::InputNotFound { .. } | PipelineError::InputNotAFile { .. } => ErrorClass::BadInput,
            PipelineError::StageFailed { source, .. } => source.class(),
            PipelineError::Io { .. } | PipelineError::WorkdirBusy { .. } => ErrorClass::Other,
        }
    }
}

fn describe_read_error(error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::NotFound {
        "pipeline file not found".to_owned()
    } else {
        format!("cannot read pipeline file: {error}")
    }
}

fn render_diagnostic(source_name: &str, location: &Option<SourceLocation>, message: &str) -> String {
    match location {
        Some(SourceLocation { line, column }) => format!("{source_name}:{line}:{column}: {message}"),
        None => format!("{source_name}: {message}"),
    }
}

/// Why a stage failed, as reported by a [`StageRunner`](crate::StageRunner) or the executor.
/// Carries the class (for the exit code) and the underlying error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    class: ErrorClass,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StageError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into(), source: None }
    }

    /// `message` says what was being done; `source` says what went wrong.
    pub fn with_source(
        class: ErrorClass,
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self { class, message: message.into(), source: Some(Box::new(source)) }
    }

    /// Wraps a library error, keeping its class.
    pub fn from_classified(
        message: impl Into<String>,
        source: impl StdError + Classify + Send + Sync + 'static,
    ) -> Self {
        Self::with_source(source.class(), message, source)
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message followed by every source, joined with ": " (for one-line reports).
    pub fn chain_text(&self) -> String {
        let mut text = self.message.clone();
        let mut next = self.source();
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }
}

impl Classify for StageError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pipeline_file_is_a_clear_config_error() {
        let error = PipelineError::ReadPipeline {
            path: PathBuf::from("pipelines/nope.yaml"),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(error.to_string(), "pipelines/nope.yaml: pipeline file not found");
        assert_eq!(error.class(), ErrorClass::Config);
    }

    #[test]
    fn stage_error_keeps_class_and_chain() {
        let error = StageError::with_source(
            ErrorClass::BadInput,
            "cannot decode episode.mkv",
            io::Error::other("truncated packet"),
        );
        assert_eq!(error.class(), ErrorClass::BadInput);
        assert_eq!(error.to_string(), "cannot decode episode.mkv");
        assert_eq!(error.chain_text(), "cannot decode episode.mkv: truncated packet");
        let failed = PipelineError::StageFailed { stage: StageName::Shots, source: error };
        assert_eq!(failed.class(), ErrorClass::BadInput);
    }
}
