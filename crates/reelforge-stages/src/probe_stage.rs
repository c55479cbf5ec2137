//! `probe`: what the episode contains, as `media.json`.

use std::path::Path;

use reelforge_pipeline::{StageError, StageOutcome};

pub fn run(input: &Path, out_dir: &Path) -> Result<StageOutcome, StageError> {
    let info =
        reelforge_media::probe(input).map_err(|e| StageError::from_classified("probing the input", e))?;
    crate::write_json(&out_dir.join(crate::documents::MEDIA_JSON), &info)?;
    let video = info.main_video().and_then(|s| s.video.as_ref());
    let summary = match video {
        Some(v) => format!(
            "{}x{} {:.3} fps, {} streams, {:.1} s",
            v.width,
            v.height,
            v.avg_fps,
            info.streams.len(),
            info.duration_seconds.unwrap_or(0.0)
        ),
        None => format!("{} streams", info.streams.len()),
    };
    Ok(StageOutcome { summary: Some(summary) })
}
