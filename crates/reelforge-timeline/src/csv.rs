//! One row per clip, for spreadsheets and quick scripts.

use std::fmt::Write;

use crate::timecode::Timecode;
use crate::{Clip, Timeline};

const HEADER: &str = "shot,start_frame,end_frame,start_time,end_time,start_timecode,transition\n";

/// Columns: `shot` (1-based), `start_frame`, `end_frame` (inclusive), `start_time` and
/// `end_time` (seconds, 3 decimals, from the clip's timestamps), `start_timecode` (non-drop,
/// at the timeline's rate), `transition`.
pub fn to_csv(timeline: &Timeline) -> String {
    let base = timeline.rate.timecode_base();
    let mut out = String::from(HEADER);
    for (number, clip) in (1..).zip(&timeline.clips) {
        let Clip { start_frame, start_seconds, end_seconds, .. } = *clip;
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{number},{start_frame},{},{start_seconds:.3},{end_seconds:.3},{},{}",
            clip.end_frame_exclusive.saturating_sub(1).max(start_frame),
            Timecode::from_frames(start_frame, base),
            field(&clip.transition),
        );
    }
    out
}

/// Quotes a field that holds a separator, quote or line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameRate;
    use crate::sample::two_clips;

    #[test]
    fn writes_one_row_per_clip_with_inclusive_end_frames() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        assert_eq!(
            to_csv(&timeline),
            "shot,start_frame,end_frame,start_time,end_time,start_timecode,transition\n\
             1,0,95,0.000,4.000,00:00:00:00,start\n\
             2,96,119,4.000,5.000,00:00:04:00,dissolve\n"
        );
    }

    #[test]
    fn times_come_from_the_clip_not_from_the_rate() {
        let mut timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        timeline.clips[1].start_seconds = 4.0417;
        let csv = to_csv(&timeline);
        assert!(csv.lines().nth(2).is_some_and(|row| row.starts_with("2,96,119,4.042,")), "{csv}");
    }

    #[test]
    fn awkward_text_is_quoted() {
        assert_eq!(field("cut"), "cut");
        assert_eq!(field("fade, then \"cut\""), "\"fade, then \"\"cut\"\"\"");
    }
}
