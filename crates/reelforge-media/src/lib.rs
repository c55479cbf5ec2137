//! The only crate that links FFmpeg. It probes files, runs the one decode pass that feeds every
//! analyzer, measures decode speed and generates the bundled sample episode. Everything above
//! this crate sees plain frames and samples from `reelforge-core`.

mod decode;
mod error;
mod extract;
mod ffi_util;
mod init;
mod jpeg;
mod open;
mod probe;
mod renditions;
mod resample;
mod sample;
mod scale;
mod signals;
#[cfg(test)]
mod test_support;
mod trailer_render;
mod true_peak;

pub use decode::{AudioSummary, DecodeBench, DecodeSummary, StreamDamage, bench_decode, decode_pass};
pub use error::MediaError;
pub use extract::extract_frames;
pub use init::set_ffmpeg_log_verbose;
pub use jpeg::encode_jpeg;
pub use probe::{AudioDetails, MediaInfo, StreamInfo, StreamKind, VideoDetails, probe};
pub use renditions::{
    AudioRenditionSpec, EncodeRange, EncodedRung, RENDITION_AUDIO_RATE, RenditionCodec, RenditionJob,
    RenditionsOutput, TimeShift, VideoRungSpec, encode_renditions,
};
pub use sample::{
    SampleSpec, SampleTruth, SpeechLine, TransitionKind, TruthAudioStream, TruthShot, TruthTransition,
    generate_sample,
};
pub use signals::{LoudnessAnalyzer, LoudnessPoint, PictureSignal, PictureSignalAnalyzer};
pub use trailer_render::{
    TitleCardSpec, TrailerClipRange, TrailerRenderReport, TrailerRenderSpec, render_trailer,
};
