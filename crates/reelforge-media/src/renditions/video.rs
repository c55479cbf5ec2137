//! One video rung: scale the shared decoded picture, encode with aligned IDR frames and a
//! capped VBV, and hand the packets to its segmenter. Runs on its own thread.

use std::path::Path;
use std::sync::mpsc::Receiver;

use ffmpeg_next as ffmpeg;
use reelforge_core::ProgressSink;

use super::segmenter::{SegmentLayout, Segmenter, set_private_option};
use super::{RenditionCodec, SourceTiming, VideoRungSpec};
use crate::error::MediaError;

/// A decoded picture (shared, not copied) and whether every rung must start a GOP on it.
pub(crate) struct SharedPicture {
    pub(crate) frame: ffmpeg::frame::Video,
    /// Presentation time in the source stream time base, rebased to start at 0; negative for
    /// a chunk's pre-roll, whose packets are dropped.
    pub(crate) pts: i64,
    pub(crate) key: bool,
}

/// What a finished rung reports.
pub(crate) struct RungResult {
    pub(crate) extradata: Vec<u8>,
    pub(crate) frames: u64,
}

pub(crate) fn run_rung(
    source: &Path,
    spec: &VideoRungSpec,
    layout: &SegmentLayout,
    timing: SourceTiming,
    preset: &str,
    pictures: Receiver<SharedPicture>,
    progress: &dyn ProgressSink,
) -> Result<RungResult, MediaError> {
    // A turned source is scaled in its stored orientation, then turned upright.
    let turns = spec.turns;
    let (scaled_width, scaled_height) =
        if turns % 2 == 1 { (spec.height, spec.width) } else { (spec.width, spec.height) };
    let (mut encoder, codec) = open_encoder(source, spec, timing, preset)?;
    let extradata = extradata(&encoder);
    let tag = (spec.codec == RenditionCodec::Hevc).then_some(*b"hvc1");
    let mut segmenter = Segmenter::create(source, layout, &encoder, codec, timing.time_base, None, tag)?;
    let task = format!("renditions {}", spec.label);
    progress.started(&task, timing.estimated_frames, reelforge_core::ProgressUnit::Frames);
    let mut scaler: Option<(ffmpeg::software::scaling::Context, (ffmpeg::format::Pixel, u32, u32))> = None;
    let mut frames = 0u64;
    for picture in pictures {
        let source_format = (picture.frame.format(), picture.frame.width(), picture.frame.height());
        // The source size can change mid-stream (broadcast recordings): re-create the scaler.
        let context = match &mut scaler {
            Some((context, made_for)) if *made_for == source_format => context,
            slot => {
                let context = ffmpeg::software::scaling::Context::get(
                    source_format.0,
                    source_format.1,
                    source_format.2,
                    ffmpeg::format::Pixel::YUV420P,
                    scaled_width,
                    scaled_height,
                    ffmpeg::software::scaling::Flags::BICUBIC,
                )
                .map_err(|e| MediaError::ffmpeg(&layout.dir, "setting up the scaler", e))?;
                &mut slot.insert((context, source_format)).0
            }
        };
        // A new picture each time: an encoder may still hold a reference to the last one.
        let mut scaled =
            ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, scaled_width, scaled_height);
        context
            .run(&picture.frame, &mut scaled)
            .map_err(|e| MediaError::ffmpeg(&layout.dir, "scaling", e))?;
        if !turns.is_multiple_of(4) {
            scaled = crate::scale::turn_yuv420(&scaled, turns);
        }
        scaled.set_pts(Some(picture.pts));
        // Forced I frames become IDR frames (forced-idr), the same frames in every rung.
        scaled.set_kind(if picture.key { ffmpeg::picture::Type::I } else { ffmpeg::picture::Type::None });
        encoder.send_frame(&scaled).map_err(|e| MediaError::ffmpeg(&layout.dir, "encoding video", e))?;
        drain(&mut encoder, &mut segmenter, &layout.dir, timing)?;
        frames += 1;
        if frames.is_multiple_of(25) {
            progress.advanced(&task, frames);
        }
    }
    encoder.send_eof().map_err(|e| MediaError::ffmpeg(&layout.dir, "flushing the video encoder", e))?;
    drain(&mut encoder, &mut segmenter, &layout.dir, timing)?;
    segmenter.finish()?;
    progress.advanced(&task, frames);
    progress.finished(&task);
    Ok(RungResult { extradata, frames })
}

fn drain(
    encoder: &mut ffmpeg::encoder::Video,
    segmenter: &mut Segmenter,
    dir: &Path,
    timing: SourceTiming,
) -> Result<(), MediaError> {
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match encoder.receive_packet(&mut packet) {
            Ok(()) => {
                // libx264 on FFmpeg 5.1 leaves durations at 0; segment durations need them.
                if packet.duration() == 0 {
                    packet.set_duration(timing.frame_duration);
                }
                // A chunk's pre-roll only warms up the encoder; its first IDR frame (pts 0)
                // starts the output, and with closed GOPs nothing after it refers back.
                if packet.pts().is_some_and(|pts| pts < 0) {
                    continue;
                }
                segmenter.write(&mut packet)?;
            }
            Err(ffmpeg::Error::Eof) => return Ok(()),
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => return Ok(()),
            Err(e) => return Err(MediaError::ffmpeg(dir, "receiving encoded video", e)),
        }
    }
}

fn extradata(encoder: &ffmpeg::encoder::Video) -> Vec<u8> {
    // SAFETY: extradata/extradata_size of an opened encoder describe one owned buffer.
    unsafe {
        let raw = encoder.as_ptr();
        let (data, size) = ((*raw).extradata, (*raw).extradata_size);
        if data.is_null() || size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(data, size as usize).to_vec()
        }
    }
}

fn open_encoder(
    source: &Path,
    spec: &VideoRungSpec,
    timing: SourceTiming,
    preset: &str,
) -> Result<(ffmpeg::encoder::Video, ffmpeg::Codec), MediaError> {
    let name = match spec.codec {
        RenditionCodec::H264 => "libx264",
        RenditionCodec::Hevc => "libx265",
        RenditionCodec::Av1 => "libsvtav1",
    };
    let codec = crate::ffi_util::find_encoder(source, name)?;
    let mut context = ffmpeg::codec::Context::new_with_codec(codec);
    context.set_threading(ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut encoder =
        context.encoder().video().map_err(|e| MediaError::ffmpeg(source, "setting up an encoder", e))?;
    encoder.set_width(spec.width);
    encoder.set_height(spec.height);
    encoder.set_format(ffmpeg::format::Pixel::YUV420P);
    encoder.set_aspect_ratio(ffmpeg::Rational::new(1, 1));
    encoder.set_time_base(timing.time_base);
    encoder.set_frame_rate(Some(timing.frame_rate));
    encoder.set_bit_rate(spec.bitrate as usize);
    encoder.set_max_bit_rate(spec.max_rate as usize);
    // fMP4 keeps parameter sets in the init segment, not in every key frame.
    encoder.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    let gop = spec.gop_frames.max(1);
    encoder.set_gop(gop);
    // SAFETY: the context is allocated and not yet opened; rc_buffer_size is a plain field.
    unsafe { (*encoder.as_mut_ptr()).rc_buffer_size = i32::try_from(spec.buffer_size).unwrap_or(i32::MAX) };
    // SAFETY (all blocks): the context is allocated, unopened and of the matching encoder.
    match spec.codec {
        RenditionCodec::H264 => unsafe {
            set_private_option(source, &mut encoder, "preset", preset)?;
            set_private_option(source, &mut encoder, "forced-idr", "1")?;
            // Scene-cut detection would add key frames that differ between rungs.
            let min = (gop / 2 + 1).min(gop);
            set_private_option(
                source,
                &mut encoder,
                "x264-params",
                &format!("keyint={gop}:min-keyint={min}:scenecut=0:open-gop=0"),
            )?;
        },
        RenditionCodec::Hevc => unsafe {
            set_private_option(source, &mut encoder, "preset", preset)?;
            set_private_option(source, &mut encoder, "forced-idr", "1")?;
            set_private_option(
                source,
                &mut encoder,
                "x265-params",
                &format!("keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:log-level=error"),
            )?;
        },
        RenditionCodec::Av1 => unsafe {
            set_private_option(source, &mut encoder, "preset", svt_preset(preset))?;
        },
    }
    let opened = encoder.open_as(codec).map_err(|e| MediaError::Failed {
        path: source.to_path_buf(),
        doing: format!("opening {name} at {}x{} {} bit/s", spec.width, spec.height, spec.bitrate),
        reason: e.to_string(),
    })?;
    Ok((opened, codec))
}

/// The SVT-AV1 speed (0 slowest … 12 fastest) closest to an x264 preset name.
fn svt_preset(x264: &str) -> &'static str {
    match x264 {
        "ultrafast" | "superfast" => "12",
        "veryfast" => "10",
        "faster" | "fast" => "8",
        "medium" => "6",
        _ => "4",
    }
}
