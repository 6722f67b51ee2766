//! The LocalDx store: one SQLite file (bundled SQLCipher) holding datasets, their records, settings,
//! an append-only event log and a hash-chained audit trail.
//!
//! - The schema is versioned in code ([`MIGRATIONS`], applied in order and recorded in
//!   `PRAGMA user_version`); a database written by a newer LocalDx is refused, never downgraded.
//! - Connections run in WAL mode with foreign keys on; every multi-row write happens in one
//!   transaction ([`DatasetWriter`] commits at [`DatasetWriter::finish`] and rolls back on drop).
//! - [`Store::open`] is the one entry point. With a 256-bit key the file is encrypted page by page
//!   (SQLCipher; the WAL too); without one it is a plain SQLite file. Where the key comes from
//!   (accounts, wrapped keys) is `localdx-access`'s business, not this crate's.
//! - [`encrypt_copy`] turns a plain database into a new encrypted one (SQLCipher's
//!   `sqlcipher_export`), leaving the plain file untouched.
//! - [`Store::audit`] appends to the audit trail inside the caller's transaction
//!   ([`Store::atomically`]), so an action and its audit entry commit together or not at all.
//!
//! This crate never parses input files (that is `localdx-ingest`), never touches the network, and
//! never rewrites or deletes an event once logged.

mod audit;
mod convert;
mod detectors;
mod events;
mod feedback;
mod gold;
mod monitor;
mod promotions;
mod records;
mod review;
mod schema;
mod settings;
mod users;
mod writer;

pub use convert::{encrypt_copy, Converted};
pub use audit::{entry_hash, AuditBreak, AuditEntry, AuditFilter, AuditRecord, AuditVerdict, AUDIT_HEAD_KEY, GENESIS_HASH};
pub use detectors::{DetectorVersion, NewDetectorVersion};
pub use events::Event;
pub use feedback::{Feedback, NewFeedback};
pub use gold::{GoldNote, GoldSample, GoldSpanRow};
pub use monitor::{LoggedSuggestion, NewLoggedSuggestion};
pub use promotions::{NewPromotion, Promotion};
pub use records::{Dataset, DatasetStats, NewDataset, NewRecord, Record, Rejection, Split, UnknownSplit};
pub use review::{apply, check_bounds, Decision, NewSpan, Release, ReviewCounts, ReviewError, ReviewSpan, SpanState, SpanView, Term};
pub use schema::MIGRATIONS;
pub use users::User;
pub use writer::DatasetWriter;

use rusqlite::Connection;
use std::path::Path;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation (I/O error, locked database, constraint violation ...).
    #[error("{}", sqlite_message(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// The key does not open the file: it is not a LocalDx database, or it is encrypted with another
    /// key (or is encrypted and no key was given).
    #[error("the database cannot be read with this key (wrong key, or not a LocalDx database)")]
    WrongKey,
    /// The database was written by a newer LocalDx whose schema this build does not know.
    #[error("the database has schema version {found}, newer than this LocalDx supports ({supported}); update LocalDx")]
    NewerSchema { found: i64, supported: i64 },
    /// A value stored as JSON (labels, mapping, event detail) could not be read or written.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The review workflow refused a decision (the message says why).
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// The caller's grant does not cover the note text it asked for: raw notes for a command that
    /// reads released versions only, or any note for one that reads none.
    #[error("{command} may not read {what}")]
    NotGranted { command: localdx_access::Command, what: String },
    /// A stored value breaks an invariant of the schema (e.g. an unknown split name).
    #[error("the database holds an invalid value: {0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a person reads for an SQLite failure: the conditions a user can act on in words (every
/// write is a transaction, so a failed one stored nothing), the rest as SQLite says it.
fn sqlite_message(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DiskFull) => "the disk holding the database is full: nothing of this operation was stored; free some space and try again".into(),
        Some(C::DatabaseBusy | C::DatabaseLocked) => "the database is busy in another LocalDx process; try again when it has finished".into(),
        Some(C::ReadOnly) => "the database file is read-only here: nothing was stored".into(),
        _ => format!("database error: {e}"),
    }
}

/// An open LocalDx database.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the database at `path`, creating it if needed, and migrates it to the current schema.
    /// With `key`, the file is SQLCipher-encrypted with that raw 256-bit key (a new file is created
    /// encrypted); a key that does not open an existing file is [`StoreError::WrongKey`].
    pub fn open(path: &Path, key: Option<&[u8; 32]>) -> Result<Store> {
        let conn = Connection::open(path)?;
        // A wrong key is reported as StoreError::WrongKey; SQLCipher need not also print it.
        let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
        if let Some(key) = key {
            // A raw key (no passphrase derivation): x'<64 hex digits>'. The key is random, so
            // SQLCipher's own PBKDF2 would add nothing.
            conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", audit::hex(key)))?;
        }
        // The first read fails when the key is wrong (or a key is needed and missing).
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => {
                return Err(StoreError::WrongKey)
            }
            Err(e) => return Err(e.into()),
        }
        Self::init(conn, true)
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): `ok`, or the problems it found,
    /// one per line.
    pub fn integrity_check(&self) -> Result<String> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(rows.join("\n"))
    }

    /// Runs `f` in one immediate transaction: everything it writes (and every audit entry it
    /// appends) commits together, or nothing does when it fails. Not reentrant.
    pub fn atomically<T, E: From<StoreError>>(&self, f: impl FnOnce() -> std::result::Result<T, E>) -> std::result::Result<T, E> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::from)?;
        match f() {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
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
