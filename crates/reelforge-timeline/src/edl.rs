//! CMX3600 edit decision list: the lowest common denominator every editor imports.

use std::fmt::Write;

use crate::timecode::Timecode;
use crate::{Edit, EditOptions, Timeline};

/// "Auxiliary source": the real file is named by the `* FROM FILE:` comment.
const REEL: &str = "AX";
/// CMX3600's reel for generated black (the title card's background).
const BLACK: &str = "BL";

/// One video cut event per clip, laid end to end from 01:00:00:00 on the record side. Source
/// timecode counts from 00:00:00:00 at the source's first frame. Timecode is non-drop at the
/// rate rounded to whole frames (24 for 23.976, 30 for 29.97), as `FCM: NON-DROP FRAME` says.
pub fn to_cmx3600_edl(timeline: &Timeline) -> String {
    to_cmx3600_edl_with(timeline, &EditOptions::default())
}

/// Like [`to_cmx3600_edl`], with what `options` adds: dissolves as CMX3600 `D` events (a
/// zero-length cut line at the outgoing clip's out-point, then the incoming clip with the
/// dissolve length, under one event number); with `audio_track`, every video event followed by
/// the same edit on the stereo audio pair (`AA`, CMX3600's channels 1 and 2) as its own event;
/// and a title card as a black (`BL`) video event named after its text, under which the last
/// clip's audio event runs on.
pub fn to_cmx3600_edl_with(timeline: &Timeline, options: &EditOptions) -> String {
    write(&Edit::new(timeline, options))
}

/// A CMX3600 dissolve always starts on the edit, so a transition that begins before the edit
/// (`in_frames` > 0) moves the edit back to where the transition begins: the outgoing clip
/// ends and the incoming one starts `in_frames` earlier, and the dissolve lasts the whole
/// transition. The frames on screen stay the same.
pub(crate) fn write(edit: &Edit<'_>) -> String {
    let timeline = edit.timeline;
    let transitions = edit.fitted_transitions();
    let base = timeline.rate.timecode_base();
    let timecode = |frames: u64| Timecode::from_frames(frames, base);
    let mut record = edit.record_start_frames();
    let mut out = format!("TITLE: {}\nFCM: NON-DROP FRAME\n", one_line(&timeline.name));
    let channels: &[&str] = if edit.audio_track { &["V", "AA"] } else { &["V"] };
    let run_on = edit.title_card.map_or(0, |card| card.audio_run_on_frames);
    // Source in and out of each clip once every edit sits where its dissolve starts.
    let moved_back = |index: usize| transitions.get(index).copied().flatten().map_or(0, |t| t.in_frames);
    let source_in = |index: usize| timeline.clips[index].start_frame - moved_back(index);
    let source_out = |index: usize| timeline.clips[index].end_frame_exclusive - moved_back(index + 1);
    let mut number = 0;
    for (index, clip) in timeline.clips.iter().enumerate() {
        let dissolve = transitions[index].map(|t| t.frames());
        let is_last = index + 1 == timeline.clips.len();
        let duration = source_out(index) - source_in(index);
        for &channel in channels {
            number += 1;
            // The last clip's sound continues under the title card.
            let extra = if channel != "V" && is_last { run_on } else { 0 };
            let times = format!(
                "{} {} {} {}",
                timecode(source_in(index)),
                timecode(source_out(index) + extra),
                timecode(record),
                timecode(record + duration + extra)
            );
            // Writing to a String cannot fail.
            let _ = match (dissolve, index.checked_sub(1)) {
                (Some(dissolve), Some(previous)) => {
                    let previous_out = timecode(source_out(previous));
                    write!(
                        out,
                        "\n{number:03}  {REEL:<8} {channel:<5} C        {previous_out} {previous_out} {} {}\n\
                         {number:03}  {REEL:<8} {channel:<5} D {dissolve:03}    {times}\n\
                         * FROM CLIP NAME: {}\n* TO CLIP NAME: {}\n* FROM FILE: {}\n",
                        timecode(record),
                        timecode(record),
                        one_line(&timeline.clips[previous].name),
                        one_line(&clip.name),
                        one_line(&timeline.source_url),
                    )
                }
                _ => write!(
                    out,
                    "\n{number:03}  {REEL:<8} {channel:<5} C        {times}\n* FROM CLIP NAME: {}\n* FROM FILE: {}\n",
                    one_line(&clip.name),
                    one_line(&timeline.source_url),
                ),
            };
        }
        record += duration;
    }
    if let Some(card) = edit.title_card {
        // Black is a source of its own ("special source identifier" BL): source timecode
        // counts from zero.
        let _ = write!(
            out,
            "\n{:03}  {BLACK:<8} {:<5} C        {} {} {} {}\n* FROM CLIP NAME: {}\n",
            number + 1,
            "V",
            timecode(0),
            timecode(card.frames),
            timecode(record),
            timecode(record + card.frames),
            one_line(&card.text),
        );
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
    use crate::sample::two_clips;
    use crate::{FrameRate, TitleCardEdit};

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
        let options = EditOptions { dissolve_frames: vec![0, 12], ..EditOptions::default() };
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
    fn a_dissolve_straddling_the_cut_moves_the_edit_back_to_its_start() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let edit = crate::sample::straddling_dissolve(&timeline);
        let edl = edit.to_cmx3600_edl();
        assert!(
            edl.contains(
                "001  AX       V     C        00:00:00:00 00:00:03:18 01:00:00:00 01:00:03:18\n\
                 * FROM CLIP NAME: shot_001\n* FROM FILE: /media/ep1.mp4\n\n\
                 002  AX       V     C        00:00:03:18 00:00:03:18 01:00:03:18 01:00:03:18\n\
                 002  AX       V     D 016    00:00:03:18 00:00:05:00 01:00:03:18 01:00:05:00\n"
            ),
            "{edl}"
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

    #[test]
    fn audio_events_follow_each_video_event_and_run_on_under_the_title_card() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let options = EditOptions {
            dissolve_frames: vec![0, 12],
            audio_track: true,
            title_card: Some(TitleCardEdit {
                text: "Soon\nhere".into(),
                frames: 48,
                audio_run_on_frames: 24,
            }),
        };
        let edl = to_cmx3600_edl_with(&timeline, &options);
        assert!(
            edl.contains(
                "001  AX       V     C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n\
                 * FROM CLIP NAME: shot_001\n* FROM FILE: /media/ep1.mp4\n\n\
                 002  AX       AA    C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n"
            ),
            "{edl}"
        );
        assert!(
            edl.contains(
                "004  AX       AA    C        00:00:04:00 00:00:04:00 01:00:04:00 01:00:04:00\n\
                 004  AX       AA    D 012    00:00:04:00 00:00:06:00 01:00:04:00 01:00:06:00\n"
            ),
            "the last sound runs on a second under the card: {edl}"
        );
        assert!(
            edl.ends_with(
                "\n005  BL       V     C        00:00:00:00 00:00:02:00 01:00:05:00 01:00:07:00\n\
                 * FROM CLIP NAME: Soon here\n"
            ),
            "{edl}"
        );
    }
}
