//! Typed errors of the tagger. Messages name files, never note text.

use std::path::PathBuf;

/// What can go wrong while loading or running the tagger.
#[derive(Debug, thiserror::Error)]
pub enum TaggerError {
    /// A file of the encoder is missing (setup has not fetched it).
    #[error("the PHI tagger's encoder file {path} is missing (run scripts/fetch-models.sh)")]
    Missing { path: PathBuf },
    /// A file exists but cannot be used: truncated, corrupt, or not what it claims to be.
    #[error("the PHI tagger's file {path} is unusable: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The head does not fit the encoder or the label scheme (dimensions, version).
    #[error("the PHI tagger's head does not fit: {0}")]
    Mismatch(String),
    /// A tensor operation failed (a bug or an exhausted device).
    #[error("tensor error in the PHI tagger: {}", localdx_model::without_backtrace(.0))]
    Tensor(#[from] candle_core::Error),
    /// The caller cancelled a training run.
    #[error("retraining cancelled")]
    Cancelled,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, TaggerError>;
