//! Render-farm execution on a real one-node Slurm cluster started on localhost for each test
//! (`../shared/design/slurm-local.md`), and the Open Job Description export checked by the
//! `openjd-model` Python package.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reelforge_e2e::{expect_success, python, reelforge, repo_root, run_pipeline, run_reelforge, sample};
use serde_json::Value;

/// One cluster at a time: the tests share the node name and would see each other's jobs.
static CLUSTER_LOCK: Mutex<()> = Mutex::new(());

/// How long a whole farm run of the sample may take before the test gives up.
const FARM_TIMEOUT: Duration = Duration::from_secs(240);

/// A free TCP port on localhost (the cluster's daemons must not collide with anything).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap()
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Makes sure Slurm's daemons and clients are installed: installs `slurm-wlm` when root.
/// `false` means "skip": not installable here and not under CI (where it fails instead).
fn slurm_installed() -> bool {
    let present = || ["slurmctld", "slurmd", "sbatch", "scontrol"].iter().all(|p| which(p));
    if present() {
        return true;
    }
    if command_output("id", &["-u"]).as_deref() == Some("0") {
        let status = Command::new("apt-get")
            .args(["install", "-y", "-q", "slurm-wlm"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
        if status.is_ok_and(|status| status.success()) && present() {
            return true;
        }
    }
    let message = "Slurm (apt package slurm-wlm) is not installed and cannot be installed without root";
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A running one-node cluster; dropping it cancels every job and shuts the daemons down,
/// whatever the test's outcome.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    daemons: Vec<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["ctld", "spool", "run", "log", "etc"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let user = command_output("id", &["-un"]).unwrap_or_else(|| "root".to_owned());
        let d = root.display();
        let conf = root.join("etc/slurm.conf");
        std::fs::write(root.join("etc/plugstack.conf"), "").unwrap();
        std::fs::write(
            &conf,
            format!(
                "ClusterName=local\nSlurmctldHost=localhost\nSlurmctldPort={}\nSlurmdPort={}\n\
                 SlurmUser={user}\nSlurmdUser={user}\nAuthType=auth/none\nCredType=cred/none\n\
                 StateSaveLocation={d}/ctld\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/run/slurmctld.pid\nSlurmdPidFile={d}/run/slurmd.pid\n\
                 SlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
                 PlugStackConfig={d}/etc/plugstack.conf\nProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
                 JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
                 JobCompType=jobcomp/filetxt\nJobCompLoc={d}/log/jobcomp.txt\n\
                 SchedulerParameters=batch_sched_delay=0,sched_min_interval=0\n\
                 DependencyParameters=kill_invalid_depend\nMpiDefault=none\nMailProg=/bin/true\n\
                 ReturnToService=2\nMinJobAge=3600\n\
                 NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN\n\
                 PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
                free_port(),
                free_port(),
            ),
        )
        .unwrap();
        let mut cluster = Cluster { dir, conf, daemons: Vec::new() };
        for (program, args) in [("slurmctld", vec!["-D", "-i"]), ("slurmd", vec!["-D", "-N", "localhost"])] {
            let log = std::fs::File::create(cluster.dir.path().join(format!("log/{program}.out"))).unwrap();
            let child = Command::new(program)
                .args(args)
                .env("SLURM_CONF", &cluster.conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                // Its own process group, like setsid: a Ctrl-C on the test does not reach it
                // before Drop has cancelled the jobs.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
            cluster.daemons.push(child);
        }
        let ready = wait_for(Duration::from_secs(30), || {
            cluster
                .output("sinfo", &["-h", "-n", "localhost", "-o", "%t"])
                .is_some_and(|state| state == "idle")
        });
        assert!(ready, "the node did not become idle in 30 s\n{}", cluster.logs());
        cluster
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        let output = self.command(program).args(args).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// `reelforge ARGS` talking to this cluster.
    fn reelforge(&self, args: &[&str]) -> std::process::Output {
        let mut command = reelforge();
        command.env("SLURM_CONF", &self.conf).args(args);
        command.output().unwrap()
    }

    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"]
            .iter()
            .map(|name| {
                let text =
                    std::fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!("--- {name} (last lines)\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancel first: shutting down under a running job leaves an orphaned slurmstepd.
        let jobs = self.output("squeue", &["-h", "-o", "%A"]).unwrap_or_default();
        let ids: Vec<&str> = jobs.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = self.command("scancel").args(&ids).status();
        }
        wait_for(Duration::from_secs(30), || {
            self.output("squeue", &["-h", "-t", "R,CG"]).is_none_or(|running| running.is_empty())
        });
        let _ = self.command("scontrol").arg("shutdown").stderr(Stdio::null()).status();
        for daemon in &mut self.daemons {
            let exited = wait_for(Duration::from_secs(15), || daemon.try_wait().ok().flatten().is_some());
            if !exited {
                let _ = daemon.kill();
                let _ = daemon.wait();
            }
        }
    }
}

/// Polls `done` every 200 ms until it holds or `timeout` passes; whether it held.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `reelforge farm status --json`, one object per task.
fn farm_status(cluster: &Cluster, plan: &Path) -> Vec<Value> {
    let text = expect_success(&cluster.reelforge(&["farm", "status", "--json", &plan.display().to_string()]));
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_else(|e| panic!("farm status JSON: {e}\n{text}"))
}

fn is_active(task: &Value) -> bool {
    task["job"]["state"]
        .as_str()
        .is_some_and(|state| matches!(state, "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING"))
}

/// Waits until no task of the plan has a queued or running job; returns the final status.
fn wait_until_settled(cluster: &Cluster, plan: &Path, workdir: &Path) -> Vec<Value> {
    let mut last = Vec::new();
    let settled = wait_for(FARM_TIMEOUT, || {
        last = farm_status(cluster, plan);
        !last.iter().any(is_active)
    });
    assert!(
        settled,
        "jobs still active after {FARM_TIMEOUT:?}: {last:#?}\n{}{}",
        job_logs(workdir),
        cluster.logs()
    );
    last
}

/// The tasks' own logs (stdout and stderr of each job).
fn job_logs(workdir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(workdir.join(".reelforge/slurm")) else { return String::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "log"))
        .map(|entry| {
            format!(
                "--- {}\n{}\n",
                entry.path().display(),
                std::fs::read_to_string(entry.path()).unwrap_or_default()
            )
        })
        .collect()
}

fn task<'a>(status: &'a [Value], id: &str) -> &'a Value {
    status.iter().find(|task| task["task"] == id).unwrap_or_else(|| panic!("no task {id} in {status:#?}"))
}

fn manifest(workdir: &Path, stage: &str) -> Value {
    let path = workdir.join(stage).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn make_plan(pipeline: &Path, workdir: &Path) -> PathBuf {
    make_chunked_plan(pipeline, workdir, "auto")
}

fn make_chunked_plan(pipeline: &Path, workdir: &Path, chunks: &str) -> PathBuf {
    plan_episode(pipeline, &sample().episode, workdir, chunks)
}

/// `reelforge plan PIPELINE --input EPISODE --workdir WORKDIR --chunks CHUNKS`; returns the
/// plan's path.
pub(crate) fn plan_episode(pipeline: &Path, episode: &Path, workdir: &Path, chunks: &str) -> PathBuf {
    expect_success(&run_reelforge([
        "plan".as_ref(),
        pipeline.as_os_str(),
        "--input".as_ref(),
        episode.as_os_str(),
        "--workdir".as_ref(),
        workdir.as_os_str(),
        "--chunks".as_ref(),
        chunks.as_ref(),
    ]));
    workdir.join("plan.json")
}

/// One small rung in 4 s segments: two chunks of 60 s of sample encode quickly.
const CHUNKED_RENDITIONS: &str = "version: 1\nname: chunked\nstages:\n  - probe: {}\n  - renditions:\n      \
                                  ladder: [{ width: 416, height: 234, bitrate_kbps: 200 }]\n      \
                                  segment_seconds: 4\n";

#[test]
fn chunks_run_as_job_arrays_and_a_failed_chunk_reruns_alone() {
    let _one_cluster = CLUSTER_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !slurm_installed() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = scratch.path().join("chunked.yaml");
    std::fs::write(&pipeline, CHUNKED_RENDITIONS).unwrap();
    let workdir = scratch.path().join("work");
    let plan_path = make_chunked_plan(&pipeline, &workdir, "2");
    let plan = plan_path.display().to_string();

    // Break one chunk: it starts far past the end of the episode (bad input: no pictures).
    let mut broken: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let tasks = broken["tasks"].as_array_mut().unwrap();
    let ids: Vec<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["probe", "renditions-v0-c0", "renditions-v0-c1", "renditions-a0", "renditions-a1", "renditions"]
    );
    let chunk = tasks.iter_mut().find(|t| t["id"] == "renditions-v0-c1").unwrap();
    chunk["part"]["chunk"]["first_segment"] = 100.into();
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&broken).unwrap()).unwrap();

    let cluster = Cluster::start();
    let submitted = expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan]));
    // One job array for the two video chunks, one for the two audio streams.
    let job_of = |text: &str, id: &str| -> String {
        let line =
            text.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_else(|| panic!("{id}: {text}"));
        line.split_whitespace().nth(2).unwrap_or_default().to_owned()
    };
    let (c0, c1) = (job_of(&submitted, "renditions-v0-c0"), job_of(&submitted, "renditions-v0-c1"));
    assert_eq!(c1, format!("{}_1", c0.trim_end_matches("_0")), "{submitted}");
    assert!(job_of(&submitted, "renditions-a1").ends_with("_1"), "{submitted}");
    let status = wait_until_settled(&cluster, &plan_path, &workdir);
    let context = || format!("{status:#?}\n{}", job_logs(&workdir));
    for id in ["probe", "renditions-v0-c0", "renditions-a0", "renditions-a1"] {
        assert_eq!(task(&status, id)["job"]["state"], "COMPLETED", "{id}: {}", context());
        assert_eq!(task(&status, id)["complete"], true, "{id}: {}", context());
    }
    assert_eq!(task(&status, "renditions-v0-c1")["job"]["state"], "FAILED", "{}", context());
    assert_eq!(task(&status, "renditions-v0-c1")["job"]["exit_code"], "3:0", "bad input: {}", context());
    assert_eq!(task(&status, "renditions")["job"]["state"], "CANCELLED", "{}", context());
    assert!(!workdir.join("renditions").exists());
    let done_chunk = std::fs::read(workdir.join("renditions.parts/v0-c0/manifest.json")).unwrap();

    // Fixed plan, resubmitted: only the failed element (as a one-element array) and the join.
    make_chunked_plan(&pipeline, &workdir, "2");
    let resubmitted = expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan]));
    for id in ["probe", "renditions-v0-c0", "renditions-a0", "renditions-a1"] {
        assert!(
            resubmitted
                .lines()
                .any(|l| l.starts_with(&format!("{id} ")) && l.contains("complete, not submitted")),
            "{id}: {resubmitted}"
        );
    }
    assert!(job_of(&resubmitted, "renditions-v0-c1").ends_with("_1"), "{resubmitted}");
    let status = wait_until_settled(&cluster, &plan_path, &workdir);
    assert!(status.iter().all(|task| task["complete"] == true), "{status:#?}\n{}", job_logs(&workdir));
    assert_eq!(task(&status, "renditions-v0-c1")["job"]["state"], "COMPLETED");
    assert_eq!(std::fs::read(workdir.join("renditions.parts/v0-c0/manifest.json")).unwrap(), done_chunk);
    let playlist = std::fs::read_to_string(workdir.join("renditions/hls/video_v0.m3u8")).unwrap();
    assert_eq!(playlist.matches("#EXTINF:").count(), 15, "60 s in 4 s segments: {playlist}");
}

#[test]
fn default_pipeline_on_slurm_equals_a_local_run() {
    let _one_cluster = CLUSTER_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !slurm_installed() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = repo_root().join("pipelines/default.yaml");
    let local = scratch.path().join("local");
    let farm = scratch.path().join("farm");
    let episode = &sample().episode;
    expect_success(&run_pipeline(&pipeline, episode, &local));
    let plan = make_plan(&pipeline, &farm);
    let plan_json: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let ids: Vec<&str> =
        plan_json["tasks"].as_array().unwrap().iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["probe", "shots"]);
    assert_eq!(plan_json["tasks"][1]["dependencies"], serde_json::json!(["probe"]));

    let cluster = Cluster::start();
    let submitted =
        expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan.display().to_string()]));
    assert!(submitted.lines().any(|line| line.starts_with("shots") && line.contains("job ")), "{submitted}");
    let status = wait_until_settled(&cluster, &plan, &farm);
    for id in ["probe", "shots"] {
        let task = task(&status, id);
        assert_eq!(task["job"]["state"], "COMPLETED", "{status:#?}\n{}", job_logs(&farm));
        assert_eq!(task["complete"], true, "{status:#?}");
    }

    // The same files as the local run, byte for byte (both read the same episode path, so
    // even the paths inside OTIO and JSON agree).
    for stage in ["probe", "shots"] {
        let local_manifest = manifest(&local, stage);
        let farm_manifest = manifest(&farm, stage);
        assert_eq!(local_manifest["key"], farm_manifest["key"], "{stage}");
        assert_eq!(local_manifest["outputs"], farm_manifest["outputs"], "{stage}");
        for output in local_manifest["outputs"].as_array().unwrap() {
            let relative = output["path"].as_str().unwrap();
            let a = std::fs::read(local.join(stage).join(relative)).unwrap();
            let b = std::fs::read(farm.join(stage).join(relative)).unwrap();
            assert!(a == b, "{stage}/{relative} differs between the local and the farm run");
        }
    }
    for required in
        ["probe/media.json", "shots/shots.json", "shots/shots.csv", "shots/shots.otio", "shots/shots.edl"]
    {
        assert!(farm.join(required).is_file(), "{required}");
    }

    // Everything is done: resubmitting submits nothing, and a task run exits 0 at once.
    let again =
        expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan.display().to_string()]));
    assert_eq!(again.matches("complete, not submitted").count(), 2, "{again}");
    let output = cluster.reelforge(&[
        "--progress",
        "json",
        "task",
        "run",
        "shots",
        "--plan",
        &plan.display().to_string(),
    ]);
    assert!(expect_success(&output).contains("task shots: already complete"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let event: Value = serde_json::from_str(stderr.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(event["farm_task"], "shots", "{stderr}");
}

#[test]
fn a_failed_task_cancels_its_dependents_and_a_resubmission_runs_only_the_rest() {
    let _one_cluster = CLUSTER_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !slurm_installed() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = scratch.path().join("three.yaml");
    std::fs::write(
        &pipeline,
        "version: 1\nname: three\nstages:\n  - probe: {}\n  - shots: {}\n  - artwork: {}\n",
    )
    .unwrap();
    let workdir = scratch.path().join("work");
    let plan_path = make_plan(&pipeline, &workdir);

    // Break one task: shots runs on a plan whose input is not the episode (bad input), so
    // its upstream probe does not match and it fails fatally; artwork depends on it.
    let mut good: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let broken_input = scratch.path().join("broken.mp4");
    std::fs::write(&broken_input, b"not a video at all").unwrap();
    let mut broken = good.clone();
    broken["input"] = broken_input.display().to_string().into();
    let broken_plan = scratch.path().join("broken-plan.json");
    std::fs::write(&broken_plan, serde_json::to_vec_pretty(&broken).unwrap()).unwrap();
    let shots = good["tasks"].as_array_mut().unwrap().iter_mut().find(|t| t["id"] == "shots").unwrap();
    shots["command"][5] = broken_plan.display().to_string().into();
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&good).unwrap()).unwrap();

    let cluster = Cluster::start();
    let plan = plan_path.display().to_string();
    expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan]));
    let status = wait_until_settled(&cluster, &plan_path, &workdir);
    let context = || format!("{status:#?}\n{}", job_logs(&workdir));
    assert_eq!(task(&status, "probe")["job"]["state"], "COMPLETED", "{}", context());
    assert_eq!(task(&status, "shots")["job"]["state"], "FAILED", "{}", context());
    assert_eq!(task(&status, "shots")["job"]["exit_code"], "2:0", "fatal (config): {}", context());
    assert_eq!(task(&status, "artwork")["job"]["state"], "CANCELLED", "{}", context());
    assert_eq!(task(&status, "artwork")["job"]["reason"], "DependencyNeverSatisfied", "{}", context());
    assert_eq!(
        [task(&status, "probe"), task(&status, "shots"), task(&status, "artwork")]
            .map(|t| t["complete"].clone()),
        [true, false, false].map(Value::from)
    );
    assert!(!workdir.join("shots").exists() && !workdir.join("artwork").exists());
    let probe_before = manifest(&workdir, "probe");

    // Fixed: plan again (the real command lines) and resubmit; only shots and artwork run.
    make_plan(&pipeline, &workdir);
    let resubmitted = expect_success(&cluster.reelforge(&["submit", "--scheduler", "slurm", &plan]));
    assert!(
        resubmitted.lines().any(|l| l.starts_with("probe") && l.contains("complete, not submitted")),
        "{resubmitted}"
    );
    let status = wait_until_settled(&cluster, &plan_path, &workdir);
    assert!(status.iter().all(|task| task["complete"] == true), "{status:#?}\n{}", job_logs(&workdir));
    assert_eq!(task(&status, "artwork")["job"]["state"], "COMPLETED");
    assert_eq!(manifest(&workdir, "probe"), probe_before, "probe must not run again");
    assert_eq!(manifest(&workdir, "artwork")["upstream"]["shots"], manifest(&workdir, "shots")["key"]);
}

#[test]
fn openjd_template_validates_with_openjd_model() {
    let scratch = tempfile::tempdir().unwrap();
    let pipeline = scratch.path().join("three.yaml");
    std::fs::write(
        &pipeline,
        "version: 1\nname: three\nstages:\n  - probe: {}\n  - shots: {}\n  - artwork: {}\n",
    )
    .unwrap();
    let workdir = scratch.path().join("work");
    let plan = make_plan(&pipeline, &workdir);
    let template = scratch.path().join("job.json");
    let chunked_pipeline = scratch.path().join("chunked.yaml");
    std::fs::write(&chunked_pipeline, CHUNKED_RENDITIONS).unwrap();
    let chunked_plan = make_chunked_plan(&chunked_pipeline, &scratch.path().join("chunked"), "3");
    let chunked_template = scratch.path().join("chunked-job.json");
    expect_success(&run_reelforge([
        "export".as_ref(),
        "--format".as_ref(),
        "openjd".as_ref(),
        plan.as_os_str(),
        "-o".as_ref(),
        template.as_os_str(),
    ]));
    expect_success(&run_reelforge([
        "export".as_ref(),
        "--format".as_ref(),
        "openjd".as_ref(),
        chunked_plan.as_os_str(),
        "-o".as_ref(),
        chunked_template.as_os_str(),
    ]));
    let check = "import json, sys\n\
                 from openjd.model import decode_job_template, create_job\n\
                 template = decode_job_template(template=json.load(open(sys.argv[1])))\n\
                 job = create_job(job_template=template, job_parameter_values={})\n\
                 print(job.parameters['Plan'].value)\n\
                 for step in job.steps:\n\
                 \x20   deps = [d.dependsOn for d in (step.dependencies or [])]\n\
                 \x20   space = step.parameterSpace\n\
                 \x20   defs = space.taskParameterDefinitions if space else {}\n\
                 \x20   params = [(name, len(p.range)) for name, p in defs.items()]\n\
                 \x20   print(step.name, ','.join(deps), ' '.join(step.script.actions.onRun.args), params)\n";
    let output = Command::new(python()).args(["-c", check]).arg(&template).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openjd-model rejected the template (pip install -r tests/requirements.txt?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan_text = plan.display().to_string();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            plan_text,
            "probe  task run probe --plan {{Param.Plan}} --progress openjd []".to_owned(),
            "shots probe task run shots --plan {{Param.Plan}} --progress openjd []".to_owned(),
            "artwork shots task run artwork --plan {{Param.Plan}} --progress openjd []".to_owned(),
        ]
    );
    // Chunks: one step per array, its tasks a parameter space (1 rung x 3 chunks, 2 audio).
    let output = Command::new(python()).args(["-c", check]).arg(&chunked_template).output().unwrap();
    assert!(output.status.success(), "openjd-model rejected: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            "probe  task run probe --plan {{Param.Plan}} --progress openjd []",
            "renditions-video probe task run renditions-v{{Task.Param.RUNG}}-c{{Task.Param.CHUNK}} --plan \
             {{Param.Plan}} --progress openjd [('RUNG', 1), ('CHUNK', 3)]",
            "renditions-audio probe task run renditions-a{{Task.Param.AUDIO}} --plan {{Param.Plan}} --progress \
             openjd [('AUDIO', 2)]",
            "renditions renditions-video,renditions-audio task run renditions --plan {{Param.Plan}} --progress \
             openjd []",
        ]
    );

    // What the OJD action prints: progress lines the runtime understands, ending at 100.
    let probe = run_reelforge([
        "--progress".as_ref(),
        "openjd".as_ref(),
        "task".as_ref(),
        "run".as_ref(),
        "probe".as_ref(),
        "--plan".as_ref(),
        plan.as_os_str(),
    ]);
    let stdout = expect_success(&probe);
    assert!(stdout.lines().any(|line| line == "openjd_progress: 100"), "{stdout}");
    assert!(
        stdout.lines().all(|line| line.starts_with("openjd_") || line.starts_with("task probe:")),
        "{stdout}"
    );
}
