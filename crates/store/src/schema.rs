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
    // 3: the hash-chained audit trail (see audit.rs for the hash); append-only like the event log.
    r#"
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        before    TEXT NOT NULL,
        after     TEXT NOT NULL,
        reason    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE INDEX audit_actor ON audit(actor);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    "#,
    // 4: user accounts (Argon2id PHC hashes; the wrapped database keys live in the key file).
    r#"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        role          TEXT NOT NULL CHECK (role IN ('steward', 'clinician', 'admin')),
        password_hash TEXT NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        created_by    TEXT NOT NULL
    );
    "#,
    // 5: the review workflow (detected and added spans, their decisions for undo, note sign-off),
    // learned allow/deny terms, and immutable released versions.
    r#"
    CREATE TABLE review_spans (
        id           INTEGER PRIMARY KEY,
        dataset_id   INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        record_id    INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        origin       TEXT NOT NULL CHECK (origin IN ('detected', 'added')),
        start        INTEGER NOT NULL,
        end          INTEGER NOT NULL,
        entity       TEXT NOT NULL,
        score        REAL NOT NULL,
        explanation  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(explanation)),
        state        TEXT NOT NULL CHECK (state IN ('undecided', 'accepted', 'rejected', 'retyped', 'resized')),
        final_start  INTEGER NOT NULL,
        final_end    INTEGER NOT NULL,
        final_entity TEXT NOT NULL,
        decided_by   TEXT,
        decided_at   TEXT
    );
    CREATE INDEX review_spans_record ON review_spans(record_id, start);
    CREATE INDEX review_spans_dataset_state ON review_spans(dataset_id, state);

    CREATE TABLE review_decisions (
        id        INTEGER PRIMARY KEY,
        span_id   INTEGER NOT NULL REFERENCES review_spans(id) ON DELETE CASCADE,
        record_id INTEGER NOT NULL,
        before    TEXT NOT NULL,
        after     TEXT NOT NULL,
        actor     TEXT NOT NULL,
        bulk      INTEGER NOT NULL DEFAULT 0,
        undone    INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX review_decisions_record ON review_decisions(record_id, id);

    CREATE TABLE review_notes (
        record_id  INTEGER PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        state      TEXT NOT NULL CHECK (state IN ('open', 'signed_off')),
        signed_by  TEXT,
        signed_at  TEXT
    );
    CREATE INDEX review_notes_dataset ON review_notes(dataset_id, state);

    CREATE TABLE review_terms (
        id           INTEGER PRIMARY KEY,
        list         TEXT NOT NULL CHECK (list IN ('allow', 'deny')),
        term         TEXT NOT NULL,
        entity       TEXT,
        dataset_id   INTEGER,
        proposed_by  TEXT NOT NULL,
        confirmed_by TEXT,
        UNIQUE (list, term)
    );

    CREATE TABLE releases (
        id                 INTEGER PRIMARY KEY,
        dataset_id         INTEGER NOT NULL REFERENCES datasets(id),
        version_dataset_id INTEGER NOT NULL UNIQUE REFERENCES datasets(id),
        strategy           TEXT NOT NULL,
        sha256             TEXT NOT NULL,
        records            INTEGER NOT NULL,
        spans              INTEGER NOT NULL,
        released_by        TEXT NOT NULL,
        released_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
        BEGIN SELECT RAISE(ABORT, 'a release is immutable'); END;
    CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases
        BEGIN SELECT RAISE(ABORT, 'a release is immutable'); END;
    CREATE TRIGGER released_records_no_insert BEFORE INSERT ON records
        WHEN EXISTS (SELECT 1 FROM releases WHERE version_dataset_id = NEW.dataset_id)
        BEGIN SELECT RAISE(ABORT, 'a released version is immutable'); END;
    CREATE TRIGGER released_records_no_update BEFORE UPDATE ON records
        WHEN EXISTS (SELECT 1 FROM releases WHERE version_dataset_id = OLD.dataset_id)
        BEGIN SELECT RAISE(ABORT, 'a released version is immutable'); END;
    CREATE TRIGGER released_records_no_delete BEFORE DELETE ON records
        WHEN EXISTS (SELECT 1 FROM releases WHERE version_dataset_id = OLD.dataset_id)
        BEGIN SELECT RAISE(ABORT, 'a released version is immutable'); END;
    CREATE TRIGGER released_datasets_no_update BEFORE UPDATE ON datasets
        WHEN EXISTS (SELECT 1 FROM releases WHERE version_dataset_id = OLD.id)
        BEGIN SELECT RAISE(ABORT, 'a released version is immutable'); END;
    "#,
    // 6: clinicians' feedback on suggestions: accept, reject or add a diagnosis for a note. A typed
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
    // 7: gold notes for measuring the detectors in the app: notes drawn as a steward's gold sample
    // (their signed-off review is the gold) or given gold spans from an imported file (raw PHI
    // offsets, kept only here). Learned terms gain a third list, `context` (words before an added
    // span, per type): the table is rebuilt for the new CHECK, and a context word is unique per type.
    r#"
    CREATE TABLE gold_samples (
        id         INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        size       INTEGER NOT NULL,
        seed       INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );

    CREATE TABLE gold_notes (
        record_id  INTEGER PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        source     TEXT NOT NULL CHECK (source IN ('sample', 'import')),
        sample_id  INTEGER REFERENCES gold_samples(id) ON DELETE CASCADE,
        format     TEXT,
        added_by   TEXT NOT NULL,
        added_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX gold_notes_dataset ON gold_notes(dataset_id, record_id);

    CREATE TABLE gold_spans (
        id        INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES gold_notes(record_id) ON DELETE CASCADE,
        start     INTEGER NOT NULL,
        end       INTEGER NOT NULL,
        label     TEXT NOT NULL
    );
    CREATE INDEX gold_spans_record ON gold_spans(record_id, start);

    CREATE TABLE review_terms_7 (
        id           INTEGER PRIMARY KEY,
        list         TEXT NOT NULL CHECK (list IN ('allow', 'deny', 'context')),
        term         TEXT NOT NULL,
        entity       TEXT,
        dataset_id   INTEGER,
        proposed_by  TEXT NOT NULL,
        confirmed_by TEXT,
        CHECK (list <> 'context' OR entity IS NOT NULL)
    );
    INSERT INTO review_terms_7 (id, list, term, entity, dataset_id, proposed_by, confirmed_by)
        SELECT id, list, term, entity, dataset_id, proposed_by, confirmed_by FROM review_terms;
    DROP TABLE review_terms;
    ALTER TABLE review_terms_7 RENAME TO review_terms;
    CREATE UNIQUE INDEX review_terms_unique ON review_terms(list, term, CASE WHEN list = 'context' THEN entity ELSE '' END);
    "#,
    // 8: versions of the PHI tagger's head retrained on a steward's decisions: the weights (a
    // safetensors blob) and card, the gold figures before and after, and whether it was kept. The
    // newest kept version is the one detection runs; in an encrypted workspace they are sealed
    // with the rest of the database.
    r#"
    CREATE TABLE detector_versions (
        id            INTEGER PRIMARY KEY,
        dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        head          BLOB NOT NULL,
        card          TEXT NOT NULL CHECK (json_valid(card)),
        examples      INTEGER NOT NULL,
        gold_notes    INTEGER NOT NULL,
        recall_before REAL NOT NULL,
        recall_after  REAL NOT NULL,
        kept          INTEGER NOT NULL CHECK (kept IN (0, 1)),
        created_by    TEXT NOT NULL,
        created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX detector_versions_kept ON detector_versions(kept, id);
    "#,
    // 9: the run in use for a dataset's task (the imported dataset its releases come from): who
    // promoted it, why, and the figures of the report built on its test split when they did.
    // At most one promotion per dataset is current (not ended); replacing or withdrawing one ends
    // it, and ended rows stay as the history.
    r#"
    CREATE TABLE promotions (
        id            INTEGER PRIMARY KEY,
        dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        run_id        TEXT NOT NULL,
        version_id    INTEGER NOT NULL,
        report_sha256 TEXT NOT NULL,
        metrics       TEXT NOT NULL CHECK (json_valid(metrics)),
        reason        TEXT NOT NULL,
        promoted_by   TEXT NOT NULL,
        promoted_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        ended_by      TEXT,
        ended_at      TEXT,
        end_reason    TEXT
    );
    CREATE UNIQUE INDEX promotions_current ON promotions(dataset_id) WHERE ended_at IS NULL;
    "#,
    // 10: every suggestion shown, without the note's text: when, by which model, for whom, the
    // note's length in words and the share of its words the model's training notes never used,
    // the top labels with their probabilities, and the recorded labels when the note is a stored
    // case. What the Monitoring screen draws drift and quality from.
    r#"
    CREATE TABLE suggestion_log (
        id          INTEGER PRIMARY KEY,
        at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        actor       TEXT NOT NULL,
        model       TEXT NOT NULL,
        dataset_id  INTEGER,
        record_id   INTEGER,
        words       INTEGER NOT NULL CHECK (words >= 0),
        unseen      REAL CHECK (unseen IS NULL OR (unseen >= 0 AND unseen <= 1)),
        top         TEXT NOT NULL CHECK (json_valid(top)),
        gold        TEXT CHECK (gold IS NULL OR json_valid(gold))
    );
    CREATE INDEX suggestion_log_at ON suggestion_log(model, at);
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
