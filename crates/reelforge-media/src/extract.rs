//! Single pictures at chosen times (keyframes for reports), found by seeking rather than by
//! decoding the whole file again.

use std::path::Path;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use reelforge_core::{FrameRequest, PixelLayout, Timestamp, VideoFrame};

use crate::decode::{open_video_decoder, video_info};
use crate::error::MediaError;
use crate::open::open_input;
use crate::scale::FrameScaler;

/// One picture in `layout` per entry of `times_seconds` (stream timeline seconds, as
/// `Timestamp::seconds` gives them), `width` pixels wide (never upscaled, display aspect kept),
/// in the order asked. Each is the first picture shown at or after its time; a time past the
/// end gives the last picture FFmpeg decodes after seeking there (with FFmpeg 5.1's H.264
/// decoder that can be a frame or two before the true last one). `VideoFrame::index` is
/// estimated from the time and the frame rate.
pub fn extract_frames(
    path: &Path,
    times_seconds: &[f64],
    width: u32,
    layout: PixelLayout,
) -> Result<Vec<VideoFrame>, MediaError> {
    let mut input = open_input(path)?;
    let index = crate::open::picture_stream(&input)
        .ok_or_else(|| MediaError::NoVideoStream { path: path.to_path_buf() })?;
    for mut stream in input.streams_mut() {
        if stream.index() != index {
            // SAFETY: setting `discard` before reading packets is how FFmpeg skips a stream.
            unsafe { (*stream.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
    let mut decoder = open_video_decoder(path, &input, index)?;
    let info = video_info(&input, index, &decoder);
    let request = FrameRequest::fit_width(&info, width, layout);
    let mut scaler = FrameScaler::upright(request, crate::open::display_turns(&input, index));
    let time_base = info.time_base;
    let fps = info.frame_rate.as_f64();
    // Times given and returned count from the timeline origin; FFmpeg's timestamps do not.
    let origin = crate::open::timeline_origin(&input);
    let origin_ticks =
        if time_base.as_f64() > 0.0 { (origin / time_base.as_f64()).round() as i64 } else { 0 };

    let mut frames = Vec::with_capacity(times_seconds.len());
    for &seconds in times_seconds {
        let seconds = if seconds.is_finite() { seconds.max(0.0) } else { 0.0 };
        let picture =
            picture_at(path, &mut input, &mut decoder, index, time_base.as_f64(), seconds + origin)?;
        let data = scaler.scale(&picture).map_err(|e| MediaError::ffmpeg(path, "scaling a keyframe", e))?;
        let pts = picture.pts().or(picture.timestamp()).unwrap_or(0) - origin_ticks;
        let time = Timestamp { pts, time_base };
        frames.push(VideoFrame {
            index: (time.seconds() * fps).round().max(0.0) as u64,
            time,
            width: request.width,
            height: request.height,
            layout: request.layout,
            data,
        });
    }
    Ok(frames)
}

/// Reads the next packet of stream `index` into `decoder` (other streams' packets are
/// skipped). Returns `false` once the file is exhausted, after sending the decoder its end of
/// stream. A read error means the file is cut short: `near` says where, for the message.
pub(crate) fn feed_next_packet(
    path: &Path,
    input: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
    index: usize,
    decoder: &mut ffmpeg::decoder::Opened,
    near: &str,
) -> Result<bool, MediaError> {
    loop {
        match packet.read(input) {
            Ok(()) if packet.stream() == index => {
                // A damaged packet is skipped, as FFmpeg's own tools do.
                let _ = decoder.send_packet(packet);
                return Ok(true);
            }
            Ok(()) => continue,
            Err(ffmpeg::Error::Eof) => {
                let _ = decoder.send_eof();
                return Ok(false);
            }
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => continue,
            Err(error) => {
                return Err(MediaError::Truncated {
                    path: path.to_path_buf(),
                    detail: format!("reading failed near {near} ({error})"),
                });
            }
        }
    }
}

/// Seeks to the keyframe before `seconds` and decodes forward to the picture shown then.
fn picture_at(
    path: &Path,
    input: &mut ffmpeg::format::context::Input,
    decoder: &mut ffmpeg::decoder::Video,
    index: usize,
    time_base: f64,
    seconds: f64,
) -> Result<ffmpeg::frame::Video, MediaError> {
    // Half a tick of slack: timestamps are rounded to the time base.
    let reached = |frame: &ffmpeg::frame::Video| {
        frame.pts().or(frame.timestamp()).is_none_or(|pts| (pts as f64 + 0.5) * time_base >= seconds)
    };
    // MPEG-TS seeks by timestamp and can land after the last keyframe before the target, with
    // nothing decodable up to the end: then seek again from further back.
    for back in [0.0, SEEK_RETRY_SECONDS] {
        let target = ((seconds - back).max(0.0) * f64::from(ffi::AV_TIME_BASE)) as i64;
        // A failed seek (unseekable input) just means decoding from where we are.
        let _ = input.seek(target, ..target);
        decoder.flush();
        let mut packet = ffmpeg::Packet::empty();
        let mut picture = ffmpeg::frame::Video::empty();
        let mut last: Option<ffmpeg::frame::Video> = None;
        let mut more = true;
        while more {
            more = feed_next_packet(path, input, &mut packet, index, decoder, &format!("{seconds:.1} s"))?;
            if !more {
                // The end: frame threads still hold the last pictures.
                let _ = decoder.send_eof();
            }
            while decoder.receive_frame(&mut picture).is_ok() {
                if reached(&picture) {
                    return Ok(picture);
                }
                // Keep it (no copy) in case the stream ends before the target.
                last = Some(std::mem::replace(&mut picture, ffmpeg::frame::Video::empty()));
            }
        }
        if let Some(last) = last {
            return Ok(last);
        }
    }
    Err(MediaError::Truncated {
        path: path.to_path_buf(),
        detail: format!("no picture could be decoded near {seconds:.1} s"),
    })
}

/// How much further back a second seek starts when the first found nothing to decode.
const SEEK_RETRY_SECONDS: f64 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{SMALL, small_sample, small_truth};

    #[test]
    fn extracts_the_pictures_asked_for_in_order() {
        let times = [6.0, 0.0, 11.96, 30.0];
        let frames = extract_frames(small_sample(), &times, 128, PixelLayout::Rgb24).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0].index, 150);
        assert_eq!(frames[1].index, 0);
        // Near the end, FFmpeg may not hand out the very last pictures after a seek.
        let last = SMALL.frame_count() - 1;
        assert!((last - 3..=last).contains(&frames[2].index), "{}", frames[2].index);
        assert!((last - 3..=last).contains(&frames[3].index), "past the end gives (about) the last picture");
        for frame in &frames {
            assert_eq!((frame.width, frame.height, frame.layout), (128, 72, PixelLayout::Rgb24));
            assert_eq!(frame.data.len(), 128 * 72 * 3);
        }
        // The first shot (testsrc2) and the middle one look different.
        assert_ne!(frames[0].data, frames[1].data);
        assert!(small_truth().shots.len() >= 2);
    }
}
