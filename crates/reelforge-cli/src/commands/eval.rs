//! `reelforge eval`: accuracy against ground truth.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use reelforge_shots::{Detection, Evaluation, TransitionEvaluation, TruthKind, TruthSpan};
use serde_json::Value;

use crate::failure::CliError;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Precision, recall and F1 of detected shot boundaries against ground truth, for all
    /// transitions and for cuts and gradual transitions apart, and the error of span ends.
    #[command(after_help = "TRUTH: a transitions CSV (`kind,first_frame,last_frame[,note]`, kinds `cut`, \
`ignore` and anything else counted as gradual; `#` lines are comments), a sample's truth.json, or a CSV \
with a `cut_frame`, `frame` or `start_frame` column (cuts; frame 0 starts the first shot and is skipped).\n\
DETECTED: a shots.json or shots.csv written by reelforge, a transitions CSV, or a CSV with a frame column.\n\
A detection matches a transition when it lies within [first_frame - tolerance, last_frame + tolerance]; \
each transition matches at most one detection; detections in `ignore` spans count neither way. A false \
detection counts against the kind the tool gave it (cuts when the file has no kinds). Span error: mean \
distance of detected first and last frames from the true ones, over matched gradual transitions.")]
    Shots {
        /// Ground truth.
        #[arg(long)]
        truth: PathBuf,
        /// Frames a detection may lie outside a transition's span and still match it.
        #[arg(long, default_value_t = 1)]
        tolerance: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// shots.json, shots.csv or a transitions CSV.
        detected: PathBuf,
    },
}

pub fn run(command: &EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Shots { truth, tolerance, json, detected } => {
            let truth_spans: Vec<TruthSpan> = read_entries(truth)?.iter().filter_map(Entry::truth).collect();
            let detections: Vec<Detection> =
                read_entries(detected)?.iter().filter_map(Entry::detection).collect();
            let scores = reelforge_shots::evaluate_transitions(&truth_spans, &detections, *tolerance);
            if *json {
                println!("{}", serde_json::to_string(&scores)?);
            } else {
                print!("{}", report(&scores, *tolerance));
            }
            Ok(())
        }
    }
}

fn report(scores: &TransitionEvaluation, tolerance: u64) -> String {
    let line = |name: &str, e: &Evaluation| {
        format!(
            "{name:<8} precision {:.3}  recall {:.3}  F1 {:.3}  (found {}, false {}, missed {})\n",
            e.precision, e.recall, e.f1, e.true_positives, e.false_positives, e.false_negatives
        )
    };
    let mut out = line("all", &scores.all) + &line("cuts", &scores.cuts) + &line("gradual", &scores.gradual);
    if let Some(error) = &scores.span_error {
        out += &format!(
            "span ends: first frame off by {:.1}, last frame by {:.1} (mean over {} gradual transitions)\n",
            error.mean_first_frames, error.mean_last_frames, error.transitions
        );
    }
    out + &format!("tolerance ±{tolerance} frames\n")
}

/// One row of any supported file: a transition or boundary with what the file says about it.
#[derive(Debug, PartialEq)]
struct Entry {
    /// `None` when the file gives no kind (a plain frame list: cuts).
    kind: Option<String>,
    /// The frame the file names as the new shot's first, if any.
    frame: Option<u64>,
    /// First and last frame of the transition, if the file gives them.
    span: Option<(u64, u64)>,
}

impl Entry {
    fn kind(&self) -> TruthKind {
        match self.kind.as_deref() {
            None | Some("cut") => TruthKind::Cut,
            Some("ignore") => TruthKind::Ignore,
            Some(_) => TruthKind::Gradual,
        }
    }

    fn frame(&self) -> u64 {
        // A span without a named frame counts at its middle.
        self.frame.or(self.span.map(|(first, last)| (first + last).div_ceil(2))).unwrap_or(0)
    }

    fn truth(&self) -> Option<TruthSpan> {
        let (first_frame, last_frame) = self.span.unwrap_or((self.frame(), self.frame()));
        // Frame 0 starts the first shot: no boundary.
        (self.kind() == TruthKind::Ignore || last_frame > 0).then_some(TruthSpan {
            kind: self.kind(),
            first_frame,
            last_frame,
        })
    }

    fn detection(&self) -> Option<Detection> {
        let kind = self.kind();
        (kind != TruthKind::Ignore && self.frame() > 0).then(|| Detection {
            frame: self.frame(),
            gradual: kind == TruthKind::Gradual,
            span: self.span,
        })
    }
}

/// A sample's truth.json, a CSV, or else a reelforge shots.json (read as the shots stage
/// wrote it).
fn read_entries(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return Ok(csv_entries(&text)
            .map_err(|message| CliError::config(format!("{}: {message}", path.display())))?);
    }
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    if let Some(entries) = json_entries(&value) {
        return Ok(entries);
    }
    let shots = reelforge_stages::documents::read_shots_file(path)?;
    Ok(shots
        .boundaries
        .iter()
        .map(|boundary| Entry {
            kind: Some(boundary.kind.as_str().to_owned()),
            frame: Some(boundary.frame),
            span: Some((boundary.first_frame, boundary.last_frame)),
        })
        .collect())
}

/// The transitions of a sample's truth.json; `None` for any other JSON.
fn json_entries(value: &Value) -> Option<Vec<Entry>> {
    let entries = value.get("transitions")?.as_array()?;
    entries
        .iter()
        .map(|entry| {
            let number = |key: &str| entry.get(key).and_then(Value::as_u64);
            let span = number("first_frame").zip(number("last_frame"));
            let frame = number("frame").or_else(|| number("switch_frame"));
            (frame.is_some() || span.is_some()).then(|| Entry {
                kind: entry.get("kind").and_then(Value::as_str).map(str::to_owned),
                frame,
                span,
            })
        })
        .collect()
}

fn csv_entries(text: &str) -> Result<Vec<Entry>, String> {
    // `#` lines are comments; the table ends at the first blank line after the header
    // (PySceneDetect appends prose after it).
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .skip_while(|(_, l)| l.trim().is_empty())
        .take_while(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty file")?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let position = |name: &str| columns.iter().position(|c| *c == name);
    let spans = position("kind").zip(position("first_frame")).zip(position("last_frame"));
    let frame_column = ["cut_frame", "frame", "start_frame"].iter().find_map(|name| position(name));
    if spans.is_none() && frame_column.is_none() {
        return Err(format!(
            "header `{header}` has neither `kind,first_frame,last_frame` nor a `cut_frame`, `frame` or `start_frame` column"
        ));
    }
    lines
        .map(|(number, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let frame_at = |column: usize| {
                let field = fields.get(column).copied().unwrap_or("");
                field
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f >= 0.0)
                    .map(|f| f.round() as u64)
                    .ok_or_else(|| format!("line {}: `{field}` is not a frame number", number + 1))
            };
            match spans {
                Some(((kind, first), last)) => {
                    let (first, last) = (frame_at(first)?, frame_at(last)?);
                    if last < first {
                        return Err(format!(
                            "line {}: last_frame {last} is before first_frame {first}",
                            number + 1
                        ));
                    }
                    let kind = fields.get(kind).copied().unwrap_or("").to_owned();
                    Ok(Entry { kind: Some(kind), frame: None, span: Some((first, last)) })
                }
                None => Ok(Entry { kind: None, frame: frame_column.map(frame_at).transpose()?, span: None }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_the_frame_column_of_pyscenedetect_scene_lists() {
        let text = "scene,timecode,frame,time (ms)\n0,00:00:00.0,0.000000,0\n1,00:00:06.706,201.000000,6706\n\nComma-separated timecode list:\n00:00:06.706\n";
        let frames: Vec<Option<u64>> = csv_entries(text).expect("parses").iter().map(|e| e.frame).collect();
        assert_eq!(frames, [Some(0), Some(201)]);
    }

    #[test]
    fn transitions_csv_gives_kinds_and_spans_and_skips_comments() {
        let text = "# a comment\nkind,first_frame,last_frame,note\nignore,0,30,black leader\ncut,285,285,hard cut\n\
                    # another\nfade,180,240,through black\n";
        let entries = csv_entries(text).expect("parses");
        let truth: Vec<TruthSpan> = entries.iter().filter_map(Entry::truth).collect();
        assert_eq!(
            truth,
            [
                TruthSpan { kind: TruthKind::Ignore, first_frame: 0, last_frame: 30 },
                TruthSpan { kind: TruthKind::Cut, first_frame: 285, last_frame: 285 },
                TruthSpan { kind: TruthKind::Gradual, first_frame: 180, last_frame: 240 },
            ]
        );
        let detected: Vec<Detection> = entries.iter().filter_map(Entry::detection).collect();
        assert_eq!(detected[1], Detection { frame: 210, gradual: true, span: Some((180, 240)) });
        assert_eq!(detected.len(), 2, "ignore rows are no detections");
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let error = csv_entries("kind,first_frame,last_frame\ncut,12,x\n").expect_err("bad frame");
        assert!(error.contains("line 2") && error.contains("`x`"), "{error}");
        let error = csv_entries("kind,first_frame,last_frame\nfade,40,30\n").expect_err("reversed span");
        assert!(error.contains("before first_frame"), "{error}");
        assert!(csv_entries("a,b\n1,2\n").is_err());
    }

    #[test]
    fn truth_json_gives_frames_and_spans() {
        let value: Value = serde_json::from_str(
            r#"{"transitions":[{"kind":"cut","first_frame":100,"last_frame":100,"switch_frame":100},{"kind":"dissolve","first_frame":200,"last_frame":224}]}"#,
        )
        .expect("valid JSON");
        let detected: Vec<Detection> =
            json_entries(&value).expect("entries").iter().filter_map(Entry::detection).collect();
        assert_eq!(
            detected,
            [
                Detection { frame: 100, gradual: false, span: Some((100, 100)) },
                Detection { frame: 212, gradual: true, span: Some((200, 224)) }
            ]
        );
    }
}
