//! Render-farm execution of a pipeline: the task graph (`plan.json`), running one task as a
//! farm job runs it, Slurm submission and status, and Open Job Description export.
//!
//! One task per stage: a task is `reelforge task run ID --plan PLAN`, which is
//! [`reelforge_pipeline::run`] with `only` set, so it is idempotent (a complete stage exits at
//! once), its outputs appear atomically and it refuses to run on incomplete upstream stages.
//! No stage of this build can be split into chunks with exact results yet (see
//! [`plan::chunking_note`]), so every task is one job.

mod error;
pub mod openjd;
pub mod plan;
pub mod slurm;

pub use error::FarmError;
pub use plan::{ChunkRequest, PLAN_FORMAT_VERSION, Plan, PlanRequest, Task, TaskCost, run_task};
