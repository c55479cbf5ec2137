//! `reelforge eval`: accuracy against ground truth.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

use crate::failure::CliError;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Precision, recall and F1 of detected shot boundaries against a ground-truth list.
    #[command(after_help = "TRUTH: a CSV with a `cut_frame`, `frame` or `start_frame` column (frame 0 is \
ignored: it starts the first shot), or a sample's truth.json (each transition at its `switch_frame`, \
the first frame of the new shot).\nDETECTED: a shots.json or shots.csv written by reelforge.")]
    Shots {
        /// Ground-truth boundaries.
        #[arg(long)]
        truth: PathBuf,
        /// A detection matches a true boundary at most this many frames away.
        #[arg(long, default_value_t = 1)]
        tolerance: u64,
        /// Which boundaries to score (kinds are known only for JSON files).
        #[arg(long, value_enum, default_value_t = KindFilter::All)]
        kind: KindFilter,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// shots.json or shots.csv.
        detected: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindFilter {
    All,
    /// Hard cuts only.
    Cut,
    /// Fades and dissolves only.
    Gradual,
}

impl KindFilter {
    fn accepts(self, kind: Option<&str>) -> bool {
        match (self, kind) {
            (KindFilter::All, _) | (_, None) => true,
            (KindFilter::Cut, Some(kind)) => kind == "cut",
            (KindFilter::Gradual, Some(kind)) => kind != "cut",
        }
    }
}

pub fn run(command: &EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Shots { truth, tolerance, kind, json, detected } => {
            let truth_frames = read_boundaries(truth, *kind)?;
            let detected_frames = read_boundaries(detected, *kind)?;
            let evaluation = reelforge_shots::evaluate(&truth_frames, &detected_frames, *tolerance);
            if *json {
                println!("{}", serde_json::to_string(&evaluation)?);
            } else {
                println!(
                    "precision {:.3}  recall {:.3}  F1 {:.3}  (true positives {}, false positives {}, missed {}; tolerance ±{tolerance} frames)",
                    evaluation.precision,
                    evaluation.recall,
                    evaluation.f1,
                    evaluation.true_positives,
                    evaluation.false_positives,
                    evaluation.false_negatives
                );
            }
            Ok(())
        }
    }
}

/// Boundary frames (first frame of each new shot) from any supported file, sorted.
fn read_boundaries(path: &Path, kind: KindFilter) -> anyhow::Result<Vec<u64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut frames = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
        json_boundaries(&value, kind).ok_or_else(|| {
            CliError::config(format!("{}: neither a shots.json nor a sample truth.json", path.display()))
        })?
    } else {
        csv_boundaries(&text).map_err(|message| CliError::config(format!("{}: {message}", path.display())))?
    };
    frames.retain(|&f| f > 0);
    frames.sort_unstable();
    frames.dedup();
    Ok(frames)
}

fn json_boundaries(value: &Value, kind: KindFilter) -> Option<Vec<u64>> {
    let entries = value.get("boundaries").or_else(|| value.get("transitions"))?.as_array()?;
    let mut frames = Vec::with_capacity(entries.len());
    for entry in entries {
        let entry_kind = entry.get("kind").and_then(Value::as_str);
        if !kind.accepts(entry_kind) {
            continue;
        }
        let frame = match entry.get("frame").or_else(|| entry.get("switch_frame")).and_then(Value::as_u64) {
            Some(frame) => frame,
            // A span without a named switch frame counts at its middle frame.
            None => {
                let first = entry.get("first_frame")?.as_u64()?;
                let last = entry.get("last_frame")?.as_u64()?;
                (first + last).div_ceil(2)
            }
        };
        frames.push(frame);
    }
    Some(frames)
}

fn csv_boundaries(text: &str) -> Result<Vec<u64>, String> {
    // The table ends at the first blank line (PySceneDetect appends prose after it).
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty()).take_while(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("empty file")?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let column = ["cut_frame", "frame", "start_frame"]
        .iter()
        .find_map(|name| columns.iter().position(|c| c == name))
        .ok_or_else(|| format!("no `cut_frame`, `frame` or `start_frame` column in header `{header}`"))?;
    lines
        .enumerate()
        .map(|(row, line)| {
            let field = line.split(',').nth(column).map(str::trim).unwrap_or("");
            field
                .parse::<f64>()
                .ok()
                .filter(|f| *f >= 0.0)
                .map(|f| f.round() as u64)
                .ok_or_else(|| format!("line {}: `{field}` is not a frame number", row + 2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_the_frame_column_of_pyscenedetect_scene_lists() {
        let text = "scene,timecode,frame,time (ms)\n0,00:00:00.0,0.000000,0\n1,00:00:06.706,201.000000,6706\n\nComma-separated timecode list:\n00:00:06.706\n";
        assert_eq!(csv_boundaries(text), Ok(vec![0, 201]));
    }

    #[test]
    fn truth_json_counts_transitions_at_their_switch_frame_else_middle() {
        let value: Value = serde_json::from_str(
            r#"{"transitions":[{"kind":"cut","first_frame":100,"last_frame":100},{"kind":"dissolve","first_frame":200,"last_frame":224},{"kind":"fade","first_frame":300,"last_frame":339,"switch_frame":320}]}"#,
        )
        .unwrap();
        assert_eq!(json_boundaries(&value, KindFilter::All), Some(vec![100, 212, 320]));
        assert_eq!(json_boundaries(&value, KindFilter::Gradual), Some(vec![212, 320]));
    }
}
