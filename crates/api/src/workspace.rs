//! Where a workspace keeps what lives beside its database. One rule for both shells (the CLI and
//! the desktop app call these; neither writes its own copy).

use std::path::{Path, PathBuf};

/// The models folder: `$LOCALDX_MODELS` when it is set and not empty, else `models/` beside the
/// database.
pub fn models_dir(db: &Path) -> PathBuf {
    match std::env::var_os("LOCALDX_MODELS").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => db.parent().map(|p| p.join("models")).unwrap_or_else(|| PathBuf::from("models")),
    }
}
