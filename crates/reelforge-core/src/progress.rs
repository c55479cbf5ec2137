//! Progress events that library code emits and the CLI renders (bars, log lines or JSON).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressUnit {
    Frames,
    Bytes,
    Seconds,
    Items,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressKind {
    /// A unit of work begins; `total` is known for most media work.
    Started {
        total: Option<u64>,
        unit: ProgressUnit,
    },
    /// Absolute position within `total`.
    Advanced {
        position: u64,
    },
    /// Something worth a log line (for example "shots: cached, skipped").
    Message {
        text: String,
    },
    Finished,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgressEvent {
    /// Names the work, e.g. "decode" or "shots".
    pub task: String,
    #[serde(flatten)]
    pub kind: ProgressKind,
}

/// Receives progress events. Implementations must be cheap: `Advanced` can arrive per frame.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);

    fn started(&self, task: &str, total: Option<u64>, unit: ProgressUnit) {
        self.emit(ProgressEvent { task: task.to_owned(), kind: ProgressKind::Started { total, unit } });
    }
    fn advanced(&self, task: &str, position: u64) {
        self.emit(ProgressEvent { task: task.to_owned(), kind: ProgressKind::Advanced { position } });
    }
    fn message(&self, task: &str, text: &str) {
        self.emit(ProgressEvent {
            task: task.to_owned(),
            kind: ProgressKind::Message { text: text.to_owned() },
        });
    }
    fn finished(&self, task: &str) {
        self.emit(ProgressEvent { task: task.to_owned(), kind: ProgressKind::Finished });
    }
}

/// Discards everything (tests, library callers that do not care).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn emit(&self, _event: ProgressEvent) {}
}
