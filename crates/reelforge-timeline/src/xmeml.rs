//! Final Cut 7 XML (`xmeml` version 4), which Premiere Pro and DaVinci Resolve import: one
//! sequence starting at 01:00:00:00 with one video track of `clipitem`s over one `file` (the
//! source, given once and referred to by id), and each transition as a Cross Dissolve
//! `transitionitem` aligned to start on the edit. As in the EDL, a transition that begins
//! before the edit moves the edit back to where it begins (see the `edl` module); clips next to
//! a transition leave their sequence start or end to it (`-1`), as Final Cut writes them.
//! Video only: the audio track and title card of an [`Edit`] are not written here.

use std::fmt::Write;

use quick_xml::escape::escape;

use crate::timecode::Timecode;
use crate::{Edit, FrameRate};

/// `<rate>`: the whole-number timebase and whether the real rate is 1000/1001 of it.
fn rate_element(rate: FrameRate) -> String {
    let ntsc = if rate.den() == 1001 { "TRUE" } else { "FALSE" };
    format!("<rate><timebase>{}</timebase><ntsc>{ntsc}</ntsc></rate>", rate.timecode_base())
}

pub(crate) fn write(edit: &Edit<'_>) -> String {
    let timeline = edit.timeline;
    let rate = rate_element(timeline.rate);
    let transitions = edit.fitted_transitions();
    let moved_back = |index: usize| transitions.get(index).copied().flatten().map_or(0, |t| t.in_frames);
    let source_in = |index: usize| timeline.clips[index].start_frame - moved_back(index);
    let source_out = |index: usize| timeline.clips[index].end_frame_exclusive - moved_back(index + 1);
    let record_frames: u64 = timeline.clips.iter().map(|c| c.duration_frames()).sum();
    let record_start = edit.record_start_frames();
    let base = timeline.rate.timecode_base();
    let name = escape(timeline.name.as_str());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE xmeml>\n<xmeml version=\"4\">\n  \
         <sequence id=\"sequence-1\">\n    <name>{name}</name>\n    <duration>{record_frames}</duration>\n    {rate}\n    \
         <timecode>{rate}<string>{}</string><frame>{record_start}</frame><displayformat>NDF</displayformat></timecode>\n    \
         <media>\n      <video>\n        <track>\n",
        Timecode::from_frames(record_start, base),
    );
    let mut record = 0;
    for (index, clip) in timeline.clips.iter().enumerate() {
        let duration = source_out(index) - source_in(index);
        if let Some(transition) = transitions[index] {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "          <transitionitem>\n            {rate}\n            <start>{record}</start>\n            \
                 <end>{}</end>\n            <alignment>start</alignment>\n            \
                 <effect><name>Cross Dissolve</name><effectid>Cross Dissolve</effectid>\
                 <effectcategory>Dissolve</effectcategory><effecttype>transition</effecttype>\
                 <mediatype>video</mediatype></effect>\n          </transitionitem>",
                record + transition.frames(),
            );
        }
        let start = if transitions[index].is_some() { "-1".to_owned() } else { record.to_string() };
        let next_has_transition = transitions.get(index + 1).is_some_and(Option::is_some);
        let end = if next_has_transition { "-1".to_owned() } else { (record + duration).to_string() };
        // The source is described in full once; later clips refer to it by id.
        let file = if index == 0 {
            format!(
                "<file id=\"file-1\"><name>{}</name><pathurl>{}</pathurl>{rate}<duration>{}</duration>\
                 <media><video/></media></file>",
                escape(timeline.source_name.as_str()),
                escape(crate::file_url(&timeline.source_url).as_str()),
                timeline.total_frames,
            )
        } else {
            "<file id=\"file-1\"/>".to_owned()
        };
        let _ = writeln!(
            out,
            "          <clipitem id=\"clipitem-{}\">\n            <name>{}</name>\n            \
             <duration>{}</duration>\n            {rate}\n            <start>{start}</start>\n            \
             <end>{end}</end>\n            <in>{}</in>\n            <out>{}</out>\n            {file}\n          </clipitem>",
            index + 1,
            escape(clip.name.as_str()),
            timeline.total_frames,
            source_in(index),
            source_out(index),
        );
        record += duration;
    }
    out.push_str("        </track>\n      </video>\n    </media>\n  </sequence>\n</xmeml>\n");
    out
}

#[cfg(test)]
mod tests {
    use crate::sample::two_clips;
    use crate::{Edit, FrameRate};

    #[test]
    fn a_straddling_dissolve_starts_on_the_edit_moved_back_to_its_start() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let edit = crate::sample::straddling_dissolve(&timeline);
        let xml = edit.to_xmeml();
        assert!(xml.contains("<string>01:00:00:00</string><frame>86400</frame>"), "{xml}");
        // shot_001 now ends at source frame 90, where the 16-frame dissolve starts.
        assert!(xml.contains("<start>0</start>\n            <end>-1</end>\n            <in>0</in>\n            <out>90</out>"), "{xml}");
        assert!(
            xml.contains(
                "<start>90</start>\n            <end>106</end>\n            <alignment>start</alignment>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<start>-1</start>\n            <end>120</end>\n            <in>90</in>\n            <out>120</out>"), "{xml}");
        assert_eq!(xml.matches("<pathurl>file:///media/ep1.mp4</pathurl>").count(), 1, "{xml}");
    }

    #[test]
    fn ntsc_rates_say_so() {
        let timeline = two_clips(FrameRate::new(30000, 1001).expect("valid rate"));
        let xml = Edit::cuts(&timeline).to_xmeml();
        assert!(xml.contains("<rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>"), "{xml}");
        assert!(xml.contains("<frame>108000</frame>"), "{xml}");
    }
}
