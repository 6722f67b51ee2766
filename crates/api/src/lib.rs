//! The one API surface of LocalDx. The `localdx` CLI and the Tauri commands of the desktop shell
//! call these functions and nothing below them; this is the only crate that knows the JSON wire
//! format (DTOs with `camelCase` fields, converted explicitly from the engine's domain types).
//!
//! This crate holds no business logic of its own: it opens the store, checks arguments that come
//! from outside, calls the engine crates and maps their errors to [`ApiError`].

use serde::Serialize;
use std::path::Path;

pub mod adapters;
pub mod datasets;
pub mod eval;
pub mod models;
pub mod phi;
pub mod training;

pub use localdx_job::{Cancel, Progress, Reporter};

/// A machine-readable error code the UI may branch on, and a message a person can read.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// What went wrong, for callers that react differently (the UI, the CLI's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input given by the user (a file, an argument) is invalid; the message says where.
    InvalidInput,
    /// The thing asked for does not exist.
    NotFound,
    /// The work was cancelled by the user; nothing was stored.
    Cancelled,
    /// The database could not be opened, read or written.
    Store,
    /// Anything else; a bug if it ever reaches a user.
    Internal,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
}

impl From<localdx_store::StoreError> for ApiError {
    fn from(e: localdx_store::StoreError) -> Self {
        ApiError::new(ErrorCode::Store, e.to_string())
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An open LocalDx workspace: one database, used by one process at a time through this handle.
pub struct Api {
    pub(crate) store: localdx_store::Store,
}

impl Api {
    /// Opens (creating and migrating if needed) the database at `path`. `key` is the encryption
    /// key once encryption at rest lands; `None` opens a plain database.
    pub fn open(path: &Path, key: Option<&str>) -> Result<Api> {
        let store = localdx_store::Store::open(path, key)?;
        Ok(Api { store })
    }

    /// The store underneath, for crates that add API modules.
    pub fn store(&self) -> &localdx_store::Store {
        &self.store
    }
}
