//! Runs a pipeline in a workdir: waves of ready stages handed to a [`StageRunner`], cache
//! hits skipped, every stage directory swapped in whole with its manifest.
//!
//! Workdir layout (nothing else in the product builds these paths):
//! - `WORKDIR/<stage>/`: a completed stage: its outputs plus [`MANIFEST_FILE`].
//! - `WORKDIR/<stage>.parts/<chunk id>/`: a completed chunk of a stage a render farm split,
//!   with its own manifest; the join builds `WORKDIR/<stage>/` from them.
//! - `WORKDIR/.<stage>.*.tmp` / `.old`: a stage being written or swapped in (removed when
//!   that stage runs again, if a killed run left one behind).
//! - `WORKDIR/.reelforge/input-hash.json`: the input hash memo.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use reelforge_core::output::{StagedDir, write_file_atomic};
use reelforge_core::{Classify, ErrorClass, ProgressSink};

use crate::config::{OnDamage, Pipeline};
use crate::error::{PipelineError, StageError, UpstreamState};
use crate::input_hash::{InputRecord, hash_file, identify_input};
use crate::lock;
use crate::manifest::{
    MANIFEST_FILE, Ownership, PRODUCER, StageManifest, cache_key, list_outputs, new_run_id, ownership,
    rfc3339_utc, short_key,
};
use crate::part::{ChunkSpec, StagePart};
use crate::stage::{StageConfig, StageName, stage_list};

/// The workdir's private directory (input hash memo).
const PRIVATE_DIR: &str = ".reelforge";

/// The directory a completed stage lives in.
pub fn stage_dir(workdir: &Path, stage: StageName) -> PathBuf {
    workdir.join(stage.as_str())
}

/// The directory a completed chunk of a stage lives in.
pub fn chunk_dir(workdir: &Path, stage: StageName, chunk: &ChunkSpec) -> PathBuf {
    workdir.join(format!("{}.parts", stage.as_str())).join(&chunk.id)
}

/// Where a part of a stage is written and the key its manifest must carry: a chunk's key is
/// the stage key with the chunk's description, the join's is the stage key itself (its
/// folder is the one a whole run writes, so a later local run finds it cached).
fn part_location(workdir: &Path, stage: StageName, stage_key: &str, part: &StagePart) -> (PathBuf, String) {
    match part {
        StagePart::Chunk(chunk) => (chunk_dir(workdir, stage, chunk), chunk_key(stage_key, chunk)),
        StagePart::Whole | StagePart::Join(_) => (stage_dir(workdir, stage), stage_key.to_owned()),
    }
}

/// The key a chunk's manifest carries: the stage key with the chunk's description.
fn chunk_key(stage_key: &str, chunk: &ChunkSpec) -> String {
    let description = serde_json::to_string(chunk).unwrap_or_default();
    blake3::hash(format!("{stage_key}\n{description}").as_bytes()).to_hex().to_string()
}

/// One stage handed to a [`StageRunner`].
#[derive(Debug)]
pub struct StageJob<'a> {
    pub stage: &'a StageConfig,
    pub input: &'a Path,
    /// An empty temporary directory to write every output into; it becomes the stage
    /// directory only if the stage succeeds.
    pub out_dir: &'a Path,
    /// The completed directories of the stages this one depends on.
    pub upstream: BTreeMap<StageName, PathBuf>,
    /// The part of the stage to do (render farms split heavy stages).
    pub part: &'a StagePart,
    /// For a join: the completed folder of each of its chunks, in order; otherwise empty.
    pub chunk_dirs: Vec<PathBuf>,
    /// What decode errors in the input do to the stage (the pipeline's `on_damage`).
    pub on_damage: OnDamage,
}

/// What a successful stage reports besides its files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageOutcome {
    /// One line for progress output and the manifest, e.g. "412 shots".
    pub summary: Option<String>,
}

/// Does the work of stages; the executor only decides what runs when and where.
pub trait StageRunner: Sync {
    /// Runs a batch of stages whose dependencies are complete. The runner may run them
    /// together (one decode pass feeding every analysis stage of the batch, the others on
    /// their own threads). Returns one result per job, in the same order.
    fn run_batch(
        &self,
        jobs: &[StageJob<'_>],
        progress: &dyn ProgressSink,
    ) -> Vec<Result<StageOutcome, StageError>>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Run just this stage (a render-farm task); its dependencies must already be complete
    /// in the workdir.
    pub only: Option<StageName>,
    /// Run stages even when their cached results are valid, and replace folders named like a
    /// stage that reelforge cannot prove it wrote (never one holding the input).
    pub force: bool,
    /// With `only`: the part of that stage to run (a chunk, or the join of its chunks, which
    /// must all be complete).
    pub part: StagePart,
    /// Version of the tool, part of every cache key (e.g. `env!("CARGO_PKG_VERSION")`).
    pub tool_version: String,
    /// When another run holds a folder this run writes: wait for it (true) or refuse.
    pub wait_for_locks: bool,
}

impl RunOptions {
    pub fn new(tool_version: impl Into<String>) -> Self {
        Self {
            only: None,
            force: false,
            part: StagePart::Whole,
            tool_version: tool_version.into(),
            wait_for_locks: true,
        }
    }
}

#[derive(Debug)]
pub enum StageStatus {
    /// A valid result with this key was already in the workdir.
    Cached {
        key: String,
    },
    /// Ran and completed; `seconds` is the wall time of the batch it ran in.
    Ran {
        key: String,
        seconds: f64,
        summary: Option<String>,
    },
    Failed {
        error: StageError,
    },
    /// Not run because this dependency did not complete.
    Skipped {
        because: StageName,
    },
}

#[derive(Debug)]
pub struct StageReport {
    pub stage: StageName,
    /// Where its outputs are (or would have been).
    pub dir: PathBuf,
    pub status: StageStatus,
}

#[derive(Debug)]
pub struct RunReport {
    pub pipeline: String,
    /// In execution order.
    pub stages: Vec<StageReport>,
    pub total_seconds: f64,
}

impl RunReport {
    pub fn status(&self, stage: StageName) -> Option<&StageStatus> {
        self.stages.iter().find(|report| report.stage == stage).map(|report| &report.status)
    }

    /// The first failure, which decides the exit code; `None` when every stage completed.
    pub fn first_failure(&self) -> Option<(StageName, &StageError)> {
        self.stages.iter().find_map(|report| match &report.status {
            StageStatus::Failed { error } => Some((report.stage, error)),
            _ => None,
        })
    }

    pub fn failure_class(&self) -> Option<ErrorClass> {
        self.first_failure().map(|(_, error)| error.class())
    }
}

/// Runs `pipeline` on `input` in `workdir` (see the module docs for the layout).
///
/// Stages run in waves of ready stages, each wave handed to `runner` as one batch. A stage
/// whose manifest key matches and whose outputs are intact is reported as cached and not run
/// (unless `options.force`). A stage that fails leaves no directory, and the stages depending
/// on it are skipped; the error is in the report, not in the `Err` of this function, which is
/// for problems with the pipeline, input or workdir themselves.
pub fn run(
    pipeline: &Pipeline,
    input: &Path,
    workdir: &Path,
    options: &RunOptions,
    runner: &dyn StageRunner,
    progress: &dyn ProgressSink,
) -> Result<RunReport, PipelineError> {
    let started = Instant::now();
    let private_dir = workdir.join(PRIVATE_DIR);
    fs::create_dir_all(&private_dir).map_err(|source| PipelineError::Io {
        action: "create workdir",
        path: private_dir.clone(),
        source,
    })?;
    let input_record = identify_input(input, Some(&private_dir))?;
    let keys = expected_keys(pipeline, &input_record, &options.tool_version)?;

    let waves = match options.only {
        Some(stage) => {
            check_only_stage(pipeline, stage, workdir, &keys)?;
            if let StagePart::Join(chunks) = &options.part {
                let stage_key = keys.get(&stage).cloned().unwrap_or_default();
                let missing: Vec<String> = chunks
                    .iter()
                    .filter(|chunk| {
                        !is_complete(&chunk_dir(workdir, stage, chunk), &chunk_key(&stage_key, chunk))
                    })
                    .map(|chunk| chunk.id.clone())
                    .collect();
                if !missing.is_empty() {
                    return Err(PipelineError::ChunksIncomplete { stage, missing: missing.join(", ") });
                }
            }
            vec![vec![stage]]
        }
        None => pipeline.waves(),
    };
    // Taken before anything is checked or replaced: a run that waited then finds the other
    // run's finished stages and reuses them.
    // In stage order whatever the pipeline, so two runs never wait on each other in a circle.
    let mut stages: Vec<StageName> = waves.iter().flatten().copied().collect();
    stages.sort();
    let lock_names: Vec<String> = stages
        .into_iter()
        .map(|stage| match (&options.part, options.only == Some(stage)) {
            (StagePart::Chunk(chunk), true) => format!("{stage}.{}", chunk.id),
            _ => stage.to_string(),
        })
        .collect();
    let _locks =
        lock::lock_all(&lock::locks_dir(&private_dir), &lock_names, options.wait_for_locks, progress)?;
    for &stage in waves.iter().flatten() {
        let part = if options.only == Some(stage) { &options.part } else { &StagePart::Whole };
        let stage_key = keys.get(&stage).cloned().unwrap_or_default();
        let (dir, _) = part_location(workdir, stage, &stage_key, part);
        check_replaceable(&dir, &input_record.path, options.force).map_err(|refusal| match refusal {
            Refusal::NotOurs(why) => PipelineError::StageDirNotOurs { stage, path: dir.clone(), why },
            Refusal::Pipeline(error) => error,
        })?;
    }
    let run_id = new_run_id();

    let mut statuses: BTreeMap<StageName, StageStatus> = BTreeMap::new();
    for wave in waves {
        let mut ready: Vec<PreparedStage<'_>> = Vec::new();
        for stage in wave {
            let Some(config) = pipeline.stage(stage) else { continue };
            let dependencies = pipeline.dependencies(stage);
            if options.only.is_none()
                && let Some(&blocked_by) = dependencies.iter().find(|dependency| {
                    !matches!(
                        statuses.get(*dependency),
                        Some(StageStatus::Cached { .. } | StageStatus::Ran { .. })
                    )
                })
            {
                progress.message(stage.as_str(), &format!("skipped because `{blocked_by}` did not complete"));
                statuses.insert(stage, StageStatus::Skipped { because: blocked_by });
                continue;
            }
            let part = if options.only == Some(stage) { &options.part } else { &StagePart::Whole };
            let stage_key = keys.get(&stage).cloned().unwrap_or_default();
            let (dir, key) = part_location(workdir, stage, &stage_key, part);
            if !options.force && is_complete(&dir, &key) {
                progress.message(stage.as_str(), &format!("cached (key {}), skipped", short_key(&key)));
                statuses.insert(stage, StageStatus::Cached { key });
                continue;
            }
            let upstream = dependencies
                .iter()
                .map(|&dependency| {
                    let key = keys.get(&dependency).cloned().unwrap_or_default();
                    (dependency, Upstream { dir: stage_dir(workdir, dependency), key })
                })
                .collect();
            let chunk_dirs = match part {
                StagePart::Join(chunks) => {
                    chunks.iter().map(|chunk| chunk_dir(workdir, stage, chunk)).collect()
                }
                _ => Vec::new(),
            };
            match PreparedStage::new(config, key, &run_id, &dir, upstream, part.clone(), chunk_dirs) {
                Ok(prepared) => ready.push(prepared),
                Err(error) => {
                    progress.message(stage.as_str(), &format!("failed: {}", error.chain_text()));
                    statuses.insert(stage, StageStatus::Failed { error });
                }
            }
        }
        for (stage, result) in run_prepared(
            ready,
            input,
            &input_record,
            (&options.tool_version, pipeline.on_damage()),
            runner,
            progress,
        ) {
            let status = match result {
                Ok(manifest) => StageStatus::Ran {
                    key: manifest.key,
                    seconds: manifest.duration_seconds,
                    summary: manifest.summary,
                },
                Err(error) => StageStatus::Failed { error },
            };
            statuses.insert(stage, status);
        }
    }

    let stages = statuses
        .into_iter()
        .map(|(stage, status)| StageReport { stage, dir: stage_dir(workdir, stage), status })
        .collect();
    Ok(RunReport {
        pipeline: pipeline.name().to_owned(),
        stages,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs one stage into `out_dir` (for standalone commands such as `reelforge shots INPUT -o
/// DIR`), atomically and with a manifest, like a pipeline stage but without caching.
/// `upstream` maps each dependency to a completed stage directory (one with a manifest).
/// A non-empty `out_dir` is replaced only if it holds a reelforge manifest.
pub fn run_stage_into(
    stage: &StageConfig,
    input: &Path,
    out_dir: &Path,
    upstream: &BTreeMap<StageName, PathBuf>,
    tool_version: &str,
    runner: &dyn StageRunner,
    progress: &dyn ProgressSink,
) -> Result<StageManifest, PipelineError> {
    stage.check("settings")?;
    let input_record = identify_input(input, None)?;
    // Replacing the directory deletes what is in it: only an empty one or our own output.
    check_replaceable(out_dir, &input_record.path, false).map_err(|refusal| match refusal {
        Refusal::NotOurs(why) => PipelineError::OutputDirNotOurs { path: out_dir.to_path_buf(), why },
        Refusal::Pipeline(error) => error,
    })?;
    let mut upstream_keys = BTreeMap::new();
    for (&dependency, dir) in upstream {
        let manifest = StageManifest::read(dir)
            .filter(|manifest| manifest.stage == dependency && manifest.outputs_intact(dir))
            .ok_or_else(|| PipelineError::UpstreamDirInvalid { stage: dependency, path: dir.clone() })?;
        if manifest.input.blake3 != input_record.blake3 {
            return Err(PipelineError::UpstreamOfOtherInput {
                stage: dependency,
                dir: dir.clone(),
                made_from: manifest.input.path,
                input: input_record.path,
            });
        }
        upstream_keys.insert(dependency, Upstream { dir: dir.clone(), key: manifest.key });
    }
    let settings = key_settings(stage)?;
    let keys_only = upstream_keys.iter().map(|(stage, upstream)| (*stage, upstream.key.clone())).collect();
    let key = cache_key(stage.name(), &input_record.blake3, &settings, tool_version, &keys_only);
    let run_id = new_run_id();
    let prepared =
        PreparedStage::new(stage, key, &run_id, out_dir, upstream_keys, StagePart::Whole, Vec::new())
            .map_err(|source| PipelineError::StageFailed { stage: stage.name(), source })?;
    // A stage run on its own warns about damage; QC pipelines opt into failing.
    let mut results =
        run_prepared(vec![prepared], input, &input_record, (tool_version, OnDamage::Warn), runner, progress);
    let result = results.pop().map(|(_, result)| result).unwrap_or_else(|| Err(missing_result()));
    result.map_err(|source| PipelineError::StageFailed { stage: stage.name(), source })
}

/// Why a folder may not be replaced.
enum Refusal {
    /// reelforge cannot prove it wrote the folder (the text says why).
    NotOurs(String),
    /// The folder holds the input, or could not be read.
    Pipeline(PipelineError),
}

/// A folder about to be replaced must not hold the input (whatever `replace_foreign` says),
/// and must be vacant or reelforge's own unless `replace_foreign`.
fn check_replaceable(dir: &Path, canonical_input: &Path, replace_foreign: bool) -> Result<(), Refusal> {
    if let Ok(canonical_dir) = fs::canonicalize(dir)
        && canonical_input.starts_with(&canonical_dir)
    {
        return Err(Refusal::Pipeline(PipelineError::InputInsideOutput {
            input: canonical_input.to_path_buf(),
            dir: dir.to_path_buf(),
        }));
    }
    if replace_foreign {
        return Ok(());
    }
    match ownership(dir) {
        Ok(Ownership::Vacant | Ownership::Ours) => Ok(()),
        Ok(Ownership::NotOurs(why)) => Err(Refusal::NotOurs(why)),
        Err(source) => {
            Err(Refusal::Pipeline(PipelineError::Io { action: "inspect", path: dir.to_path_buf(), source }))
        }
    }
}

/// The key every stage of the pipeline will have; keys depend only on the pipeline, the input
/// and the tool version, never on results, so they are known before anything runs.
fn expected_keys(
    pipeline: &Pipeline,
    input: &InputRecord,
    tool_version: &str,
) -> Result<BTreeMap<StageName, String>, PipelineError> {
    let mut keys: BTreeMap<StageName, String> = BTreeMap::new();
    // Execution order: every dependency's key exists before it is needed.
    for stage in pipeline.stages() {
        let upstream: BTreeMap<StageName, String> = pipeline
            .dependencies(stage.name())
            .into_iter()
            .filter_map(|dependency| Some((dependency, keys.get(&dependency)?.clone())))
            .collect();
        let key = cache_key(stage.name(), &input.blake3, &key_settings(stage)?, tool_version, &upstream);
        keys.insert(stage.name(), key);
    }
    Ok(keys)
}

/// The settings as they enter the cache key: the settings JSON plus the blake3 of every file
/// they name (null when it does not exist), so replacing such a file reruns the stage.
fn key_settings(stage: &StageConfig) -> Result<serde_json::Value, PipelineError> {
    let settings = settings_json(stage)?;
    let files = stage.referenced_files();
    if files.is_empty() {
        return Ok(settings);
    }
    let hashes: serde_json::Map<String, serde_json::Value> =
        files.into_iter().map(|path| (path.display().to_string(), hash_file(path).ok().into())).collect();
    Ok(serde_json::json!({ "settings": settings, "referenced_files": hashes }))
}

fn settings_json(stage: &StageConfig) -> Result<serde_json::Value, PipelineError> {
    stage.settings_json().map_err(|source| PipelineError::InvalidPipeline {
        source_name: format!("stage `{}`", stage.name()),
        location: None,
        message: format!("settings cannot be written as JSON: {source}"),
    })
}

/// For `--only`: the stage must be in the pipeline and its dependencies complete and current.
fn check_only_stage(
    pipeline: &Pipeline,
    stage: StageName,
    workdir: &Path,
    keys: &BTreeMap<StageName, String>,
) -> Result<(), PipelineError> {
    if pipeline.stage(stage).is_none() {
        return Err(PipelineError::StageNotInPipeline {
            stage,
            pipeline: pipeline.name().to_owned(),
            stages: stage_list(pipeline.stage_names()),
        });
    }
    for dependency in pipeline.dependencies(stage) {
        let dir = stage_dir(workdir, dependency);
        let state = match StageManifest::read(&dir) {
            Some(manifest) if !manifest.outputs_intact(&dir) => Some(UpstreamState::NotComplete),
            Some(manifest) if Some(&manifest.key) != keys.get(&dependency) => Some(UpstreamState::OutOfDate),
            Some(_) => None,
            None => Some(UpstreamState::NotComplete),
        };
        if let Some(state) = state {
            return Err(PipelineError::UpstreamIncomplete {
                stage,
                missing: dependency,
                state,
                workdir: workdir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// For each `(stage, part)`: whether that part is complete and current in `workdir` (manifest
/// key as expected, outputs intact; for a join, the stage folder), without running anything:
/// what a render farm checks before submitting, so that a resubmission only runs what is not
/// done.
pub fn complete_parts(
    pipeline: &Pipeline,
    input: &Path,
    workdir: &Path,
    tool_version: &str,
    parts: &[(StageName, &StagePart)],
) -> Result<Vec<bool>, PipelineError> {
    // Reuse the input hash memo when a run left one; never create the workdir just to look.
    let private_dir = workdir.join(PRIVATE_DIR);
    let memo_dir = private_dir.is_dir().then_some(private_dir.as_path());
    let input_record = identify_input(input, memo_dir)?;
    let keys = expected_keys(pipeline, &input_record, tool_version)?;
    Ok(parts
        .iter()
        .map(|(stage, part)| {
            let stage_key = keys.get(stage).cloned().unwrap_or_default();
            let (dir, key) = part_location(workdir, *stage, &stage_key, part);
            is_complete(&dir, &key)
        })
        .collect())
}

/// Whether `dir` holds a completed run with this key.
fn is_complete(dir: &Path, key: &str) -> bool {
    StageManifest::read(dir).is_some_and(|manifest| manifest.key == key && manifest.outputs_intact(dir))
}

struct Upstream {
    dir: PathBuf,
    key: String,
}

/// A stage about to run: its staging directory exists and is empty.
struct PreparedStage<'p> {
    config: &'p StageConfig,
    key: String,
    run_id: String,
    upstream: BTreeMap<StageName, Upstream>,
    part: StagePart,
    chunk_dirs: Vec<PathBuf>,
    staged: StagedDir,
}

impl<'p> PreparedStage<'p> {
    fn new(
        config: &'p StageConfig,
        key: String,
        run_id: &str,
        final_dir: &Path,
        upstream: BTreeMap<StageName, Upstream>,
        part: StagePart,
        chunk_dirs: Vec<PathBuf>,
    ) -> Result<Self, StageError> {
        let io_error = |source| {
            StageError::with_source(
                ErrorClass::Other,
                format!("cannot stage {}", final_dir.display()),
                source,
            )
        };
        remove_abandoned_staging(final_dir).map_err(io_error)?;
        let staged = StagedDir::new(final_dir).map_err(io_error)?;
        Ok(Self { config, key, run_id: run_id.to_owned(), upstream, part, chunk_dirs, staged })
    }

    /// Writes the manifest into the staging directory and swaps it in.
    fn commit(
        self,
        input: &InputRecord,
        tool_version: &str,
        seconds: f64,
        summary: Option<String>,
    ) -> Result<StageManifest, StageError> {
        let other =
            |message: &str, source: io::Error| StageError::with_source(ErrorClass::Other, message, source);
        let outputs = list_outputs(self.staged.path())
            .map_err(|source| other("cannot list the stage's outputs", source))?;
        let manifest = StageManifest {
            producer: PRODUCER.to_owned(),
            run_id: self.run_id,
            stage: self.config.name(),
            key: self.key,
            settings: self.config.settings_json().map_err(|source| {
                StageError::with_source(ErrorClass::Other, "cannot record settings", source)
            })?,
            input: input.clone(),
            upstream: self.upstream.into_iter().map(|(stage, upstream)| (stage, upstream.key)).collect(),
            tool_version: tool_version.to_owned(),
            finished_at: rfc3339_utc(SystemTime::now()),
            duration_seconds: seconds,
            summary,
            outputs,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|source| StageError::with_source(ErrorClass::Other, "cannot write manifest", source))?;
        write_file_atomic(&self.staged.path().join(MANIFEST_FILE), &json)
            .map_err(|source| other("cannot write manifest", source))?;
        self.staged.commit().map_err(|source| other("cannot move the stage's outputs into place", source))?;
        Ok(manifest)
    }
}

/// Hands the prepared stages to the runner as one batch and commits the ones that succeed;
/// a failed stage's staging directory is dropped, so it leaves nothing behind.
fn run_prepared(
    prepared: Vec<PreparedStage<'_>>,
    input: &Path,
    input_record: &InputRecord,
    (tool_version, on_damage): (&str, OnDamage),
    runner: &dyn StageRunner,
    progress: &dyn ProgressSink,
) -> Vec<(StageName, Result<StageManifest, StageError>)> {
    if prepared.is_empty() {
        return Vec::new();
    }
    for stage in &prepared {
        progress.message(stage.config.name().as_str(), &format!("running (key {})", short_key(&stage.key)));
    }
    let started = Instant::now();
    let jobs: Vec<StageJob<'_>> = prepared
        .iter()
        .map(|stage| StageJob {
            stage: stage.config,
            input,
            out_dir: stage.staged.path(),
            upstream: stage.upstream.iter().map(|(name, upstream)| (*name, upstream.dir.clone())).collect(),
            part: &stage.part,
            chunk_dirs: stage.chunk_dirs.clone(),
            on_damage,
        })
        .collect();
    let mut results = runner.run_batch(&jobs, progress).into_iter();
    let seconds = started.elapsed().as_secs_f64();

    prepared
        .into_iter()
        .map(|stage| {
            let name = stage.config.name();
            let result = results
                .next()
                .unwrap_or_else(|| Err(missing_result()))
                .and_then(|outcome| stage.commit(input_record, tool_version, seconds, outcome.summary));
            match &result {
                Ok(manifest) => {
                    let summary =
                        manifest.summary.as_deref().map(|text| format!(" ({text})")).unwrap_or_default();
                    progress.message(name.as_str(), &format!("done in {seconds:.1} s{summary}"));
                }
                Err(error) => progress.message(name.as_str(), &format!("failed: {}", error.chain_text())),
            }
            (name, result)
        })
        .collect()
}

fn missing_result() -> StageError {
    StageError::new(ErrorClass::Other, "the stage runner returned no result for this stage")
}

/// Removes staging directories a killed run left beside `final_dir` (`.<name>.*.tmp` while
/// being written, `.<name>.*.old` while being swapped in). Only called for a stage about to
/// run, so no live run of the same stage owns them.
fn remove_abandoned_staging(final_dir: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (final_dir.parent(), final_dir.file_name()) else { return Ok(()) };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let prefix = format!(".{}.", name.to_string_lossy());
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let abandoned =
            file_name.starts_with(&prefix) && (file_name.ends_with(".tmp") || file_name.ends_with(".old"));
        if abandoned && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use reelforge_core::ProgressEvent;
    use reelforge_core::progress::ProgressKind;
    use reelforge_shots::ShotSettings;

    use super::*;

    /// Writes `result.txt` per stage, records every batch, fails the stages it is told to.
    #[derive(Default)]
    struct FakeRunner {
        batches: Mutex<Vec<Vec<StageName>>>,
        failing: BTreeSet<StageName>,
        /// Return one result fewer than asked (a buggy runner).
        drop_last_result: bool,
    }

    impl FakeRunner {
        fn failing(stages: &[StageName]) -> Self {
            Self { failing: stages.iter().copied().collect(), ..Self::default() }
        }

        fn batches(&self) -> Vec<Vec<StageName>> {
            self.batches.lock().unwrap().clone()
        }
    }

    impl StageRunner for FakeRunner {
        fn run_batch(
            &self,
            jobs: &[StageJob<'_>],
            _progress: &dyn ProgressSink,
        ) -> Vec<Result<StageOutcome, StageError>> {
            self.batches.lock().unwrap().push(jobs.iter().map(|job| job.stage.name()).collect());
            let mut results: Vec<Result<StageOutcome, StageError>> = jobs
                .iter()
                .map(|job| {
                    let name = job.stage.name();
                    assert_eq!(fs::read_dir(job.out_dir).unwrap().count(), 0, "out_dir starts empty");
                    for (dependency, dir) in &job.upstream {
                        assert!(dir.join(MANIFEST_FILE).is_file(), "{name} got incomplete {dependency}");
                    }
                    let chunks = match job.part {
                        StagePart::Join(chunks) => chunks.len(),
                        _ => 0,
                    };
                    assert_eq!(job.chunk_dirs.len(), chunks, "a join gets every chunk's folder");
                    for dir in &job.chunk_dirs {
                        assert!(
                            dir.join(MANIFEST_FILE).is_file(),
                            "{name} got incomplete chunk {}",
                            dir.display()
                        );
                    }
                    fs::create_dir_all(job.out_dir.join("parts")).unwrap();
                    fs::write(
                        job.out_dir.join("parts/result.txt"),
                        format!("{name} of {}", job.input.display()),
                    )
                    .unwrap();
                    if self.failing.contains(&name) {
                        Err(StageError::with_source(
                            ErrorClass::BadInput,
                            format!("cannot analyse {}", job.input.display()),
                            io::Error::other("decoder gave up"),
                        ))
                    } else {
                        Ok(StageOutcome { summary: Some(format!("{name} ok")) })
                    }
                })
                .collect();
            if self.drop_last_result {
                results.pop();
            }
            results
        }
    }

    #[derive(Default)]
    struct RecordingProgress(Mutex<Vec<String>>);

    impl ProgressSink for RecordingProgress {
        fn emit(&self, event: ProgressEvent) {
            if let ProgressKind::Message { text } = event.kind {
                self.0.lock().unwrap().push(format!("{}: {text}", event.task));
            }
        }
    }

    struct Fixture {
        _root: tempfile::TempDir,
        input: PathBuf,
        workdir: PathBuf,
    }

    impl Fixture {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            let input = root.path().join("episode.mkv");
            fs::write(&input, b"not really a video").unwrap();
            let workdir = root.path().join("work");
            Self { input, workdir, _root: root }
        }

        fn run(&self, pipeline: &Pipeline, options: &RunOptions, runner: &FakeRunner) -> RunReport {
            run(pipeline, &self.input, &self.workdir, options, runner, &RecordingProgress::default()).unwrap()
        }

        /// Names in the workdir other than completed stages and the private directory.
        fn leftovers(&self) -> Vec<String> {
            fs::read_dir(&self.workdir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name != PRIVATE_DIR && name.parse::<StageName>().is_err())
                .collect()
        }
    }

    fn shots_pipeline(min_shot_frames: u32) -> Pipeline {
        let settings = ShotSettings { min_shot_frames, ..ShotSettings::default() };
        Pipeline::from_stages("test", [StageConfig::Shots(settings)]).unwrap()
    }

    fn options() -> RunOptions {
        RunOptions::new("0.1.0")
    }

    fn ran(report: &RunReport) -> Vec<StageName> {
        report
            .stages
            .iter()
            .filter(|stage| matches!(stage.status, StageStatus::Ran { .. }))
            .map(|stage| stage.stage)
            .collect()
    }

    fn cached(report: &RunReport) -> Vec<StageName> {
        report
            .stages
            .iter()
            .filter(|stage| matches!(stage.status, StageStatus::Cached { .. }))
            .map(|stage| stage.stage)
            .collect()
    }

    const BOTH: [StageName; 2] = [StageName::Probe, StageName::Shots];

    #[test]
    fn first_run_writes_stage_dirs_with_manifests() {
        let fixture = Fixture::new();
        let runner = FakeRunner::default();
        let report = fixture.run(&shots_pipeline(12), &options(), &runner);
        assert_eq!(ran(&report), BOTH);
        assert_eq!(runner.batches(), [vec![StageName::Probe], vec![StageName::Shots]]);
        assert!(report.first_failure().is_none());
        assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());

        let shots_dir = stage_dir(&fixture.workdir, StageName::Shots);
        let manifest = StageManifest::read(&shots_dir).unwrap();
        let probe = StageManifest::read(&stage_dir(&fixture.workdir, StageName::Probe)).unwrap();
        assert_eq!(manifest.stage, StageName::Shots);
        assert_eq!(manifest.settings, serde_json::to_value(ShotSettings::default()).unwrap());
        assert_eq!(manifest.upstream, BTreeMap::from([(StageName::Probe, probe.key.clone())]));
        assert_eq!(manifest.input.blake3, blake3::hash(b"not really a video").to_hex().to_string());
        assert_eq!(manifest.input.path, fs::canonicalize(&fixture.input).unwrap());
        assert_eq!(manifest.tool_version, "0.1.0");
        assert_eq!(manifest.summary.as_deref(), Some("shots ok"));
        assert_eq!(manifest.outputs.len(), 1);
        assert_eq!(manifest.outputs[0].path, "parts/result.txt");
        assert!(manifest.finished_at.ends_with('Z'));
        let Some(StageStatus::Ran { key, .. }) = report.status(StageName::Shots) else { panic!() };
        assert_eq!(key, &manifest.key);
        assert!(fixture.workdir.join(PRIVATE_DIR).join(crate::input_hash::INPUT_HASH_MEMO_FILE).is_file());
    }

    #[test]
    fn new_contents_of_a_file_the_settings_name_rerun_the_stage() {
        let fixture = Fixture::new();
        let state = fixture.workdir.with_file_name("bandit.json");
        fs::write(&state, b"{\"round\": 1}").unwrap();
        let settings = reelforge_artwork::ArtworkSettings {
            bandit_state: Some(state.clone()),
            ..reelforge_artwork::ArtworkSettings::default()
        };
        let pipeline = Pipeline::from_stages("test", [StageConfig::Artwork(settings)]).unwrap();
        let artwork_ran = |runner: &FakeRunner| runner.batches().concat().contains(&StageName::Artwork);

        let first = FakeRunner::default();
        fixture.run(&pipeline, &options(), &first);
        assert!(artwork_ran(&first));
        let same = FakeRunner::default();
        fixture.run(&pipeline, &options(), &same);
        assert!(!artwork_ran(&same), "unchanged state file: cached");
        fs::write(&state, b"{\"round\": 2}").unwrap();
        let relearned = FakeRunner::default();
        fixture.run(&pipeline, &options(), &relearned);
        assert_eq!(relearned.batches(), [vec![StageName::Artwork]], "only artwork depends on the file");
    }

    #[test]
    fn rerun_is_served_from_cache_without_calling_the_runner() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        let runner = FakeRunner::default();
        let progress = RecordingProgress::default();
        let report =
            run(&shots_pipeline(12), &fixture.input, &fixture.workdir, &options(), &runner, &progress)
                .unwrap();
        assert!(runner.batches().is_empty());
        assert_eq!(cached(&report), BOTH);
        let messages = progress.0.lock().unwrap().clone();
        let Some(StageStatus::Cached { key }) = report.status(StageName::Probe) else { panic!() };
        assert_eq!(messages[0], format!("probe: cached (key {}…), skipped", &key[..8]));
    }

    #[test]
    fn force_reruns_everything() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        let report = fixture.run(
            &shots_pipeline(12),
            &RunOptions { force: true, ..options() },
            &FakeRunner::default(),
        );
        assert_eq!(ran(&report), BOTH);
    }

    #[test]
    fn changed_settings_rerun_only_that_stage() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        let report = fixture.run(&shots_pipeline(20), &options(), &FakeRunner::default());
        assert_eq!(cached(&report), [StageName::Probe]);
        assert_eq!(ran(&report), [StageName::Shots]);
    }

    #[test]
    fn changed_input_or_tool_version_reruns_everything() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        let report = fixture.run(&shots_pipeline(12), &RunOptions::new("0.2.0"), &FakeRunner::default());
        assert_eq!(ran(&report), BOTH);
        fs::write(&fixture.input, b"a different episode").unwrap();
        let report = fixture.run(&shots_pipeline(12), &RunOptions::new("0.2.0"), &FakeRunner::default());
        assert_eq!(ran(&report), BOTH);
    }

    #[test]
    fn missing_or_resized_output_reruns_the_stage() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        let result = stage_dir(&fixture.workdir, StageName::Shots).join("parts/result.txt");
        fs::remove_file(&result).unwrap();
        let report = fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        assert_eq!(ran(&report), [StageName::Shots]);
        // A resized output may be someone's edit: replacing it takes --force.
        fs::write(&result, b"edited").unwrap();
        let error = run(
            &shots_pipeline(12),
            &fixture.input,
            &fixture.workdir,
            &options(),
            &FakeRunner::default(),
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("parts/result.txt"), "{error}");
        let report = fixture.run(
            &shots_pipeline(12),
            &RunOptions { force: true, ..options() },
            &FakeRunner::default(),
        );
        assert_eq!(ran(&report), [StageName::Probe, StageName::Shots]);
        // Rerunning probe gives it the same key, so shots stays valid.
        fs::remove_dir_all(stage_dir(&fixture.workdir, StageName::Probe)).unwrap();
        let report = fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        assert_eq!(ran(&report), [StageName::Probe]);
        assert_eq!(cached(&report), [StageName::Shots]);
    }

    #[test]
    fn complete_parts_reports_what_a_rerun_would_skip() {
        let fixture = Fixture::new();
        let complete_in = |pipeline: &Pipeline, version: &str| -> BTreeSet<StageName> {
            let parts: Vec<_> = BOTH.iter().map(|stage| (*stage, &StagePart::Whole)).collect();
            let done = complete_parts(pipeline, &fixture.input, &fixture.workdir, version, &parts).unwrap();
            BOTH.into_iter().zip(done).filter(|(_, done)| *done).map(|(stage, _)| stage).collect()
        };
        let complete = |pipeline: &Pipeline| complete_in(pipeline, "0.1.0");
        // Looking does not create the workdir.
        assert!(complete(&shots_pipeline(12)).is_empty());
        assert!(!fixture.workdir.exists());
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::failing(&[StageName::Shots]));
        assert_eq!(complete(&shots_pipeline(12)), BTreeSet::from([StageName::Probe]));
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        assert_eq!(complete(&shots_pipeline(12)), BTreeSet::from(BOTH));
        // Other settings: shots is out of date, probe (which does not read them) is not.
        assert_eq!(complete(&shots_pipeline(3)), BTreeSet::from([StageName::Probe]));
        assert!(complete_in(&shots_pipeline(12), "9.9").is_empty());
    }

    #[test]
    fn chunks_run_into_their_own_folders_and_the_join_needs_them_all() {
        let fixture = Fixture::new();
        let pipeline = Pipeline::from_stages("p", [StageConfig::with_defaults(StageName::Probe)]).unwrap();
        let chunk = |id: &str, first_segment| ChunkSpec {
            id: id.to_owned(),
            track: crate::ChunkTrack::Video(0),
            first_segment,
            end_segment: None,
        };
        let (first, second) = (chunk("v0-c0", 0), chunk("v0-c1", 5));
        let part = |part| RunOptions { only: Some(StageName::Probe), part, ..options() };
        let join = part(StagePart::Join(vec![first.clone(), second.clone()]));
        let runner = FakeRunner::default();
        let progress = RecordingProgress::default();
        let early = run(&pipeline, &fixture.input, &fixture.workdir, &join, &runner, &progress).unwrap_err();
        assert_eq!(early.class(), ErrorClass::Config);
        assert_eq!(early.to_string(), "cannot join `probe`: chunks not complete: v0-c0, v0-c1");

        let report = fixture.run(&pipeline, &part(StagePart::Chunk(first.clone())), &runner);
        assert_eq!(ran(&report), [StageName::Probe]);
        let first_dir = chunk_dir(&fixture.workdir, StageName::Probe, &first);
        assert!(first_dir.ends_with("probe.parts/v0-c0") && first_dir.join(MANIFEST_FILE).is_file());
        assert!(!stage_dir(&fixture.workdir, StageName::Probe).exists());
        let again = fixture.run(&pipeline, &part(StagePart::Chunk(first.clone())), &runner);
        assert!(matches!(again.status(StageName::Probe), Some(StageStatus::Cached { .. })));
        let parts = [(StageName::Probe, &StagePart::Chunk(first.clone())), (StageName::Probe, &join.part)];
        let complete = complete_parts(&pipeline, &fixture.input, &fixture.workdir, "0.1.0", &parts).unwrap();
        assert_eq!(complete, [true, false]);

        fixture.run(&pipeline, &part(StagePart::Chunk(second)), &runner);
        assert_eq!(ran(&fixture.run(&pipeline, &join, &runner)), [StageName::Probe]);
        // The join's folder is the whole stage's: a local run finds it complete.
        let whole = fixture.run(&pipeline, &options(), &runner);
        assert!(matches!(whole.status(StageName::Probe), Some(StageStatus::Cached { .. })));
        assert_eq!(runner.batches().len(), 3, "two chunks and the join ran, nothing else");
    }

    #[test]
    fn only_needs_complete_upstream() {
        let fixture = Fixture::new();
        let only_shots = RunOptions { only: Some(StageName::Shots), ..options() };
        let error = run(
            &shots_pipeline(12),
            &fixture.input,
            &fixture.workdir,
            &only_shots,
            &FakeRunner::default(),
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Config);
        assert_eq!(
            error.to_string(),
            format!(
                "cannot run only `shots`: it needs `probe`, which is not complete in {}; produce it first \
                 with `--only probe` (or run the whole pipeline without `--only`)",
                fixture.workdir.display()
            )
        );

        let runner = FakeRunner::default();
        fixture.run(&shots_pipeline(12), &RunOptions { only: Some(StageName::Probe), ..options() }, &runner);
        let report = fixture.run(&shots_pipeline(12), &only_shots, &runner);
        assert_eq!(runner.batches(), [vec![StageName::Probe], vec![StageName::Shots]]);
        assert_eq!(ran(&report), [StageName::Shots]);
        assert_eq!(report.stages.len(), 1);

        // Upstream made for another input no longer counts.
        fs::write(&fixture.input, b"another episode").unwrap();
        let error = run(
            &shots_pipeline(12),
            &fixture.input,
            &fixture.workdir,
            &only_shots,
            &runner,
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, PipelineError::UpstreamIncomplete { state: UpstreamState::OutOfDate, .. }),
            "{error}"
        );
    }

    #[test]
    fn only_a_stage_outside_the_pipeline_is_a_config_error() {
        let fixture = Fixture::new();
        let pipeline =
            Pipeline::from_stages("probe-only", [StageConfig::with_defaults(StageName::Probe)]).unwrap();
        let options = RunOptions { only: Some(StageName::Shots), ..options() };
        let error = run(
            &pipeline,
            &fixture.input,
            &fixture.workdir,
            &options,
            &FakeRunner::default(),
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "stage `shots` is not in pipeline `probe-only` (its stages: probe)");
        assert_eq!(error.class(), ErrorClass::Config);
    }

    #[test]
    fn failed_stage_leaves_no_dir_and_skips_dependents() {
        let fixture = Fixture::new();
        let progress = RecordingProgress::default();
        let runner = FakeRunner::failing(&[StageName::Probe]);
        let report =
            run(&shots_pipeline(12), &fixture.input, &fixture.workdir, &options(), &runner, &progress)
                .unwrap();
        assert_eq!(runner.batches(), [vec![StageName::Probe]]);
        assert!(matches!(
            report.status(StageName::Shots),
            Some(StageStatus::Skipped { because: StageName::Probe })
        ));
        assert_eq!(report.failure_class(), Some(ErrorClass::BadInput));
        let (stage, error) = report.first_failure().unwrap();
        assert_eq!(stage, StageName::Probe);
        assert!(error.chain_text().ends_with(": decoder gave up"));
        assert!(!stage_dir(&fixture.workdir, StageName::Probe).exists());
        assert!(!stage_dir(&fixture.workdir, StageName::Shots).exists());
        assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
        let messages = progress.0.lock().unwrap().clone();
        assert!(
            messages.contains(&"shots: skipped because `probe` did not complete".to_owned()),
            "{messages:?}"
        );

        // The next run starts cleanly.
        let report = fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        assert_eq!(ran(&report), BOTH);
    }

    #[test]
    fn abandoned_staging_from_a_killed_run_is_cleaned_up() {
        let fixture = Fixture::new();
        fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        // A run killed mid-stage: a half temp dir, and a final dir missing an output.
        let half = fixture.workdir.join(".shots.Xy12ab.tmp");
        fs::create_dir_all(half.join("parts")).unwrap();
        fs::write(half.join("parts/result.txt"), b"half").unwrap();
        fs::create_dir_all(fixture.workdir.join(".probe.Qq0000.old")).unwrap();
        let shots_dir = stage_dir(&fixture.workdir, StageName::Shots);
        fs::remove_file(shots_dir.join("parts/result.txt")).unwrap();

        let report = fixture.run(&shots_pipeline(12), &options(), &FakeRunner::default());
        assert_eq!(ran(&report), [StageName::Shots], "a missing output means not complete");
        assert!(StageManifest::read(&shots_dir).is_some());
        // Probe did not run, so its abandoned `.old` stays until it does.
        assert_eq!(fixture.leftovers(), [".probe.Qq0000.old"]);
        fixture.run(&shots_pipeline(12), &RunOptions { force: true, ..options() }, &FakeRunner::default());
        assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
    }

    #[test]
    fn ready_stages_share_a_batch_and_failures_only_skip_dependents() {
        let fixture = Fixture::new();
        // Stages that only parse today, to exercise the graph the product will have.
        let pipeline = Pipeline::with_implied_stages(
            "future".to_owned(),
            [StageName::Subtitles, StageName::Artwork, StageName::Trailer, StageName::Shots]
                .into_iter()
                .map(StageConfig::with_defaults)
                .collect(),
        );
        let runner = FakeRunner::failing(&[StageName::Subtitles]);
        let report = fixture.run(&pipeline, &options(), &runner);
        assert_eq!(
            runner.batches(),
            [vec![StageName::Probe], vec![StageName::Shots], vec![StageName::Subtitles, StageName::Artwork]]
        );
        assert_eq!(ran(&report), [StageName::Probe, StageName::Shots, StageName::Artwork]);
        assert!(matches!(report.status(StageName::Subtitles), Some(StageStatus::Failed { .. })));
        assert!(matches!(
            report.status(StageName::Trailer),
            Some(StageStatus::Skipped { because: StageName::Subtitles })
        ));
    }

    #[test]
    fn a_missing_runner_result_fails_that_stage() {
        let fixture = Fixture::new();
        let runner = FakeRunner { drop_last_result: true, ..FakeRunner::default() };
        let report = fixture.run(&shots_pipeline(12), &options(), &runner);
        let Some(StageStatus::Failed { error }) = report.status(StageName::Probe) else { panic!() };
        assert_eq!(error.to_string(), "the stage runner returned no result for this stage");
        assert!(!stage_dir(&fixture.workdir, StageName::Probe).exists());
    }

    #[test]
    fn a_users_folder_named_like_a_stage_is_never_replaced_without_force() {
        let fixture = Fixture::new();
        let users = stage_dir(&fixture.workdir, StageName::Shots);
        fs::create_dir_all(&users).unwrap();
        fs::write(users.join("my-notes.txt"), b"mine").unwrap();
        fs::write(users.join(MANIFEST_FILE), br#"{"name":"pwa"}"#).unwrap();
        let runner = FakeRunner::default();
        let error = run(
            &shots_pipeline(12),
            &fixture.input,
            &fixture.workdir,
            &options(),
            &runner,
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert!(matches!(error, PipelineError::StageDirNotOurs { stage: StageName::Shots, .. }), "{error}");
        assert_eq!(error.class(), ErrorClass::Config);
        assert!(error.to_string().contains("--force"), "{error}");
        assert!(runner.batches.lock().unwrap().is_empty(), "refused before any stage ran");
        assert_eq!(fs::read(users.join("my-notes.txt")).unwrap(), b"mine");

        let report = fixture.run(&shots_pipeline(12), &RunOptions { force: true, ..options() }, &runner);
        assert!(matches!(report.status(StageName::Shots), Some(StageStatus::Ran { .. })));
        assert!(!users.join("my-notes.txt").exists(), "--force replaces it");
        // Our own folder is replaced without --force.
        let report = fixture.run(&shots_pipeline(13), &options(), &runner);
        assert!(matches!(report.status(StageName::Shots), Some(StageStatus::Ran { .. })));
    }

    #[test]
    fn a_folder_holding_the_input_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let workdir = root.path().join("work");
        let shots = stage_dir(&workdir, StageName::Shots);
        fs::create_dir_all(&shots).unwrap();
        let input = shots.join("episode.mkv");
        fs::write(&input, b"the only copy").unwrap();
        let runner = FakeRunner::default();
        let progress = RecordingProgress::default();
        let force = RunOptions { force: true, ..options() };
        let error = run(&shots_pipeline(12), &input, &workdir, &force, &runner, &progress).unwrap_err();
        assert!(matches!(error, PipelineError::InputInsideOutput { .. }), "{error}");
        let probe = StageConfig::with_defaults(StageName::Probe);
        let error = run_stage_into(&probe, &input, &shots, &BTreeMap::new(), "0.1.0", &runner, &progress)
            .unwrap_err();
        assert!(matches!(error, PipelineError::InputInsideOutput { .. }), "{error}");
        assert_eq!(error.class(), ErrorClass::Config);
        assert_eq!(fs::read(&input).unwrap(), b"the only copy");
    }

    #[test]
    fn stage_into_a_directory_is_atomic_and_careful() {
        let fixture = Fixture::new();
        fs::create_dir_all(&fixture.workdir).unwrap();
        let probe_dir = fixture.workdir.join("probe-out");
        let probe = StageConfig::with_defaults(StageName::Probe);
        let runner = FakeRunner::default();
        let progress = RecordingProgress::default();
        let probe_manifest =
            run_stage_into(&probe, &fixture.input, &probe_dir, &BTreeMap::new(), "0.1.0", &runner, &progress)
                .unwrap();
        assert_eq!(probe_manifest, StageManifest::read(&probe_dir).unwrap());

        let shots = StageConfig::Shots(ShotSettings::default());
        let shots_dir = fixture.workdir.join("shots-out");
        let upstream = BTreeMap::from([(StageName::Probe, probe_dir.clone())]);
        let manifest =
            run_stage_into(&shots, &fixture.input, &shots_dir, &upstream, "0.1.0", &runner, &progress)
                .unwrap();
        assert_eq!(manifest.upstream, BTreeMap::from([(StageName::Probe, probe_manifest.key)]));
        // Running again replaces its own earlier output.
        run_stage_into(&shots, &fixture.input, &shots_dir, &upstream, "0.1.0", &runner, &progress).unwrap();

        let foreign = fixture.workdir.join("desktop");
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join("holiday.jpg"), b"precious").unwrap();
        let error =
            run_stage_into(&probe, &fixture.input, &foreign, &BTreeMap::new(), "0.1.0", &runner, &progress)
                .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Config);
        assert!(foreign.join("holiday.jpg").is_file());
        // A file named manifest.json proves nothing.
        fs::write(foreign.join(MANIFEST_FILE), br#"{"name":"pwa"}"#).unwrap();
        let error =
            run_stage_into(&probe, &fixture.input, &foreign, &BTreeMap::new(), "0.1.0", &runner, &progress)
                .unwrap_err();
        assert!(matches!(error, PipelineError::OutputDirNotOurs { .. }), "{error}");
        assert!(foreign.join("holiday.jpg").is_file());
        // Nor does a real manifest once someone added a file beside it.
        fs::write(shots_dir.join("app.js"), b"code").unwrap();
        let error =
            run_stage_into(&shots, &fixture.input, &shots_dir, &upstream, "0.1.0", &runner, &progress)
                .unwrap_err();
        assert!(error.to_string().contains("app.js"), "{error}");
        assert!(shots_dir.join("app.js").is_file());
        fs::remove_file(shots_dir.join("app.js")).unwrap();
        let a_file = foreign.join("holiday.jpg");
        let error =
            run_stage_into(&probe, &fixture.input, &a_file, &BTreeMap::new(), "0.1.0", &runner, &progress)
                .unwrap_err();
        assert!(matches!(error, PipelineError::OutputDirNotOurs { .. }), "{error}");
        assert!(a_file.is_file());

        let not_a_stage = BTreeMap::from([(StageName::Probe, foreign.clone())]);
        let error =
            run_stage_into(&shots, &fixture.input, &shots_dir, &not_a_stage, "0.1.0", &runner, &progress)
                .unwrap_err();
        assert!(matches!(error, PipelineError::UpstreamDirInvalid { .. }), "{error}");

        let failing = FakeRunner::failing(&[StageName::Probe]);
        let fresh = fixture.workdir.join("probe-fails");
        let error =
            run_stage_into(&probe, &fixture.input, &fresh, &BTreeMap::new(), "0.1.0", &failing, &progress)
                .unwrap_err();
        assert_eq!(error.class(), ErrorClass::BadInput);
        assert_eq!(error.to_string(), "stage `probe` failed");
        assert!(!fresh.exists());
    }

    #[test]
    fn missing_input_is_bad_input() {
        let fixture = Fixture::new();
        let error = run(
            &shots_pipeline(12),
            &fixture.workdir.join("nope.mkv"),
            &fixture.workdir,
            &options(),
            &FakeRunner::default(),
            &RecordingProgress::default(),
        )
        .unwrap_err();
        assert_eq!(error.class(), ErrorClass::BadInput);
        assert!(error.to_string().ends_with("nope.mkv not found"), "{error}");
    }
}
