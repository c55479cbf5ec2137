//! Renders library progress events for people (bars), logs (plain lines) or farm wrappers (JSON).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reelforge_core::{ProgressEvent, ProgressKind, ProgressSink, ProgressUnit};

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, plain log lines otherwise.
    Auto,
    /// Always draw bars.
    Bar,
    /// Plain log lines (a few per task), good for log files.
    Log,
    /// One JSON object per event, for render-farm wrappers.
    Json,
    /// `openjd_progress: N` (percent) and `openjd_status: …` lines on stdout, for Open Job
    /// Description runtimes such as AWS Deadline Cloud.
    Openjd,
    /// Nothing.
    None,
}

/// Builds the sink for a mode; `quiet` silences everything but JSON (a wrapper asked for it).
pub fn sink(mode: ProgressMode, quiet: bool) -> Box<dyn ProgressSink> {
    task_sink(mode, quiet, None)
}

/// Like [`sink`], for one render-farm task: JSON lines then carry `"farm_task": ID`, so a
/// wrapper reading several tasks' logs can tell them apart.
pub fn task_sink(mode: ProgressMode, quiet: bool, farm_task: Option<&str>) -> Box<dyn ProgressSink> {
    let mode = match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
        ProgressMode::Auto => ProgressMode::Log,
        other => other,
    };
    match mode {
        ProgressMode::Json => {
            Box::new(JsonProgress { farm_task: farm_task.map(str::to_owned), ..JsonProgress::default() })
        }
        ProgressMode::Openjd => Box::new(OpenjdProgress::default()),
        _ if quiet => Box::new(reelforge_core::NoProgress),
        ProgressMode::Bar => Box::new(BarProgress::default()),
        ProgressMode::Log => Box::new(LogProgress::default()),
        ProgressMode::None | ProgressMode::Auto => Box::new(reelforge_core::NoProgress),
    }
}

/// Open Job Description progress: the runtime reads `openjd_progress: N` (0-100) and
/// `openjd_status: TEXT` from the action's output. A stage reports several sub-tasks (decode,
/// keyframes…) one after another, so the percent shown is that of the sub-task in progress,
/// printed only when it changes and never going backwards within one sub-task.
#[derive(Default)]
struct OpenjdProgress {
    tasks: Mutex<HashMap<String, (Option<u64>, u64)>>,
}

impl ProgressSink for OpenjdProgress {
    fn emit(&self, event: ProgressEvent) {
        let Ok(mut tasks) = self.tasks.lock() else { return };
        let line = match event.kind {
            ProgressKind::Started { total, .. } => {
                tasks.insert(event.task.clone(), (total, 0));
                Some(format!("openjd_status: {}", event.task))
            }
            ProgressKind::Advanced { position } => tasks.get_mut(&event.task).and_then(|(total, shown)| {
                let percent = (position.saturating_mul(100) / (*total)?.max(1)).min(100);
                (percent > *shown).then(|| {
                    *shown = percent;
                    format!("openjd_progress: {percent}")
                })
            }),
            ProgressKind::Message { text } => Some(format!("openjd_status: {}: {text}", event.task)),
            ProgressKind::Finished => {
                tasks.remove(&event.task);
                None
            }
        };
        if let Some(line) = line {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

/// One indicatif bar per task.
struct BarProgress {
    bars: MultiProgress,
    by_task: Mutex<HashMap<String, ProgressBar>>,
}

impl Default for BarProgress {
    fn default() -> Self {
        Self {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            by_task: Mutex::default(),
        }
    }
}

impl ProgressSink for BarProgress {
    fn emit(&self, event: ProgressEvent) {
        let Ok(mut by_task) = self.by_task.lock() else { return };
        match event.kind {
            ProgressKind::Started { total, unit } => {
                let bar = match total {
                    Some(total) => ProgressBar::new(total).with_style(bar_style(unit)),
                    None => ProgressBar::new_spinner().with_style(spinner_style(unit)),
                };
                let bar = self.bars.add(bar.with_prefix(event.task.clone()));
                bar.enable_steady_tick(Duration::from_millis(200));
                by_task.insert(event.task, bar);
            }
            ProgressKind::Advanced { position } => {
                if let Some(bar) = by_task.get(&event.task) {
                    bar.set_position(position);
                }
            }
            ProgressKind::Message { text } => {
                let _ = self.bars.println(format!("{}: {text}", event.task));
            }
            ProgressKind::Finished => {
                if let Some(bar) = by_task.remove(&event.task) {
                    bar.finish_with_message("done");
                }
            }
        }
    }
}

fn unit_name(unit: ProgressUnit) -> &'static str {
    match unit {
        ProgressUnit::Frames => "frames",
        ProgressUnit::Bytes => "bytes",
        ProgressUnit::Seconds => "s",
        ProgressUnit::Items => "items",
    }
}

fn bar_style(unit: ProgressUnit) -> ProgressStyle {
    let template = match unit {
        ProgressUnit::Bytes => {
            "{prefix:>12} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}".to_owned()
        }
        other => format!(
            "{{prefix:>12}} [{{bar:40}}] {{pos}}/{{len}} {} {{per_sec}} eta {{eta}} {{msg}}",
            unit_name(other)
        ),
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn spinner_style(unit: ProgressUnit) -> ProgressStyle {
    let template = format!("{{prefix:>12}} {{spinner}} {{pos}} {} {{elapsed}} {{msg}}", unit_name(unit));
    ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Plain lines: start, every ~10 % (at most every 2 s), finish with elapsed time.
#[derive(Default)]
struct LogProgress {
    tasks: Mutex<HashMap<String, LogTask>>,
}

struct LogTask {
    started: Instant,
    total: Option<u64>,
    unit: ProgressUnit,
    last_line: Instant,
    last_tenth: u64,
    position: u64,
}

impl ProgressSink for LogProgress {
    fn emit(&self, event: ProgressEvent) {
        let Ok(mut tasks) = self.tasks.lock() else { return };
        let now = Instant::now();
        let line = match event.kind {
            ProgressKind::Started { total, unit } => {
                tasks.insert(
                    event.task.clone(),
                    LogTask { started: now, total, unit, last_line: now, last_tenth: 0, position: 0 },
                );
                match total {
                    Some(total) => Some(format!("{}: started ({total} {})", event.task, unit_name(unit))),
                    None => Some(format!("{}: started", event.task)),
                }
            }
            ProgressKind::Advanced { position } => tasks.get_mut(&event.task).and_then(|task| {
                task.position = position;
                let total = task.total?;
                let tenth = position.saturating_mul(10) / total.max(1);
                if tenth > task.last_tenth && now.duration_since(task.last_line) >= Duration::from_secs(2) {
                    task.last_tenth = tenth;
                    task.last_line = now;
                    Some(format!(
                        "{}: {position}/{total} {} ({}%)",
                        event.task,
                        unit_name(task.unit),
                        position * 100 / total.max(1)
                    ))
                } else {
                    None
                }
            }),
            ProgressKind::Message { text } => Some(format!("{}: {text}", event.task)),
            ProgressKind::Finished => tasks.remove(&event.task).map(|task| {
                let seconds = now.duration_since(task.started).as_secs_f64();
                if task.position > 0 {
                    let rate = task.position as f64 / seconds.max(1e-9);
                    format!(
                        "{}: done in {seconds:.1} s ({} {}, {rate:.1}/s)",
                        event.task,
                        task.position,
                        unit_name(task.unit)
                    )
                } else {
                    format!("{}: done in {seconds:.1} s", event.task)
                }
            }),
        };
        if let Some(line) = line {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// One JSON object per line on stderr; `Advanced` events are thinned to ~5 per second per task.
struct JsonProgress {
    started: Instant,
    farm_task: Option<String>,
    last_advance: Mutex<HashMap<String, Instant>>,
}

impl Default for JsonProgress {
    fn default() -> Self {
        Self { started: Instant::now(), farm_task: None, last_advance: Mutex::default() }
    }
}

impl ProgressSink for JsonProgress {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressKind::Advanced { .. } = event.kind {
            let Ok(mut last) = self.last_advance.lock() else { return };
            let now = Instant::now();
            if last.get(&event.task).is_some_and(|t| now.duration_since(*t) < Duration::from_millis(200)) {
                return;
            }
            last.insert(event.task.clone(), now);
        }
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("elapsed_seconds".into(), self.started.elapsed().as_secs_f64().into());
            if let Some(task) = &self.farm_task {
                object.insert("farm_task".into(), task.as_str().into());
            }
        }
        let _ = writeln!(std::io::stderr().lock(), "{value}");
    }
}
