//! One vocabulary for "what kind of failure is this", shared by every library crate so the
//! CLI can pick an exit code and a render farm can decide whether a retry can help.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The user's command line or pipeline file is wrong (exit code 2). Not retryable.
    Config,
    /// The input media is not a readable video/audio file (exit code 3). Not retryable.
    BadInput,
    /// A library, encoder or model the job needs is not installed (exit code 4).
    MissingDependency,
    /// Anything else: I/O, a full disk, a killed process (exit code 1). May succeed on retry.
    Other,
}

impl ErrorClass {
    /// The process exit code the CLI uses for this class.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Other => 1,
            ErrorClass::Config => 2,
            ErrorClass::BadInput => 3,
            ErrorClass::MissingDependency => 4,
        }
    }
}

/// Implemented by every library error type.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}
