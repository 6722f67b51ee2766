//! Typed errors of the PHI engine. Never carries note text in a message beyond a file position.

use std::path::PathBuf;

/// What can go wrong while configuring the engine or reading gold annotations.
#[derive(Debug, thiserror::Error)]
pub enum PhiError {
    /// The configuration is invalid (unknown type name, threshold out of range).
    #[error("invalid PHI configuration: {0}")]
    Config(String),
    /// A gold file could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A gold file is not in the announced format.
    #[error("{path}: line {line}: {message}")]
    Gold { path: PathBuf, line: usize, message: String },
    /// The operating system's random number generator failed (no surrogate secret can be made).
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// A configuration value could not be parsed as JSON.
    #[error("invalid configuration JSON: {0}")]
    Json(#[from] serde_json::Error),
}
