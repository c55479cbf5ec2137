//! Small conversions between FFmpeg's C types and ours.

use std::ffi::{CStr, c_char};
use std::path::Path;

use ffmpeg_next::ffi;
use reelforge_core::Rational;

use crate::error::MediaError;

/// Copies a C string FFmpeg owns; `None` for a null pointer.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn c_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() { None } else { Some(unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()) }
}

pub(crate) fn rational(value: ffi::AVRational) -> Rational {
    Rational::new(value.num, value.den)
}

pub(crate) fn from_ffmpeg_rational(value: ffmpeg_next::Rational) -> Rational {
    Rational::new(value.numerator(), value.denominator())
}

/// A timestamp or duration in `time_base` units as seconds; `None` for FFmpeg's "no value".
pub(crate) fn ts_seconds(value: i64, time_base: Rational) -> Option<f64> {
    (value != ffi::AV_NOPTS_VALUE && time_base.den != 0).then(|| value as f64 * time_base.as_f64())
}

/// The FFmpeg encoder called `name` (e.g. "libx264", "aac"), or the error that tells the user
/// which FFmpeg build provides it.
pub(crate) fn find_encoder(path: &Path, name: &str) -> Result<ffmpeg_next::Codec, MediaError> {
    ffmpeg_next::encoder::find_by_name(name).ok_or_else(|| MediaError::MissingCodec {
        path: path.to_path_buf(),
        what: format!("the {name} encoder"),
        hint: format!(
            "install an FFmpeg build with the {name} encoder (Debian 12: libavcodec59 from the main archive)"
        ),
    })
}
