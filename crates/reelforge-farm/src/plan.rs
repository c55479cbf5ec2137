//! `plan.json`: the task graph of one pipeline run on one episode, and running one task of it.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use reelforge_core::{Classify, ProgressSink};
use reelforge_delivery::{SourceVideo, plan_ladder};
use reelforge_pipeline::{
    ChunkSpec, ChunkTrack, MANIFEST_FILE, Pipeline, RunOptions, RunReport, StageConfig, StageName, StagePart,
    StageRunner, chunk_dir, stage_dir,
};
use serde::{Deserialize, Serialize};

use crate::FarmError;

/// The plan file format this reelforge writes and reads.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// Seconds a task costs whatever the media: process start-up, plan and pipeline parsing,
/// input hash (memoised) and the cache check.
const TASK_STARTUP_SECONDS: f64 = 1.0;

/// Media seconds per renditions chunk with `--chunks auto`: long enough that start-up and
/// the seek are small beside the encode, short enough to spread an episode over a farm.
const AUTO_CHUNK_SECONDS: f64 = 60.0;

/// Rough CPU seconds per media second of one AAC audio rendition.
const AUDIO_SECONDS_PER_MEDIA_SECOND: f64 = 0.05;

/// Rough CPU seconds per second of media for each stage on one core of a small machine, for
/// cost estimates only (schedulers use them to order and pack work, not to kill jobs).
fn seconds_per_media_second(stage: StageName) -> f64 {
    match stage {
        StageName::Probe | StageName::Report => 0.0,
        StageName::Shots => 0.15,
        StageName::Artwork => 0.3,
        StageName::Trailer => 0.5,
        StageName::Subtitles => 1.5,
        StageName::Renditions => 2.0,
    }
}

/// How many chunks the heavy stages may be split into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ChunkRequest {
    /// As many as the stage can split into exactly.
    Auto,
    Count(NonZeroU32),
}

impl ChunkRequest {
    /// `1`: every stage stays one task.
    fn keeps_stages_whole(self) -> bool {
        self == ChunkRequest::Count(NonZeroU32::MIN)
    }
}

impl FromStr for ChunkRequest {
    type Err = FarmError;

    fn from_str(given: &str) -> Result<Self, FarmError> {
        if given == "auto" {
            return Ok(ChunkRequest::Auto);
        }
        given
            .parse::<NonZeroU32>()
            .map(ChunkRequest::Count)
            .map_err(|_| FarmError::BadChunks { given: given.to_owned() })
    }
}

impl TryFrom<String> for ChunkRequest {
    type Error = FarmError;

    fn try_from(given: String) -> Result<Self, FarmError> {
        given.parse()
    }
}

impl From<ChunkRequest> for String {
    fn from(request: ChunkRequest) -> String {
        request.to_string()
    }
}

impl fmt::Display for ChunkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkRequest::Auto => f.write_str("auto"),
            ChunkRequest::Count(count) => write!(f, "{count}"),
        }
    }
}

/// What chunking did to a stage that was (`split`) or could have been split, or `None` when it
/// is not a stage anyone would split. Splitting is only worth it when the joined result is
/// exactly what one task would make.
pub fn chunking_note(stage: StageName, split: bool) -> Option<&'static str> {
    match (stage, split) {
        (StageName::Renditions, true) => Some(
            "renditions: one task per rung x segment range plus one per audio stream, then a \
             join; audio is never cut in time (AAC priming would glitch at every chunk edge)",
        ),
        (StageName::Renditions, false) => {
            Some("renditions: one task; the input states no duration or has no video to split")
        }
        (StageName::Subtitles, true) => Some(
            "subtitles: one task per audio stream, then a join that names the tracks as one run \
             does; speech is never cut in time (a word at a chunk edge would be lost)",
        ),
        (StageName::Subtitles, false) => {
            Some("subtitles: one task; the input has no second audio stream to split by")
        }
        (StageName::Shots, _) => {
            Some("shots: one task; boundaries near a chunk edge would depend on where it was cut")
        }
        (StageName::Probe | StageName::Trailer | StageName::Artwork | StageName::Report, _) => None,
    }
}

/// The task graph of a pipeline on one episode. Every path is absolute, so any node that
/// mounts the shared filesystem at the same place can run any task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: u32,
    pub pipeline_name: String,
    /// Where the pipeline came from (for messages).
    pub pipeline_source: String,
    /// The pipeline file's text: every task runs exactly the planned pipeline, even if the
    /// file changes while the job waits in a queue.
    pub pipeline_yaml: String,
    pub input: PathBuf,
    pub workdir: PathBuf,
    /// Part of every cache key, so tasks must run with this version.
    pub tool_version: String,
    /// The reelforge executable that tasks run.
    pub program: PathBuf,
    /// Duration of the input from the probe, if the container states one.
    pub media_seconds: Option<f64>,
    pub chunks: ChunkRequest,
    /// In a valid execution order: every task comes after its dependencies.
    pub tasks: Vec<Task>,
    /// What was not split and why.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: String,
    pub stage: StageName,
    /// Ids of the tasks whose outputs this one reads.
    pub dependencies: Vec<String>,
    /// The exact command line that runs it (`reelforge task run ID --plan PLAN`).
    pub command: Vec<String>,
    /// The stage folder (or chunk folder) and its manifest, which appear (atomically) when
    /// the task completes.
    pub outputs: Vec<PathBuf>,
    pub cost: TaskCost,
    /// The part of the stage it runs: the whole stage, a chunk, or the join of the chunks.
    #[serde(default, skip_serializing_if = "is_whole")]
    pub part: StagePart,
    /// For chunk tasks: the array of like tasks it belongs to (one Slurm job array, one Open
    /// Job Description step with a parameter space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<ArrayMember>,
}

impl Task {
    /// The scheduler job (Slurm) or step (Open Job Description) that runs it: its array's,
    /// else its own.
    pub fn job_name(&self) -> &str {
        self.array.as_ref().map_or(&self.id, |member| &member.name)
    }
}

fn is_whole(part: &StagePart) -> bool {
    *part == StagePart::Whole
}

/// A task's place in an array of tasks that differ only in their parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayMember {
    /// The array's name, e.g. "renditions-video".
    pub name: String,
    /// Position in the array (0-based, in plan order).
    pub index: usize,
    /// The task's parameter values, e.g. RUNG=2, CHUNK=5; the array holds every combination.
    pub parameters: Vec<(String, usize)>,
    /// The ids of the array's tasks with `{NAME}` for each parameter, e.g.
    /// "renditions-v{RUNG}-c{CHUNK}".
    pub id_template: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCost {
    /// Estimated CPU seconds on one core: start-up plus media duration times a per-stage factor.
    pub cpu_seconds: f64,
}

/// Everything [`Plan::build`] needs; paths must already be absolute.
#[derive(Debug)]
pub struct PlanRequest<'a> {
    pub pipeline: &'a Pipeline,
    pub pipeline_yaml: String,
    pub pipeline_source: String,
    pub input: PathBuf,
    pub workdir: PathBuf,
    /// Where the plan will be written (tasks name it on their command line).
    pub plan_path: PathBuf,
    pub program: PathBuf,
    pub tool_version: String,
    pub media_seconds: Option<f64>,
    pub chunks: ChunkRequest,
    /// The main video stream, to plan the ladder that renditions chunks split; `None` when
    /// the input has none.
    pub video: Option<SourceVideo>,
    /// How many audio streams the input has (one renditions audio task each, and one
    /// subtitles task each when there are two or more).
    pub audio_streams: usize,
}

/// How renditions is split: `chunk_segments` segments per chunk over `segments` in all.
struct RenditionsSplit {
    rungs: usize,
    audio_streams: usize,
    segments: u64,
    chunk_segments: u64,
    segment_seconds: f64,
}

impl RenditionsSplit {
    /// `None` when renditions stays one task (one chunk asked for, or nothing to split by).
    fn new(request: &PlanRequest<'_>) -> Option<RenditionsSplit> {
        if request.chunks.keeps_stages_whole() {
            return None;
        }
        let Some(StageConfig::Renditions(settings)) = request.pipeline.stage(StageName::Renditions) else {
            return None;
        };
        let rungs = plan_ladder(settings, request.video?).ok()?.len();
        let seconds = request.media_seconds.filter(|s| *s > 0.0)?;
        let segment_seconds = settings.segment_seconds;
        // The muxer cuts a segment at every multiple of segment_seconds; a last sliver of a
        // hundredth of a segment is a rounding of the container duration, not a segment.
        let segments = (seconds / segment_seconds - 0.01).floor().max(0.0) as u64 + 1;
        let chunk_segments = match request.chunks {
            ChunkRequest::Count(count) => segments.div_ceil(u64::from(count.get())),
            ChunkRequest::Auto => (AUTO_CHUNK_SECONDS / segment_seconds).round().max(1.0) as u64,
        };
        Some(RenditionsSplit {
            rungs,
            audio_streams: request.audio_streams,
            segments,
            chunk_segments,
            segment_seconds,
        })
    }

    fn chunk_count(&self) -> u64 {
        self.segments.div_ceil(self.chunk_segments)
    }

    /// Video chunks rung by rung, then one audio chunk per stream, each with its array place.
    fn chunks(&self) -> Vec<(ChunkSpec, ArrayMember, f64)> {
        let mut out = Vec::new();
        let count = self.chunk_count();
        for rung in 0..self.rungs {
            for chunk in 0..count {
                let first = chunk * self.chunk_segments;
                let end = (chunk + 1 < count).then_some(first + self.chunk_segments);
                let spec = ChunkSpec {
                    id: format!("v{rung}-c{chunk}"),
                    track: ChunkTrack::Video(rung),
                    first_segment: first,
                    end_segment: end,
                };
                let member = ArrayMember {
                    name: "renditions-video".to_owned(),
                    index: rung * count as usize + chunk as usize,
                    parameters: vec![("RUNG".to_owned(), rung), ("CHUNK".to_owned(), chunk as usize)],
                    id_template: "renditions-v{RUNG}-c{CHUNK}".to_owned(),
                };
                let seconds = (end.unwrap_or(self.segments) - first) as f64 * self.segment_seconds;
                let cpu =
                    seconds_per_media_second(StageName::Renditions) * seconds / self.rungs.max(1) as f64;
                out.push((spec, member, cpu));
            }
        }
        let audio_cpu = AUDIO_SECONDS_PER_MEDIA_SECOND * self.segments as f64 * self.segment_seconds;
        out.extend(audio_chunks(StageName::Renditions, self.audio_streams, audio_cpu));
        out
    }
}

/// Subtitles split by audio stream (a stream is never cut in time), or `None` when it stays
/// one task: one chunk asked for, or fewer than two streams to split by.
fn subtitles_chunks(request: &PlanRequest<'_>) -> Option<Vec<(ChunkSpec, ArrayMember, f64)>> {
    if request.chunks.keeps_stages_whole() || request.audio_streams < 2 {
        return None;
    }
    let cpu = seconds_per_media_second(StageName::Subtitles) * request.media_seconds.unwrap_or(0.0)
        / request.audio_streams as f64;
    Some(audio_chunks(StageName::Subtitles, request.audio_streams, cpu))
}

/// One chunk of `stage` per audio stream, each a whole stream costing `cpu_each`: the array
/// `<stage>-audio` with the parameter AUDIO.
fn audio_chunks(stage: StageName, streams: usize, cpu_each: f64) -> Vec<(ChunkSpec, ArrayMember, f64)> {
    (0..streams)
        .map(|audio| {
            let spec = ChunkSpec {
                id: format!("a{audio}"),
                track: ChunkTrack::Audio(audio),
                first_segment: 0,
                end_segment: None,
            };
            let member = ArrayMember {
                name: format!("{stage}-audio"),
                index: audio,
                parameters: vec![("AUDIO".to_owned(), audio)],
                id_template: format!("{stage}-a{{AUDIO}}"),
            };
            (spec, member, cpu_each)
        })
        .collect()
}

/// The task id of a chunk of `stage` (a word usable in file and job names).
pub fn chunk_task_id(stage: StageName, chunk: &ChunkSpec) -> String {
    format!("{}-{}", stage.as_str(), chunk.id)
}

impl Plan {
    pub fn build(request: PlanRequest<'_>) -> Plan {
        let pipeline = request.pipeline;
        let media_seconds = request.media_seconds.unwrap_or(0.0);
        let split = RenditionsSplit::new(&request);
        let command = |id: &str| {
            vec![
                request.program.display().to_string(),
                "task".to_owned(),
                "run".to_owned(),
                id.to_owned(),
                "--plan".to_owned(),
                request.plan_path.display().to_string(),
            ]
        };
        let mut tasks = Vec::new();
        let mut split_stages = Vec::new();
        for config in pipeline.stages() {
            let stage = config.name();
            let id = stage.as_str().to_owned();
            let dir = stage_dir(&request.workdir, stage);
            let dependencies: Vec<String> = pipeline
                .dependencies(stage)
                .into_iter()
                .map(|dependency| dependency.as_str().to_owned())
                .collect();
            let mut part = StagePart::Whole;
            let mut cpu_seconds = TASK_STARTUP_SECONDS + seconds_per_media_second(stage) * media_seconds;
            let mut join_dependencies = Vec::new();
            let stage_chunks = match stage {
                StageName::Renditions => split.as_ref().map(RenditionsSplit::chunks),
                StageName::Subtitles => subtitles_chunks(&request),
                _ => None,
            };
            if let Some(stage_chunks) = stage_chunks {
                let mut chunks = Vec::new();
                for (chunk, member, cpu) in stage_chunks {
                    let chunk_id = chunk_task_id(stage, &chunk);
                    let chunk_dir = chunk_dir(&request.workdir, stage, &chunk);
                    tasks.push(Task {
                        command: command(&chunk_id),
                        id: chunk_id.clone(),
                        stage,
                        dependencies: dependencies.clone(),
                        outputs: vec![chunk_dir.join(MANIFEST_FILE), chunk_dir],
                        cost: TaskCost { cpu_seconds: TASK_STARTUP_SECONDS + cpu },
                        part: StagePart::Chunk(chunk.clone()),
                        array: Some(member),
                    });
                    join_dependencies.push(chunk_id);
                    chunks.push(chunk);
                }
                part = StagePart::Join(chunks);
                cpu_seconds = TASK_STARTUP_SECONDS;
                split_stages.push(stage);
            }
            tasks.push(Task {
                command: command(&id),
                id,
                stage,
                dependencies: if join_dependencies.is_empty() { dependencies } else { join_dependencies },
                outputs: vec![dir.join(MANIFEST_FILE), dir],
                cost: TaskCost { cpu_seconds },
                part,
                array: None,
            });
        }
        let mut notes: Vec<String> = Vec::new();
        if request.chunks != ChunkRequest::Count(NonZeroU32::MIN) {
            notes.extend(
                pipeline
                    .stage_names()
                    .into_iter()
                    .filter_map(|stage| chunking_note(stage, split_stages.contains(&stage)))
                    .map(str::to_owned),
            );
        }
        if request.media_seconds.is_none() {
            notes.push("the input states no duration: costs are start-up only".to_owned());
        }
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            pipeline_name: pipeline.name().to_owned(),
            pipeline_source: request.pipeline_source,
            pipeline_yaml: request.pipeline_yaml,
            input: request.input,
            workdir: request.workdir,
            tool_version: request.tool_version,
            program: request.program,
            media_seconds: request.media_seconds,
            chunks: request.chunks,
            tasks,
            notes,
        }
    }

    pub fn load(path: &Path) -> Result<Plan, FarmError> {
        let bytes =
            std::fs::read(path).map_err(|source| FarmError::ReadPlan { path: path.to_path_buf(), source })?;
        // The version first, so an other format says so instead of failing on a field.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let parse_error = |source| FarmError::ParsePlan { path: path.to_path_buf(), source };
        let version: Version = serde_json::from_slice(&bytes).map_err(parse_error)?;
        if version.format_version != PLAN_FORMAT_VERSION {
            return Err(FarmError::PlanFormat {
                path: path.to_path_buf(),
                found: version.format_version,
                supported: PLAN_FORMAT_VERSION,
            });
        }
        serde_json::from_slice(&bytes).map_err(parse_error)
    }

    /// Writes the plan atomically (a job starting meanwhile never reads half a plan).
    pub fn save(&self, path: &Path) -> Result<(), FarmError> {
        let io_error = |source| FarmError::Io { action: "write plan", path: path.to_path_buf(), source };
        let json = serde_json::to_vec_pretty(self).map_err(|source| io_error(source.into()))?;
        reelforge_core::output::write_file_atomic(path, &json).map_err(io_error)
    }

    /// The planned pipeline, parsed again from the text the plan carries.
    pub fn pipeline(&self) -> Result<Pipeline, FarmError> {
        Ok(Pipeline::parse(&self.pipeline_yaml, &self.pipeline_source)?)
    }

    /// The tasks as a farm submits them, in plan order: each task alone, or the run of
    /// consecutive tasks of one array (one job array, one OpenJD step).
    pub fn task_groups(&self) -> impl Iterator<Item = &[Task]> {
        self.tasks.chunk_by(|a, b| match (&a.array, &b.array) {
            (Some(a), Some(b)) => a.name == b.name,
            _ => false,
        })
    }

    pub fn task(&self, id: &str) -> Result<&Task, FarmError> {
        self.tasks.iter().find(|task| task.id == id).ok_or_else(|| FarmError::UnknownTask {
            id: id.to_owned(),
            known: self.tasks.iter().map(|task| task.id.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Refuses to run tasks with another tool version than the plan's (see [`FarmError::ToolVersion`]).
    pub fn check_tool_version(&self, running: &str) -> Result<(), FarmError> {
        if self.tool_version == running {
            Ok(())
        } else {
            Err(FarmError::ToolVersion { planned: self.tool_version.clone(), running: running.to_owned() })
        }
    }
}

/// Runs one task of `plan` as a farm job does: the task's stage alone, after checking that its
/// upstream stages are complete and current; a task whose outputs are already complete
/// returns at once (reported as cached). A failing stage becomes [`FarmError::TaskFailed`]
/// with the stage error's class.
pub fn run_task(
    plan: &Plan,
    task_id: &str,
    tool_version: &str,
    runner: &dyn StageRunner,
    progress: &dyn ProgressSink,
) -> Result<RunReport, FarmError> {
    plan.check_tool_version(tool_version)?;
    let task = plan.task(task_id)?;
    let pipeline = plan.pipeline()?;
    let options =
        RunOptions { only: Some(task.stage), part: task.part.clone(), ..RunOptions::new(tool_version) };
    let report = reelforge_pipeline::run(&pipeline, &plan.input, &plan.workdir, &options, runner, progress)?;
    if let Some((_, error)) = report.first_failure() {
        return Err(FarmError::TaskFailed {
            task: task.id.clone(),
            class: error.class(),
            message: error.chain_text(),
        });
    }
    Ok(report)
}

#[cfg(test)]
pub(crate) mod tests {
    use reelforge_core::ErrorClass;
    use reelforge_pipeline::{StageError, StageJob, StageOutcome, StageStatus};

    use super::*;

    pub(crate) const THREE_STAGES: &str =
        "version: 1\nname: three\nstages:\n  - probe: {}\n  - shots: {}\n  - artwork: {}\n";
    pub(crate) const RENDITIONS: &str =
        "version: 1\nname: ladder\nstages:\n  - probe: {}\n  - renditions: {}\n";

    pub(crate) fn plan_for(yaml: &str, root: &Path, chunks: ChunkRequest) -> Plan {
        let pipeline = Pipeline::parse(yaml, "p.yaml").unwrap();
        Plan::build(request_for(&pipeline, yaml, root, chunks))
    }

    /// A 60 s 1280x720 episode with two audio streams under `root`.
    fn request_for<'a>(
        pipeline: &'a Pipeline,
        yaml: &str,
        root: &Path,
        chunks: ChunkRequest,
    ) -> PlanRequest<'a> {
        PlanRequest {
            pipeline,
            pipeline_yaml: yaml.to_owned(),
            pipeline_source: "p.yaml".to_owned(),
            input: root.join("episode.mp4"),
            workdir: root.join("work"),
            plan_path: root.join("work/plan.json"),
            program: PathBuf::from("/opt/reelforge/bin/reelforge"),
            tool_version: "0.1.0".to_owned(),
            media_seconds: Some(60.0),
            chunks,
            video: Some(SourceVideo { width: 1280, height: 720, sample_aspect: (1, 1) }),
            audio_streams: 2,
        }
    }

    #[test]
    fn one_task_per_stage_in_execution_order_with_commands_outputs_and_costs() {
        let plan = plan_for(THREE_STAGES, Path::new("/farm"), ChunkRequest::Auto);
        let ids: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
        assert_eq!(ids, ["probe", "shots", "artwork"]);
        let shots = plan.task("shots").unwrap();
        assert_eq!(shots.dependencies, ["probe"]);
        assert_eq!(plan.task("artwork").unwrap().dependencies, ["shots"]);
        assert_eq!(
            shots.command.join(" "),
            "/opt/reelforge/bin/reelforge task run shots --plan /farm/work/plan.json"
        );
        assert_eq!(
            shots.outputs,
            [PathBuf::from("/farm/work/shots/manifest.json"), PathBuf::from("/farm/work/shots")]
        );
        assert!((shots.cost.cpu_seconds - (1.0 + 0.15 * 60.0)).abs() < 1e-9);
        assert!((plan.task("probe").unwrap().cost.cpu_seconds - 1.0).abs() < 1e-9);
        // `auto` explains why shots was not split.
        assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
        assert!(plan.notes[0].starts_with("shots: one task"));
        assert!(plan_for(THREE_STAGES, Path::new("/f"), "1".parse().unwrap()).notes.is_empty());
    }

    #[test]
    fn plans_round_trip_and_other_formats_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let plan = plan_for(THREE_STAGES, root.path(), "4".parse().unwrap());
        let path = root.path().join("plan.json");
        plan.save(&path).unwrap();
        assert_eq!(Plan::load(&path).unwrap(), plan);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"chunks\": \"4\""), "{text}");

        std::fs::write(&path, text.replace("\"format_version\": 2", "\"format_version\": 7")).unwrap();
        let error = Plan::load(&path).unwrap_err();
        assert_eq!(error.class(), ErrorClass::Config);
        assert!(
            error.to_string().ends_with("plan format 7 is not supported (this reelforge reads format 2)")
        );
        let chunked = plan_for(RENDITIONS, root.path(), "3".parse().unwrap());
        chunked.save(&path).unwrap();
        assert_eq!(Plan::load(&path).unwrap(), chunked);
        std::fs::write(&path, "{").unwrap();
        assert_eq!(Plan::load(&path).unwrap_err().class(), ErrorClass::Config);
        let missing = Plan::load(&root.path().join("nope.json")).unwrap_err();
        assert_eq!(missing.class(), ErrorClass::Config);
    }

    #[test]
    fn renditions_split_into_rung_by_segment_range_chunks_audio_tasks_and_a_join() {
        // 60 s of 1280x720 in 6 s segments: 10 segments; the default ladder keeps 7 rungs.
        let plan = plan_for(RENDITIONS, Path::new("/farm"), "3".parse().unwrap());
        let chunks: Vec<&Task> = plan.tasks.iter().filter(|task| task.array.is_some()).collect();
        assert_eq!(chunks.len(), 7 * 3 + 2);
        let v2c1 = plan.task("renditions-v2-c1").unwrap();
        assert_eq!(
            v2c1.part,
            StagePart::Chunk(ChunkSpec {
                id: "v2-c1".into(),
                track: ChunkTrack::Video(2),
                first_segment: 4,
                end_segment: Some(8)
            })
        );
        assert_eq!(v2c1.dependencies, ["probe"]);
        assert_eq!(v2c1.outputs[1], PathBuf::from("/farm/work/renditions.parts/v2-c1"));
        let last = plan.task("renditions-v6-c2").unwrap();
        assert!(
            matches!(&last.part, StagePart::Chunk(chunk) if chunk.first_segment == 8 && chunk.end_segment.is_none())
        );
        let member = last.array.as_ref().unwrap();
        assert_eq!((member.name.as_str(), member.index), ("renditions-video", 20));
        assert_eq!(plan.task("renditions-a1").unwrap().array.as_ref().unwrap().index, 1);
        let join = plan.task("renditions").unwrap();
        assert_eq!(join.dependencies.len(), 23);
        assert!(matches!(&join.part, StagePart::Join(chunks) if chunks.len() == 23));
        assert_eq!(plan.tasks.last().unwrap().id, "renditions");
        // One chunk asked for: renditions stays one task.
        let single = plan_for(RENDITIONS, Path::new("/farm"), "1".parse().unwrap());
        assert_eq!(single.tasks.len(), 2);
        assert_eq!(single.task("renditions").unwrap().part, StagePart::Whole);
        // auto: chunks of about a minute, so 60 s is one chunk per rung.
        let auto = plan_for(RENDITIONS, Path::new("/farm"), ChunkRequest::Auto);
        assert!(auto.task("renditions-v0-c0").is_ok() && auto.task("renditions-v0-c1").is_err());
        assert!(auto.notes[0].contains("AAC priming"), "{:?}", auto.notes);
    }

    #[test]
    fn subtitles_split_into_one_task_per_audio_stream_and_a_join_its_dependents_wait_for() {
        let yaml = "version: 1\nname: subs\nstages:\n  - probe: {}\n  - shots: {}\n  - subtitles: {}\n  \
                    - trailer: {}\n";
        let plan = plan_for(yaml, Path::new("/farm"), ChunkRequest::Auto);
        let ids: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
        assert_eq!(ids, ["probe", "shots", "subtitles-a0", "subtitles-a1", "subtitles", "trailer"]);
        let a1 = plan.task("subtitles-a1").unwrap();
        assert_eq!(
            a1.part,
            StagePart::Chunk(ChunkSpec {
                id: "a1".into(),
                track: ChunkTrack::Audio(1),
                first_segment: 0,
                end_segment: None
            })
        );
        assert_eq!(a1.dependencies, ["probe", "shots"]);
        assert_eq!(
            a1.command.join(" "),
            "/opt/reelforge/bin/reelforge task run subtitles-a1 --plan /farm/work/plan.json"
        );
        assert_eq!(
            a1.outputs,
            [
                PathBuf::from("/farm/work/subtitles.parts/a1/manifest.json"),
                PathBuf::from("/farm/work/subtitles.parts/a1")
            ]
        );
        let member = a1.array.as_ref().unwrap();
        assert_eq!((member.name.as_str(), member.index), ("subtitles-audio", 1));
        assert_eq!(member.parameters, [("AUDIO".to_owned(), 1)]);
        assert_eq!(member.id_template, "subtitles-a{AUDIO}");
        // Each stream costs its share of the whole stage's 1.5 CPU s per media second.
        assert!((a1.cost.cpu_seconds - (1.0 + 1.5 * 60.0 / 2.0)).abs() < 1e-9);
        let join = plan.task("subtitles").unwrap();
        assert_eq!(join.dependencies, ["subtitles-a0", "subtitles-a1"]);
        assert!(matches!(&join.part, StagePart::Join(chunks) if chunks.len() == 2));
        assert_eq!(join.outputs[1], PathBuf::from("/farm/work/subtitles"));
        assert!((join.cost.cpu_seconds - 1.0).abs() < 1e-9);
        assert_eq!(plan.task("trailer").unwrap().dependencies, ["shots", "subtitles"]);
        // The two stream tasks are one array (one Slurm job array, one OpenJD step).
        let groups: Vec<usize> = plan.task_groups().map(<[Task]>::len).collect();
        assert_eq!(groups, [1, 1, 2, 1, 1]);
        assert!(plan.notes.iter().any(|note| note.starts_with("subtitles: one task per audio stream")));

        // One chunk asked for, or one audio stream: subtitles stays one task.
        let single = plan_for(yaml, Path::new("/farm"), "1".parse().unwrap());
        assert_eq!(single.tasks.len(), 4);
        assert_eq!(single.task("subtitles").unwrap().part, StagePart::Whole);
        let pipeline = Pipeline::parse(yaml, "p.yaml").unwrap();
        let mono = Plan::build(PlanRequest {
            audio_streams: 1,
            ..request_for(&pipeline, yaml, Path::new("/farm"), ChunkRequest::Auto)
        });
        assert_eq!(mono.tasks.len(), 4);
        assert_eq!(mono.task("subtitles").unwrap().part, StagePart::Whole);
        assert!(mono.notes.iter().any(|note| note.contains("no second audio stream")), "{:?}", mono.notes);
    }

    #[test]
    fn chunk_requests_parse() {
        assert_eq!("auto".parse::<ChunkRequest>().unwrap(), ChunkRequest::Auto);
        assert_eq!("3".parse::<ChunkRequest>().unwrap().to_string(), "3");
        for bad in ["0", "-1", "many", ""] {
            let error = bad.parse::<ChunkRequest>().unwrap_err();
            assert_eq!(error.class(), ErrorClass::Config, "{bad}");
        }
    }

    #[test]
    fn unknown_tasks_and_other_versions_are_config_errors() {
        let plan = plan_for(THREE_STAGES, Path::new("/farm"), ChunkRequest::Auto);
        let error = plan.task("shot").unwrap_err();
        assert_eq!(error.to_string(), "no task `shot` in the plan (its tasks: probe, shots, artwork)");
        assert_eq!(error.class(), ErrorClass::Config);
        assert_eq!(plan.check_tool_version("0.2.0").unwrap_err().class(), ErrorClass::Config);
    }

    /// Writes one file per stage; fails the stages it is told to, with the class given.
    struct FakeRunner {
        failing: Option<(StageName, ErrorClass)>,
    }

    impl StageRunner for FakeRunner {
        fn run_batch(
            &self,
            jobs: &[StageJob<'_>],
            _progress: &dyn ProgressSink,
        ) -> Vec<Result<StageOutcome, StageError>> {
            jobs.iter()
                .map(|job| match self.failing {
                    Some((stage, class)) if stage == job.stage.name() => {
                        Err(StageError::new(class, "broken"))
                    }
                    _ => {
                        std::fs::write(job.out_dir.join("out.txt"), job.stage.name().as_str()).unwrap();
                        Ok(StageOutcome::default())
                    }
                })
                .collect()
        }
    }

    #[test]
    fn tasks_run_once_need_their_upstream_and_keep_the_failure_class() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("episode.mp4"), b"frames").unwrap();
        let plan = plan_for(THREE_STAGES, root.path(), ChunkRequest::Auto);
        let ok = FakeRunner { failing: None };
        let progress = reelforge_core::NoProgress;

        let early = run_task(&plan, "shots", "0.1.0", &ok, &progress).unwrap_err();
        assert_eq!(early.class(), ErrorClass::Config, "{early}");

        let report = run_task(&plan, "probe", "0.1.0", &ok, &progress).unwrap();
        assert!(matches!(report.status(StageName::Probe), Some(StageStatus::Ran { .. })));
        let again = run_task(&plan, "probe", "0.1.0", &ok, &progress).unwrap();
        assert!(matches!(again.status(StageName::Probe), Some(StageStatus::Cached { .. })));

        let bad = FakeRunner { failing: Some((StageName::Shots, ErrorClass::BadInput)) };
        let failed = run_task(&plan, "shots", "0.1.0", &bad, &progress).unwrap_err();
        assert_eq!(failed.class(), ErrorClass::BadInput);
        assert_eq!(failed.to_string(), "task `shots` failed: broken");
        assert!(!root.path().join("work/shots").exists());
        assert_eq!(
            run_task(&plan, "probe", "9.9.9", &ok, &progress).unwrap_err().class(),
            ErrorClass::Config
        );
    }
}
