//! CMX3600 edit decision list: the lowest common denominator every editor imports.

use std::fmt::Write;

use crate::Timeline;
use crate::timecode::Timecode;

/// Record timecode of the first event, by convention one hour in.
const RECORD_START_HOURS: u64 = 1;
/// "Auxiliary source": the real file is named by the `* FROM FILE:` comment.
const REEL: &str = "AX";

/// One video cut event per clip, laid end to end from 01:00:00:00 on the record side. Source
/// timecode counts from 00:00:00:00 at the source's first frame. Timecode is non-drop at the
/// rate rounded to whole frames (24 for 23.976, 30 for 29.97), as `FCM: NON-DROP FRAME` says.
pub fn to_cmx3600_edl(timeline: &Timeline) -> String {
    let base = timeline.rate.timecode_base();
    let timecode = |frames: u64| Timecode::from_frames(frames, base);
    let mut record = RECORD_START_HOURS * 3600 * u64::from(base);
    let mut out = format!("TITLE: {}\nFCM: NON-DROP FRAME\n", one_line(&timeline.name));
    for (number, clip) in (1..).zip(&timeline.clips) {
        let source_out = clip.start_frame + clip.duration_frames();
        let record_out = record + clip.duration_frames();
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n{number:03}  {REEL:<8} {:<5} {:<8} {} {} {} {}\n* FROM CLIP NAME: {}\n* FROM FILE: {}\n",
            "V",
            "C",
            timecode(clip.start_frame),
            timecode(source_out),
            timecode(record),
            timecode(record_out),
            one_line(&clip.name),
            one_line(&timeline.source_url),
        );
        record = record_out;
    }
    out
}

/// EDL lines cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameRate;
    use crate::sample::two_clips;

    #[test]
    fn events_are_numbered_with_source_and_record_timecodes() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        assert_eq!(
            to_cmx3600_edl(&timeline),
            "TITLE: Episode 1\n\
             FCM: NON-DROP FRAME\n\
             \n\
             001  AX       V     C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n\
             * FROM CLIP NAME: shot_001\n\
             * FROM FILE: /media/ep1.mp4\n\
             \n\
             002  AX       V     C        00:00:04:00 00:00:05:00 01:00:04:00 01:00:05:00\n\
             * FROM CLIP NAME: shot_002\n\
             * FROM FILE: /media/ep1.mp4\n"
        );
    }

    #[test]
    fn ntsc_rates_use_the_rounded_non_drop_base() {
        let timeline = two_clips(FrameRate::new(30000, 1001).expect("valid rate"));
        let edl = to_cmx3600_edl(&timeline);
        // 96 frames at a 30-frame base are 3 s 6 frames; the record side starts at 1 h.
        assert!(edl.contains("00:00:00:00 00:00:03:06 01:00:00:00 01:00:03:06"), "{edl}");
        assert!(edl.contains("00:00:03:06 00:00:04:00 01:00:03:06 01:00:04:00"), "{edl}");
    }

    #[test]
    fn line_breaks_in_names_cannot_break_the_format() {
        let mut timeline = two_clips(FrameRate::new(25, 1).expect("valid rate"));
        timeline.name = "two\nlines".into();
        assert!(to_cmx3600_edl(&timeline).starts_with("TITLE: two lines\n"));
    }
}
