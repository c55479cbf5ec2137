//! swresample to interleaved f32 at a chosen rate and channel count.

use std::ptr;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

/// Converts decoded audio frames to interleaved f32. Re-creates itself (after draining) when
/// the input format changes mid-stream, which some broadcast recordings do.
pub(crate) struct ToInterleavedF32 {
    swr: *mut ffi::SwrContext,
    input: Option<InputFormat>,
    out_rate: u32,
    out_channels: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct InputFormat {
    sample_format: i32,
    rate: i32,
    channels: i32,
}

impl ToInterleavedF32 {
    pub(crate) fn new(out_rate: u32, out_channels: u16) -> Self {
        Self { swr: ptr::null_mut(), input: None, out_rate, out_channels: out_channels.max(1) }
    }

    /// Appends the converted samples of `frame` to `out`.
    pub(crate) fn convert(
        &mut self,
        frame: &ffmpeg::frame::Audio,
        out: &mut Vec<f32>,
    ) -> Result<(), ffmpeg::Error> {
        // SAFETY: `frame` is a valid decoded audio frame; its fields describe its own buffers.
        let raw = unsafe { &*frame.as_ptr() };
        let format = InputFormat {
            sample_format: raw.format,
            rate: raw.sample_rate,
            channels: raw.ch_layout.nb_channels,
        };
        if self.input != Some(format) {
            if self.input.is_some() {
                self.flush(out)?;
            }
            self.open(raw)?;
            self.input = Some(format);
        }
        // SAFETY: swr is initialised for this input format; extended_data holds `nb_samples`
        // samples per plane; `out` has room for the upper bound swr_get_out_samples gives.
        unsafe { self.run(raw.extended_data as *const *const u8, raw.nb_samples, out) }
    }

    /// Drains what the resampler still holds (end of stream).
    pub(crate) fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), ffmpeg::Error> {
        if self.swr.is_null() {
            return Ok(());
        }
        // SAFETY: a null input asks swr to drain its internal buffer.
        unsafe { self.run(ptr::null(), 0, out) }
    }

    fn open(&mut self, frame: &ffi::AVFrame) -> Result<(), ffmpeg::Error> {
        self.free();
        // SAFETY: the layouts are initialised by FFmpeg functions and uninitialised afterwards;
        // swr_alloc_set_opts2 copies what it needs.
        unsafe {
            let mut in_layout: ffi::AVChannelLayout = std::mem::zeroed();
            if frame.ch_layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_UNSPEC {
                // Only a channel count is known: assume FFmpeg's usual layout for it.
                ffi::av_channel_layout_default(&mut in_layout, frame.ch_layout.nb_channels.max(1));
            } else {
                check(ffi::av_channel_layout_copy(&mut in_layout, &frame.ch_layout))?;
            }
            let mut out_layout: ffi::AVChannelLayout = std::mem::zeroed();
            ffi::av_channel_layout_default(&mut out_layout, i32::from(self.out_channels));
            let result = ffi::swr_alloc_set_opts2(
                &mut self.swr,
                &mut out_layout,
                ffi::AVSampleFormat::AV_SAMPLE_FMT_FLT,
                self.out_rate as i32,
                &mut in_layout,
                std::mem::transmute::<i32, ffi::AVSampleFormat>(frame.format),
                frame.sample_rate,
                0,
                ptr::null_mut(),
            );
            ffi::av_channel_layout_uninit(&mut in_layout);
            ffi::av_channel_layout_uninit(&mut out_layout);
            check(result)?;
            check(ffi::swr_init(self.swr))
        }
    }

    /// # Safety
    /// `input` must be null (drain) or point to `count` samples in the configured format.
    unsafe fn run(
        &mut self,
        input: *const *const u8,
        count: i32,
        out: &mut Vec<f32>,
    ) -> Result<(), ffmpeg::Error> {
        unsafe {
            let capacity = ffi::swr_get_out_samples(self.swr, count.max(0));
            check(capacity)?;
            let channels = usize::from(self.out_channels);
            let old_len = out.len();
            out.reserve(capacity as usize * channels);
            let mut out_ptr = out.as_mut_ptr().add(old_len) as *mut u8;
            let written = ffi::swr_convert(self.swr, &mut out_ptr, capacity, input as *mut *const u8, count);
            check(written)?;
            out.set_len(old_len + written as usize * channels);
            Ok(())
        }
    }

    fn free(&mut self) {
        if !self.swr.is_null() {
            // SAFETY: swr was allocated by swr_alloc_set_opts2 and is not used afterwards.
            unsafe { ffi::swr_free(&mut self.swr) };
        }
    }
}

impl Drop for ToInterleavedF32 {
    fn drop(&mut self) {
        self.free();
    }
}

fn check(code: i32) -> Result<(), ffmpeg::Error> {
    if code < 0 { Err(ffmpeg::Error::from(code)) } else { Ok(()) }
}
