//! The DASH manifest (`DIR/dash/manifest.mpd`): one static period, a video AdaptationSet
//! with aligned segments starting with a SAP, one audio AdaptationSet per language and one
//! text AdaptationSet per WebVTT file. Segment times come from a SegmentTimeline measured on
//! the files, so the MPD matches what was written even when segments differ in length.

use std::fmt::Write;

use crate::presentation::{INIT_FILE_NAME, PackagedTrack, Presentation};

/// From `DIR/dash/` back to `DIR/`.
const ROOT: &str = "../";

/// The MPD text for `presentation`.
pub fn dash_manifest(presentation: &Presentation) -> String {
    let duration = presentation.duration_seconds();
    let longest_segment = presentation
        .video
        .iter()
        .map(|v| &v.track)
        .flat_map(|t| t.segments.iter().map(move |s| s.duration as f64 / f64::from(t.timescale.max(1))))
        .fold(0.0, f64::max);
    let mut text = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        text,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"static\" mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">",
        iso_duration(duration),
        iso_duration(longest_segment.max(1.0))
    );
    text.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    let mut set_id = 0;
    // Players switch only between representations of one codec: one AdaptationSet per family.
    let mut families: Vec<&str> = Vec::new();
    for video in &presentation.video {
        let family = codec_family(&video.codecs);
        if !families.contains(&family) {
            families.push(family);
        }
    }
    for family in families {
        let videos: Vec<_> =
            presentation.video.iter().filter(|v| codec_family(&v.codecs) == family).collect();
        let max_width = videos.iter().map(|v| v.width).max().unwrap_or(0);
        let max_height = videos.iter().map(|v| v.height).max().unwrap_or(0);
        let _ = writeln!(
            text,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"video\" mimeType=\"video/mp4\" \
             segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"{max_width}\" maxHeight=\"{max_height}\">"
        );
        set_id += 1;
        for video in videos {
            let _ = writeln!(
                text,
                "      <Representation id=\"{}\" bandwidth=\"{}\" codecs=\"{}\" width=\"{}\" height=\"{}\" \
                 frameRate=\"{}\" sar=\"1:1\">",
                xml(&video.id),
                video.track.bitrate().peak,
                xml(&video.codecs),
                video.width,
                video.height,
                frame_rate(video.frame_rate)
            );
            segment_template(&mut text, &video.track);
            text.push_str("      </Representation>\n");
        }
        text.push_str("    </AdaptationSet>\n");
    }
    for audio in &presentation.audio {
        let lang = audio.language.as_deref().map(|l| format!(" lang=\"{}\"", xml(l))).unwrap_or_default();
        let _ = writeln!(
            text,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"audio\" mimeType=\"audio/mp4\"{lang} \
             segmentAlignment=\"true\" startWithSAP=\"1\">"
        );
        set_id += 1;
        let role = if audio.default { "main" } else { "alternate" };
        let _ = writeln!(text, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>");
        let _ = writeln!(
            text,
            "      <Label>{}</Label>\n      <Representation id=\"{}\" bandwidth=\"{}\" codecs=\"{}\" \
             audioSamplingRate=\"{}\">",
            xml(&audio.name),
            xml(&audio.id),
            audio.track.bitrate().peak,
            xml(&audio.codecs),
            audio.sample_rate
        );
        let _ = writeln!(
            text,
            "        <AudioChannelConfiguration \
             schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{}\"/>",
            audio.channels
        );
        segment_template(&mut text, &audio.track);
        text.push_str("      </Representation>\n    </AdaptationSet>\n");
    }
    for subtitle in &presentation.subtitles {
        let _ = writeln!(
            text,
            "    <AdaptationSet id=\"{set_id}\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"{}\">\n      \
             <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n      <Label>{}</Label>\n      \
             <Representation id=\"{}\" bandwidth=\"256\">\n        <BaseURL>{ROOT}{}</BaseURL>\n      \
             </Representation>\n    </AdaptationSet>",
            xml(&subtitle.language),
            xml(&subtitle.name),
            xml(&subtitle.id),
            xml(&subtitle.path)
        );
        set_id += 1;
    }
    text.push_str("  </Period>\n</MPD>\n");
    text
}

/// SegmentTemplate with $Number$ names and a run-length SegmentTimeline.
fn segment_template(text: &mut String, track: &PackagedTrack) {
    let start_number = track.segments.first().map_or(0, |s| s.number);
    let _ = writeln!(
        text,
        "        <SegmentTemplate timescale=\"{}\" initialization=\"{ROOT}{dir}/{INIT_FILE_NAME}\" \
         media=\"{ROOT}{dir}/seg_$Number%05d$.m4s\" startNumber=\"{start_number}\">\n          <SegmentTimeline>",
        track.timescale,
        dir = xml(&track.dir)
    );
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    let mut expected_start = None;
    for segment in &track.segments {
        match runs.last_mut() {
            Some((_, duration, repeat))
                if *duration == segment.duration && expected_start == Some(segment.start) =>
            {
                *repeat += 1
            }
            _ => runs.push((segment.start, segment.duration, 0)),
        }
        expected_start = Some(segment.start + segment.duration);
    }
    for (start, duration, repeat) in runs {
        let repeat = if repeat > 0 { format!(" r=\"{repeat}\"") } else { String::new() };
        let _ = writeln!(text, "            <S t=\"{start}\" d=\"{duration}\"{repeat}/>");
    }
    text.push_str("          </SegmentTimeline>\n        </SegmentTemplate>\n");
}

/// "avc1", "hvc1", "av01": the sample entry part of a codec string.
fn codec_family(codecs: &str) -> &str {
    codecs.split('.').next().unwrap_or(codecs)
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// "PT1M2.500S"-style durations (seconds only; valid xs:duration).
fn iso_duration(seconds: f64) -> String {
    format!("PT{:.3}S", seconds.max(0.0))
}

/// Integer rates as is, NTSC rates as fractions ("30000/1001").
fn frame_rate(fps: f64) -> String {
    let rounded = fps.round();
    if (fps - rounded).abs() < 1e-3 {
        format!("{rounded}")
    } else {
        format!("{}/1001", (fps * 1001.0).round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::tests::presentation;

    #[test]
    fn mpd_has_aligned_video_languages_and_text() {
        let mpd = dash_manifest(&presentation());
        assert!(mpd.contains("mediaPresentationDuration=\"PT8.000S\""), "{mpd}");
        assert!(mpd.contains("segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1280\""), "{mpd}");
        assert!(mpd.contains(
            "<Representation id=\"v0\" bandwidth=\"1000000\" codecs=\"avc1.64001f\" width=\"640\" \
             height=\"360\" frameRate=\"30\" sar=\"1:1\">"
        ));
        assert!(mpd.contains(
            "<SegmentTemplate timescale=\"15360\" initialization=\"../media/v0/init.mp4\" \
             media=\"../media/v0/seg_$Number%05d$.m4s\" startNumber=\"0\">"
        ));
        assert!(mpd.contains("<S t=\"0\" d=\"92160\"/>\n            <S t=\"92160\" d=\"30720\"/>"), "{mpd}");
        assert!(mpd.contains("lang=\"fr\""));
        assert!(mpd.contains("<Label>Fran\u{e7}ais</Label>"));
        assert!(mpd.contains("mimeType=\"text/vtt\" lang=\"en\""));
        assert!(mpd.contains("<BaseURL>../subtitles/en.vtt</BaseURL>"));
        assert_eq!(mpd.matches("<AdaptationSet").count(), 4);
    }

    #[test]
    fn equal_segments_collapse_into_repeats() {
        let mut presentation = presentation();
        presentation.video[0].track =
            crate::hls::tests::track("media/v0", 1000, &[(6000, 1), (6000, 1), (6000, 1), (10, 1)]);
        let mpd = dash_manifest(&presentation);
        assert!(
            mpd.contains("<S t=\"0\" d=\"6000\" r=\"2\"/>\n            <S t=\"18000\" d=\"10\"/>"),
            "{mpd}"
        );
        assert_eq!(frame_rate(29.97002997), "30000/1001");
    }

    #[test]
    fn each_codec_gets_its_own_video_adaptation_set() {
        let mut presentation = presentation();
        presentation.video[1].codecs = "hvc1.1.6.L120.90".into();
        let mpd = dash_manifest(&presentation);
        assert_eq!(mpd.matches("contentType=\"video\"").count(), 2, "{mpd}");
        assert!(mpd.contains("maxWidth=\"640\" maxHeight=\"360\""), "{mpd}");
        assert_eq!(mpd.matches("<AdaptationSet").count(), 5);
    }
}
