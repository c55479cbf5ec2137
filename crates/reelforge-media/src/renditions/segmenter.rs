//! One CMAF track on disk: FFmpeg's HLS muxer in fMP4 mode cuts the encoded packets into an
//! init segment and media segments at the first key frame after each segment duration. Its
//! own playlist is scratch (removed at the end): reelforge writes the real manifests from the
//! measured segments.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use crate::error::MediaError;

/// The playlist the HLS muxer insists on writing, deleted by [`Segmenter::finish`].
const SCRATCH_PLAYLIST: &str = "ffmpeg-scratch.m3u8";

/// Where and how to cut segments.
#[derive(Clone, Debug)]
pub(crate) struct SegmentLayout {
    pub(crate) dir: PathBuf,
    pub(crate) segment_seconds: f64,
    pub(crate) init_name: String,
    /// printf-style name of media segments, e.g. "seg_%05d.m4s".
    pub(crate) segment_pattern: String,
    /// The number of the first media segment file.
    pub(crate) first_number: u64,
}

pub(crate) struct Segmenter {
    output: ffmpeg::format::context::Output,
    /// Encoder time base, which packets arrive in.
    encoder_time_base: ffmpeg::Rational,
    /// Stream time base after the header (the muxer picks it).
    stream_time_base: ffmpeg::Rational,
    dir: PathBuf,
}

impl Segmenter {
    /// Creates the folder and the muxer for one stream whose encoder is already open.
    /// `language` goes into the track header (mdhd) for audio.
    pub(crate) fn create(
        source: &Path,
        layout: &SegmentLayout,
        parameters: impl Into<ffmpeg::codec::Parameters>,
        codec: ffmpeg::Codec,
        encoder_time_base: ffmpeg::Rational,
        language: Option<&str>,
        codec_tag: Option<[u8; 4]>,
    ) -> Result<Self, MediaError> {
        let failed = |doing: &'static str| move |e| MediaError::ffmpeg(&layout.dir, doing, e);
        std::fs::create_dir_all(&layout.dir).map_err(|e| MediaError::io(&layout.dir, e))?;
        let playlist = layout.dir.join(SCRATCH_PLAYLIST);
        let segment_path = layout.dir.join(&layout.segment_pattern);
        let segment_path = segment_path
            .to_str()
            .ok_or_else(|| MediaError::NonUtf8Path { path: layout.dir.clone() })?
            .to_owned();
        let mut output = ffmpeg::format::output_as(&playlist, "hls").map_err(|e| match e {
            ffmpeg::Error::MuxerNotFound => MediaError::MissingCodec {
                path: source.to_path_buf(),
                what: "the hls muxer".into(),
                hint: "install an FFmpeg build with the hls muxer (Debian's libavformat59 has it)".into(),
            },
            other => MediaError::ffmpeg(&layout.dir, "creating the segmenter", other),
        })?;
        let mut stream = output.add_stream(codec).map_err(failed("adding a stream"))?;
        // The opened encoder's parameters, extradata included (the init segment needs them).
        stream.set_parameters(parameters);
        if let Some(tag) = codec_tag {
            // SAFETY: codecpar is valid; the tag is read by the muxer when writing the header.
            unsafe { (*(*stream.as_mut_ptr()).codecpar).codec_tag = u32::from_le_bytes(tag) };
        }
        stream.set_time_base(encoder_time_base);
        if let Some(language) = language {
            let mut metadata = ffmpeg::Dictionary::new();
            metadata.set("language", language);
            stream.set_metadata(metadata);
        }
        let mut options = ffmpeg::Dictionary::new();
        options.set("hls_segment_type", "fmp4");
        options.set("hls_time", &format!("{}", layout.segment_seconds));
        options.set("hls_list_size", "0");
        options.set("start_number", &layout.first_number.to_string());
        options.set("hls_playlist_type", "vod");
        options.set("hls_fmp4_init_filename", &layout.init_name);
        options.set("hls_segment_filename", &segment_path);
        let ignored = {
            let leftover = output.write_header_with(options).map_err(failed("writing the init segment"))?;
            leftover.iter().next().map(|(key, _)| key.to_owned())
        };
        // Unknown muxer options are silently ignored by FFmpeg: a leftover means a typo here.
        if let Some(key) = ignored {
            return Err(MediaError::Failed {
                path: layout.dir.clone(),
                doing: "configuring the segmenter".into(),
                reason: format!("the hls muxer ignored option `{key}`"),
            });
        }
        let stream_time_base = output.stream(0).map_or(encoder_time_base, |s| s.time_base());
        Ok(Self { output, encoder_time_base, stream_time_base, dir: layout.dir.clone() })
    }

    /// Muxes one encoded packet (in the encoder time base).
    pub(crate) fn write(&mut self, packet: &mut ffmpeg::Packet) -> Result<(), MediaError> {
        packet.set_stream(0);
        packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
        packet
            .write_interleaved(&mut self.output)
            .map_err(|e| MediaError::ffmpeg(&self.dir, "writing a segment", e))
    }

    /// Writes the last segment and removes the scratch playlist.
    pub(crate) fn finish(mut self) -> Result<(), MediaError> {
        self.output
            .write_trailer()
            .map_err(|e| MediaError::ffmpeg(&self.dir, "finishing the segments", e))?;
        let playlist = self.dir.join(SCRATCH_PLAYLIST);
        match std::fs::remove_file(&playlist) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MediaError::io(&playlist, e)),
            _ => Ok(()),
        }
    }
}

/// Sets an encoder private option (`priv_data`), refusing names the encoder does not know
/// instead of letting FFmpeg drop them silently.
///
/// # Safety
/// `context` must be an allocated, unopened encoder context of a codec with private options.
pub(crate) unsafe fn set_private_option(
    path: &Path,
    context: &mut ffmpeg::codec::Context,
    name: &str,
    value: &str,
) -> Result<(), MediaError> {
    let refuse = |reason: String| MediaError::Failed {
        path: path.to_path_buf(),
        doing: format!("setting encoder option {name}={value}"),
        reason,
    };
    let name_c = CString::new(name).map_err(|_| refuse("NUL byte in name".into()))?;
    let value_c = CString::new(value).map_err(|_| refuse("NUL byte in value".into()))?;
    // SAFETY: forwarded from the caller; both strings outlive the call.
    let code =
        unsafe { ffi::av_opt_set((*context.as_mut_ptr()).priv_data, name_c.as_ptr(), value_c.as_ptr(), 0) };
    if code < 0 { Err(refuse(ffmpeg::Error::from(code).to_string())) } else { Ok(()) }
}
