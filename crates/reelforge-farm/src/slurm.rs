//! Slurm: one batch job per task, and one job array per array of chunk tasks, with `afterok`
//! dependencies (on a whole array: every element must succeed), job ids recorded in the
//! workdir (`ID` or `ARRAYID_INDEX`), states read back with `scontrol show job`.
//!
//! The scheduler is driven through its own command-line clients (`sbatch`, `scontrol`), the
//! interface Slurm documents for this; their answers are parsed by pure functions below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use reelforge_pipeline::complete_parts;
use serde::{Deserialize, Serialize};

use crate::FarmError;
use crate::plan::{Plan, Task};

/// Where the job ids of the last submission are kept. It sits in the workdir's private folder
/// (`.reelforge`, which the pipeline also uses) so every node that sees the workdir sees it.
pub fn record_path(workdir: &Path) -> PathBuf {
    workdir.join(".reelforge").join("slurm.json")
}

/// Batch scripts and job logs.
fn jobs_dir(workdir: &Path) -> PathBuf {
    workdir.join(".reelforge").join("slurm")
}

/// Task id → Slurm job id of the latest submission of that task (`ARRAYID_INDEX` for an
/// element of a job array).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmRecord {
    pub jobs: BTreeMap<String, String>,
}

impl SlurmRecord {
    /// The record in `workdir`, or an empty one when nothing was submitted yet.
    pub fn load(workdir: &Path) -> Result<SlurmRecord, FarmError> {
        let path = record_path(workdir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| FarmError::Io {
                action: "parse",
                path,
                source: source.into(),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(SlurmRecord::default()),
            Err(source) => Err(FarmError::Io { action: "read", path, source }),
        }
    }

    fn save(&self, workdir: &Path) -> Result<(), FarmError> {
        let path = record_path(workdir);
        let io_error = |source| FarmError::Io { action: "write", path: path.clone(), source };
        let json = serde_json::to_vec_pretty(self).map_err(|source| io_error(source.into()))?;
        reelforge_core::output::write_file_atomic(&path, &json).map_err(io_error)
    }
}

/// Quotes one word for a POSIX shell.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The batch script of a task: the plan's command line, run with `exec` so that a signal
/// from `scancel` reaches reelforge itself (the stage then leaves no partial outputs).
pub fn batch_script(plan: &Plan, task: &Task) -> String {
    let command: Vec<String> = task.command.iter().map(|word| shell_quote(word)).collect();
    format!(
        "#!/bin/sh\n# reelforge task `{}` of pipeline `{}` (written by `reelforge submit`)\nexec {}\n",
        task.id,
        plan.pipeline_name,
        command.join(" ")
    )
}

/// The batch script of a job array: element `SLURM_ARRAY_TASK_ID` runs the task at that
/// position of `tasks` (the whole array, so indices stay the plan's on a resubmission).
pub fn array_script(plan: &Plan, name: &str, tasks: &[Task]) -> String {
    let ids: Vec<String> = tasks.iter().map(|task| shell_quote(&task.id)).collect();
    // Every element runs the first task's command with its own id in place of that one.
    let command: Vec<String> = tasks
        .first()
        .map(|task| {
            task.command
                .iter()
                .map(|word| if *word == task.id { "\"$1\"".to_owned() } else { shell_quote(word) })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "#!/bin/sh\n# reelforge task array `{name}` of pipeline `{}` (written by `reelforge submit`)\n\
         set -- {}\nshift \"$SLURM_ARRAY_TASK_ID\"\nexec {}\n",
        plan.pipeline_name,
        ids.join(" "),
        command.join(" ")
    )
}

/// The `sbatch` arguments for a job (a task, or an array `name` with the element indices
/// `array`) whose dependencies were submitted as `dependency_jobs`.
/// `--kill-on-invalid-dep=yes`: when a dependency fails, Slurm cancels this job instead of
/// leaving it pending forever.
pub fn sbatch_args(
    plan: &Plan,
    name: &str,
    array: Option<&[usize]>,
    dependency_jobs: &[String],
    script: &Path,
) -> Vec<String> {
    let logs = jobs_dir(&plan.workdir);
    let log = if array.is_some() { format!("{name}-%A_%a.log") } else { format!("{name}-%j.log") };
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name=rf-{}-{name}", plan.pipeline_name),
        format!("--chdir={}", plan.workdir.display()),
        format!("--output={}", logs.join(log).display()),
        "--kill-on-invalid-dep=yes".to_owned(),
    ];
    if let Some(indices) = array {
        let list: Vec<String> = indices.iter().map(ToString::to_string).collect();
        args.push(format!("--array={}", list.join(",")));
    }
    if !dependency_jobs.is_empty() {
        args.push(format!("--dependency=afterok:{}", dependency_jobs.join(":")));
    }
    args.push(script.display().to_string());
    args
}

/// The job to wait for: an array element's whole array (`12_3` → `12`), else the job itself.
fn dependency_job(recorded: &str) -> &str {
    recorded.split('_').next().unwrap_or(recorded)
}

/// The job id in `sbatch --parsable` output (`ID` or `ID;CLUSTER`).
pub fn parse_sbatch_output(stdout: &str) -> Option<String> {
    let first = stdout.lines().next()?.split(';').next()?.trim();
    (!first.is_empty() && first.bytes().all(|byte| byte.is_ascii_digit())).then(|| first.to_owned())
}

/// What `scontrol show job` says about a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, …
    pub state: String,
    /// Why it is pending or ended (`Dependency`, `DependencyNeverSatisfied`, `NonZeroExitCode`…).
    pub reason: Option<String>,
    /// `CODE:SIGNAL`, e.g. `3:0`.
    pub exit_code: Option<String>,
}

impl JobInfo {
    /// Whether the job may still run (it is queued, running or finishing).
    pub fn is_active(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING" | "SUSPENDED" | "REQUEUED" | "RESIZING"
        )
    }
}

/// Parses `scontrol show job ID` (whitespace-separated `Key=Value` fields; `JobState`,
/// `Reason` and `ExitCode` never contain spaces). `None` when it names no state.
pub fn parse_scontrol_job(text: &str) -> Option<JobInfo> {
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            .filter(|value| !value.is_empty() && *value != "None")
            .map(str::to_owned)
    };
    Some(JobInfo { state: field("JobState")?, reason: field("Reason"), exit_code: field("ExitCode") })
}

/// Runs a scheduler client and returns its standard output.
fn scheduler(program: &str, args: &[String]) -> Result<String, FarmError> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| FarmError::SchedulerMissing { program: program.to_owned(), source })?;
    if !output.status.success() {
        return Err(FarmError::Scheduler {
            command: format!("{program} {}", args.join(" ")),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The state of a job, or `None` once Slurm no longer knows it (purged after `MinJobAge`).
pub fn job_info(job_id: &str) -> Result<Option<JobInfo>, FarmError> {
    let args = ["show".to_owned(), "job".to_owned(), job_id.to_owned()];
    match scheduler("scontrol", &args) {
        Ok(text) => Ok(parse_scontrol_job(&text)),
        // "Invalid job id specified": forgotten, which is not an error for a status report.
        Err(FarmError::Scheduler { message, .. }) if message.contains("Invalid job id") => Ok(None),
        Err(error) => Err(error),
    }
}

/// What `submit` did with one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Submission {
    /// Its outputs are complete and current: nothing to run.
    Complete,
    /// A job from an earlier submission is still queued or running and its upstream was not
    /// resubmitted: that job is kept.
    Queued {
        job_id: String,
    },
    Submitted {
        job_id: String,
    },
}

/// Which tasks of `plan` are complete and current in the workdir, by task id.
fn complete_tasks(plan: &Plan) -> Result<BTreeSet<String>, FarmError> {
    let pipeline = plan.pipeline()?;
    let parts: Vec<_> = plan.tasks.iter().map(|task| (task.stage, &task.part)).collect();
    let complete = complete_parts(&pipeline, &plan.input, &plan.workdir, &plan.tool_version, &parts)?;
    Ok(plan.tasks.iter().zip(complete).filter(|(_, done)| *done).map(|(task, _)| task.id.clone()).collect())
}

/// Submits every task of `plan` that is not complete, in plan order (the not-complete
/// elements of an array as one job array), each depending on the jobs of its not-complete
/// dependencies, and records the job ids in the workdir.
pub fn submit(plan: &Plan) -> Result<Vec<(String, Submission)>, FarmError> {
    let complete = complete_tasks(plan)?;
    let mut record = SlurmRecord::load(&plan.workdir)?;
    let dir = jobs_dir(&plan.workdir);
    std::fs::create_dir_all(&dir).map_err(|source| FarmError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;

    let mut results: Vec<(String, Submission)> = Vec::new();
    let mut submitted_now: BTreeSet<String> = BTreeSet::new();
    for group in plan.task_groups() {
        // One job: a task, or the run of consecutive tasks of one array.
        let (name, is_array) = (group[0].job_name(), group[0].array.is_some());
        let mut to_run: Vec<&Task> = Vec::new();
        for task in group {
            if complete.contains(&task.id) {
                record.jobs.remove(&task.id);
                results.push((task.id.clone(), Submission::Complete));
                continue;
            }
            let upstream_resubmitted =
                task.dependencies.iter().any(|dependency| submitted_now.contains(dependency));
            if !upstream_resubmitted
                && let Some(job_id) = record.jobs.get(&task.id)
                && job_info(job_id)?.is_some_and(|info| info.is_active())
            {
                results.push((task.id.clone(), Submission::Queued { job_id: job_id.clone() }));
                continue;
            }
            to_run.push(task);
        }
        if to_run.is_empty() {
            continue;
        }
        let mut dependency_jobs: Vec<String> = Vec::new();
        for task in &to_run {
            for dependency in &task.dependencies {
                if let Some(job) = record.jobs.get(dependency).map(|id| dependency_job(id).to_owned())
                    && !dependency_jobs.contains(&job)
                {
                    dependency_jobs.push(job);
                }
            }
        }
        let (script_text, indices) = if is_array {
            let indices: Vec<usize> =
                to_run.iter().filter_map(|task| task.array.as_ref().map(|member| member.index)).collect();
            (array_script(plan, name, group), Some(indices))
        } else {
            (batch_script(plan, &group[0]), None)
        };
        let script = dir.join(format!("{name}.sh"));
        reelforge_core::output::write_file_atomic(&script, script_text.as_bytes())
            .map_err(|source| FarmError::Io { action: "write", path: script.clone(), source })?;
        let stdout =
            scheduler("sbatch", &sbatch_args(plan, name, indices.as_deref(), &dependency_jobs, &script))?;
        let job_id = parse_sbatch_output(&stdout).ok_or_else(|| FarmError::Scheduler {
            command: "sbatch --parsable".to_owned(),
            message: format!("no job id in its output `{}`", stdout.trim()),
        })?;
        for task in to_run {
            let task_job = match &task.array {
                Some(member) => format!("{job_id}_{}", member.index),
                _ => job_id.clone(),
            };
            record.jobs.insert(task.id.clone(), task_job.clone());
            submitted_now.insert(task.id.clone());
            results.push((task.id.clone(), Submission::Submitted { job_id: task_job }));
        }
        // Saved after every job, so a failure half-way still leaves the ids of what was queued.
        record.save(&plan.workdir)?;
    }
    record.save(&plan.workdir)?;
    // In plan order, whatever order the groups were decided in.
    let order: BTreeMap<&str, usize> =
        plan.tasks.iter().enumerate().map(|(index, task)| (task.id.as_str(), index)).collect();
    results.sort_by_key(|(id, _)| order.get(id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(results)
}

/// One task's state for `reelforge farm status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskStatus {
    pub task: String,
    /// Its outputs are complete and current in the workdir.
    pub complete: bool,
    pub job_id: Option<String>,
    /// `None` when never submitted or forgotten by Slurm.
    pub job: Option<JobInfo>,
}

pub fn status(plan: &Plan) -> Result<Vec<TaskStatus>, FarmError> {
    let record = SlurmRecord::load(&plan.workdir)?;
    // Jobs first, files second: a task's outputs are complete before its job ends, so a job
    // read as finished always has its outputs read as complete (the other order could see a
    // job that ended between the two looks as finished but incomplete).
    let jobs = plan
        .tasks
        .iter()
        .map(|task| {
            let job_id = record.jobs.get(&task.id).cloned();
            let job = match &job_id {
                Some(id) => job_info(id)?,
                None => None,
            };
            Ok((job_id, job))
        })
        .collect::<Result<Vec<_>, FarmError>>()?;
    let complete = complete_tasks(plan)?;
    Ok(plan
        .tasks
        .iter()
        .zip(jobs)
        .map(|(task, (job_id, job))| TaskStatus {
            task: task.id.clone(),
            complete: complete.contains(&task.id),
            job_id,
            job,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ChunkRequest;
    use crate::plan::tests::{THREE_STAGES, plan_for};

    #[test]
    fn scripts_exec_the_plan_command_quoted() {
        let plan = plan_for(THREE_STAGES, Path::new("/farm/it's here"), ChunkRequest::Auto);
        let script = batch_script(&plan, plan.task("shots").unwrap());
        assert_eq!(
            script.lines().last(),
            Some(
                "exec '/opt/reelforge/bin/reelforge' 'task' 'run' 'shots' '--plan' \
                 '/farm/it'\\''s here/work/plan.json'"
            )
        );
        assert!(script.starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn sbatch_arguments_chain_afterok_and_kill_invalid_dependencies() {
        let plan = plan_for(THREE_STAGES, Path::new("/farm"), ChunkRequest::Auto);
        let task = plan.task("artwork").unwrap();
        let args = sbatch_args(
            &plan,
            &task.id,
            None,
            &["41".to_owned(), "42".to_owned()],
            Path::new("/s/artwork.sh"),
        );
        assert_eq!(
            args,
            [
                "--parsable",
                "--job-name=rf-three-artwork",
                "--chdir=/farm/work",
                "--output=/farm/work/.reelforge/slurm/artwork-%j.log",
                "--kill-on-invalid-dep=yes",
                "--dependency=afterok:41:42",
                "/s/artwork.sh"
            ]
        );
        let first = sbatch_args(&plan, "probe", None, &[], Path::new("/s/probe.sh"));
        assert!(!first.iter().any(|arg| arg.starts_with("--dependency")));
        let array =
            sbatch_args(&plan, "renditions-video", Some(&[0, 3]), &["7".to_owned()], Path::new("/s/a.sh"));
        assert!(array.contains(&"--array=0,3".to_owned()), "{array:?}");
        assert!(
            array.contains(&"--output=/farm/work/.reelforge/slurm/renditions-video-%A_%a.log".to_owned())
        );
        assert_eq!(dependency_job("12_3"), "12");
        assert_eq!(dependency_job("12"), "12");
    }

    #[test]
    fn array_scripts_pick_their_task_by_the_array_index() {
        let plan = plan_for(crate::plan::tests::RENDITIONS, Path::new("/farm"), "2".parse().unwrap());
        let video = plan.task_groups().find(|group| group[0].job_name() == "renditions-video").unwrap();
        let script = array_script(&plan, "renditions-video", video);
        let lines: Vec<&str> = script.lines().collect();
        assert!(
            lines[2].starts_with("set -- 'renditions-v0-c0' 'renditions-v0-c1' 'renditions-v1-c0'"),
            "{script}"
        );
        assert_eq!(lines[3], "shift \"$SLURM_ARRAY_TASK_ID\"");
        assert_eq!(
            lines[4],
            "exec '/opt/reelforge/bin/reelforge' 'task' 'run' \"$1\" '--plan' '/farm/work/plan.json'"
        );
        // The script really picks element 3 (a shell runs it with echo in place of exec).
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script.replace("exec ", "echo "))
            .env("SLURM_ARRAY_TASK_ID", "3")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&output.stdout).contains(" run renditions-v1-c1 --plan"));
    }

    #[test]
    fn sbatch_output_gives_the_job_id() {
        assert_eq!(parse_sbatch_output("17\n").as_deref(), Some("17"));
        assert_eq!(parse_sbatch_output("17;local\n").as_deref(), Some("17"));
        assert_eq!(parse_sbatch_output("Submitted batch job 17\n"), None);
        assert_eq!(parse_sbatch_output(""), None);
    }

    #[test]
    fn scontrol_output_gives_state_reason_and_exit_code() {
        let failed = "JobId=12 JobName=rf-default-shots\n   UserId=root(0) GroupId=root(0) MCS_label=N/A\n   \
                      Priority=1 Nice=0 Account=(null) QOS=(null)\n   JobState=FAILED Reason=NonZeroExitCode \
                      Dependency=(null)\n   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0\n";
        let info = parse_scontrol_job(failed).unwrap();
        assert_eq!(
            info,
            JobInfo {
                state: "FAILED".into(),
                reason: Some("NonZeroExitCode".into()),
                exit_code: Some("3:0".into())
            }
        );
        assert!(!info.is_active());
        let pending = parse_scontrol_job("JobId=13 JobState=PENDING Reason=Dependency ExitCode=0:0").unwrap();
        assert!(pending.is_active());
        let running = parse_scontrol_job("JobState=RUNNING Reason=None").unwrap();
        assert_eq!(running.reason, None);
        assert_eq!(parse_scontrol_job("slurm_load_jobs error: Invalid job id specified"), None);
    }

    #[test]
    fn records_round_trip_and_start_empty() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(SlurmRecord::load(root.path()).unwrap(), SlurmRecord::default());
        let record = SlurmRecord { jobs: BTreeMap::from([("probe".to_owned(), "7".to_owned())]) };
        record.save(root.path()).unwrap();
        assert_eq!(SlurmRecord::load(root.path()).unwrap(), record);
        assert!(record_path(root.path()).ends_with(".reelforge/slurm.json"));
    }
}
