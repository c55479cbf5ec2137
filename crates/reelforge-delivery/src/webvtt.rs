//! WebVTT segmented like the media, for HLS (RFC 8216 §3.5): one small file per media
//! segment, each with the file's header and an `X-TIMESTAMP-MAP` that puts cue times on the
//! media timeline, holding every cue that overlaps the segment (a cue across a boundary
//! appears in both; players merge identical cues).

use std::fmt::Write;

use crate::error::DeliveryError;

/// One segment's span on the media timeline, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub start: f64,
    pub duration: f64,
}

struct Cue<'a> {
    start: f64,
    end: f64,
    block: &'a str,
}

/// Splits the WebVTT `text` into one file per span of `spans` (the media's segments, in
/// order). Header blocks (STYLE, REGION) are repeated in every file; NOTE blocks are left
/// out. `file` names the input in errors.
pub fn segment_webvtt(file: &str, text: &str, spans: &[Span]) -> Result<Vec<String>, DeliveryError> {
    let bad = |reason: String| DeliveryError::BadSubtitles { file: file.to_owned(), reason };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n");
    let mut blocks = text.split("\n\n").map(|b| b.trim_matches('\n')).filter(|b| !b.is_empty());
    let header =
        blocks.next().filter(|h| h.starts_with("WEBVTT")).ok_or_else(|| bad("no WEBVTT header".into()))?;
    // The header's own lines, except a timestamp map we replace.
    let header_lines: Vec<&str> =
        header.lines().skip(1).filter(|line| !line.starts_with("X-TIMESTAMP-MAP")).collect();
    let mut header_blocks = Vec::new();
    let mut cues = Vec::new();
    for block in blocks {
        if block.starts_with("NOTE") {
            continue;
        }
        if block.starts_with("STYLE") || block.starts_with("REGION") {
            header_blocks.push(block);
            continue;
        }
        let timing = block
            .lines()
            .take(2)
            .find(|line| line.contains("-->"))
            .ok_or_else(|| bad(format!("a block without a cue timing line: {:?}", first_line(block))))?;
        let (start, rest) = timing.split_once("-->").unwrap_or((timing, ""));
        let end = rest.split_whitespace().next().unwrap_or("");
        let parse =
            |stamp: &str| parse_timestamp(stamp).ok_or_else(|| bad(format!("bad cue time {stamp:?}")));
        cues.push(Cue { start: parse(start.trim())?, end: parse(end)?, block });
    }
    let mut files = Vec::with_capacity(spans.len());
    for span in spans {
        let end = span.start + span.duration;
        let mut out = String::from("WEBVTT\n");
        for line in &header_lines {
            let _ = writeln!(out, "{line}");
        }
        // Cue times are media times: media time 0 is presentation time 0 of every track.
        out.push_str("X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n");
        for block in &header_blocks {
            let _ = write!(out, "\n{block}\n");
        }
        for cue in cues.iter().filter(|cue| cue.start < end && cue.end > span.start) {
            let _ = write!(out, "\n{}\n", cue.block);
        }
        files.push(out);
    }
    Ok(files)
}

fn first_line(block: &str) -> &str {
    block.lines().next().unwrap_or("")
}

/// `hh:mm:ss.ttt` or `mm:ss.ttt` in seconds.
fn parse_timestamp(stamp: &str) -> Option<f64> {
    let (clock, millis) = stamp.split_once('.')?;
    if millis.len() != 3 {
        return None;
    }
    let millis: u32 = millis.parse().ok()?;
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match parts.as_slice() {
        [m, s] if *s < 60 => m * 60 + s,
        [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(seconds as f64 + f64::from(millis) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VTT: &str = "WEBVTT\nKind: captions\n\nSTYLE\n::cue { color: yellow }\n\nNOTE made by a test\n\n\
                       1\n00:00:01.000 --> 00:00:03.500\nFirst line\n\n\
                       2\n00:00:05.000 --> 00:00:07.000 line:90%\nAcross the boundary\n\n\
                       01:02.000 --> 01:03.000\nLate\n";

    fn spans(starts: &[f64], end: f64) -> Vec<Span> {
        starts
            .iter()
            .enumerate()
            .map(|(i, &start)| Span { start, duration: starts.get(i + 1).copied().unwrap_or(end) - start })
            .collect()
    }

    #[test]
    fn cues_go_to_every_segment_they_overlap_with_the_header_and_timestamp_map() {
        let files = segment_webvtt("en.vtt", VTT, &spans(&[0.0, 6.0, 12.0], 63.5)).unwrap();
        assert_eq!(files.len(), 3);
        for file in &files {
            assert!(
                file.starts_with("WEBVTT\nKind: captions\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n")
            );
            assert!(file.contains("STYLE\n::cue { color: yellow }"));
            assert!(!file.contains("NOTE"));
        }
        assert!(files[0].contains("First line") && files[0].contains("Across the boundary"));
        assert!(files[1].contains("Across the boundary") && !files[1].contains("First line"));
        assert!(files[2].contains("01:02.000 --> 01:03.000\nLate"));
        assert!(!files[2].contains("Across the boundary"));
    }

    #[test]
    fn an_empty_segment_is_a_valid_file_without_cues() {
        let files = segment_webvtt("en.vtt", "WEBVTT\n", &spans(&[0.0, 6.0], 8.0)).unwrap();
        assert_eq!(files, vec!["WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"; 2]);
    }

    #[test]
    fn damaged_files_name_the_file_and_the_problem() {
        let error = segment_webvtt("fr.vtt", "1\n00:00:01.000 --> 2\nx\n", &[]).unwrap_err();
        assert!(error.to_string().contains("fr.vtt") && error.to_string().contains("WEBVTT"), "{error}");
        let error =
            segment_webvtt("fr.vtt", "WEBVTT\n\n00:00:01.000 --> 00:61:00.000\nx\n", &[]).unwrap_err();
        assert!(error.to_string().contains("00:61:00.000"), "{error}");
    }
}
