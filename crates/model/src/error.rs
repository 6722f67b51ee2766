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
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
