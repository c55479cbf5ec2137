//! Errors of ladder planning and segment parsing.

use reelforge_core::{Classify, ErrorClass};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// The `renditions:` settings cannot produce a valid ladder.
    #[error("renditions settings: {0}")]
    InvalidSettings(String),
    /// A segment or init file written by the encoder is not the fragmented MP4 we expect.
    #[error("{file}: not a fragmented MP4 segment: {reason}")]
    BadSegment { file: String, reason: String },
    /// A WebVTT file handed to the packager cannot be read as WebVTT.
    #[error("{file}: not a WebVTT file: {reason}")]
    BadSubtitles { file: String, reason: String },
}

impl Classify for DeliveryError {
    fn class(&self) -> ErrorClass {
        match self {
            DeliveryError::InvalidSettings(_) => ErrorClass::Config,
            DeliveryError::BadSegment { .. } => ErrorClass::Other,
            // Subtitle files come from the user (`--subtitles`) or an upstream stage's folder.
            DeliveryError::BadSubtitles { .. } => ErrorClass::BadInput,
        }
    }
}
