//! The contract between the one decode pass and the analyzers it feeds.

use crate::frame::{AudioBlock, AudioInfo, FrameRequest, VideoFrame, VideoInfo};

/// Something that looks at every decoded picture once, in presentation order.
///
/// The decode pass calls `configure` once, then `analyze` for each frame, then `finish`.
/// Analyzers that ask for the same [`FrameRequest`] share one scaled frame.
pub trait VideoAnalyzer: Send {
    /// Told the source's geometry, returns the size and layout it wants frames in.
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest;
    fn analyze(&mut self, frame: &VideoFrame);
    /// Called after the last frame (end of stream flushed).
    fn finish(&mut self) {}
}

/// Which audio stream an audio analyzer wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioStreamChoice {
    /// The container's default (best) audio stream.
    Best,
    /// The n-th audio stream (0-based, counting audio streams only).
    Ordinal(usize),
}

/// The format an audio analyzer wants samples in: interleaved f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AudioRequest {
    pub stream: AudioStreamChoice,
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioRequest {
    /// 16 kHz mono, what speech recognisers expect.
    pub const fn speech(stream: AudioStreamChoice) -> Self {
        Self { stream, sample_rate: 16_000, channels: 1 }
    }
}

/// Something that consumes one audio stream, resampled, in order.
pub trait AudioAnalyzer: Send {
    fn request(&self) -> AudioRequest;
    /// Told which stream it got, before the first block.
    fn configure(&mut self, _source: &AudioInfo) {}
    fn analyze(&mut self, block: &AudioBlock<'_>);
    fn finish(&mut self) {}
}
