//! The real [`StageRunner`]: what each pipeline stage does. Analysis stages of one batch
//! share a single decode pass; the other stages of the batch run beside it on threads.

mod artwork_stage;
pub mod documents;
pub mod preflight;
mod probe_stage;
mod renditions_stage;
mod shots_stage;
mod subtitles_stage;
mod trailer_stage;

use std::path::Path;

use reelforge_core::{AudioAnalyzer, Classify, ErrorClass, ProgressSink, VideoAnalyzer};
use reelforge_media::StreamDamage;
use reelforge_pipeline::{
    ChunkSpec, OnDamage, StageConfig, StageError, StageJob, StageOutcome, StagePart, StageRunner,
};

pub use renditions_stage::source_video;

/// A stage that looks at the shared decode pass: it lends analyzers to the pass, then turns
/// what they gathered into its output files.
trait AnalysisStage: Send {
    /// The analyzers this stage lends to the decode pass.
    fn analyzers(&mut self) -> Analyzers<'_>;
    /// `stages` other stages run on their own threads while this one writes: a stage with
    /// heavy CPU work of its own leaves them room.
    fn share_cpu_with(&mut self, _stages: usize) {}
    /// After the pass: writes every output into `job.out_dir`; `damage` is what the pass
    /// found wrong with the input, for the stage's document.
    fn write(
        self: Box<Self>,
        job: &StageJob<'_>,
        damage: &[StreamDamage],
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError>;
}

/// What one stage hands to the decode pass.
#[derive(Default)]
struct Analyzers<'a> {
    video: Vec<&'a mut dyn VideoAnalyzer>,
    audio: Vec<&'a mut dyn AudioAnalyzer>,
}

/// The analysis half of a stage, or `None` for stages that do their own I/O.
fn analysis_for(job: &StageJob<'_>) -> Option<Result<Box<dyn AnalysisStage>, StageError>> {
    match job.stage {
        StageConfig::Shots(settings) => {
            Some(Ok(Box::new(shots_stage::ShotsAnalysis::new(settings.clone(), job.out_dir))))
        }
        StageConfig::Artwork(settings) => Some(
            artwork_stage::ArtworkAnalysis::new(settings.clone(), job)
                .map(|analysis| Box::new(analysis) as Box<dyn AnalysisStage>),
        ),
        StageConfig::Subtitles(settings) => {
            let chunk = match job.part {
                StagePart::Whole => None,
                StagePart::Chunk(chunk) => Some(chunk),
                // The join only gathers its chunks' files: no decode pass (run_standalone).
                StagePart::Join(_) => return None,
            };
            Some(
                subtitles_stage::SubtitlesAnalysis::new(settings.clone(), job, chunk)
                    .map(|analysis| Box::new(analysis) as Box<dyn AnalysisStage>),
            )
        }
        StageConfig::Trailer(settings) => Some(
            trailer_stage::TrailerAnalysis::new(settings.clone(), job)
                .map(|analysis| Box::new(analysis) as Box<dyn AnalysisStage>),
        ),
        _ => None,
    }
}

/// Stages that do their own work from the input, and joins of chunks (no shared decode pass).
fn run_standalone(job: &StageJob<'_>, progress: &dyn ProgressSink) -> Result<StageOutcome, StageError> {
    match (job.stage, job.part) {
        (StageConfig::Probe(_), _) => probe_stage::run(job.input, job.out_dir),
        (StageConfig::Renditions(settings), _) => renditions_stage::run(job, settings, progress),
        (StageConfig::Subtitles(_), StagePart::Join(chunks)) => subtitles_stage::join(job, chunks),
        (other, _) => {
            Err(StageError::new(ErrorClass::Config, format!("stage `{}` is not available yet", other.name())))
        }
    }
}

/// A job with its position in the batch (results go back in batch order).
type NumberedJob<'batch, 'job> = (usize, &'batch StageJob<'job>);

/// Runs reelforge's stages for the pipeline executor.
#[derive(Debug, Default)]
pub struct Runner;

impl StageRunner for Runner {
    fn run_batch(
        &self,
        jobs: &[StageJob<'_>],
        progress: &dyn ProgressSink,
    ) -> Vec<Result<StageOutcome, StageError>> {
        let mut results: Vec<Option<Result<StageOutcome, StageError>>> = jobs.iter().map(|_| None).collect();
        let mut analyses = Vec::new();
        let mut standalone: Vec<NumberedJob<'_, '_>> = Vec::new();
        for (index, job) in jobs.iter().enumerate() {
            match analysis_for(job) {
                Some(Ok(analysis)) => analyses.push((index, job, analysis)),
                Some(Err(error)) => results[index] = Some(Err(error)),
                None => standalone.push((index, job)),
            }
        }
        for (_, _, analysis) in &mut analyses {
            analysis.share_cpu_with(standalone.len());
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = standalone
                .iter()
                .map(|&(index, job)| (index, scope.spawn(move || run_standalone(job, progress))))
                .collect();
            if let Some((_, first, _)) = analyses.first() {
                let input = first.input;
                for (index, result) in run_analysis(input, analyses, progress) {
                    results[index] = Some(result);
                }
            }
            for (index, handle) in handles {
                results[index] =
                    Some(handle.join().unwrap_or_else(|_| {
                        Err(StageError::new(ErrorClass::Other, "stage thread panicked"))
                    }));
            }
        });
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(StageError::new(ErrorClass::Other, "stage was not run"))))
            .collect()
    }
}

/// One decode pass for every analysis stage of the batch, then each stage writes its files.
fn run_analysis<'batch, 'job>(
    input: &Path,
    mut analyses: Vec<(usize, &'batch StageJob<'job>, Box<dyn AnalysisStage>)>,
    progress: &dyn ProgressSink,
) -> Vec<(usize, Result<StageOutcome, StageError>)> {
    let decoded = {
        let mut video: Vec<&mut dyn VideoAnalyzer> = Vec::new();
        let mut audio: Vec<&mut dyn AudioAnalyzer> = Vec::new();
        for (_, _, analysis) in &mut analyses {
            let lent = analysis.analyzers();
            video.extend(lent.video);
            audio.extend(lent.audio);
        }
        reelforge_media::decode_pass(input, &mut video, &mut audio, progress)
    };
    match decoded {
        Ok(summary) => analyses
            .into_iter()
            .map(|(index, job, analysis)| {
                if job.on_damage == OnDamage::Fail
                    && let Some(first) = summary.damage.first()
                {
                    let errors: u64 = summary.damage.iter().map(|d| d.errors).sum();
                    let message = format!(
                        "{}: {errors} decode errors, the first in stream {} at {:.1} s; the pipeline's \
                         on_damage is `fail` (re-copy or re-export the file, or set on_damage: warn)",
                        input.display(),
                        first.stream_index,
                        first.first_seconds
                    );
                    return (index, Err(StageError::new(ErrorClass::BadInput, message)));
                }
                (index, analysis.write(job, &summary.damage, progress))
            })
            .collect(),
        Err(error) => {
            // Every stage of the pass failed for the same reason; each gets its own copy.
            let (class, text) = (error.class(), error.to_string());
            analyses
                .into_iter()
                .map(|(index, _, _)| (index, Err(StageError::new(class, text.clone()))))
                .collect()
        }
    }
}

/// Reads another stage's JSON output (or any JSON file a stage depends on); failures get
/// `class`, which says whose fault a missing or damaged file is.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, class: ErrorClass) -> Result<T, StageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StageError::with_source(class, format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text)
        .map_err(|e| StageError::with_source(class, format!("parsing {}", path.display()), e))
}

/// Writes `value` as pretty JSON to `path` (inside a stage's staging folder).
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), StageError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| StageError::with_source(ErrorClass::Other, "serialising JSON", e))?;
    write_text(path, &text)
}

/// Puts a chunk's file `from` at `to` in a join's stage folder: a hard link (a chunk's files
/// never change once complete), a copy where the filesystem cannot link.
fn link_file(from: &Path, to: &Path) -> Result<(), StageError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("gathering {}", from.display()), e))
}

/// A chunk naming a track (rung, audio stream) the input does not have: the plan is stale.
fn no_track(chunk: &ChunkSpec, count: usize, what: &str) -> StageError {
    StageError::new(
        ErrorClass::Config,
        format!("chunk `{}` names a track the input does not have ({count} {what}); plan again", chunk.id),
    )
}

fn write_text(path: &Path, text: &str) -> Result<(), StageError> {
    std::fs::write(path, text)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("writing {}", path.display()), e))
}
