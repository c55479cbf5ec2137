//! Opening an input file with errors that say what is wrong with it.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use ffmpeg_next as ffmpeg;

use crate::error::MediaError;
use crate::init::ensure_init;

/// Opens `path` for demuxing (stream info already read), or explains why it cannot be.
pub(crate) fn open_input(path: &Path) -> Result<ffmpeg::format::context::Input, MediaError> {
    ensure_init();
    // ffmpeg-next converts the path with `to_str().unwrap()`: check first instead of panicking.
    if path.to_str().is_none() {
        return Err(MediaError::NonUtf8Path { path: path.to_path_buf() });
    }
    let metadata = fs::metadata(path).map_err(|e| unreadable(path, &e))?;
    if metadata.is_dir() {
        return Err(MediaError::Unreadable { path: path.to_path_buf(), reason: "it is a directory".into() });
    }
    if !metadata.is_file() {
        // A device such as /dev/zero never ends; a pipe cannot be read twice.
        return Err(MediaError::Unreadable {
            path: path.to_path_buf(),
            reason: "it is not a regular file (a device, pipe or socket)".into(),
        });
    }
    if metadata.len() == 0 {
        return Err(MediaError::Empty { path: path.to_path_buf() });
    }
    let input = ffmpeg::format::input(path).map_err(|e| open_failure(path, e))?;
    // A text file can be "recognised" as ANSI art by the tty demuxer; that is not media.
    let demuxer = input.format().name().to_owned();
    if input.nb_streams() == 0 || demuxer == "tty" {
        return Err(MediaError::NotMedia { path: path.to_path_buf() });
    }
    if demuxer.starts_with("mov,") {
        check_index_within_file(path, &input, metadata.len())?;
    }
    Ok(input)
}

/// Where the file's timeline starts, in seconds: FFmpeg's start time when it is positive
/// (an MPEG-TS capture starting at 25 000 s, a file cut from a longer one), else 0. Every time
/// reelforge reports or is given (shot and cue times, timecodes, clip windows) counts from it,
/// so the same content gives the same times whatever container offset it carries.
pub(crate) fn timeline_origin(input: &ffmpeg::format::context::Input) -> f64 {
    // SAFETY: reads one field of the open format context.
    let start = unsafe { (*input.as_ptr()).start_time };
    if start == ffmpeg::ffi::AV_NOPTS_VALUE || start <= 0 {
        return 0.0;
    }
    start as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
}

/// Clockwise quarter turns that show stream `index` upright (its display matrix).
pub(crate) fn display_turns(input: &ffmpeg::format::context::Input, index: usize) -> u8 {
    input.stream(index).map_or(0, |stream| {
        // SAFETY: the stream belongs to the open input; its side data is only read.
        crate::probe::clockwise_turns(unsafe { crate::probe::rotation(stream.as_ptr() as *mut _) })
    })
}

/// The stream pictures come from: FFmpeg's best video stream, passing over cover art (an
/// MP3's or M4A's attached picture is one still image, not video).
pub(crate) fn picture_stream(input: &ffmpeg::format::context::Input) -> Option<usize> {
    let moving = |stream: &ffmpeg::format::stream::Stream<'_>| {
        stream.parameters().medium() == ffmpeg::media::Type::Video
            && !stream.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
    };
    input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .filter(moving)
        .or_else(|| input.streams().find(moving))
        .map(|stream| stream.index())
}

/// An MP4/MOV header indexes every packet: when the index points past the end of the file,
/// the file was cut short (an interrupted copy or export), even though its header reads fine.
fn check_index_within_file(
    path: &Path,
    input: &ffmpeg::format::context::Input,
    file_len: u64,
) -> Result<(), MediaError> {
    let mut indexed_end: u64 = 0;
    for stream in input.streams() {
        // SAFETY: the stream belongs to the open context `input`; the entry pointer is read
        // at once, before any other call on the context could invalidate it.
        let end = unsafe {
            let stream = stream.as_ptr() as *mut ffmpeg::ffi::AVStream;
            let count = ffmpeg::ffi::avformat_index_get_entries_count(stream);
            if count <= 0 {
                continue;
            }
            let last = ffmpeg::ffi::avformat_index_get_entry(stream, count - 1);
            if last.is_null() {
                continue;
            }
            u64::try_from((*last).pos).unwrap_or(0) + u64::try_from((*last).size()).unwrap_or(0)
        };
        indexed_end = indexed_end.max(end);
    }
    if indexed_end > file_len {
        let missing = indexed_end - file_len;
        return Err(MediaError::Truncated {
            path: path.to_path_buf(),
            detail: format!(
                "its index refers to {missing} bytes past the end of the file ({file_len} bytes)"
            ),
        });
    }
    Ok(())
}

fn unreadable(path: &Path, error: &io::Error) -> MediaError {
    let reason = match error.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    };
    MediaError::Unreadable { path: path.to_path_buf(), reason }
}

fn open_failure(path: &Path, error: ffmpeg::Error) -> MediaError {
    match error {
        ffmpeg::Error::Other { errno } if errno == ffmpeg::util::error::ENOENT => {
            MediaError::Unreadable { path: path.to_path_buf(), reason: "no such file".into() }
        }
        ffmpeg::Error::Other { errno } if errno == ffmpeg::util::error::EACCES => {
            MediaError::Unreadable { path: path.to_path_buf(), reason: "permission denied".into() }
        }
        ffmpeg::Error::Other { .. } => {
            MediaError::Unreadable { path: path.to_path_buf(), reason: error.to_string() }
        }
        // An MP4 whose index (moov box) is missing is nearly always an interrupted copy.
        _ if looks_like_iso_media(path) => MediaError::Truncated {
            path: path.to_path_buf(),
            detail: "the MP4/MOV index (moov box) is missing or cut off".into(),
        },
        ffmpeg::Error::Eof => MediaError::Truncated {
            path: path.to_path_buf(),
            detail: "the file ends before its headers do".into(),
        },
        _ => MediaError::NotMedia { path: path.to_path_buf() },
    }
}

/// True when the file starts with an ISO base media `ftyp` box (MP4, MOV, M4A, 3GP).
fn looks_like_iso_media(path: &Path) -> bool {
    let mut head = [0u8; 8];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[4..8] == b"ftyp"
}

#[cfg(test)]
mod tests {
    use reelforge_core::{Classify, ErrorClass, NoProgress};

    use crate::test_support::cut_copy;
    use crate::{MediaError, decode_pass, probe};

    fn assert_bad_input_one_line(error: &MediaError, name: &str) {
        assert_eq!(error.class(), ErrorClass::BadInput, "{error}");
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains(name), "{message}");
    }

    #[test]
    fn zero_byte_file_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.mp4");
        std::fs::write(&path, b"").unwrap();
        let error = probe(&path).unwrap_err();
        assert!(matches!(error, MediaError::Empty { .. }));
        assert_bad_input_one_line(&error, "empty.mp4");
    }

    #[test]
    fn text_renamed_mp4_is_not_media() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.mp4");
        std::fs::write(&path, "shopping list\n- milk\n- bread\n").unwrap();
        let error = decode_pass(&path, &mut [], &mut [], &NoProgress).unwrap_err();
        assert!(matches!(error, MediaError::NotMedia { .. }), "{error}");
        assert_bad_input_one_line(&error, "notes.mp4");
    }

    #[test]
    fn missing_file_is_unreadable() {
        let error = probe(std::path::Path::new("/nonexistent/episode.mp4")).unwrap_err();
        assert!(matches!(error, MediaError::Unreadable { .. }));
        assert_bad_input_one_line(&error, "episode.mp4");
    }

    #[test]
    fn mp4_cut_in_half_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = cut_copy(dir.path(), 0.5);
        // The index is at the front (faststart), so the header reads fine, but it points
        // past the end of the file: probe and decode both refuse before reading media data.
        let error = probe(&path).unwrap_err();
        assert!(matches!(error, MediaError::Truncated { .. }), "{error}");
        assert_bad_input_one_line(&error, "cut.mp4");
        let error = decode_pass(&path, &mut [], &mut [], &NoProgress).unwrap_err();
        assert!(matches!(error, MediaError::Truncated { .. }), "{error}");
    }

    #[test]
    fn mp4_cut_inside_its_header_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = cut_copy(dir.path(), 0.002);
        let error = probe(&path).unwrap_err();
        assert!(matches!(error, MediaError::Truncated { .. }), "{error}");
        assert_bad_input_one_line(&error, "cut.mp4");
    }
}
