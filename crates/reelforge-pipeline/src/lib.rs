//! Pipeline files, the stage graph, cache keys, atomic stage outputs and resume.
//!
//! This crate is the only place that knows the workdir layout and how cache keys are made.
//! It does not know how a stage works: a [`StageRunner`] supplied by the caller does the work,
//! given a batch of stages whose dependencies are complete.

mod config;
mod error;
mod executor;
mod input_hash;
mod located;
mod lock;
mod manifest;
mod part;
mod stage;
mod validate;

pub use config::{
    DEFAULT_PIPELINE_SOURCE, DEFAULT_PIPELINE_YAML, OnDamage, PIPELINE_FORMAT_VERSION, Pipeline, json_schema,
};
pub use error::{Diagnostic, PipelineError, SourceLocation, StageError, UpstreamState};
pub use executor::{
    RunOptions, RunReport, StageJob, StageOutcome, StageReport, StageRunner, StageStatus, chunk_dir,
    complete_parts, run, run_stage_into, stage_dir,
};
pub use input_hash::InputRecord;
pub use manifest::{MANIFEST_FILE, OutputFile, StageManifest, cache_key};
pub use part::{ChunkSpec, ChunkTrack, StagePart};
pub use stage::{PlannedStageSettings, ProbeSettings, StageConfig, StageName, UnknownStageName};
