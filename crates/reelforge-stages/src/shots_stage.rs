//! `shots`: shot boundaries from the shared decode pass, written for editors and scripts:
//! `shots.json`, `shots.csv`, `shots.otio`, `shots.edl`, `shots.fcpxml` (Final Cut Pro X),
//! `shots.fcp7.xml` (Final Cut 7 XML, for Premiere Pro and DaVinci Resolve) and one JPEG
//! keyframe per shot.

use std::path::{Path, PathBuf};

use reelforge_core::{
    ErrorClass, FrameRequest, PixelLayout, ProgressSink, ProgressUnit, VideoAnalyzer, VideoFrame, VideoInfo,
};
use reelforge_media::StreamDamage;
use reelforge_pipeline::{StageError, StageJob, StageOutcome};
use reelforge_shots::{ShotDetector, ShotList, ShotSettings};

use crate::documents::{SHOTS_JSON, ShotsDocument, ShotsDocumentEntry};
use crate::{AnalysisStage, Analyzers};

const KEYFRAME_DIR: &str = "keyframes";
/// Keyframes are previews: wide enough to recognise a shot, small enough to list hundreds.
const KEYFRAME_WIDTH: u32 = 640;
/// One keyframe candidate per second: the middle of any shot of a second or more is at most
/// half a second from one.
const KEYFRAME_SAMPLE_MS: u32 = 1000;
/// Inside the staging folder; removed before the stage completes.
const CANDIDATE_DIR: &str = ".keyframe-candidates";

/// The detector and the keyframe sampler while the decode pass runs.
pub struct ShotsAnalysis {
    settings: ShotSettings,
    detector: ShotDetector,
    sampler: KeyframeSampler,
}

impl ShotsAnalysis {
    /// `out_dir` is the stage's staging folder; sampled keyframes wait there.
    pub fn new(settings: ShotSettings, out_dir: &Path) -> Self {
        Self {
            detector: ShotDetector::new(settings.clone()),
            settings,
            sampler: KeyframeSampler::new(out_dir.join(CANDIDATE_DIR)),
        }
    }
}

impl AnalysisStage for ShotsAnalysis {
    fn analyzers(&mut self) -> Analyzers<'_> {
        Analyzers { video: vec![&mut self.detector, &mut self.sampler], audio: Vec::new() }
    }

    fn write(
        mut self: Box<Self>,
        job: &StageJob<'_>,
        damage: &[StreamDamage],
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
        let keyframes = self.sampler.keyframes(input, out_dir, &list, progress)?;
        let document = ShotsDocument {
            source: input.display().to_string(),
            frame_rate: list.frame_rate,
            total_frames: list.total_frames,
            settings: self.settings.clone(),
            damage: damage.to_vec(),
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
        let edit = reelforge_timeline::Edit {
            transitions: list.edit_transitions(),
            ..reelforge_timeline::Edit::cuts(&timeline)
        };
        crate::write_text(&out_dir.join("shots.otio"), &edit.to_otio_json())?;
        crate::write_text(&out_dir.join("shots.edl"), &edit.to_cmx3600_edl())?;
        crate::write_text(&out_dir.join("shots.fcpxml"), &edit.to_fcpxml())?;
        crate::write_text(&out_dir.join("shots.fcp7.xml"), &edit.to_xmeml())?;

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

/// Keeps one preview-size JPEG per second of video while the decode pass runs, so each
/// shot's keyframe comes from that one decode. Only shots shorter than the sampling step need
/// a seek afterwards. Candidates live on disk, so memory does not grow with the episode.
struct KeyframeSampler {
    dir: PathBuf,
    candidates: Vec<Candidate>,
    /// The first failure while sampling (the analyzer interface cannot return errors).
    failure: Option<StageError>,
}

struct Candidate {
    frame: u64,
    seconds: f64,
    path: PathBuf,
}

impl KeyframeSampler {
    fn new(dir: PathBuf) -> Self {
        Self { dir, candidates: Vec::new(), failure: None }
    }

    /// Moves the candidate nearest each shot's middle (outside transitions) into
    /// `keyframes/`, seeks for shots without one, removes the rest. Returns relative paths.
    fn keyframes(
        self,
        input: &Path,
        out_dir: &Path,
        list: &ShotList,
        progress: &dyn ProgressSink,
    ) -> Result<Vec<String>, StageError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        let dir = out_dir.join(KEYFRAME_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        progress.started("keyframes", Some(list.shots.len() as u64), ProgressUnit::Items);
        let in_transition =
            |frame: u64| list.boundaries.iter().any(|b| (b.first_frame..=b.last_frame).contains(&frame));
        let mut paths = Vec::with_capacity(list.shots.len());
        let mut unsampled = Vec::new();
        for (number, shot) in (1..).zip(&list.shots) {
            let relative = format!("{KEYFRAME_DIR}/shot_{number:03}.jpg");
            let middle = (shot.start_seconds + shot.end_seconds) / 2.0;
            let nearest = self
                .candidates
                .iter()
                .filter(|c| (shot.start_frame..=shot.end_frame).contains(&c.frame) && !in_transition(c.frame))
                .min_by(|a, b| (a.seconds - middle).abs().total_cmp(&(b.seconds - middle).abs()));
            match nearest {
                Some(candidate) => {
                    let target = out_dir.join(&relative);
                    std::fs::rename(&candidate.path, &target).map_err(|e| io_error(&target, e))?;
                }
                None => unsampled.push((middle, relative.clone())),
            }
            paths.push(relative);
            progress.advanced("keyframes", number);
        }
        if !unsampled.is_empty() {
            let times: Vec<f64> = unsampled.iter().map(|(seconds, _)| *seconds).collect();
            let frames = reelforge_media::extract_frames(input, &times, KEYFRAME_WIDTH, PixelLayout::Yuv420)
                .map_err(|e| StageError::from_classified("extracting keyframes of short shots", e))?;
            for ((_, relative), frame) in unsampled.iter().zip(&frames) {
                write_jpeg(&out_dir.join(relative), frame)?;
            }
        }
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        }
        progress.finished("keyframes");
        Ok(paths)
    }
}

impl VideoAnalyzer for KeyframeSampler {
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
        // Planar 4:2:0 is what the decoder gives and what JPEG stores: no colour conversion.
        FrameRequest::fit_width(source, KEYFRAME_WIDTH, PixelLayout::Yuv420).sampled_every(KEYFRAME_SAMPLE_MS)
    }

    fn analyze(&mut self, frame: &VideoFrame) {
        if self.failure.is_some() {
            return;
        }
        let path = self.dir.join(format!("frame_{:08}.jpg", frame.index));
        let written = std::fs::create_dir_all(&self.dir)
            .map_err(|e| io_error(&self.dir, e))
            .and_then(|()| write_jpeg(&path, frame));
        match written {
            Ok(()) => {
                self.candidates.push(Candidate { frame: frame.index, seconds: frame.time.seconds(), path })
            }
            Err(error) => self.failure = Some(error),
        }
    }
}

fn io_error(path: &Path, error: std::io::Error) -> StageError {
    StageError::with_source(ErrorClass::Other, format!("writing {}", path.display()), error)
}

/// Writes straight into the stage's staging folder, which appears whole when the stage completes.
fn write_jpeg(path: &Path, frame: &VideoFrame) -> Result<(), StageError> {
    let jpeg = reelforge_media::encode_jpeg(path, frame)
        .map_err(|e| StageError::from_classified("encoding a keyframe", e))?;
    std::fs::write(path, jpeg).map_err(|e| io_error(path, e))
}
