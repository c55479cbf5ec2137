//! Timed words → subtitle cues under style-guide rules (defaults from the Netflix Timed Text
//! Style Guide): line length, line count, reading speed, duration, gaps, shot changes.
//! Pure functions over numbers, so every rule is unit-tested.

use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::ops::Range;

/// A word with its timing from whisper's token timestamps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Mean probability of the word's tokens.
    pub probability: f32,
}

/// The rules cues are made under and checked against (`reelforge qc subtitles`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CueRules {
    /// Characters per line (default 42).
    #[schemars(range(min = 10, max = 100))]
    pub max_chars_per_line: usize,
    /// Lines per cue (default 2).
    #[schemars(range(min = 1, max = 4))]
    pub max_lines: usize,
    /// Reading speed in characters per second, spaces included (default 17).
    #[schemars(range(min = 1.0, max = 100.0))]
    pub max_chars_per_second: f64,
    /// Reading-speed overrides by language code, e.g. `{ja: 4}` (default none).
    pub chars_per_second_by_language: std::collections::BTreeMap<String, f64>,
    /// Shortest cue in seconds (default 5/6 s = 20 frames at 24 fps).
    #[schemars(range(min = 0.1, max = 10.0))]
    pub min_duration: f64,
    /// Longest cue in seconds (default 7).
    #[schemars(range(min = 1.0, max = 30.0))]
    pub max_duration: f64,
    /// Frames between consecutive cues at least (default 2).
    #[schemars(range(min = 0, max = 48))]
    pub min_gap_frames: u32,
    /// Gaps up to this many frames are closed to `min_gap_frames` (default 12).
    #[schemars(range(min = 0, max = 240))]
    pub close_gap_frames: u32,
    /// Cue in/out times within this many frames of a shot change snap to it (default 7).
    #[schemars(range(min = 0, max = 48))]
    pub snap_frames: u32,
    /// A pause between words longer than this (seconds) always starts a new cue (default 1.5).
    #[schemars(range(min = 0.1, max = 10.0))]
    pub pause_break: f64,
}

impl Default for CueRules {
    fn default() -> Self {
        Self {
            max_chars_per_line: 42,
            max_lines: 2,
            max_chars_per_second: 17.0,
            chars_per_second_by_language: Default::default(),
            min_duration: 5.0 / 6.0,
            max_duration: 7.0,
            min_gap_frames: 2,
            close_gap_frames: 12,
            snap_frames: 7,
            pause_break: 1.5,
        }
    }
}

impl CheckSettings for CueRules {
    /// Ranges are in the schema; these rules tie fields together or cover the per-language map.
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        if self.min_duration >= self.max_duration {
            problems.push(SettingProblem::new(
                "min_duration",
                format!("is {}; it must be below `max_duration` ({})", self.min_duration, self.max_duration),
            ));
        }
        if self.close_gap_frames < self.min_gap_frames {
            problems.push(SettingProblem::new(
                "close_gap_frames",
                format!(
                    "is {}; it must be at least `min_gap_frames` ({})",
                    self.close_gap_frames, self.min_gap_frames
                ),
            ));
        }
        for (language, speed) in &self.chars_per_second_by_language {
            if !(1.0..=100.0).contains(speed) {
                problems.push(SettingProblem::new(
                    format!("chars_per_second_by_language.{language}"),
                    format!("is {speed}; valid: 1 to 100 characters per second"),
                ));
            }
        }
        problems
    }
}

impl CueRules {
    pub fn chars_per_second(&self, language: &str) -> f64 {
        self.chars_per_second_by_language.get(language).copied().unwrap_or(self.max_chars_per_second)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub lines: Vec<String>,
}

impl Cue {
    /// Characters a viewer reads (lines joined by one space).
    pub fn chars(&self) -> usize {
        self.lines.iter().map(|l| l.chars().count()).sum::<usize>() + self.lines.len().saturating_sub(1)
    }
}

/// Words that start a phrase: a line break before them reads naturally.
const PHRASE_STARTERS: &[&str] = &[
    "and", "but", "or", "so", "because", "that", "which", "who", "when", "while", "if", "to", "of", "in",
    "on", "at", "for", "with", "from", "about", "et", "mais", "ou", "que", "qui", "de", "pour", "dans",
    "und", "aber", "oder", "dass", "mit", "für", "y", "pero", "o", "para", "con", "en", "por",
];

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// How natural a break after `word` (and before `next`) is: higher is better.
fn break_quality(word: &str, next: Option<&str>) -> u32 {
    match word.chars().last() {
        Some('.' | '?' | '!' | '…') => 3,
        Some(',' | ';' | ':' | '—' | '-') => 2,
        _ => {
            let next = next.map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase());
            u32::from(next.is_some_and(|w| PHRASE_STARTERS.contains(&w.as_str())))
        }
    }
}

/// Splits `text` into at most `max_lines` lines of at most `max_chars`, breaking at natural
/// points and keeping two lines balanced (a slightly longer bottom line is preferred).
/// `None` when the text cannot fit.
pub fn break_lines(text: &str, max_chars: usize, max_lines: usize) -> Option<Vec<String>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    if chars(&joined) <= max_chars {
        return Some(vec![joined]);
    }
    if max_lines < 2 {
        return None;
    }
    let mut best: Option<(i64, usize)> = None;
    for split in 1..words.len() {
        let (top, bottom) = (words[..split].join(" "), words[split..].join(" "));
        let (t, b) = (chars(&top) as i64, chars(&bottom) as i64);
        if t as usize > max_chars || b as usize > max_chars {
            continue;
        }
        // Imbalance costs one point per character; a natural break is worth 8 characters;
        // a top line longer than the bottom costs a little extra (pyramid shape reads better).
        let cost = (t - b).abs() - 8 * i64::from(break_quality(words[split - 1], words.get(split).copied()))
            + i64::from(t > b) * 2;
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, split));
        }
    }
    let (_, split) = best?;
    Some(vec![words[..split].join(" "), words[split..].join(" ")])
}

/// Groups timed words into cues, then times them on the frame grid: reading speed, minimum
/// and maximum duration, gaps, and shot changes (`cuts`, seconds, ascending).
pub fn build_cues(words: &[Word], rules: &CueRules, cps: f64, fps: f64, cuts: &[f64]) -> Vec<Cue> {
    let words = &split_longer_than_a_line(words, rules.max_chars_per_line);
    let mut groups = group_words(words, rules, cps, cuts);
    loop {
        let mut cues: Vec<Cue> = groups
            .iter()
            .filter_map(|range| {
                let g = &words[range.clone()];
                let text = join(g);
                let lines = break_lines(&text, rules.max_chars_per_line, rules.max_lines)
                    .unwrap_or_else(|| vec![text.clone()]);
                let first = g.first()?;
                let last = g.last()?;
                Some(Cue { start: first.start, end: last.end.max(first.start), lines })
            })
            .collect();
        time_cues(&mut cues, rules, cps, fps, cuts);
        // Each merge leaves one group fewer, so this ends.
        match flash_to_merge(&cues, &groups, words, rules, cuts) {
            Some(first) => {
                groups[first].end = groups[first + 1].end;
                groups.remove(first + 1);
            }
            None => return cues,
        }
    }
}

/// The words, with any word longer than a line (text without spaces, such as a URL or a
/// run of characters whisper made up) cut into near-equal pieces that fit, each timed by its
/// share of the characters.
fn split_longer_than_a_line(words: &[Word], max_chars: usize) -> Vec<Word> {
    let max_chars = max_chars.max(1);
    let mut fitting = Vec::with_capacity(words.len());
    for word in words {
        let characters: Vec<char> = word.text.chars().collect();
        if characters.len() <= max_chars {
            fitting.push(word.clone());
            continue;
        }
        let pieces = characters.len().div_ceil(max_chars);
        let per_piece = characters.len().div_ceil(pieces);
        let seconds_per_char = (word.end - word.start) / characters.len() as f64;
        for (i, piece) in characters.chunks(per_piece).enumerate() {
            let first = i * per_piece;
            fitting.push(Word {
                start: word.start + first as f64 * seconds_per_char,
                end: word.start + (first + piece.len()) as f64 * seconds_per_char,
                text: piece.iter().collect(),
                probability: word.probability,
            });
        }
    }
    fitting
}

/// A cue that timing left shorter than the minimum duration (pinned between the previous
/// cue and a cut) and a neighbour in the same shot whose words it can join within the line
/// limits: the first of the two. A flash of a few words is worse than one fuller cue, even
/// if that cue reads fast.
fn flash_to_merge(
    cues: &[Cue],
    groups: &[Range<usize>],
    words: &[Word],
    rules: &CueRules,
    cuts: &[f64],
) -> Option<usize> {
    // Cues `first` and `first + 1` can become one.
    let joinable = |first: usize| {
        let (start, end) = (cues[first].start, cues[first + 1].end);
        let same_shot = !cuts.iter().any(|&cut| cut > start + 1e-9 && cut < end - 1e-9);
        let range = groups[first].start..groups[first + 1].end;
        let span = words[range.end - 1].end - words[range.start].start;
        same_shot
            && span <= rules.max_duration
            && break_lines(&join(&words[range]), rules.max_chars_per_line, rules.max_lines).is_some()
    };
    (0..cues.len()).filter(|&i| cues[i].end - cues[i].start < rules.min_duration - 1e-6).find_map(|short| {
        [short.checked_sub(1), (short + 1 < cues.len()).then_some(short)]
            .into_iter()
            .flatten()
            .find(|&first| joinable(first))
    })
}

/// Greedy grouping: each cue takes as many words as fit (characters, duration, reading speed),
/// ending at the most natural break among the last words; never across a cut or a long pause.
fn group_words(words: &[Word], rules: &CueRules, cps: f64, cuts: &[f64]) -> Vec<Range<usize>> {
    let max_chars = rules.max_chars_per_line * rules.max_lines;
    let mut groups = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let start = words[i].start;
        let mut j = i + 1; // exclusive end of what fits
        let mut text_len = chars(&words[i].text);
        while j < words.len() {
            let next = &words[j];
            let len = text_len + 1 + chars(&next.text);
            // A cut after the previous word begins, up to where the next begins (a word can
            // end right on it).
            let hard_break = next.start - words[j - 1].end > rules.pause_break
                || cuts.iter().any(|&c| c > words[j - 1].start && c <= next.start + 1e-6)
                || break_lines(&join(&words[i..=j]), rules.max_chars_per_line, rules.max_lines).is_none();
            if hard_break
                || len > max_chars
                || next.end - start > rules.max_duration
                || len as f64 / cps > rules.max_duration
            {
                break;
            }
            text_len = len;
            j += 1;
        }
        // If the cue stopped before the end of the speech, end it at the best break.
        if j < words.len() && j - i > 2 {
            let min_len = text_len * 2 / 5;
            let mut best = (break_quality(&words[j - 1].text, Some(&words[j].text)), j);
            let mut len = text_len;
            for k in (i + 2..j).rev() {
                len -= chars(&words[k].text) + 1;
                if len < min_len {
                    break;
                }
                let quality = break_quality(&words[k - 1].text, Some(&words[k].text));
                if quality > best.0 {
                    best = (quality, k);
                }
            }
            j = best.1;
        }
        groups.push(i..j);
        i = j;
    }
    groups
}

fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Frame-accurate timing in cue order: snap to nearby cuts, extend short or fast cues into
/// free time, close small gaps, keep the minimum gap and stay inside the shot.
fn time_cues(cues: &mut [Cue], rules: &CueRules, cps: f64, fps: f64, cuts: &[f64]) {
    let frame = 1.0 / fps;
    let to_frame = |t: f64| (t * fps).round() / fps;
    let min_gap = f64::from(rules.min_gap_frames) * frame;
    let snap = f64::from(rules.snap_frames) * frame + 1e-9;
    // In-times first (the out-time of a cue depends on where the next one starts): round to
    // the frame grid, and start on a cut that is close.
    let mut prev_start = f64::NEG_INFINITY;
    for cue in cues.iter_mut() {
        cue.start = to_frame(cue.start);
        cue.end = to_frame(cue.end);
        if let Some(&cut) =
            cuts.iter().find(|&&c| (c - cue.start).abs() <= snap && c < cue.end && c > prev_start + min_gap)
        {
            cue.start = to_frame(cut);
        }
        prev_start = cue.start;
    }
    let mut prev_end = f64::NEG_INFINITY;
    for i in 0..cues.len() {
        // Never closer than the minimum gap to the previous cue (it may have been extended).
        cues[i].start = cues[i].start.max(to_frame(prev_end + min_gap));
        let start = cues[i].start;
        // The shot this cue starts in bounds how far it may be extended.
        let shot_end = cuts.iter().copied().find(|&c| c > start + 1e-9).unwrap_or(f64::INFINITY);
        let hard_limit = shot_end.min(to_frame(start + rules.max_duration));
        // Reading speed and minimum duration, rounded up to whole frames.
        let wanted = (cues[i].chars() as f64 / cps).max(rules.min_duration);
        let wanted_end = start + (wanted * fps - 1e-6).ceil() / fps;
        let mut end = cues[i].end.max(wanted_end).min(hard_limit).max(start + frame);
        if let Some(next) = cues.get(i + 1) {
            if next.start >= shot_end - 1e-9 {
                // The next cue starts on or after the cut: end on the cut, or the minimum gap
                // before the next cue when it starts right there.
                if shot_end - end <= snap {
                    end = shot_end;
                }
                end = end.min(to_frame(next.start - min_gap));
            } else {
                // Small gaps flicker: close them to the minimum gap.
                if next.start - end <= f64::from(rules.close_gap_frames) * frame + 1e-9 {
                    end = end.max(to_frame(next.start - min_gap)).min(hard_limit);
                }
                // A fast cue may delay the next one a little (at most MAX_DELAY seconds).
                end = end.min(to_frame(next.start + MAX_DELAY - min_gap));
            }
        } else if shot_end - end <= snap && shot_end.is_finite() {
            end = shot_end;
        }
        // Still too fast (the cut or the next cue is close): start earlier, into the gap
        // before it, but not before the previous cue's gap or the shot's first frame.
        let shot_start = cuts.iter().copied().rev().find(|&c| c <= start + 1e-9).unwrap_or(0.0);
        let needed = (wanted * fps - 1e-6).ceil() / fps;
        if end - start < needed {
            let earliest = to_frame(prev_end + min_gap).max(shot_start).max(0.0);
            cues[i].start = to_frame(end - needed).max(earliest).min(start);
        }
        cues[i].end = end.max(cues[i].start + frame);
        prev_end = cues[i].end;
    }
    // A delayed cue must still end after it starts and keep its frames.
    for cue in cues.iter_mut() {
        if cue.end < cue.start + frame {
            cue.end = cue.start + frame;
        }
    }
}

/// How far reading speed may push a cue's in-time after its speech starts (seconds).
const MAX_DELAY: f64 = 5.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, start: f64, per_word: f64) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                start: start + i as f64 * per_word,
                end: start + (i + 1) as f64 * per_word - 0.05,
                text: w.to_owned(),
                probability: 1.0,
            })
            .collect()
    }

    #[test]
    fn short_text_stays_on_one_line() {
        assert_eq!(break_lines("Hello there.", 42, 2), Some(vec!["Hello there.".to_owned()]));
    }

    #[test]
    fn long_text_breaks_at_punctuation_and_balances() {
        let lines =
            break_lines("And so, my fellow Americans, ask not what your country can do for you", 42, 2)
                .unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.chars().count() <= 42));
        assert!(lines[0].ends_with(','), "{lines:?}");
        let lines =
            break_lines("the quick brown fox jumps over the lazy dog and runs far away now", 42, 2).unwrap();
        let (a, b) = (lines[0].len() as i64, lines[1].len() as i64);
        assert!((a - b).abs() <= 16, "{lines:?}");
        assert!(break_lines(&"word ".repeat(30), 42, 2).is_none());
    }

    #[test]
    fn cues_respect_length_duration_and_reading_speed() {
        let w = words(&"alpha beta gamma delta epsilon zeta eta theta iota kappa ".repeat(4), 1.0, 0.4);
        let rules = CueRules::default();
        let cues = build_cues(&w, &rules, 17.0, 25.0, &[]);
        assert!(cues.len() > 1);
        for cue in &cues {
            assert!(cue.lines.len() <= 2 && cue.lines.iter().all(|l| l.chars().count() <= 42), "{cue:?}");
            let d = cue.end - cue.start;
            assert!(d <= 7.0 + 1e-9 && d >= rules.min_duration - 1e-9, "{cue:?}");
            assert!(cue.chars() as f64 / d <= 17.0 + 1e-6, "{cue:?}");
        }
        for pair in cues.windows(2) {
            assert!(pair[1].start - pair[0].end >= 2.0 / 25.0 - 1e-9, "{pair:?}");
        }
    }

    #[test]
    fn cues_do_not_cross_cuts_and_snap_to_them() {
        let mut w = words("one two three four", 1.0, 0.5);
        w.extend(words("five six seven eight", 3.1, 0.5));
        let cuts = [3.0];
        let cues = build_cues(&w, &CueRules::default(), 17.0, 25.0, &cuts);
        assert_eq!(cues.len(), 2, "{cues:?}");
        assert!(cues[0].end <= 3.0 + 1e-9);
        assert!((cues[1].start - 3.0).abs() < 1e-9, "in-time snapped to the cut: {cues:?}");
    }

    #[test]
    fn speech_running_over_a_cut_is_split_there_and_stays_at_its_time() {
        // Words back to back; the cut falls where "keeper" begins (the sample episode's last
        // line runs over a dissolve).
        let w: Vec<Word> = "In the morning, the keeper finally sleeps."
            .split_whitespace()
            .enumerate()
            .map(|(i, text)| Word {
                start: 51.6 + 0.3 * i as f64,
                end: 51.6 + 0.3 * (i + 1) as f64,
                text: text.to_owned(),
                probability: 1.0,
            })
            .collect();
        let cut = w[4].start;
        let cues = build_cues(&w, &CueRules::default(), 17.0, 25.0, &[cut]);
        assert_eq!(cues.len(), 2, "{cues:?}");
        assert_eq!(cues[1].lines.join(" "), "keeper finally sleeps.");
        for cue in &cues {
            assert!(!(cue.start < cut - 1e-9 && cue.end > cut + 1e-9), "crosses the cut: {cue:?}");
        }
        assert!(cues[0].start >= 51.6 - 0.5, "moved well before its speech: {cues:?}");
    }

    #[test]
    fn words_pinned_between_a_cue_and_a_cut_join_that_cue_rather_than_flash() {
        let mut w = words("one two three four", 1.0, 0.35);
        w.extend(words("five six", 2.75, 0.1));
        w.extend(words("seven eight nine", 3.2, 0.4));
        let rules = CueRules { pause_break: 0.3, ..CueRules::default() };
        let cues = build_cues(&w, &rules, 17.0, 25.0, &[3.0]);
        assert_eq!(cues.len(), 2, "{cues:?}");
        assert_eq!(cues[0].lines.join(" "), "one two three four five six");
        for cue in &cues {
            assert!(cue.end - cue.start >= rules.min_duration - 1e-9, "{cue:?}");
            assert!(!(cue.start < 3.0 - 1e-9 && cue.end > 3.0 + 1e-9), "crosses the cut: {cue:?}");
        }
    }

    #[test]
    fn text_without_spaces_is_cut_to_fit_the_lines() {
        let mut w = words("see", 1.0, 0.5);
        w.push(Word { start: 1.5, end: 4.5, text: "1.0m2.3m".repeat(12), probability: 0.9 });
        let rules = CueRules::default();
        let cues = build_cues(&w, &rules, 17.0, 25.0, &[]);
        let shown: String = cues.iter().flat_map(|c| c.lines.iter()).map(|l| l.replace(' ', "")).collect();
        assert_eq!(shown, format!("see{}", "1.0m2.3m".repeat(12)), "no character is lost");
        for cue in &cues {
            assert!(cue.lines.len() <= 2 && cue.lines.iter().all(|l| l.chars().count() <= 42), "{cue:?}");
        }
    }

    #[test]
    fn small_gaps_close_to_two_frames() {
        let mut w = words("first cue here now", 1.0, 0.4);
        w.extend(words("second cue follows soon", 2.8, 0.4));
        let rules = CueRules { pause_break: 0.1, ..CueRules::default() };
        let cues = build_cues(&w, &rules, 17.0, 25.0, &[]);
        assert_eq!(cues.len(), 2);
        assert!((cues[1].start - cues[0].end - 2.0 / 25.0).abs() < 1e-9, "{cues:?}");
    }
}
