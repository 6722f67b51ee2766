//! The LocalDx store: one SQLite file (bundled SQLite) holding datasets, their records, settings and
//! an append-only event log.
//!
//! - The schema is versioned in code ([`MIGRATIONS`], applied in order and recorded in
//!   `PRAGMA user_version`); a database written by a newer LocalDx is refused, never downgraded.
//! - Connections run in WAL mode with foreign keys on; every multi-row write happens in one
//!   transaction ([`DatasetWriter`] commits at [`DatasetWriter::finish`] and rolls back on drop).
//! - [`Store::open`] is the one entry point, so that encryption at rest (a SQLCipher key) and user
//!   accounts can be added without touching callers.
//!
//! This crate never parses input files (that is `localdx-ingest`), never touches the network, and
//! never rewrites or deletes an event once logged.

mod events;
mod feedback;
mod records;
mod schema;
mod settings;
mod writer;

pub use events::Event;
pub use feedback::{Feedback, NewFeedback};
pub use records::{Dataset, DatasetStats, NewDataset, NewRecord, Record, Rejection, Split, UnknownSplit};
pub use schema::MIGRATIONS;
pub use writer::DatasetWriter;

use rusqlite::Connection;
use std::path::Path;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation (I/O error, locked database, constraint violation ...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A key was given but this build has no encryption at rest (SQLCipher) compiled in.
    #[error("encryption at rest is not built into this version of LocalDx; open the database without a key")]
    EncryptionNotBuiltIn,
    /// The database was written by a newer LocalDx whose schema this build does not know.
    #[error("the database has schema version {found}, newer than this LocalDx supports ({supported}); update LocalDx")]
    NewerSchema { found: i64, supported: i64 },
    /// A value stored as JSON (labels, mapping, event detail) could not be read or written.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored value breaks an invariant of the schema (e.g. an unknown split name).
    #[error("the database holds an invalid value: {0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open LocalDx database.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the database at `path`, creating it if needed, and migrates it to the current schema.
    /// `key` is reserved for encryption at rest: `Some` is refused with
    /// [`StoreError::EncryptionNotBuiltIn`] until SQLCipher is compiled in.
    pub fn open(path: &Path, key: Option<&str>) -> Result<Store> {
        if key.is_some() {
            return Err(StoreError::EncryptionNotBuiltIn);
        }
        let conn = Connection::open(path)?;
        Self::init(conn, true)
    }

    /// A fresh database in memory (tests, scratch work).
    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(conn: Connection, wal: bool) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if wal {
            // journal_mode returns a row; read it rather than execute it.
            let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        }
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -65536;
             PRAGMA temp_store = MEMORY;",
        )?;
        let mut store = Store { conn };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// The schema version of the open database (equal to `MIGRATIONS.len()` after opening).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The connection, for crates that add their own tables through a migration here.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}
