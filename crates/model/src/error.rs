//! The one error type of the model crate. Every failure while reading a model file, building a
//! tokenizer or running a forward pass ends up here, with a message a person can act on; nothing in
//! this crate panics on a bad file.

/// What went wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be opened or read.
    #[error("cannot read model file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file is not a readable GGUF file: bad magic, truncated header or tensor data.
    #[error("{path} is not a valid GGUF file: {message}")]
    Corrupt { path: String, message: String },
    /// The file declares an architecture this engine does not run.
    #[error("unsupported model architecture `{0}` (supported: llama, gemma3)")]
    UnsupportedArchitecture(String),
    /// A metadata key the architecture needs is missing or has the wrong type.
    #[error("model metadata `{key}` is missing or invalid: {message}")]
    Metadata { key: String, message: String },
    /// A tensor is missing, has the wrong shape, or holds non-finite values.
    #[error("tensor `{name}`: {message}")]
    Tensor { name: String, message: String },
    /// The tokenizer cannot be built from the metadata, or text cannot be encoded with it.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An error from the tensor library during a forward or backward pass.
    #[error("tensor computation failed: {}", without_backtrace(.0))]
    Candle(#[from] candle_core::Error),
}

/// A tensor-library error as a person reads it: its message and context, without the stack trace
/// candle appends when `RUST_BACKTRACE` is set. Every user-facing error built from a candle error
/// goes through this (the model, tagger and training error types).
pub fn without_backtrace(e: &candle_core::Error) -> String {
    use candle_core::Error as E;
    match e {
        E::WithBacktrace { inner, .. } => without_backtrace(inner),
        E::Context { inner, context } => format!("{context}: {}", without_backtrace(inner)),
        E::WithPath { inner, path } => format!("{}: {}", path.display(), without_backtrace(inner)),
        other => other.to_string(),
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// With `RUST_BACKTRACE=1` candle appends a stack trace to its message; what reaches a user (a
    /// JSON error, the app's error banner) carries the message and its context only.
    #[test]
    fn user_facing_messages_carry_no_backtrace() {
        let inner = candle_core::Error::Msg("shape mismatch in matmul".into());
        let traced = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert!(traced.to_string().lines().count() > 1, "candle's own message holds the trace");
        let shown = ModelError::from(traced.context("loading blk.3")).to_string();
        assert_eq!(shown, "tensor computation failed: loading blk.3: shape mismatch in matmul");
    }
}
