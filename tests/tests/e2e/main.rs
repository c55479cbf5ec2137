//! End-to-end tests: the real `reelforge` binary on the generated sample and real media,
//! checked with independent tools. One test binary so the sample is generated once.

mod bad_input;
mod cli;
mod pipeline;
mod probe;
