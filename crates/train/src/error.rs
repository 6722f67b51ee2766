//! The error type of the training crate.

/// What went wrong while training, evaluating or reading a run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] localdx_model::ModelError),
    /// A tensor operation failed.
    #[error("tensor computation failed: {}", localdx_model::without_backtrace(.0))]
    Candle(#[from] candle_core::Error),
    /// A run folder, checkpoint or adapter file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A run folder or adapter file exists but its content is not what this engine writes.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// A sealed run file could not be opened (damaged, altered, or read without its key), or
    /// a file could not be written; the message names the file.
    #[error(transparent)]
    Sealed(#[from] localdx_sealed::SealError),
    /// The training data or configuration cannot be used; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The user cancelled; a checkpoint was written and `resume` continues from it.
    #[error("training cancelled at step {step}; checkpoint saved")]
    Cancelled { step: u64 },
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.display().to_string(), source }
}
