//! Streaming import of clinical notes into the LocalDx store: CSV and TSV (delimiter sniffed,
//! quoted multi-line fields, BOM), JSON Lines, and folders of `.txt` notes with a labels table
//! (the CodiEsp layout).
//!
//! An import reads its source twice and never holds it in memory: once to hash it (SHA-256, to
//! recognise a re-import) and check its encoding, once to parse rows and write them to the store
//! in one transaction. Every row is checked the same way whatever the format (missing text,
//! unknown split, wrong field count, invalid JSON); by default one bad row refuses the whole file
//! and lists every bad row by line, with [`ImportOptions::skip_bad_rows`] the good rows are stored
//! and the bad ones kept in the store's list of rejected rows.
//!
//! This crate never touches the network, never writes outside the store it is given, and never
//! changes the store when an import is refused or cancelled.

mod encoding;
mod folder;
mod import;
mod jsonl;
pub mod labels;
mod preview;
mod roles;
mod source;
mod split;
mod table;

pub use encoding::{Encoding, EncodingError, Scan};
pub use folder::{discover, FolderLayout, FolderPart};
pub use import::import;
pub use preview::{preview, Preview};
pub use roles::guess as guess_roles;
pub use labels::{Icd10Names, LabelMap};
pub use split::{parse_split_name, SplitRatios};
pub use table::sniff_delimiter;

use localdx_store::{Split, StoreError};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The kinds of source an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    /// A folder of `.txt` notes with a `doc_id<TAB>label` table.
    TextFolder,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::TextFolder => "text-folder",
        }
    }

    /// The format of `path`: a folder is a text folder, else by extension (`.tsv`/`.tab`,
    /// `.jsonl`/`.ndjson`), else CSV with a sniffed delimiter.
    pub fn detect(path: &Path) -> Format {
        if path.is_dir() {
            return Format::TextFolder;
        }
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        match ext.as_str() {
            "tsv" | "tab" => Format::Tsv,
            "jsonl" | "ndjson" => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = IngestError;
    fn from_str(s: &str) -> Result<Self, IngestError> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "tsv" => Ok(Format::Tsv),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "text-folder" | "folder" | "txt" => Ok(Format::TextFolder),
            other => Err(IngestError::UnknownFormat(other.to_owned())),
        }
    }
}

/// Which source column (CSV header name or JSON key) plays which role. Empty = guess all roles.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMapping {
    pub text: Option<String>,
    /// Label columns; each may hold several labels joined by [`ImportOptions::label_separator`].
    pub labels: Vec<String>,
    pub patient_id: Option<String>,
    /// The note's own id in the source.
    pub external_id: Option<String>,
    /// Values `train`, `validation` (or `dev`, `val`), `test`.
    pub split: Option<String>,
}

impl ColumnMapping {
    pub fn is_empty(&self) -> bool {
        *self == ColumnMapping::default()
    }
}

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// `None`: detected from the path.
    pub format: Option<Format>,
    /// Dataset name; default: the file or folder name.
    pub name: Option<String>,
    /// Explicit column mapping; when empty, the guessed roles are used (and said so in warnings).
    pub mapping: ColumnMapping,
    /// Splits a label cell into several labels (multi-label), e.g. `;` or `|`.
    pub label_separator: Option<String>,
    /// Store the good rows and keep the bad ones in the list of rejected rows, instead of refusing.
    pub skip_bad_rows: bool,
    /// Store one record per distinct text, carrying the labels of all its copies.
    pub merge_duplicates: bool,
    /// Import a file whose SHA-256 matches an existing dataset anyway.
    pub allow_reimport: bool,
    /// Seed of the split assignment (recorded with the dataset).
    pub seed: u64,
    pub ratios: SplitRatios,
    /// Text folders: which subfolder of each split folder holds the notes.
    pub text_subfolder: Option<String>,
    /// Text folders: the labels file in each split folder (`{split}` = folder name).
    pub labels_file: Option<String>,
    /// How labels are rewritten before they are stored (e.g. ICD-10-CM codes to categories).
    pub label_map: LabelMap,
    /// When the source names its splits but has no test split: the share of the validation
    /// split's groups (patients, or notes) moved to a test split, stratified, with `seed`.
    pub test_from_validation: Option<f64>,
    /// At most this many row errors are listed (all are counted).
    pub max_errors: usize,
    /// Who imports (recorded as `created_by` and in the event log).
    pub actor: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            name: None,
            mapping: ColumnMapping::default(),
            label_separator: None,
            skip_bad_rows: false,
            merge_duplicates: false,
            allow_reimport: false,
            seed: 42,
            ratios: SplitRatios::default(),
            text_subfolder: None,
            labels_file: None,
            label_map: LabelMap::AsWritten,
            test_from_validation: None,
            max_errors: 1000,
            actor: "local".to_owned(),
        }
    }
}

/// A row that could not be imported: where (file line, and file for multi-file sources) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub file: Option<String>,
    pub line: u64,
    pub message: String,
}

impl RowError {
    pub fn new(file: Option<String>, line: u64, message: String) -> Self {
        RowError { file, line, message }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A row whose text repeats an earlier row's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateRow {
    pub line: u64,
    pub first_line: u64,
}

/// Where the splits came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitSource {
    Column,
    Folder,
    /// Assigned by patient (or text), stratified by label, with the recorded seed.
    Assigned,
}

impl SplitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SplitSource::Column => "column",
            SplitSource::Folder => "folder",
            SplitSource::Assigned => "assigned",
        }
    }
}

/// What an import did (or, when refused, would have done).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// The new dataset; `None` when the import was refused because of bad rows.
    pub dataset_id: Option<i64>,
    pub name: String,
    pub format: Format,
    pub encoding: Encoding,
    pub delimiter: Option<char>,
    pub sha256: String,
    /// The mapping used (explicit, or guessed).
    pub mapping: ColumnMapping,
    /// Records stored (or that would have been stored).
    pub records: u64,
    /// Bad rows (all of them, including those beyond the listed `errors`).
    pub rejected: u64,
    /// Rows whose text repeats an earlier row's text.
    pub duplicates: u64,
    /// Distinct texts that occur more than once.
    pub duplicate_groups: u64,
    /// The first duplicate rows (at most `max_errors`).
    pub duplicate_rows: Vec<DuplicateRow>,
    pub merged_duplicates: bool,
    /// Bad rows, at most `max_errors` of them, in file order.
    pub errors: Vec<RowError>,
    pub warnings: Vec<String>,
    pub split_source: SplitSource,
    pub seed: Option<u64>,
    /// Records per split, in train/validation/test order.
    pub splits: Vec<(Split, u64)>,
    /// Distinct labels.
    pub labels: u64,
    /// Size of the source in bytes.
    pub bytes: u64,
}

/// Why an import (or preview) could not run at all. Row-level problems are not errors: they are
/// listed in [`ImportReport::errors`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file is not in a text encoding LocalDx reads.
    #[error("{path}: {source}")]
    Encoding { path: String, source: EncodingError },
    /// `--format` named something unknown.
    #[error("unknown format {0:?} (expected csv, tsv, jsonl or text-folder)")]
    UnknownFormat(String),
    /// The file has no header row or no rows.
    #[error("{path} is empty")]
    Empty { path: String },
    /// A mapped column is not in the file.
    #[error("no {role} column named {name:?}; the columns are: {}", available.join(", "))]
    MissingColumn { role: &'static str, name: String, available: Vec<String> },
    /// No column was named or recognised as holding the note text.
    #[error("which column holds the note text? None was recognised; name it with --text-column (columns: {})", available.join(", "))]
    NoTextColumn { available: Vec<String> },
    /// The folder does not have the expected layout.
    #[error("{0}")]
    Layout(String),
    /// The same source was imported before.
    #[error("this file was already imported as dataset {dataset_id} ({name:?}, {created_at}, SHA-256 {sha256}); use --allow-reimport to import it again")]
    AlreadyImported { dataset_id: i64, name: String, created_at: String, sha256: String },
    /// Every row was bad (with skip-bad-rows) or the source has no rows.
    #[error("nothing to import: no valid rows in {path}")]
    NoRecords { path: String },
    /// The user cancelled; nothing was stored.
    #[error("import cancelled; nothing was stored")]
    Cancelled,
    /// The import's options contradict each other or are out of range.
    #[error("{0}")]
    Options(String),
    /// The CSV reader failed below the row level (I/O while parsing).
    #[error("cannot parse {path}: {message}")]
    Csv { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IngestError::Io { path: path.display().to_string(), source }
    }
    pub(crate) fn csv(path: &Path, e: csv::Error) -> Self {
        IngestError::Csv { path: path.display().to_string(), message: e.to_string() }
    }
}
