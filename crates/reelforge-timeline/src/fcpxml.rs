//! Final Cut Pro X XML (FCPXML 1.9): one project whose sequence starts at 01:00:00:00, with
//! the clips end to end on the primary spine as `asset-clip`s of one `asset` (the source) and
//! each transition as a `transition` (Cross Dissolve) over the edit: it begins `in_frames`
//! before the edit and lasts the whole transition, while the clips keep their cut points.
//! Every time is a whole number of frames (`frames × frameDuration`), so nothing rounds.
//! Video only: the audio track and title card of an [`Edit`] are not written here.

use std::fmt::Write;

use quick_xml::escape::escape;

use crate::{Edit, FrameRate};

/// FCP X's built-in Cross Dissolve.
const CROSS_DISSOLVE_UID: &str = "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265";

/// A time of `frames` frames as an FCPXML rational number of seconds.
fn time(frames: u64, rate: FrameRate) -> String {
    if frames == 0 {
        return "0s".to_owned();
    }
    format!("{}/{}s", frames * u64::from(rate.den()), rate.num())
}

pub(crate) fn write(edit: &Edit<'_>) -> String {
    let timeline = edit.timeline;
    let rate = timeline.rate;
    let t = |frames: u64| time(frames, rate);
    let record_start = edit.record_start_frames();
    let record_frames: u64 = timeline.clips.iter().map(|c| c.duration_frames()).sum();
    let name = escape(timeline.name.as_str());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE fcpxml>\n<fcpxml version=\"1.9\">\n  <resources>\n    \
         <format id=\"r1\" frameDuration=\"{}\"/>\n    \
         <asset id=\"r2\" name=\"{}\" start=\"0s\" duration=\"{}\" hasVideo=\"1\" format=\"r1\" src=\"{}\"/>\n    \
         <effect id=\"r3\" name=\"Cross Dissolve\" uid=\"{CROSS_DISSOLVE_UID}\"/>\n  </resources>\n  \
         <library>\n    <event name=\"{name}\">\n      <project name=\"{name}\">\n        \
         <sequence format=\"r1\" duration=\"{}\" tcStart=\"{}\" tcFormat=\"NDF\">\n          <spine>\n",
        t(1),
        escape(timeline.source_name.as_str()),
        t(timeline.total_frames),
        escape(crate::file_url(&timeline.source_url).as_str()),
        t(record_frames),
        t(record_start),
    );
    let mut record = record_start;
    for (clip, transition) in timeline.clips.iter().zip(edit.fitted_transitions()) {
        if let Some(transition) = transition {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "            <transition name=\"Cross Dissolve\" offset=\"{}\" duration=\"{}\">\n              \
                 <filter-video ref=\"r3\" name=\"Cross Dissolve\"/>\n            </transition>",
                t(record - transition.in_frames),
                t(transition.frames()),
            );
        }
        let _ = writeln!(
            out,
            "            <asset-clip ref=\"r2\" name=\"{}\" offset=\"{}\" start=\"{}\" duration=\"{}\" format=\"r1\" tcFormat=\"NDF\"/>",
            escape(clip.name.as_str()),
            t(record),
            t(clip.start_frame),
            t(clip.duration_frames()),
        );
        record += clip.duration_frames();
    }
    out.push_str(
        "          </spine>\n        </sequence>\n      </project>\n    </event>\n  </library>\n</fcpxml>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use crate::sample::two_clips;
    use crate::{Edit, FrameRate};

    #[test]
    fn clips_keep_their_cut_and_the_dissolve_straddles_it() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let edit = crate::sample::straddling_dissolve(&timeline);
        let xml = edit.to_fcpxml();
        assert!(xml.contains("<format id=\"r1\" frameDuration=\"1/24s\"/>"), "{xml}");
        assert!(xml.contains("tcStart=\"86400/24s\""), "one hour in: {xml}");
        assert!(xml.contains("src=\"file:///media/ep1.mp4\""), "{xml}");
        // shot_002 starts 96 frames after the sequence start; the dissolve 6 frames earlier.
        assert!(
            xml.contains("<transition name=\"Cross Dissolve\" offset=\"86490/24s\" duration=\"16/24s\">"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"shot_002\" offset=\"86496/24s\" start=\"96/24s\" duration=\"24/24s\""),
            "{xml}"
        );
    }

    #[test]
    fn ntsc_times_are_whole_frames_of_1001_30000_s() {
        let timeline = two_clips(FrameRate::new(30000, 1001).expect("valid rate"));
        let xml = Edit::cuts(&timeline).to_fcpxml();
        assert!(xml.contains("frameDuration=\"1001/30000s\""), "{xml}");
        assert!(xml.contains("start=\"96096/30000s\""), "{xml}");
    }

    #[test]
    fn names_are_escaped() {
        let mut timeline = two_clips(FrameRate::new(25, 1).expect("valid rate"));
        timeline.name = "Tom & \"Jerry\" <1>".into();
        let xml = Edit::cuts(&timeline).to_fcpxml();
        assert!(xml.contains("<project name=\"Tom &amp; &quot;Jerry&quot; &lt;1&gt;\">"), "{xml}");
    }
}
