//! Turns any error into one line on stderr and the exit code of its class.

use std::process::ExitCode;

use reelforge_core::{Classify, ErrorClass};

/// An error the CLI itself raises (bad argument combination, unreadable CSV, …).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub class: ErrorClass,
    pub message: String,
}

impl CliError {
    pub fn config(message: impl Into<String>) -> Self {
        Self { class: ErrorClass::Config, message: message.into() }
    }
}

impl Classify for CliError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// The class of the first cause in the chain that knows its class.
fn class_of(error: &anyhow::Error) -> ErrorClass {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<reelforge_media::MediaError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<reelforge_subtitles::SubtitleError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<reelforge_pipeline::PipelineError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<reelforge_pipeline::StageError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return if e.kind() == std::io::ErrorKind::NotFound {
                ErrorClass::Config
            } else {
                ErrorClass::Other
            };
        }
    }
    ErrorClass::Other
}

pub fn report(error: &anyhow::Error) -> ExitCode {
    let class = class_of(error);
    // `{:#}` joins the context chain on one line: "writing shots.csv: No space left on device".
    // Several problems (one per line) each get the prefix, so each reads on its own.
    for line in format!("{error:#}").lines() {
        eprintln!("reelforge: error: {line}");
    }
    ExitCode::from(class.exit_code())
}
