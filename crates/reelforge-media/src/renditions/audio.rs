//! One audio rendition: the decoded frames of one source stream resampled to 48 kHz stereo
//! and encoded to AAC in 1024-sample frames, then segmented. Runs on its own thread.

use std::path::Path;
use std::sync::mpsc::Receiver;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use super::AudioRenditionSpec;
use super::segmenter::{SegmentLayout, Segmenter};
use crate::error::MediaError;
use crate::resample::ToInterleavedF32;

/// Sample rate of every audio rendition.
pub const AUDIO_RATE: u32 = 48_000;
const CHANNELS: usize = 2;

pub(crate) fn run_audio(
    source: &Path,
    spec: &AudioRenditionSpec,
    layout: &SegmentLayout,
    frames: Receiver<ffmpeg::frame::Audio>,
) -> Result<(), MediaError> {
    let dir = &layout.dir;
    let aac = crate::ffi_util::find_encoder(source, "aac")?;
    let mut encoder = ffmpeg::codec::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .map_err(|e| MediaError::ffmpeg(dir, "setting up the AAC encoder", e))?;
    let time_base = ffmpeg::Rational::new(1, AUDIO_RATE as i32);
    encoder.set_rate(AUDIO_RATE as i32);
    encoder.set_format(ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar));
    encoder.set_bit_rate(spec.bitrate as usize);
    encoder.set_time_base(time_base);
    encoder.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    // SAFETY: sets the channel layout field (FFmpeg ≥ 5.1) of the unopened context.
    unsafe { ffi::av_channel_layout_default(&mut (*encoder.as_mut_ptr()).ch_layout, CHANNELS as i32) };
    let mut encoder =
        encoder.open_as(aac).map_err(|e| MediaError::ffmpeg(dir, "opening the AAC encoder", e))?;
    let frame_size = (encoder.frame_size() as usize).max(1);
    let mut segmenter =
        Segmenter::create(source, layout, &encoder, aac, time_base, spec.language.as_deref(), None)?;

    let mut resampler = ToInterleavedF32::new(AUDIO_RATE, CHANNELS as u16);
    let mut pending: Vec<f32> = Vec::new();
    let mut encoded: i64 = 0;
    for frame in frames {
        resampler
            .convert(&frame, &mut pending)
            .map_err(|e| MediaError::ffmpeg(dir, "resampling audio", e))?;
        encode_whole_frames(&mut encoder, &mut segmenter, &mut pending, &mut encoded, frame_size, dir)?;
    }
    resampler.flush(&mut pending).map_err(|e| MediaError::ffmpeg(dir, "resampling audio", e))?;
    encode_whole_frames(&mut encoder, &mut segmenter, &mut pending, &mut encoded, frame_size, dir)?;
    if !pending.is_empty() {
        // The last frame is padded with silence to a full AAC frame.
        pending.resize(frame_size * CHANNELS, 0.0);
        encode_whole_frames(&mut encoder, &mut segmenter, &mut pending, &mut encoded, frame_size, dir)?;
    }
    encoder.send_eof().map_err(|e| MediaError::ffmpeg(dir, "flushing the AAC encoder", e))?;
    drain(&mut encoder, &mut segmenter, dir)?;
    segmenter.finish()
}

/// Encodes every complete `frame_size` block of interleaved samples at the front of `pending`.
fn encode_whole_frames(
    encoder: &mut ffmpeg::encoder::Audio,
    segmenter: &mut Segmenter,
    pending: &mut Vec<f32>,
    encoded: &mut i64,
    frame_size: usize,
    dir: &Path,
) -> Result<(), MediaError> {
    let block = frame_size * CHANNELS;
    let whole = pending.len() / block * block;
    for interleaved in pending[..whole].chunks_exact(block) {
        let mut frame = ffmpeg::frame::Audio::new(
            ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar),
            frame_size,
            ffmpeg::ChannelLayout::STEREO,
        );
        frame.set_rate(AUDIO_RATE);
        for channel in 0..CHANNELS {
            let plane = frame.plane_mut::<f32>(channel);
            for (out, sample) in plane.iter_mut().zip(interleaved.iter().skip(channel).step_by(CHANNELS)) {
                *out = *sample;
            }
        }
        frame.set_pts(Some(*encoded));
        *encoded += frame_size as i64;
        encoder.send_frame(&frame).map_err(|e| MediaError::ffmpeg(dir, "encoding audio", e))?;
        drain(encoder, segmenter, dir)?;
    }
    pending.drain(..whole);
    Ok(())
}

fn drain(
    encoder: &mut ffmpeg::encoder::Audio,
    segmenter: &mut Segmenter,
    dir: &Path,
) -> Result<(), MediaError> {
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match encoder.receive_packet(&mut packet) {
            Ok(()) => segmenter.write(&mut packet)?,
            Err(ffmpeg::Error::Eof) => return Ok(()),
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => return Ok(()),
            Err(e) => return Err(MediaError::ffmpeg(dir, "receiving encoded audio", e)),
        }
    }
}
