//! Encoding ladders and HLS/DASH packaging plans: which renditions to encode for a source, and
//! the manifests that describe the fragmented-MP4 segments once they are written. Pure
//! functions from numbers to text; the encoding itself lives in `reelforge-media`.

mod codecs;
mod dash;
mod error;
mod fmp4;
mod hls;
mod ladder;
mod language;
mod presentation;
mod settings;
mod webvtt;

pub use codecs::{AAC_LC_CODEC, h264_codec_string};
pub use dash::dash_manifest;
pub use error::DeliveryError;
pub use fmp4::{FragmentInfo, parse_fragment, parse_init_timescale, shift_fragment};
pub use hls::{HlsFile, hls_files};
pub use ladder::{PlannedRung, SourceVideo, plan_ladder};
pub use language::{TrackLanguage, track_language};
pub use presentation::{
    AudioRendition, INIT_FILE_NAME, PackagedTrack, Presentation, SEGMENT_FILE_PATTERN, Segment,
    SubtitleSegment, SubtitleTrack, TrackBitrate, VideoRendition, segment_file_name,
};
pub use settings::{Preset, RenditionSettings, Rung, VideoCodec};
pub use webvtt::{Span, segment_webvtt};
