//! Where a workspace keeps what lives beside its database. One rule for both shells: the CLI and
//! the desktop app resolve a [`Layout`] from the database path and neither writes its own copy.

use std::path::{Path, PathBuf};

/// The files and folders of one workspace, resolved once from its database path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The SQLite database.
    pub db: PathBuf,
    /// The key file beside an encrypted database (absent for a plain one).
    pub key_file: PathBuf,
    /// Training runs: `runs/` beside the database.
    pub runs: PathBuf,
    /// Models: `$LOCALDX_MODELS` when set and not empty, else `models/` beside the database.
    pub models: PathBuf,
    /// Where exports go when the user names no folder: `exports/` beside the database.
    pub exports: PathBuf,
}

impl Layout {
    pub fn for_db(db: &Path) -> Layout {
        let beside = |name: &str| db.parent().map(|p| p.join(name)).unwrap_or_else(|| PathBuf::from(name));
        Layout {
            db: db.to_owned(),
            key_file: localdx_access::KeyFile::path_for(db),
            runs: beside("runs"),
            models: models_dir(db),
            exports: beside("exports"),
        }
    }

    /// Whether `path` is one of the workspace's own files or lies inside its runs or models
    /// folders: places an export must never overwrite. `path` should be absolute and resolved.
    pub fn holds(&self, path: &Path) -> bool {
        let resolved = |p: &Path| std::fs::canonicalize(p).or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_owned());
        let sidecars = ["-wal", "-shm", "-journal"].map(|s| PathBuf::from(format!("{}{s}", self.db.display())));
        let files = [&self.db, &self.key_file].into_iter().chain(sidecars.iter());
        files.map(|f| resolved(f)).any(|f| f == path) || [&self.runs, &self.models].into_iter().any(|d| path.starts_with(resolved(d)))
    }
}

/// What the app shows in its footer: where the data lives and which build reads it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfoDto {
    pub database: String,
    pub version: &'static str,
}

impl WorkspaceInfoDto {
    pub fn for_db(db: &Path) -> WorkspaceInfoDto {
        WorkspaceInfoDto { database: db.display().to_string(), version: env!("CARGO_PKG_VERSION") }
    }
}

/// The models folder: `$LOCALDX_MODELS` when it is set and not empty, else `models/` beside the
/// database.
fn models_dir(db: &Path) -> PathBuf {
    match std::env::var_os("LOCALDX_MODELS").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => db.parent().map(|p| p.join("models")).unwrap_or_else(|| PathBuf::from("models")),
    }
}
