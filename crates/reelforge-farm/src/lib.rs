//! Render-farm execution of a pipeline: the task graph (`plan.json`), running one task as a
//! farm job runs it, Slurm submission and status, and Open Job Description export.
//!
//! One task per stage; with `--chunks`, renditions becomes one task per rung x segment range
//! and per audio stream plus a join, and subtitles (on two or more audio streams) one task per
//! stream plus a join. A task is `reelforge task run ID --plan PLAN`, which is
//! [`reelforge_pipeline::run`] with `only` (and the task's part) set, so it is idempotent (a
//! complete stage or chunk exits at once), its outputs appear atomically and it refuses to
//! run on incomplete upstream stages (or, for a join, chunks). See [`plan::chunking_note`].

mod error;
pub mod openjd;
pub mod plan;
pub mod slurm;

pub use error::FarmError;
pub use plan::{ArrayMember, ChunkRequest, PLAN_FORMAT_VERSION, Plan, PlanRequest, Task, TaskCost, run_task};
