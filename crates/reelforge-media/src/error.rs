//! The one error type of this crate. Every message is one line and starts with the file it
//! is about, so the CLI can print it as is.

use std::io;
use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use reelforge_core::{Classify, ErrorClass};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{}: cannot read the file ({reason})", path.display())]
    Unreadable { path: PathBuf, reason: String },

    #[error("{}: empty file (0 bytes); re-export or re-copy it", path.display())]
    Empty { path: PathBuf },

    #[error("{}: not a video file (no media stream FFmpeg recognises)", path.display())]
    NotMedia { path: PathBuf },

    #[error("{}: truncated: {detail}; re-copy or re-export the file", path.display())]
    Truncated { path: PathBuf, detail: String },

    #[error("{}: no video stream (audio-only or data file?)", path.display())]
    NoVideoStream { path: PathBuf },

    #[error("{}: no {wanted} (the file has {available} audio stream(s))", path.display())]
    NoAudioStream { path: PathBuf, wanted: String, available: usize },

    #[error("{}: stream {stream} ({codec}) cannot be decoded: {reason}", path.display())]
    Undecodable { path: PathBuf, stream: usize, codec: String, reason: String },

    #[error(
        "{}: the path is not valid UTF-8, which FFmpeg cannot open; rename the file",
        path.display()
    )]
    NonUtf8Path { path: PathBuf },

    #[error("{}: {what} is not available in this FFmpeg build; {hint}", path.display())]
    MissingCodec { path: PathBuf, what: String, hint: String },

    #[error("{}: `{tool}` is not installed or failed to start; {hint}", path.display())]
    MissingTool { path: PathBuf, tool: String, hint: String },

    #[error("{}: invalid sample spec: {reason}", path.display())]
    InvalidSpec { path: PathBuf, reason: String },

    #[error("{}: {doing} failed: {reason}", path.display())]
    Failed { path: PathBuf, doing: String, reason: String },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl Classify for MediaError {
    fn class(&self) -> ErrorClass {
        match self {
            MediaError::Unreadable { .. }
            | MediaError::Empty { .. }
            | MediaError::NotMedia { .. }
            | MediaError::Truncated { .. }
            | MediaError::NoVideoStream { .. }
            | MediaError::NoAudioStream { .. }
            | MediaError::Undecodable { .. }
            | MediaError::NonUtf8Path { .. } => ErrorClass::BadInput,
            MediaError::MissingCodec { .. } | MediaError::MissingTool { .. } => ErrorClass::MissingDependency,
            MediaError::InvalidSpec { .. } => ErrorClass::Config,
            MediaError::Failed { .. } | MediaError::Io { .. } => ErrorClass::Other,
        }
    }
}

impl MediaError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        MediaError::Io { path: path.to_path_buf(), source }
    }

    /// An FFmpeg call that should not fail on valid input (allocation, filter set-up, muxing).
    pub(crate) fn ffmpeg(path: &Path, doing: &str, error: ffmpeg::Error) -> Self {
        MediaError::Failed { path: path.to_path_buf(), doing: doing.to_owned(), reason: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_what_a_retry_or_an_install_can_fix() {
        let path = PathBuf::from("in.mp4");
        let truncated = MediaError::Truncated { path: path.clone(), detail: "x".into() };
        assert_eq!(truncated.class(), ErrorClass::BadInput);
        assert_eq!(MediaError::NoVideoStream { path: path.clone() }.class(), ErrorClass::BadInput);
        let codec = MediaError::MissingCodec { path: path.clone(), what: "libx264".into(), hint: "h".into() };
        assert_eq!(codec.class(), ErrorClass::MissingDependency);
        let tool = MediaError::MissingTool { path: path.clone(), tool: "espeak-ng".into(), hint: "h".into() };
        assert_eq!(tool.class(), ErrorClass::MissingDependency);
        assert_eq!(MediaError::io(&path, io::Error::other("disk full")).class(), ErrorClass::Other);
    }

    #[test]
    fn messages_are_one_line_and_name_the_file() {
        let error = MediaError::NotMedia { path: PathBuf::from("input.mp4") };
        assert_eq!(error.to_string(), "input.mp4: not a video file (no media stream FFmpeg recognises)");
    }
}
