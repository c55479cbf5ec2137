//! One-time FFmpeg set-up shared by every entry point.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

static INIT: Once = Once::new();
/// Whether FFmpeg's own log lines reach stderr (the CLI's `-v`).
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// Error lines logged by each tagged decoder (see [`tag_decoder`]), by tag.
static DECODER_ERRORS: Mutex<Option<HashMap<usize, u64>>> = Mutex::new(None);
static NEXT_TAG: AtomicUsize = AtomicUsize::new(1);

/// Initialises FFmpeg once. Its log goes through [`log_line`]: silent unless verbose, since
/// reelforge reports failures itself, but decoders' error lines ("error while decoding MB")
/// are counted, as that is how FFmpeg reports damage it conceals.
pub(crate) fn ensure_init() {
    INIT.call_once(|| {
        // ffmpeg::init only fails on very old FFmpeg builds where registering is needed; the
        // failure would surface again as a clear error when a file is opened.
        let _ = ffmpeg::init();
        // SAFETY: installs a callback with the signature FFmpeg calls, valid for the process.
        unsafe { ffi::av_log_set_callback(Some(log_line)) };
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// Lets FFmpeg log warnings and information to stderr (the CLI's `-v`), or silences it again.
pub fn set_ffmpeg_log_verbose(verbose: bool) {
    ensure_init();
    VERBOSE.store(verbose, Ordering::Relaxed);
    let level = if verbose { ffmpeg::util::log::Level::Info } else { ffmpeg::util::log::Level::Error };
    ffmpeg::util::log::set_level(level);
}

/// Marks a decoder so its error lines are counted under the returned tag. The tag rides in
/// the codec context's `opaque`, which FFmpeg copies into its frame-thread contexts.
pub(crate) fn tag_decoder(context: *mut ffi::AVCodecContext) -> usize {
    let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller passes a codec context it owns, not yet opened by other threads.
    unsafe { (*context).opaque = tag as *mut std::ffi::c_void };
    tag
}

/// Error lines counted for `tag` so far, and forgets them.
pub(crate) fn take_decoder_errors(tag: usize) -> u64 {
    let mut counts = DECODER_ERRORS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    counts.as_mut().and_then(|counts| counts.remove(&tag)).unwrap_or(0)
}

/// FFmpeg's log callback: counts decoder errors by tag, prints only when verbose.
unsafe extern "C" fn log_line(
    context: *mut std::ffi::c_void,
    level: std::ffi::c_int,
    format: *const std::ffi::c_char,
    arguments: *mut ffi::__va_list_tag,
) {
    // SAFETY: FFmpeg passes either null or an object whose first field is its AVClass.
    unsafe {
        if level <= ffi::AV_LOG_ERROR && !context.is_null() {
            let class = *(context as *const *const ffi::AVClass);
            let is_codec = !class.is_null()
                && !(*class).class_name.is_null()
                && std::ffi::CStr::from_ptr((*class).class_name).to_bytes() == b"AVCodecContext";
            if is_codec {
                let tag = (*(context as *const ffi::AVCodecContext)).opaque as usize;
                if tag != 0 {
                    let mut counts = DECODER_ERRORS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    *counts.get_or_insert_with(HashMap::new).entry(tag).or_insert(0) += 1;
                }
            }
        }
        if VERBOSE.load(Ordering::Relaxed) {
            ffi::av_log_default_callback(context, level, format, arguments);
        }
    }
}
