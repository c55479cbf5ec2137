//! Subtitle files: SRT, WebVTT and TTML (IMSC1 text profile) writers; an SRT/WebVTT reader.

use std::path::Path;

use crate::SubtitleError;
use crate::cues::Cue;

fn clock(seconds: f64, decimal: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{decimal}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (n, cue) in (1..).zip(cues) {
        out.push_str(&format!(
            "{n}\n{} --> {}\n{}\n\n",
            clock(cue.start, ','),
            clock(cue.end, ','),
            cue.lines.join("\n")
        ));
    }
    out
}

pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        // `<`, `&` and `-->` would be read as markup or timing; escape them.
        let text = cue.lines.iter().map(|l| escape_vtt(l)).collect::<Vec<_>>().join("\n");
        out.push_str(&format!("{} --> {}\n{text}\n\n", clock(cue.start, '.'), clock(cue.end, '.')));
    }
    out
}

fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// TTML in the IMSC1 text profile: one region at the bottom, one style, media time base.
/// (TTML colours take an alpha of 0–255: `rgba(0,0,0,204)` is 80 % opaque.)
pub fn to_ttml(cues: &[Cue], language: &str) -> String {
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:tts="http://www.w3.org/ns/ttml#styling" xmlns:ttm="http://www.w3.org/ns/ttml#metadata" ttp:profile="http://www.w3.org/ns/ttml/profile/imsc1/text" ttp:timeBase="media" ttp:cellResolution="32 15" xml:lang="{}">
  <head>
    <styling>
      <style xml:id="default" tts:fontFamily="proportionalSansSerif" tts:fontSize="100%" tts:textAlign="center" tts:color="white" tts:backgroundColor="rgba(0,0,0,204)"/>
    </styling>
    <layout>
      <region xml:id="bottom" tts:origin="10% 75%" tts:extent="80% 20%" tts:displayAlign="after"/>
    </layout>
  </head>
  <body style="default" region="bottom">
    <div>
"#,
        escape_xml(language)
    );
    for cue in cues {
        let text = cue.lines.iter().map(|l| escape_xml(l)).collect::<Vec<_>>().join("<br/>");
        out.push_str(&format!(
            "      <p begin=\"{}\" end=\"{}\">{text}</p>\n",
            clock(cue.start, '.'),
            clock(cue.end, '.')
        ));
    }
    out.push_str("    </div>\n  </body>\n</tt>\n");
    out
}

/// Reads an SRT or WebVTT file (chosen by content: a `WEBVTT` header means WebVTT).
pub fn read_subtitles(path: &Path) -> Result<Vec<Cue>, SubtitleError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SubtitleError::io(format!("reading {}", path.display()), e))?;
    parse_subtitles(&text).map_err(|(line, message)| SubtitleError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// Parses SRT or WebVTT text; errors carry the 1-based line.
pub fn parse_subtitles(text: &str) -> Result<Vec<Cue>, (usize, String)> {
    let text = text.trim_start_matches('\u{feff}');
    let vtt = text.starts_with("WEBVTT");
    let lines: Vec<&str> = text.lines().collect();
    let mut cues = Vec::new();
    let mut i = usize::from(vtt);
    while i < lines.len() {
        let line = lines[i].trim_end_matches('\r');
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        // WebVTT NOTE/STYLE/REGION blocks carry no cues.
        if vtt && (line.starts_with("NOTE") || line.starts_with("STYLE") || line.starts_with("REGION")) {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        // An identifier line (SRT number or VTT cue id) may precede the timing line.
        let timing_at = if line.contains("-->") { i } else { i + 1 };
        let timing = lines.get(timing_at).map(|l| l.trim_end_matches('\r')).unwrap_or("");
        let (start, end) = parse_timing(timing)
            .ok_or((timing_at + 1, format!("expected a timing line, found {timing:?}")))?;
        let mut text_lines = Vec::new();
        i = timing_at + 1;
        while i < lines.len() && !lines[i].trim().is_empty() {
            text_lines.push(strip_tags(lines[i].trim_end_matches('\r')));
            i += 1;
        }
        cues.push(Cue { start, end, lines: text_lines });
    }
    Ok(cues)
}

fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (a, b) = line.split_once("-->")?;
    // WebVTT settings (align:start …) follow the end time.
    let b = b.split_whitespace().next()?;
    Some((parse_clock(a.trim())?, parse_clock(b)?))
}

/// `HH:MM:SS,mmm`, `HH:MM:SS.mmm` or `MM:SS.mmm`.
fn parse_clock(text: &str) -> Option<f64> {
    let text = text.replace(',', ".");
    let parts: Vec<&str> = text.split(':').collect();
    let (h, m, s) = match parts[..] {
        [h, m, s] => (h.parse::<f64>().ok()?, m.parse::<f64>().ok()?, s.parse::<f64>().ok()?),
        [m, s] => (0.0, m.parse::<f64>().ok()?, s.parse::<f64>().ok()?),
        _ => return None,
    };
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Removes `<i>`, `<b>`, `<c.x>`, `{\an8}`-style markup: QC counts what a viewer reads.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut depth = None;
    for c in line.chars() {
        match (depth, c) {
            (None, '<') => depth = Some('>'),
            (None, '{') => depth = Some('}'),
            (Some(close), c) if c == close => depth = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues() -> Vec<Cue> {
        vec![
            Cue { start: 1.0, end: 2.5, lines: vec!["Hello & welcome".into()] },
            Cue { start: 3661.042, end: 3663.0, lines: vec!["two".into(), "lines & more".into()] },
        ]
    }

    #[test]
    fn srt_and_vtt_round_trip() {
        let srt = to_srt(&cues());
        assert!(srt.starts_with("1\n00:00:01,000 --> 00:00:02,500\nHello & welcome\n\n2\n01:01:01,042 --> "));
        assert_eq!(parse_subtitles(&srt).unwrap(), cues());
        let vtt = to_vtt(&cues());
        assert!(vtt.starts_with("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello &amp; welcome\n"));
        assert_eq!(parse_subtitles(&vtt).unwrap(), cues());
    }

    #[test]
    fn ttml_is_escaped_and_timed() {
        let ttml = to_ttml(&cues(), "fr");
        assert!(ttml.contains("xml:lang=\"fr\""));
        assert!(ttml.contains("<p begin=\"01:01:01.042\" end=\"01:01:03.000\">two<br/>lines &amp; more</p>"));
        assert!(ttml.contains("imsc1/text"));
    }

    #[test]
    fn reader_accepts_foreign_files() {
        let vtt =
            "WEBVTT\n\nNOTE a comment\n\nid1\n00:01.000 --> 00:02.000 align:start\n<i>Hi</i> {\\an8}there\n";
        let cues = parse_subtitles(vtt).unwrap();
        assert_eq!(cues, vec![Cue { start: 1.0, end: 2.0, lines: vec!["Hi there".into()] }]);
        assert_eq!(parse_subtitles("1\nnot a timing\nx\n").unwrap_err().0, 2);
    }
}
