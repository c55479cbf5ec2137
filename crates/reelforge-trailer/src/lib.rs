//! Trailer cutting over numbers: per-shot scores from measured signals (loudness, motion,
//! quality, length, dialogue, position) and an edit in four sections (opening, build, peak,
//! closing) whose clips each lie inside one source shot and add up to the target duration
//! exactly to the frame. No FFmpeg and no files: the `trailer` stage measures and renders.

mod plan;
mod score;
mod settings;

pub use plan::{
    Placement, PlanError, PlannedClip, Section, TitleCard, TrailerPlan, Transition, plan_trailer,
};
pub use score::{FrameSignal, ShotScore, ShotSignals, score_shots};
pub use settings::{ScoreWeights, SettingsError, TrailerSettings};
