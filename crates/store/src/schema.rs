//! The schema, versioned in code: [`MIGRATIONS`] are applied in order, each in its own
//! transaction, and `PRAGMA user_version` records how many have run. Never edit a published
//! migration; append a new one.

use crate::{Result, StoreError};
use rusqlite::Connection;

/// Schema migrations, applied in order. `PRAGMA user_version` = number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: settings, event log, datasets, records, rejected rows.
    r#"
    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE events (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        actor   TEXT NOT NULL,
        kind    TEXT NOT NULL,
        subject TEXT,
        detail  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

    CREATE TABLE datasets (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL,
        source_path    TEXT,
        format         TEXT NOT NULL,
        column_mapping TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(column_mapping)),
        source_sha256  TEXT,
        parent_id      INTEGER REFERENCES datasets(id),
        seed           INTEGER,
        options        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
        created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        created_by     TEXT NOT NULL
    );
    CREATE INDEX datasets_sha256 ON datasets(source_sha256);

    -- Column order matters: `text` is last so that counting by split or label never reads the
    -- overflow pages of long notes.
    CREATE TABLE records (
        id          INTEGER PRIMARY KEY,
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        split       TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
        external_id TEXT,
        patient_id  TEXT,
        labels      TEXT NOT NULL DEFAULT '[]',
        source_line INTEGER NOT NULL,
        text        TEXT NOT NULL
    );
    CREATE INDEX records_dataset_split ON records(dataset_id, split);

    -- Rows left out by an import with "skip bad rows", kept so the user can fix and re-import them.
    CREATE TABLE rejected_rows (
        id         INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        file       TEXT,
        line       INTEGER NOT NULL,
        message    TEXT NOT NULL
    );
    CREATE INDEX rejected_rows_dataset ON rejected_rows(dataset_id);
    "#,
    // 2: page through a dataset in id order from the index alone, without reading note texts.
    r#"
    CREATE INDEX records_dataset_id ON records(dataset_id, id);
    "#,
    // 3: clinicians' feedback on suggestions: accept, reject or add a diagnosis for a note. A typed
    // note (no record) keeps its text only when the clinician chose to save it.
    r#"
    CREATE TABLE feedback (
        id         INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        actor      TEXT NOT NULL,
        dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        record_id  INTEGER REFERENCES records(id) ON DELETE SET NULL,
        note_text  TEXT,
        model      TEXT NOT NULL,
        label      TEXT NOT NULL,
        verdict    TEXT NOT NULL CHECK (verdict IN ('accept', 'reject', 'add')),
        probability REAL
    );
    CREATE INDEX feedback_record ON feedback(record_id);
    "#,
];

/// Brings the database to `MIGRATIONS.len()`, refusing databases from a newer LocalDx.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let supported = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
