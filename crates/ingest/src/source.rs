//! The row stream every input format is turned into: raw values by role, with the file line they
//! came from, or a row-level error. Validation (missing text, unknown split) happens later, in one
//! place, for every format.

use crate::{IngestError, RowError};

/// One row of a source, values still as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SourceRow {
    /// File the row came from, for multi-file sources (relative to the imported folder).
    pub file: Option<String>,
    /// 1-based line where the row starts.
    pub line: u64,
    pub text: Option<String>,
    /// Raw label values, one per label column (or per element of a JSON array), not yet split.
    pub labels: Vec<String>,
    pub patient_id: Option<String>,
    pub external_id: Option<String>,
    pub split: Option<String>,
}

pub(crate) enum Item {
    Row(SourceRow),
    Bad(RowError),
}

/// A streaming reader of rows.
pub(crate) trait Source {
    /// The next row or row error; `None` at the end.
    fn next_item(&mut self) -> Result<Option<Item>, IngestError>;
    /// Input consumed so far, in the unit of the progress total (bytes).
    fn done(&self) -> u64;
    /// Problems worth telling the user that are not row errors.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Column positions for each role, resolved against a header.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Columns {
    pub text: Option<usize>,
    pub labels: Vec<usize>,
    pub patient_id: Option<usize>,
    pub external_id: Option<usize>,
    pub split: Option<usize>,
}

/// Finds `name` among `header`: exact match first, then ignoring case and surrounding spaces.
pub(crate) fn find_column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name).or_else(|| {
        let want = name.trim().to_lowercase();
        header.iter().position(|h| h.trim().to_lowercase() == want)
    })
}

/// Resolves a mapping of column names against a header, refusing names that are not there.
pub(crate) fn resolve(header: &[String], mapping: &crate::ColumnMapping) -> Result<Columns, IngestError> {
    let find = |role: &'static str, name: &str| {
        find_column(header, name).ok_or_else(|| IngestError::MissingColumn {
            role,
            name: name.to_owned(),
            available: header.to_vec(),
        })
    };
    Ok(Columns {
        text: mapping.text.as_deref().map(|n| find("text", n)).transpose()?,
        labels: mapping.labels.iter().map(|n| find("label", n)).collect::<Result<_, _>>()?,
        patient_id: mapping.patient_id.as_deref().map(|n| find("patient id", n)).transpose()?,
        external_id: mapping.external_id.as_deref().map(|n| find("id", n)).transpose()?,
        split: mapping.split.as_deref().map(|n| find("split", n)).transpose()?,
    })
}
