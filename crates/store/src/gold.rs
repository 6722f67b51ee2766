//! Gold notes (migration 7): the notes of a dataset whose PHI is known, to measure the detectors
//! on. A note becomes gold by being drawn into a steward's sample (its signed-off review is then the
//! gold: nothing is copied) or by an imported gold file (its spans are stored here, as byte offsets
//! into the record's text, with the file's own labels).
//!
//! This module stores and lists; it never scores, never reads a gold file and never logs note text.
//! Gold spans point at raw PHI: they live only in this (encrypted) database.

use crate::{Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// A gold note.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldNote {
    pub record_id: i64,
    pub dataset_id: i64,
    /// `sample` (the review is the gold) or `import` (stored gold spans).
    pub source: String,
    pub sample_id: Option<i64>,
    /// The gold file's format, for imported notes.
    pub format: Option<String>,
}

/// A drawn sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldSample {
    pub id: i64,
    pub dataset_id: i64,
    pub size: u64,
    pub seed: u64,
    pub created_by: String,
    pub created_at: String,
}

/// One imported gold span (bytes into the record's text, the file's label).
#[derive(Debug, Clone, PartialEq)]
pub struct GoldSpanRow {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

impl Store {
    /// Records of a dataset that are not gold notes yet, in id order: what a new sample draws from.
    pub fn gold_candidates(&self, dataset_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare(
            "SELECT r.id FROM records r LEFT JOIN gold_notes g ON g.record_id = r.id
             WHERE r.dataset_id = ?1 AND g.record_id IS NULL ORDER BY r.id",
        )?;
        let rows = stmt.query_map([dataset_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a drawn sample (the seed is kept bit for bit) and makes its records gold notes;
    /// returns the sample's id. Refuses a record of another dataset or one already gold.
    pub fn add_gold_sample(&self, dataset_id: i64, seed: u64, records: &[i64], actor: &str) -> Result<i64> {
        self.conn().execute(
            "INSERT INTO gold_samples (dataset_id, size, seed, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![dataset_id, records.len() as i64, seed as i64, actor],
        )?;
        let sample_id = self.conn().last_insert_rowid();
        for &record_id in records {
            self.check_record_of(dataset_id, record_id)?;
            let inserted = self.conn().execute(
                "INSERT OR IGNORE INTO gold_notes (record_id, dataset_id, source, sample_id, added_by) VALUES (?1, ?2, 'sample', ?3, ?4)",
                params![record_id, dataset_id, sample_id, actor],
            )?;
            if inserted == 0 {
                return Err(StoreError::Invalid(format!("record {record_id} is already a gold note")));
            }
        }
        Ok(sample_id)
    }

    fn check_record_of(&self, dataset_id: i64, record_id: i64) -> Result<()> {
        let of: Option<i64> = self.conn().query_row("SELECT dataset_id FROM records WHERE id = ?1", [record_id], |r| r.get(0)).optional()?;
        if of != Some(dataset_id) {
            return Err(StoreError::Invalid(format!("record {record_id} is not in dataset {dataset_id}")));
        }
        Ok(())
    }

    /// Makes a record a gold note with imported spans (bytes into its text), replacing whatever
    /// gold it had: a sample note given imported gold is measured against the import.
    pub fn set_imported_gold(&self, dataset_id: i64, record_id: i64, format: &str, spans: &[GoldSpanRow], actor: &str) -> Result<()> {
        self.check_record_of(dataset_id, record_id)?;
        self.conn().execute("DELETE FROM gold_spans WHERE record_id = ?1", [record_id])?;
        self.conn().execute(
            "INSERT OR REPLACE INTO gold_notes (record_id, dataset_id, source, sample_id, format, added_by) VALUES (?1, ?2, 'import', NULL, ?3, ?4)",
            params![record_id, dataset_id, format, actor],
        )?;
        let mut insert = self.conn().prepare_cached("INSERT INTO gold_spans (record_id, start, end, label) VALUES (?1, ?2, ?3, ?4)")?;
        for s in spans {
            insert.execute(params![record_id, s.start as i64, s.end as i64, s.label])?;
        }
        Ok(())
    }

    /// The gold notes of a dataset, in record order.
    pub fn gold_notes(&self, dataset_id: i64) -> Result<Vec<GoldNote>> {
        let mut stmt = self.conn().prepare(
            "SELECT record_id, dataset_id, source, sample_id, format FROM gold_notes WHERE dataset_id = ?1 ORDER BY record_id",
        )?;
        let rows = stmt.query_map([dataset_id], |r| {
            Ok(GoldNote { record_id: r.get(0)?, dataset_id: r.get(1)?, source: r.get(2)?, sample_id: r.get(3)?, format: r.get(4)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The imported gold spans of a note, in text order.
    pub fn gold_spans(&self, record_id: i64) -> Result<Vec<GoldSpanRow>> {
        let mut stmt = self.conn().prepare_cached("SELECT start, end, label FROM gold_spans WHERE record_id = ?1 ORDER BY start, id")?;
        let rows = stmt.query_map([record_id], |r| {
            Ok(GoldSpanRow { start: r.get::<_, i64>(0)? as usize, end: r.get::<_, i64>(1)? as usize, label: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The samples drawn from a dataset, oldest first.
    pub fn gold_samples(&self, dataset_id: i64) -> Result<Vec<GoldSample>> {
        let mut stmt = self.conn().prepare(
            "SELECT id, dataset_id, size, seed, created_by, created_at FROM gold_samples WHERE dataset_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([dataset_id], |r| {
            Ok(GoldSample {
                id: r.get(0)?,
                dataset_id: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                seed: r.get::<_, i64>(3)? as u64,
                created_by: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether detection has put this note in review (a run that found nothing still does).
    pub fn note_in_review(&self, record_id: i64) -> Result<bool> {
        Ok(self.conn().query_row("SELECT 1 FROM review_notes WHERE record_id = ?1", [record_id], |_| Ok(())).optional()?.is_some())
    }
}
