//! One-time FFmpeg set-up shared by every entry point.

use std::sync::Once;

use ffmpeg_next as ffmpeg;

static INIT: Once = Once::new();

/// Initialises FFmpeg once and silences its log: reelforge reports failures itself, one line
/// each, so FFmpeg's own chatter on stderr would only repeat or confuse them.
pub(crate) fn ensure_init() {
    INIT.call_once(|| {
        // ffmpeg::init only fails on very old FFmpeg builds where registering is needed; the
        // failure would surface again as a clear error when a file is opened.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
    });
}

/// Lets FFmpeg log warnings and information to stderr (the CLI's `-v`), or silences it again.
pub fn set_ffmpeg_log_verbose(verbose: bool) {
    ensure_init();
    let level = if verbose { ffmpeg::util::log::Level::Info } else { ffmpeg::util::log::Level::Quiet };
    ffmpeg::util::log::set_level(level);
}
