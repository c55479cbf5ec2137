//! The real [`StageRunner`]: what each pipeline stage does. Analysis stages of one batch
//! share a single decode pass; the other stages of the batch run beside it on threads.

mod probe_stage;
mod shots_stage;

use std::path::Path;

use reelforge_core::{Classify, ProgressSink};
use reelforge_pipeline::{StageConfig, StageError, StageJob, StageOutcome, StageRunner};

pub use shots_stage::{ShotsDocument, ShotsDocumentEntry};

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
        let (analysis, other): (Vec<NumberedJob<'_, '_>>, Vec<NumberedJob<'_, '_>>) =
            jobs.iter().enumerate().partition(|(_, job)| needs_decode(job.stage));
        std::thread::scope(|scope| {
            let handles: Vec<_> = other
                .iter()
                .map(|&(index, job)| (index, scope.spawn(move || run_standalone(job, progress))))
                .collect();
            if !analysis.is_empty() {
                let jobs: Vec<&StageJob<'_>> = analysis.iter().map(|(_, job)| *job).collect();
                for ((index, _), result) in analysis.iter().zip(run_analysis(&jobs, progress)) {
                    results[*index] = Some(result);
                }
            }
            for (index, handle) in handles {
                results[index] = Some(handle.join().unwrap_or_else(|_| {
                    Err(StageError::new(reelforge_core::ErrorClass::Other, "stage thread panicked"))
                }));
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StageError::new(reelforge_core::ErrorClass::Other, "stage was not run"))
                })
            })
            .collect()
    }
}

/// Stages that look at decoded frames or samples, and so join the shared decode pass.
fn needs_decode(stage: &StageConfig) -> bool {
    matches!(stage, StageConfig::Shots(_))
}

fn run_standalone(job: &StageJob<'_>, _progress: &dyn ProgressSink) -> Result<StageOutcome, StageError> {
    match job.stage {
        StageConfig::Probe(_) => probe_stage::run(job.input, job.out_dir),
        other => Err(not_available(other)),
    }
}

/// One decode pass for every analysis stage in the batch, then each stage writes its files.
fn run_analysis(
    jobs: &[&StageJob<'_>],
    progress: &dyn ProgressSink,
) -> Vec<Result<StageOutcome, StageError>> {
    let Some(input) = jobs.first().map(|job| job.input) else { return Vec::new() };
    let mut shots: Vec<shots_stage::ShotsAnalysis> = jobs
        .iter()
        .filter_map(|job| match job.stage {
            StageConfig::Shots(settings) => Some(shots_stage::ShotsAnalysis::new(settings.clone())),
            _ => None,
        })
        .collect();
    let mut video: Vec<&mut dyn reelforge_core::VideoAnalyzer> =
        shots.iter_mut().map(|s| s.analyzer() as &mut dyn reelforge_core::VideoAnalyzer).collect();
    if let Err(error) = reelforge_media::decode_pass(input, &mut video, &mut [], progress) {
        // Every stage of the pass failed for the same reason; each gets its own copy.
        let (class, text) = (error.class(), error.to_string());
        return jobs.iter().map(|_| Err(StageError::new(class, text.clone()))).collect();
    }
    let mut shots = shots.into_iter();
    jobs.iter()
        .map(|job| match job.stage {
            StageConfig::Shots(_) => match shots.next() {
                Some(analysis) => analysis.write(job.input, job.out_dir, progress),
                None => Err(StageError::new(reelforge_core::ErrorClass::Other, "shots analysis missing")),
            },
            other => Err(not_available(other)),
        })
        .collect()
}

fn not_available(stage: &StageConfig) -> StageError {
    StageError::new(
        reelforge_core::ErrorClass::Config,
        format!("stage `{}` is not available yet", stage.name()),
    )
}

/// Writes `value` as pretty JSON to `path` (inside a stage's staging folder).
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), StageError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| StageError::with_source(reelforge_core::ErrorClass::Other, "serialising JSON", e))?;
    write_text(path, &text)
}

fn write_text(path: &Path, text: &str) -> Result<(), StageError> {
    std::fs::write(path, text).map_err(|e| {
        StageError::with_source(reelforge_core::ErrorClass::Other, format!("writing {}", path.display()), e)
    })
}
