//! Types shared by the media layer (which decodes) and the analyzers (which only look at
//! frames and samples), plus the atomic-output helpers every writer uses. This crate knows
//! nothing about FFmpeg, so every analyzer can be unit-tested on frames built in the test.

pub mod analyzer;
pub mod error_class;
pub mod frame;
pub mod output;
pub mod progress;
pub mod settings;
pub mod suggest;

pub use analyzer::{AudioAnalyzer, AudioRequest, AudioStreamChoice, VideoAnalyzer};
pub use error_class::{Classify, ErrorClass};
pub use frame::{
    AudioBlock, AudioInfo, FramePurpose, FrameRequest, PixelLayout, Rational, Timestamp, VideoFrame,
    VideoInfo,
};
pub use progress::{NoProgress, ProgressEvent, ProgressKind, ProgressSink, ProgressUnit};
pub use settings::{CheckSettings, SettingProblem};
