//! `probe`: what a file contains, with the numbers `ffprobe -show_streams -show_format` reports.

use std::ffi::c_char;
use std::path::{Path, PathBuf};

use ffmpeg_next::ffi;
use reelforge_core::{Rational, VideoInfo};
use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffi_util::{c_string, rational, ts_seconds};
use crate::open::open_input;

/// A media file's container and streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub path: PathBuf,
    /// FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    pub format_name: String,
    pub format_long_name: Option<String>,
    pub start_seconds: Option<f64>,
    pub duration_seconds: Option<f64>,
    /// Overall bit rate in bits per second, as the container states or FFmpeg estimates it.
    pub bit_rate: Option<i64>,
    pub size_bytes: u64,
    pub streams: Vec<StreamInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    Video,
    Audio,
    Subtitle,
    Data,
    Attachment,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Index of the stream in the container.
    pub index: usize,
    pub kind: StreamKind,
    pub codec_name: String,
    pub codec_long_name: Option<String>,
    /// Codec profile name, e.g. "High" or "LC".
    pub profile: Option<String>,
    pub time_base: Rational,
    pub start_seconds: Option<f64>,
    pub duration_seconds: Option<f64>,
    /// Duration in `time_base` units.
    pub duration_ts: Option<i64>,
    /// Frame (packet) count when the container states it.
    pub frame_count: Option<u64>,
    pub bit_rate: Option<i64>,
    /// The `language` tag, e.g. "eng".
    pub language: Option<String>,
    pub title: Option<String>,
    pub default: bool,
    pub forced: bool,
    /// Cover art stored as a one-picture video stream.
    pub attached_picture: bool,
    pub video: Option<VideoDetails>,
    pub audio: Option<AudioDetails>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoDetails {
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; `None` when unknown (FFmpeg prints "N/A" or nothing).
    pub sample_aspect_ratio: Option<Rational>,
    pub display_aspect_ratio: Option<Rational>,
    pub avg_frame_rate: Rational,
    pub avg_fps: f64,
    /// The lowest rate that represents all timestamps (ffprobe's `r_frame_rate`).
    pub r_frame_rate: Rational,
    pub r_fps: f64,
    /// Counter-clockwise rotation from the display matrix, as ffprobe prints it; 0 if none.
    pub rotation_degrees: i32,
    pub pixel_format: Option<String>,
    /// Bits per component of the pixel format (8 for yuv420p, 10 for yuv420p10le).
    pub bit_depth: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioDetails {
    pub sample_rate: u32,
    pub channels: u16,
    /// e.g. "mono", "stereo", "5.1"; `None` when the file does not say.
    pub channel_layout: Option<String>,
    /// e.g. "fltp", "s16".
    pub sample_format: Option<String>,
}

impl MediaInfo {
    /// The main video stream: the default one if flagged, else the first (cover art excluded).
    pub fn main_video(&self) -> Option<&StreamInfo> {
        let mut pictures = self.streams.iter().filter(|s| s.video.is_some() && !s.attached_picture);
        let first = pictures.clone().next();
        pictures.find(|s| s.default).or(first)
    }

    /// Audio streams in container order (their position here is `AudioStreamChoice::Ordinal`).
    pub fn audio_streams(&self) -> impl Iterator<Item = &StreamInfo> {
        self.streams.iter().filter(|s| s.kind == StreamKind::Audio)
    }

    /// The main video stream described the way analyzers are told about it.
    pub fn video_info(&self) -> Option<VideoInfo> {
        let stream = self.main_video()?;
        let video = stream.video.as_ref()?;
        let duration = stream.duration_seconds.or(self.duration_seconds);
        let estimated_frames = stream
            .frame_count
            .or_else(|| duration.filter(|_| video.avg_fps > 0.0).map(|d| (d * video.avg_fps).round() as u64));
        Some(VideoInfo {
            width: video.width,
            height: video.height,
            sample_aspect_ratio: video.sample_aspect_ratio.unwrap_or(Rational::new(0, 1)),
            frame_rate: video.avg_frame_rate,
            time_base: stream.time_base,
            duration,
            estimated_frames,
        })
    }
}

/// Reads the container header (and as much data as FFmpeg needs to describe every stream).
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let mut input = open_input(path)?;
    let size_bytes = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?.len();
    // SAFETY: the context is open for the whole block; every pointer read comes from it and
    // FFmpeg keeps the streams, parameters and dictionaries alive until it is closed.
    unsafe {
        let ctx = input.as_mut_ptr();
        let format = (*ctx).iformat;
        let format_name = c_string((*format).name).unwrap_or_default();
        let format_long_name = c_string((*format).long_name);
        let av_time_base = Rational::new(1, ffi::AV_TIME_BASE);
        let streams =
            (0..(*ctx).nb_streams as usize).map(|i| stream_info(ctx, *(*ctx).streams.add(i))).collect();
        Ok(MediaInfo {
            path: path.to_path_buf(),
            format_name,
            format_long_name,
            start_seconds: ts_seconds((*ctx).start_time, av_time_base),
            duration_seconds: ts_seconds((*ctx).duration, av_time_base),
            bit_rate: positive((*ctx).bit_rate),
            size_bytes,
            streams,
        })
    }
}

/// # Safety
/// `ctx` and `stream` must be valid pointers of an open input context.
unsafe fn stream_info(ctx: *mut ffi::AVFormatContext, stream: *mut ffi::AVStream) -> StreamInfo {
    unsafe {
        let par = (*stream).codecpar;
        let time_base = rational((*stream).time_base);
        let kind = match (*par).codec_type {
            ffi::AVMediaType::AVMEDIA_TYPE_VIDEO => StreamKind::Video,
            ffi::AVMediaType::AVMEDIA_TYPE_AUDIO => StreamKind::Audio,
            ffi::AVMediaType::AVMEDIA_TYPE_SUBTITLE => StreamKind::Subtitle,
            ffi::AVMediaType::AVMEDIA_TYPE_DATA => StreamKind::Data,
            ffi::AVMediaType::AVMEDIA_TYPE_ATTACHMENT => StreamKind::Attachment,
            _ => StreamKind::Unknown,
        };
        let descriptor = ffi::avcodec_descriptor_get((*par).codec_id);
        let codec_long_name = if descriptor.is_null() { None } else { c_string((*descriptor).long_name) };
        let disposition = (*stream).disposition;
        StreamInfo {
            index: (*stream).index as usize,
            kind,
            codec_name: c_string(ffi::avcodec_get_name((*par).codec_id)).unwrap_or_default(),
            codec_long_name,
            profile: c_string(ffi::avcodec_profile_name((*par).codec_id, (*par).profile)),
            time_base,
            start_seconds: ts_seconds((*stream).start_time, time_base),
            duration_seconds: ts_seconds((*stream).duration, time_base),
            duration_ts: ((*stream).duration != ffi::AV_NOPTS_VALUE).then_some((*stream).duration),
            frame_count: u64::try_from((*stream).nb_frames).ok().filter(|&n| n > 0),
            bit_rate: positive((*par).bit_rate),
            language: metadata((*stream).metadata, c"language".as_ptr()),
            title: metadata((*stream).metadata, c"title".as_ptr()),
            default: disposition & ffi::AV_DISPOSITION_DEFAULT != 0,
            forced: disposition & ffi::AV_DISPOSITION_FORCED != 0,
            attached_picture: disposition & ffi::AV_DISPOSITION_ATTACHED_PIC != 0,
            video: (kind == StreamKind::Video).then(|| video_details(ctx, stream)),
            audio: (kind == StreamKind::Audio).then(|| audio_details(par)),
        }
    }
}

/// # Safety
/// As for [`stream_info`]; the stream is a video stream.
unsafe fn video_details(ctx: *mut ffi::AVFormatContext, stream: *mut ffi::AVStream) -> VideoDetails {
    unsafe {
        let par = (*stream).codecpar;
        let width = (*par).width.max(0) as u32;
        let height = (*par).height.max(0) as u32;
        // ffprobe asks the same guess (stream, then codec), and derives the DAR from it.
        let sar = ffi::av_guess_sample_aspect_ratio(ctx, stream, std::ptr::null_mut());
        let (sample_aspect_ratio, display_aspect_ratio) = if sar.num > 0 && sar.den > 0 {
            let (mut num, mut den) = (0, 0);
            ffi::av_reduce(
                &mut num,
                &mut den,
                i64::from(width) * i64::from(sar.num),
                i64::from(height) * i64::from(sar.den),
                1024 * 1024,
            );
            (Some(rational(sar)), Some(Rational::new(num, den)))
        } else {
            (None, None)
        };
        let pixel_format: ffi::AVPixelFormat = std::mem::transmute((*par).format);
        let (pixel_format_name, bit_depth) = pixel_format_name_and_depth(pixel_format);
        let avg_frame_rate = rational((*stream).avg_frame_rate);
        let r_frame_rate = rational((*stream).r_frame_rate);
        VideoDetails {
            width,
            height,
            sample_aspect_ratio,
            display_aspect_ratio,
            avg_frame_rate,
            avg_fps: avg_frame_rate.as_f64(),
            r_frame_rate,
            r_fps: r_frame_rate.as_f64(),
            rotation_degrees: rotation(stream),
            pixel_format: pixel_format_name,
            bit_depth,
        }
    }
}

/// # Safety
/// `format` must be a valid `AVPixelFormat` value or `AV_PIX_FMT_NONE`.
unsafe fn pixel_format_name_and_depth(format: ffi::AVPixelFormat) -> (Option<String>, Option<u32>) {
    unsafe {
        let descriptor = ffi::av_pix_fmt_desc_get(format);
        if descriptor.is_null() {
            return (None, None);
        }
        let depth = ((*descriptor).nb_components > 0).then(|| (*descriptor).comp[0].depth as u32);
        (c_string(ffi::av_get_pix_fmt_name(format)), depth)
    }
}

impl VideoDetails {
    /// Clockwise quarter turns that show the picture upright (from `rotation_degrees`).
    pub fn quarter_turns(&self) -> u8 {
        clockwise_turns(self.rotation_degrees)
    }
}

/// Clockwise quarter turns that show a picture upright, from the display matrix's
/// counter-clockwise rotation (ffprobe's `rotation`, -90 for a portrait phone clip).
pub(crate) fn clockwise_turns(rotation_degrees: i32) -> u8 {
    (((-rotation_degrees).rem_euclid(360) + 45) / 90 % 4) as u8
}

/// # Safety
/// `stream` must be a valid stream pointer.
pub(crate) unsafe fn rotation(stream: *mut ffi::AVStream) -> i32 {
    unsafe {
        let mut size = 0usize;
        let matrix = ffi::av_stream_get_side_data(
            stream,
            ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size,
        );
        // A display matrix is 9 × i32; anything shorter is damaged side data, not a rotation.
        if matrix.is_null() || size < 9 * size_of::<i32>() {
            return 0;
        }
        let degrees = ffi::av_display_rotation_get(matrix as *const i32);
        if degrees.is_finite() { degrees as i32 } else { 0 }
    }
}

/// # Safety
/// `par` must be the parameters of an audio stream.
unsafe fn audio_details(par: *mut ffi::AVCodecParameters) -> AudioDetails {
    unsafe {
        let layout = &(*par).ch_layout;
        let channel_layout = if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC {
            None
        } else {
            let mut buf = [0 as c_char; 128];
            let written = ffi::av_channel_layout_describe(layout, buf.as_mut_ptr(), buf.len());
            if written > 0 { c_string(buf.as_ptr()) } else { None }
        };
        let sample_format: ffi::AVSampleFormat = std::mem::transmute((*par).format);
        AudioDetails {
            sample_rate: (*par).sample_rate.max(0) as u32,
            channels: layout.nb_channels.clamp(0, i32::from(u16::MAX)) as u16,
            channel_layout,
            sample_format: c_string(ffi::av_get_sample_fmt_name(sample_format)),
        }
    }
}

/// # Safety
/// `dict` must be null or a valid dictionary; `key` a NUL-terminated string.
unsafe fn metadata(dict: *mut ffi::AVDictionary, key: *const c_char) -> Option<String> {
    unsafe {
        let entry = ffi::av_dict_get(dict, key, std::ptr::null(), 0);
        if entry.is_null() { None } else { c_string((*entry).value) }
    }
}

fn positive(value: i64) -> Option<i64> {
    (value > 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{SMALL, small_sample};

    #[test]
    fn probe_describes_the_generated_sample() {
        let info = probe(small_sample()).unwrap();
        assert!(info.format_name.contains("mp4"));
        assert!((info.duration_seconds.unwrap() - 12.0).abs() < 0.05, "{:?}", info.duration_seconds);
        assert!(info.bit_rate.unwrap() > 0);
        assert_eq!(info.size_bytes, std::fs::metadata(small_sample()).unwrap().len());

        let video = info.main_video().unwrap();
        assert_eq!(video.codec_name, "h264");
        assert_eq!(video.frame_count, Some(u64::from(SMALL.fps * SMALL.duration_seconds)));
        let details = video.video.as_ref().unwrap();
        assert_eq!((details.width, details.height), (SMALL.width, SMALL.height));
        assert_eq!(details.avg_frame_rate, Rational::new(25, 1));
        assert_eq!(details.sample_aspect_ratio, Some(Rational::new(1, 1)));
        assert_eq!(details.display_aspect_ratio, Some(Rational::new(16, 9)));
        assert_eq!(details.pixel_format.as_deref(), Some("yuv420p"));
        assert_eq!(details.bit_depth, Some(8));
        assert_eq!(details.rotation_degrees, 0);

        let audio: Vec<&StreamInfo> = info.audio_streams().collect();
        assert_eq!(audio.len(), 2);
        assert_eq!(audio[0].language.as_deref(), Some("eng"));
        assert_eq!(audio[1].language.as_deref(), Some("fra"));
        assert!(audio[0].default && !audio[1].default);
        assert_eq!(audio[0].profile.as_deref(), Some("LC"));
        let sound = audio[1].audio.as_ref().unwrap();
        assert_eq!((sound.sample_rate, sound.channels), (48_000, 2));
        assert_eq!(sound.channel_layout.as_deref(), Some("stereo"));
        assert_eq!(sound.sample_format.as_deref(), Some("fltp"));

        let video_info = info.video_info().unwrap();
        assert_eq!(video_info.estimated_frames, Some(300));
    }

    #[test]
    fn media_info_round_trips_through_json() {
        let info = probe(small_sample()).unwrap();
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(serde_json::from_str::<MediaInfo>(&json).unwrap(), info);
    }
}
