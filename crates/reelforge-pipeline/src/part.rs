//! Parts of a stage for render farms: a heavy stage can be split into chunks, each written to
//! its own folder, and a join that builds the stage folder from them.

use serde::{Deserialize, Serialize};

/// Which part of a stage one run does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagePart {
    /// The whole stage, as a local run does it.
    #[default]
    Whole,
    /// One chunk, into its own folder (see [`crate::chunk_dir`]).
    Chunk(ChunkSpec),
    /// The stage folder, built from these chunks once they are all complete.
    Join(Vec<ChunkSpec>),
}

/// One chunk of a stage: a track of its output over a range of whole segments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkSpec {
    /// Unique within the stage; also its folder name, e.g. "v0-s00005".
    pub id: String,
    pub track: ChunkTrack,
    /// The first segment (counted from 0 over the whole input) this chunk writes.
    pub first_segment: u64,
    /// The segment after its last; `None` runs to the end of the input.
    pub end_segment: Option<u64>,
}

/// The output track a chunk makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkTrack {
    /// The n-th video track (renditions: the n-th rung of the planned ladder).
    Video(usize),
    /// The n-th audio stream of the input.
    Audio(usize),
}
