//! The one API surface of LocalDx. The `localdx` CLI and the Tauri commands of the desktop shell
//! call these functions and nothing below them; this is the only crate that knows the JSON wire
//! format (DTOs with `camelCase` fields, converted explicitly from the engine's domain types).
//!
//! This crate holds no business logic of its own: it opens the store, checks arguments that come
//! from outside, calls the engine crates and maps their errors to [`ApiError`].

use serde::Serialize;

pub mod adapters;
pub mod audit;
pub mod card;
pub mod convert;
pub mod datasets;
pub mod detector;
pub mod eval;
pub mod exports;
mod gate;
pub mod gold;
pub mod models;
pub mod monitor;
pub mod phi;
pub mod promotion;
pub mod release;
pub mod retrain;
pub mod review;
pub mod session;
pub mod stats;
pub mod successor;
pub mod suggest;
pub mod training;
pub mod workspace;

pub use localdx_access::{Command, Role};
pub use localdx_model::runtime;
pub use localdx_job::{Cancel, Progress, Reporter};
pub use session::{Credentials, SessionDto, UserDto, WorkspaceState, WorkspaceStatusDto};

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
    /// Not logged in, unknown user, wrong password or disabled account.
    Unauthorized,
    /// The logged-in user's role may not do this (the permission matrix).
    Forbidden,
    /// A rule of the review workflow refuses it (undecided spans, a leak found at release ...);
    /// the message says what to do.
    Blocked,
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
        let code = match &e {
            localdx_store::StoreError::WrongKey => ErrorCode::Unauthorized,
            localdx_store::StoreError::NotGranted { .. } => ErrorCode::Forbidden,
            localdx_store::StoreError::Review(localdx_store::ReviewError::Missing(_)) => ErrorCode::NotFound,
            localdx_store::StoreError::Review(localdx_store::ReviewError::Bounds { .. } | localdx_store::ReviewError::NoChange) => ErrorCode::InvalidInput,
            localdx_store::StoreError::Review(_) => ErrorCode::Blocked,
            _ => ErrorCode::Store,
        };
        ApiError::new(code, e.to_string())
    }
}

/// The review's refusals keep the codes and messages they had when this crate held the review.
impl From<localdx_review::Error> for ApiError {
    fn from(e: localdx_review::Error) -> Self {
        use localdx_review::Error as E;
        let code = match e {
            E::Store(e) => return e.into(),
            E::Phi(e) => return e.into(),
            E::NoDataset(_) | E::NoRecord(_) | E::NoSpan(_) | E::NoTerm(_) => ErrorCode::NotFound,
            E::ReleasedVersion(_) | E::UnknownGoldFormat(_) | E::NoGoldCandidates(_) | E::GoldTextDiffers { .. } | E::GoldUnmatched { .. } => {
                ErrorCode::InvalidInput
            }
            E::NotSignedOff { .. } | E::Leaks(_) => ErrorCode::Blocked,
            E::Cancelled(_) => ErrorCode::Cancelled,
            E::Internal(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

pub use gate::Api;
pub(crate) use gate::Permit;
