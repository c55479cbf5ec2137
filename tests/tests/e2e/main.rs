//! End-to-end tests: the real `reelforge` binary on the generated sample and real media,
//! checked with independent tools. One test binary so the sample is generated once.

mod artwork;
mod bad_input;
mod cli;
mod corpus;
mod farm;
mod ownership;
mod pipeline;
mod probe;
mod renditions;
mod rotation;
mod shots;
mod start_offset;
mod subtitles;
mod trailer;
mod validation;
mod workdir_lock;
