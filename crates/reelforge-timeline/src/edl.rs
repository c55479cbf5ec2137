//! CMX3600 edit decision list: the lowest common denominator every editor imports.

use std::fmt::Write;

use crate::timecode::Timecode;
use crate::{EditOptions, Timeline};

/// Record timecode of the first event, by convention one hour in.
const RECORD_START_HOURS: u64 = 1;
/// "Auxiliary source": the real file is named by the `* FROM FILE:` comment.
const REEL: &str = "AX";

/// One video cut event per clip, laid end to end from 01:00:00:00 on the record side. Source
/// timecode counts from 00:00:00:00 at the source's first frame. Timecode is non-drop at the
/// rate rounded to whole frames (24 for 23.976, 30 for 29.97), as `FCM: NON-DROP FRAME` says.
pub fn to_cmx3600_edl(timeline: &Timeline) -> String {
    to_cmx3600_edl_with(timeline, &EditOptions::default())
}

/// Like [`to_cmx3600_edl`], with the dissolves of `options` as CMX3600 `D` events: a
/// zero-length cut line at the outgoing clip's out-point, then the incoming clip with the
/// dissolve length, both under one event number (the audio track is not written: EDL events
/// here are video only).
pub fn to_cmx3600_edl_with(timeline: &Timeline, options: &EditOptions) -> String {
    let base = timeline.rate.timecode_base();
    let timecode = |frames: u64| Timecode::from_frames(frames, base);
    let mut record = RECORD_START_HOURS * 3600 * u64::from(base);
    let mut out = format!("TITLE: {}\nFCM: NON-DROP FRAME\n", one_line(&timeline.name));
    for (index, clip) in timeline.clips.iter().enumerate() {
        let number = index + 1;
        let source_out = clip.start_frame + clip.duration_frames();
        let record_out = record + clip.duration_frames();
        let dissolve = options.dissolve_frames.get(index).copied().unwrap_or(0);
        if let (true, Some(previous)) = (dissolve > 0, index.checked_sub(1).map(|i| &timeline.clips[i])) {
            let previous_out = timecode(previous.start_frame + previous.duration_frames());
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "\n{number:03}  {REEL:<8} {:<5} {:<8} {previous_out} {previous_out} {} {}\n\
                 {number:03}  {REEL:<8} {:<5} D {dissolve:03}    {} {} {} {}\n\
                 * FROM CLIP NAME: {}\n* TO CLIP NAME: {}\n* FROM FILE: {}\n",
                "V",
                "C",
                timecode(record),
                timecode(record),
                "V",
                timecode(clip.start_frame),
                timecode(source_out),
                timecode(record),
                timecode(record_out),
                one_line(&previous.name),
                one_line(&clip.name),
                one_line(&timeline.source_url),
            );
            record = record_out;
            continue;
        }
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
    fn dissolves_are_d_events_after_a_zero_length_cut_line() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let options = EditOptions { dissolve_frames: vec![0, 12], audio_track: true };
        let edl = to_cmx3600_edl_with(&timeline, &options);
        assert!(
            edl.contains(
                "002  AX       V     C        00:00:04:00 00:00:04:00 01:00:04:00 01:00:04:00\n\
                 002  AX       V     D 012    00:00:04:00 00:00:05:00 01:00:04:00 01:00:05:00\n\
                 * FROM CLIP NAME: shot_001\n* TO CLIP NAME: shot_002\n"
            ),
            "{edl}"
        );
        assert_eq!(to_cmx3600_edl_with(&timeline, &EditOptions::default()), to_cmx3600_edl(&timeline));
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
