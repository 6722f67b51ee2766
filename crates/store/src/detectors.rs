//! Versions of the PHI tagger's head retrained in the workspace (migration 8). Each row keeps
//! the head's weights and card and the before/after figures that decided whether it was kept; rows
//! are never updated or deleted, so the history is the audit of what detection ran when.

use crate::{Result, Store};
use rusqlite::{params, OptionalExtension};

/// A new version, as the retraining job hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDetectorVersion {
    pub dataset_id: i64,
    pub head: Vec<u8>,
    /// The head's card as JSON (`localdx_tagger::HeadCard`).
    pub card: String,
    pub examples: u64,
    pub gold_notes: u64,
    pub recall_before: f64,
    pub recall_after: f64,
    pub kept: bool,
    pub created_by: String,
}

/// A stored version (without its weights; see [`Store::detector_head`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorVersion {
    pub id: i64,
    pub dataset_id: i64,
    pub card: String,
    pub examples: u64,
    pub gold_notes: u64,
    pub recall_before: f64,
    pub recall_after: f64,
    pub kept: bool,
    pub created_by: String,
    pub created_at: String,
}

const COLUMNS: &str = "id, dataset_id, card, examples, gold_notes, recall_before, recall_after, kept, created_by, created_at";

fn version(r: &rusqlite::Row) -> rusqlite::Result<DetectorVersion> {
    Ok(DetectorVersion {
        id: r.get(0)?,
        dataset_id: r.get(1)?,
        card: r.get(2)?,
        examples: r.get::<_, i64>(3)? as u64,
        gold_notes: r.get::<_, i64>(4)? as u64,
        recall_before: r.get(5)?,
        recall_after: r.get(6)?,
        kept: r.get::<_, i64>(7)? == 1,
        created_by: r.get(8)?,
        created_at: r.get(9)?,
    })
}

impl Store {
    /// Stores a version; returns its id.
    pub fn add_detector_version(&self, v: &NewDetectorVersion) -> Result<i64> {
        self.conn().execute(
            "INSERT INTO detector_versions (dataset_id, head, card, examples, gold_notes, recall_before, recall_after, kept, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                v.dataset_id,
                v.head,
                v.card,
                v.examples as i64,
                v.gold_notes as i64,
                v.recall_before,
                v.recall_after,
                v.kept as i64,
                v.created_by
            ],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Every version, newest first.
    pub fn detector_versions(&self) -> Result<Vec<DetectorVersion>> {
        let mut stmt = self.conn().prepare(&format!("SELECT {COLUMNS} FROM detector_versions ORDER BY id DESC"))?;
        let rows = stmt.query_map([], version)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest kept version, the one detection runs, with its weights.
    pub fn active_detector(&self) -> Result<Option<(DetectorVersion, Vec<u8>)>> {
        let row = self
            .conn()
            .query_row(&format!("SELECT {COLUMNS}, head FROM detector_versions WHERE kept = 1 ORDER BY id DESC LIMIT 1"), [], |r| {
                Ok((version(r)?, r.get::<_, Vec<u8>>(10)?))
            })
            .optional()?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(kept: bool, recall_after: f64) -> NewDetectorVersion {
        NewDetectorVersion {
            dataset_id: 1,
            head: vec![1, 2, 3],
            card: "{}".into(),
            examples: 4,
            gold_notes: 2,
            recall_before: 0.9,
            recall_after,
            kept,
            created_by: "steward".into(),
        }
    }

    #[test]
    fn the_newest_kept_version_is_active() {
        let store = Store::open_in_memory().unwrap();
        store
            .conn()
            .execute("INSERT INTO datasets (id, name, format, column_mapping, options, created_by) VALUES (1, 'd', 'csv', '{}', '{}', 'x')", [])
            .unwrap();
        assert!(store.active_detector().unwrap().is_none());
        let a = store.add_detector_version(&new(true, 0.95)).unwrap();
        let b = store.add_detector_version(&new(false, 0.85)).unwrap();
        let (active, head) = store.active_detector().unwrap().unwrap();
        assert_eq!((active.id, head), (a, vec![1, 2, 3]));
        let all = store.detector_versions().unwrap();
        assert_eq!(all.iter().map(|v| (v.id, v.kept)).collect::<Vec<_>>(), vec![(b, false), (a, true)]);
    }
}
