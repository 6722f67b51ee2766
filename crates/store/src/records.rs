//! Datasets and their records: the domain types and the read side (listing, paging, search,
//! per-split and per-label counts). Writing goes through [`crate::DatasetWriter`].

use crate::{Result, Store, StoreError};
use localdx_access::{Grant, Reads};
use rusqlite::{params, OptionalExtension, Row};
use std::fmt;
use std::str::FromStr;

/// Which part of a dataset a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    /// The name stored in the database and shown to users: `train`, `validation`, `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A split name that is not `train`, `validation` or `test`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown split {0:?} (expected train, validation or test)")]
pub struct UnknownSplit(pub String);

impl FromStr for Split {
    type Err = UnknownSplit;
    /// Exactly the stored names; lenient spellings (`dev`, `val`) are the importer's business.
    fn from_str(s: &str) -> Result<Self, UnknownSplit> {
        match s {
            "train" => Ok(Split::Train),
            "validation" => Ok(Split::Validation),
            "test" => Ok(Split::Test),
            other => Err(UnknownSplit(other.to_owned())),
        }
    }
}

/// What is needed to create a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDataset {
    pub name: String,
    /// The file or folder it came from (none for derived datasets).
    pub source_path: Option<String>,
    /// `csv`, `tsv`, `jsonl`, `text-folder`, or e.g. `derived` for a redacted copy.
    pub format: String,
    /// How source columns map to record fields (JSON object).
    pub column_mapping: serde_json::Value,
    /// Hex SHA-256 of the source, used to recognise a re-import of the same file.
    pub source_sha256: Option<String>,
    /// The dataset this one was derived from.
    pub parent_id: Option<i64>,
    /// The seed used to assign splits, when they were assigned rather than read.
    pub seed: Option<u64>,
    /// Other import options worth keeping (JSON object).
    pub options: serde_json::Value,
    /// Who created it (user name; accounts come later).
    pub created_by: String,
}

/// A stored dataset with its record count.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: i64,
    pub name: String,
    pub source_path: Option<String>,
    pub format: String,
    pub column_mapping: serde_json::Value,
    pub source_sha256: Option<String>,
    pub parent_id: Option<i64>,
    pub seed: Option<u64>,
    pub options: serde_json::Value,
    pub created_at: String,
    pub created_by: String,
    pub records: u64,
    /// Rows of the source left out by an import with "skip bad rows".
    pub rejected: u64,
}

/// One record to insert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewRecord<'a> {
    pub external_id: Option<&'a str>,
    pub patient_id: Option<&'a str>,
    pub text: &'a str,
    pub labels: &'a [String],
    pub split: Split,
    /// Line of the source file where the record starts (1-based; 0 when not from a file).
    pub source_line: u64,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: i64,
    pub dataset_id: i64,
    pub external_id: Option<String>,
    pub patient_id: Option<String>,
    pub text: String,
    pub labels: Vec<String>,
    pub split: Split,
    pub source_line: u64,
}

/// A source row left out of a dataset, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub file: Option<String>,
    pub line: u64,
    pub message: String,
}

/// Counts for one dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetStats {
    pub records: u64,
    /// Every split, in train/validation/test order, zero counts included.
    pub per_split: Vec<(Split, u64)>,
    /// Records per label, most frequent first (ties by label).
    pub per_label: Vec<(String, u64)>,
    /// Records without any label.
    pub unlabelled: u64,
}

const DATASET_COLUMNS: &str = "d.id, d.name, d.source_path, d.format, d.column_mapping, d.source_sha256, d.parent_id,
     d.seed, d.options, d.created_at, d.created_by,
     (SELECT count(*) FROM records r WHERE r.dataset_id = d.id),
     (SELECT count(*) FROM rejected_rows j WHERE j.dataset_id = d.id)";

fn dataset_from_row(r: &Row<'_>) -> rusqlite::Result<(Dataset, String, String)> {
    let mapping: String = r.get(4)?;
    let options: String = r.get(8)?;
    let seed: Option<i64> = r.get(7)?;
    Ok((
        Dataset {
            id: r.get(0)?,
            name: r.get(1)?,
            source_path: r.get(2)?,
            format: r.get(3)?,
            column_mapping: serde_json::Value::Null,
            source_sha256: r.get(5)?,
            parent_id: r.get(6)?,
            seed: seed.map(|s| s as u64),
            options: serde_json::Value::Null,
            created_at: r.get(9)?,
            created_by: r.get(10)?,
            records: r.get::<_, i64>(11)? as u64,
            rejected: r.get::<_, i64>(12)? as u64,
        },
        mapping,
        options,
    ))
}

fn finish_dataset((mut d, mapping, options): (Dataset, String, String)) -> Result<Dataset> {
    d.column_mapping = serde_json::from_str(&mapping)?;
    d.options = serde_json::from_str(&options)?;
    Ok(d)
}

const RECORD_COLUMNS: &str = "id, dataset_id, external_id, patient_id, text, labels, split, source_line";

fn record_from_row(r: &Row<'_>) -> rusqlite::Result<(Record, String, String)> {
    Ok((
        Record {
            id: r.get(0)?,
            dataset_id: r.get(1)?,
            external_id: r.get(2)?,
            patient_id: r.get(3)?,
            text: r.get(4)?,
            labels: Vec::new(),
            split: Split::Train,
            source_line: r.get::<_, i64>(7)? as u64,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

fn finish_record((mut rec, labels, split): (Record, String, String)) -> Result<Record> {
    rec.labels = serde_json::from_str(&labels)?;
    rec.split = split.parse().map_err(|e: UnknownSplit| StoreError::Invalid(e.to_string()))?;
    Ok(rec)
}

/// `%needle%` for LIKE with `\` as the escape character.
fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// All datasets, oldest first.
    pub fn datasets(&self) -> Result<Vec<Dataset>> {
        let mut stmt = self.conn().prepare(&format!("SELECT {DATASET_COLUMNS} FROM datasets d ORDER BY d.id"))?;
        let rows = stmt.query_map([], dataset_from_row)?;
        rows.map(|r| finish_dataset(r?)).collect()
    }

    /// One dataset, if it exists.
    pub fn dataset(&self, id: i64) -> Result<Option<Dataset>> {
        let row = self
            .conn()
            .query_row(&format!("SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.id = ?1"), [id], dataset_from_row)
            .optional()?;
        row.map(finish_dataset).transpose()
    }

    /// Datasets imported from a source with this SHA-256 (hex), oldest first.
    pub fn datasets_by_sha256(&self, sha256: &str) -> Result<Vec<Dataset>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.source_sha256 = ?1 ORDER BY d.id"))?;
        let rows = stmt.query_map([sha256], dataset_from_row)?;
        rows.map(|r| finish_dataset(r?)).collect()
    }

    /// Refuses unless `grant` covers the text of `dataset_id`'s notes: any dataset for a command
    /// that reads raw text, a released version's for one that reads released text.
    fn may_read(&self, grant: &Grant, dataset_id: i64) -> Result<()> {
        let released = || -> Result<bool> {
            Ok(self.conn().query_row("SELECT EXISTS (SELECT 1 FROM releases WHERE version_dataset_id = ?1)", [dataset_id], |r| r.get(0))?)
        };
        match grant.reads() {
            Reads::Raw => Ok(()),
            Reads::Released if released()? => Ok(()),
            Reads::Released => Err(StoreError::NotGranted { command: grant.command(), what: format!("the raw notes of dataset {dataset_id} (only released versions)") }),
            Reads::Nothing => Err(StoreError::NotGranted { command: grant.command(), what: "note text".into() }),
        }
    }

    /// A page of records of a dataset in insertion order, for a `grant` that covers its text
    /// ([`StoreError::NotGranted`] otherwise). `search` keeps records whose text contains it,
    /// case-insensitively for ASCII letters (SQLite `LIKE`; `%` and `_` match literally). Search
    /// scans the dataset's texts: about 100,000 short notes per ~100 ms.
    pub fn records(&self, grant: &Grant, dataset_id: i64, offset: u64, limit: u64, search: Option<&str>) -> Result<Vec<Record>> {
        self.may_read(grant, dataset_id)?;
        let search = search.filter(|s| !s.is_empty());
        let sql = match search {
            Some(_) => format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE dataset_id = ?1 AND text LIKE ?4 ESCAPE '\\'
                 ORDER BY id LIMIT ?2 OFFSET ?3"
            ),
            // The page's ids come from the index, so a large offset skips rows without reading them.
            None => format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE id IN
                   (SELECT id FROM records WHERE dataset_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3)
                 ORDER BY id"
            ),
        };
        let limit = limit.min(i64::MAX as u64) as i64;
        let offset = offset.min(i64::MAX as u64) as i64;
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows: Vec<_> = match search {
            Some(s) => stmt
                .query_map(params![dataset_id, limit, offset, like_pattern(s)], record_from_row)?
                .collect::<rusqlite::Result<_>>()?,
            None => stmt.query_map(params![dataset_id, limit, offset], record_from_row)?.collect::<rusqlite::Result<_>>()?,
        };
        rows.into_iter().map(finish_record).collect()
    }

    /// How many records [`Store::records`] can page through with this `search`.
    pub fn record_count(&self, dataset_id: i64, search: Option<&str>) -> Result<u64> {
        let n: i64 = match search.filter(|s| !s.is_empty()) {
            Some(s) => self.conn().query_row(
                "SELECT count(*) FROM records WHERE dataset_id = ?1 AND text LIKE ?2 ESCAPE '\\'",
                params![dataset_id, like_pattern(s)],
                |r| r.get(0),
            )?,
            None => self.conn().query_row("SELECT count(*) FROM records WHERE dataset_id = ?1", [dataset_id], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    /// One record, if it exists, for a `grant` that covers its dataset's text.
    pub fn record(&self, grant: &Grant, id: i64) -> Result<Option<Record>> {
        let row = self
            .conn()
            .query_row(&format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"), [id], record_from_row)
            .optional()?;
        let Some(record) = row.map(finish_record).transpose()? else { return Ok(None) };
        self.may_read(grant, record.dataset_id)?;
        Ok(Some(record))
    }

    /// The dataset record `id` belongs to, if the record exists (no text, so no grant).
    pub fn dataset_of_record(&self, id: i64) -> Result<Option<i64>> {
        Ok(self.conn().query_row("SELECT dataset_id FROM records WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// The recorded labels of record `id`, if it exists: codes, not note text, so no grant.
    pub fn record_labels(&self, id: i64) -> Result<Option<Vec<String>>> {
        let labels: Option<String> = self.conn().query_row("SELECT labels FROM records WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        Ok(labels.map(|l| serde_json::from_str(&l)).transpose()?)
    }

    /// Counts per split and per label of one dataset.
    pub fn dataset_stats(&self, dataset_id: i64) -> Result<DatasetStats> {
        let mut stats = DatasetStats { per_split: Split::ALL.iter().map(|s| (*s, 0)).collect(), ..Default::default() };
        let mut stmt = self
            .conn()
            .prepare("SELECT split, count(*) FROM records WHERE dataset_id = ?1 GROUP BY split")?;
        let rows = stmt.query_map([dataset_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (split, n) = row?;
            let split: Split = split.parse().map_err(|e: UnknownSplit| StoreError::Invalid(e.to_string()))?;
            stats.records += n as u64;
            if let Some(slot) = stats.per_split.iter_mut().find(|(s, _)| *s == split) {
                slot.1 = n as u64;
            }
        }
        let mut stmt = self.conn().prepare(
            "SELECT j.value, count(*) AS n FROM records r, json_each(r.labels) j
             WHERE r.dataset_id = ?1 GROUP BY j.value ORDER BY n DESC, j.value",
        )?;
        let rows = stmt.query_map([dataset_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        stats.per_label = rows.collect::<rusqlite::Result<_>>()?;
        stats.unlabelled = self.conn().query_row(
            "SELECT count(*) FROM records WHERE dataset_id = ?1 AND labels = '[]'",
            [dataset_id],
            |r| r.get::<_, i64>(0),
        )? as u64;
        Ok(stats)
    }

    /// The source rows an import left out of this dataset, in file order.
    pub fn rejections(&self, dataset_id: i64) -> Result<Vec<Rejection>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT file, line, message FROM rejected_rows WHERE dataset_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([dataset_id], |r| {
            Ok(Rejection { file: r.get(0)?, line: r.get::<_, i64>(1)? as u64, message: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Creates a dataset from `records` in one transaction (e.g. a redacted copy) and returns its id.
    /// Nothing is stored if any insert fails.
    pub fn create_dataset<'r>(&self, new: &NewDataset, records: impl IntoIterator<Item = NewRecord<'r>>) -> Result<i64> {
        let mut writer = self.dataset_writer(new)?;
        for record in records {
            writer.insert(&record)?;
        }
        writer.finish()
    }
}
