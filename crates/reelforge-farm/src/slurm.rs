//! Slurm: one batch job per task with `afterok` dependencies, job ids recorded in the
//! workdir, states read back with `scontrol show job`.
//!
//! The scheduler is driven through its own command-line clients (`sbatch`, `scontrol`), the
//! interface Slurm documents for this; their answers are parsed by pure functions below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use reelforge_pipeline::complete_stages;
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

/// Task id → Slurm job id of the latest submission of that task.
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

/// The `sbatch` arguments for a task whose dependencies were submitted as `dependency_jobs`.
/// `--kill-on-invalid-dep=yes`: when a dependency fails, Slurm cancels this job instead of
/// leaving it pending forever.
pub fn sbatch_args(plan: &Plan, task: &Task, dependency_jobs: &[String], script: &Path) -> Vec<String> {
    let logs = jobs_dir(&plan.workdir);
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name=rf-{}-{}", plan.pipeline_name, task.id),
        format!("--chdir={}", plan.workdir.display()),
        format!("--output={}", logs.join(format!("{}-%j.log", task.id)).display()),
        "--kill-on-invalid-dep=yes".to_owned(),
    ];
    if !dependency_jobs.is_empty() {
        args.push(format!("--dependency=afterok:{}", dependency_jobs.join(":")));
    }
    args.push(script.display().to_string());
    args
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

/// Submits every task of `plan` that is not complete, in plan order, each depending on the
/// jobs of its not-complete dependencies, and records the job ids in the workdir.
pub fn submit(plan: &Plan) -> Result<Vec<(String, Submission)>, FarmError> {
    let pipeline = plan.pipeline()?;
    let complete = complete_stages(&pipeline, &plan.input, &plan.workdir, &plan.tool_version)?;
    let mut record = SlurmRecord::load(&plan.workdir)?;
    let dir = jobs_dir(&plan.workdir);
    std::fs::create_dir_all(&dir).map_err(|source| FarmError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;

    let mut results: Vec<(String, Submission)> = Vec::new();
    let mut submitted_now: BTreeSet<String> = BTreeSet::new();
    for task in &plan.tasks {
        if complete.contains(&task.stage) {
            record.jobs.remove(&task.id);
            results.push((task.id.clone(), Submission::Complete));
            continue;
        }
        let dependency_jobs: Vec<String> =
            task.dependencies.iter().filter_map(|dependency| record.jobs.get(dependency).cloned()).collect();
        let upstream_resubmitted =
            task.dependencies.iter().any(|dependency| submitted_now.contains(dependency));
        if !upstream_resubmitted
            && let Some(job_id) = record.jobs.get(&task.id)
            && job_info(job_id)?.is_some_and(|info| info.is_active())
        {
            results.push((task.id.clone(), Submission::Queued { job_id: job_id.clone() }));
            continue;
        }
        let script = dir.join(format!("{}.sh", task.id));
        reelforge_core::output::write_file_atomic(&script, batch_script(plan, task).as_bytes())
            .map_err(|source| FarmError::Io { action: "write", path: script.clone(), source })?;
        let stdout = scheduler("sbatch", &sbatch_args(plan, task, &dependency_jobs, &script))?;
        let job_id = parse_sbatch_output(&stdout).ok_or_else(|| FarmError::Scheduler {
            command: "sbatch --parsable".to_owned(),
            message: format!("no job id in its output `{}`", stdout.trim()),
        })?;
        record.jobs.insert(task.id.clone(), job_id.clone());
        // Saved after every job, so a failure half-way still leaves the ids of what was queued.
        record.save(&plan.workdir)?;
        submitted_now.insert(task.id.clone());
        results.push((task.id.clone(), Submission::Submitted { job_id }));
    }
    record.save(&plan.workdir)?;
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
    let pipeline = plan.pipeline()?;
    let complete = complete_stages(&pipeline, &plan.input, &plan.workdir, &plan.tool_version)?;
    let record = SlurmRecord::load(&plan.workdir)?;
    plan.tasks
        .iter()
        .map(|task| {
            let job_id = record.jobs.get(&task.id).cloned();
            let job = match &job_id {
                Some(id) => job_info(id)?,
                None => None,
            };
            Ok(TaskStatus { task: task.id.clone(), complete: complete.contains(&task.stage), job_id, job })
        })
        .collect()
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
        let args = sbatch_args(&plan, task, &["41".to_owned(), "42".to_owned()], Path::new("/s/artwork.sh"));
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
        let first = sbatch_args(&plan, plan.task("probe").unwrap(), &[], Path::new("/s/probe.sh"));
        assert!(!first.iter().any(|arg| arg.starts_with("--dependency")));
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
