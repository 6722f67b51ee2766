//! [`DatasetWriter`]: creates one dataset and its records inside one transaction. Nothing is
//! visible to other connections until [`DatasetWriter::finish`]; dropping the writer without
//! finishing (an error, a cancelled import) rolls everything back.

use crate::events::log_event_on;
use crate::records::{NewDataset, NewRecord};
use crate::{Result, Store};
use rusqlite::{params, Statement, Transaction, TransactionBehavior};

/// Writes one new dataset in one transaction. Field order matters: the statements are dropped
/// before the transaction (which rolls back unless committed).
pub struct DatasetWriter<'a> {
    insert: Statement<'a>,
    set_labels: Statement<'a>,
    set_split: Statement<'a>,
    reject: Statement<'a>,
    tx: Transaction<'a>,
    dataset_id: i64,
    records: u64,
}

impl Store {
    /// Starts writing a new dataset: takes the write lock and inserts the dataset row.
    pub fn dataset_writer(&self, new: &NewDataset) -> Result<DatasetWriter<'_>> {
        let conn = self.conn();
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO datasets (name, source_path, format, column_mapping, source_sha256, parent_id, seed, options, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                new.name,
                new.source_path,
                new.format,
                serde_json::to_string(&new.column_mapping)?,
                new.source_sha256,
                new.parent_id,
                new.seed.map(|s| s as i64),
                serde_json::to_string(&new.options)?,
                new.created_by,
            ],
        )?;
        let dataset_id = tx.last_insert_rowid();
        Ok(DatasetWriter {
            insert: conn.prepare(
                "INSERT INTO records (dataset_id, split, external_id, patient_id, labels, source_line, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            set_labels: conn.prepare("UPDATE records SET labels = ?2 WHERE id = ?1 AND dataset_id = ?3")?,
            set_split: conn.prepare("UPDATE records SET split = ?2 WHERE id = ?1 AND dataset_id = ?3")?,
            reject: conn.prepare("INSERT INTO rejected_rows (dataset_id, file, line, message) VALUES (?1, ?2, ?3, ?4)")?,
            tx,
            dataset_id,
            records: 0,
        })
    }
}

impl DatasetWriter<'_> {
    /// The id the dataset will have once committed.
    pub fn dataset_id(&self) -> i64 {
        self.dataset_id
    }

    pub(crate) fn tx(&self) -> &Transaction<'_> {
        &self.tx
    }

    /// Records inserted so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Inserts one record and returns its id.
    pub fn insert(&mut self, r: &NewRecord<'_>) -> Result<i64> {
        let labels = serde_json::to_string(r.labels)?;
        self.insert.execute(params![
            self.dataset_id,
            r.split.as_str(),
            r.external_id,
            r.patient_id,
            labels,
            r.source_line as i64,
            r.text,
        ])?;
        self.records += 1;
        Ok(self.tx.last_insert_rowid())
    }

    /// Replaces the labels of a record of this dataset (e.g. when merging duplicates).
    pub fn set_labels(&mut self, record_id: i64, labels: &[String]) -> Result<()> {
        self.set_labels.execute(params![record_id, serde_json::to_string(labels)?, self.dataset_id])?;
        Ok(())
    }

    /// Moves a record of this dataset to another split.
    pub fn set_split(&mut self, record_id: i64, split: crate::Split) -> Result<()> {
        self.set_split.execute(params![record_id, split.as_str(), self.dataset_id])?;
        Ok(())
    }

    /// Keeps a source row that was left out, with the reason.
    pub fn reject(&mut self, file: Option<&str>, line: u64, message: &str) -> Result<()> {
        self.reject.execute(params![self.dataset_id, file, line as i64, message])?;
        Ok(())
    }

    /// Appends an event that commits (or rolls back) with the dataset.
    pub fn log_event(&self, actor: &str, kind: &str, subject: Option<&str>, detail: &serde_json::Value) -> Result<i64> {
        log_event_on(&self.tx, actor, kind, subject, detail)
    }

    /// Appends an audit entry that commits (or rolls back) with the dataset.
    pub fn audit(&self, e: &crate::AuditEntry<'_>) -> Result<crate::AuditRecord> {
        crate::audit::append_on(&self.tx, e)
    }

    /// Commits the dataset and returns its id.
    pub fn finish(self) -> Result<i64> {
        let DatasetWriter { insert, set_labels, set_split, reject, tx, dataset_id, .. } = self;
        drop((insert, set_labels, set_split, reject));
        tx.commit()?;
        Ok(dataset_id)
    }
}
