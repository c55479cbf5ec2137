//! `shots`: shot boundaries from the shared decode pass, written for editors and scripts:
//! `shots.json`, `shots.csv`, `shots.otio`, `shots.edl` and one JPEG keyframe per shot.

use std::path::Path;

use reelforge_core::{ErrorClass, ProgressSink, ProgressUnit, Rational, VideoFrame};
use reelforge_pipeline::{StageError, StageJob, StageOutcome};
use reelforge_shots::{Boundary, Shot, ShotDetector, ShotList, ShotSettings};
use serde::{Deserialize, Serialize};

use crate::{AnalysisStage, Analyzers};

pub const SHOTS_JSON: &str = "shots.json";
const KEYFRAME_DIR: &str = "keyframes";
/// Keyframes are previews: wide enough to recognise a shot, small enough to list hundreds.
const KEYFRAME_WIDTH: u32 = 640;
const KEYFRAME_QUALITY: u8 = 85;

/// `shots.json`: the shot list with keyframe paths and each boundary's confidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotsDocument {
    /// The analysed file, as given.
    pub source: String,
    pub frame_rate: Rational,
    pub total_frames: u64,
    pub settings: ShotSettings,
    pub shots: Vec<ShotsDocumentEntry>,
    /// Every transition between shots: kind, frame range and confidence.
    pub boundaries: Vec<Boundary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShotsDocumentEntry {
    #[serde(flatten)]
    pub shot: Shot,
    /// Relative path of the shot's keyframe (its middle frame).
    pub keyframe: String,
    /// Confidence of the boundary that starts this shot; `None` for the first shot.
    pub confidence: Option<f32>,
}

/// The detector while the decode pass runs.
pub struct ShotsAnalysis {
    settings: ShotSettings,
    detector: ShotDetector,
}

impl ShotsAnalysis {
    pub fn new(settings: ShotSettings) -> Self {
        Self { detector: ShotDetector::new(settings.clone()), settings }
    }
}

impl AnalysisStage for ShotsAnalysis {
    fn analyzers(&mut self) -> Analyzers<'_> {
        Analyzers { video: vec![&mut self.detector], audio: Vec::new() }
    }

    fn write(
        mut self: Box<Self>,
        job: &StageJob<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError> {
        let (input, out_dir) = (job.input, job.out_dir);
        let list = self.detector.take_shot_list().ok_or_else(|| {
            StageError::new(ErrorClass::Other, "the decode pass ended without finishing shot detection")
        })?;
        if list.total_frames == 0 {
            return Err(StageError::new(
                ErrorClass::BadInput,
                format!("{}: no video frames decoded", input.display()),
            ));
        }
        let keyframes = write_keyframes(input, out_dir, &list, progress)?;
        let document = ShotsDocument {
            source: input.display().to_string(),
            frame_rate: list.frame_rate,
            total_frames: list.total_frames,
            settings: self.settings.clone(),
            shots: list
                .shots
                .iter()
                .zip(keyframes)
                .map(|(shot, keyframe)| ShotsDocumentEntry {
                    confidence: list
                        .boundaries
                        .iter()
                        .find(|b| b.frame == shot.start_frame)
                        .map(|b| b.confidence),
                    shot: shot.clone(),
                    keyframe,
                })
                .collect(),
            boundaries: list.boundaries.clone(),
        };
        crate::write_json(&out_dir.join(SHOTS_JSON), &document)?;

        let absolute = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
        let source_name =
            input.file_name().map_or_else(|| "source".to_owned(), |n| n.to_string_lossy().into_owned());
        let timeline = list
            .to_timeline(&format!("{source_name} shots"), &absolute.display().to_string(), &source_name)
            .map_err(|e| {
                StageError::with_source(
                    ErrorClass::BadInput,
                    format!("{}: cannot write an edit", input.display()),
                    e,
                )
            })?;
        crate::write_text(&out_dir.join("shots.csv"), &reelforge_timeline::to_csv(&timeline))?;
        crate::write_text(&out_dir.join("shots.otio"), &reelforge_timeline::to_otio_json(&timeline))?;
        crate::write_text(&out_dir.join("shots.edl"), &reelforge_timeline::to_cmx3600_edl(&timeline))?;

        let gradual =
            list.boundaries.iter().filter(|b| b.kind != reelforge_shots::TransitionKind::Cut).count();
        Ok(StageOutcome {
            summary: Some(format!(
                "{} shots, {} cuts, {} gradual transitions",
                list.shots.len(),
                list.boundaries.len() - gradual,
                gradual
            )),
        })
    }
}

/// Decodes each shot's middle frame at preview size (seeking, not a second full decode) and
/// writes it as JPEG. Returns the relative paths in shot order.
fn write_keyframes(
    input: &Path,
    out_dir: &Path,
    list: &ShotList,
    progress: &dyn ProgressSink,
) -> Result<Vec<String>, StageError> {
    let dir = out_dir.join(KEYFRAME_DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("creating {}", dir.display()), e))?;
    let times: Vec<f64> = list.shots.iter().map(|s| (s.start_seconds + s.end_seconds) / 2.0).collect();
    progress.started("keyframes", Some(times.len() as u64), ProgressUnit::Items);
    let frames = reelforge_media::extract_frames(input, &times, KEYFRAME_WIDTH)
        .map_err(|e| StageError::from_classified("extracting keyframes", e))?;
    let mut paths = Vec::with_capacity(frames.len());
    for (number, frame) in (1..).zip(&frames) {
        let relative = format!("{KEYFRAME_DIR}/shot_{number:03}.jpg");
        write_jpeg(&out_dir.join(&relative), frame)?;
        paths.push(relative);
        progress.advanced("keyframes", number);
    }
    progress.finished("keyframes");
    Ok(paths)
}

fn write_jpeg(path: &Path, frame: &VideoFrame) -> Result<(), StageError> {
    let image = image::RgbImage::from_raw(frame.width, frame.height, frame.data.clone())
        .ok_or_else(|| StageError::new(ErrorClass::Other, "keyframe buffer does not match its size"))?;
    let file = std::fs::File::create(path)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("writing {}", path.display()), e))?;
    let mut writer = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, KEYFRAME_QUALITY)
        .encode_image(&image)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("encoding {}", path.display()), e))
}
