//! Datasets: import preview, import, listing, and browsing records. Converts between the JSON
//! DTOs (camelCase) used by the desktop shell and the CLI and the domain types of
//! `localdx-ingest` and `localdx-store`; all the work happens in those crates.
//!
//! Nothing here reads files itself or touches the network.

use crate::Permit;
use crate::{Api, ApiError, ErrorCode, Result};
use localdx_ingest::{ColumnMapping, Format, ImportOptions, ImportReport, IngestError, LabelMap, SplitRatios};
use localdx_job::{Cancel, Reporter};
use localdx_store::{Dataset, Record, Split};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Import options as the UI and the CLI send them. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportOptionsDto {
    /// `csv`, `tsv`, `jsonl` or `text-folder`; detected from the path when absent.
    pub format: Option<String>,
    /// Dataset name; default: the file or folder name.
    pub name: Option<String>,
    pub text_column: Option<String>,
    /// One label column (shorthand for a one-element `labelColumns`).
    pub label_column: Option<String>,
    pub label_columns: Vec<String>,
    /// Splits label cells into several labels, e.g. `;`.
    pub label_separator: Option<String>,
    pub patient_column: Option<String>,
    /// Column with the note's own id.
    pub id_column: Option<String>,
    /// Column with `train` / `validation` (`dev`) / `test`.
    pub split_column: Option<String>,
    pub skip_bad_rows: bool,
    pub merge_duplicates: bool,
    pub allow_reimport: bool,
    /// Seed of the split assignment (default 42).
    pub seed: Option<u64>,
    /// Shares of train, validation, test when splits are assigned (default 0.8, 0.1, 0.1).
    pub split_ratios: Option<[f64; 3]>,
    /// Text folders: the subfolder holding the notes, e.g. `text_files_en`.
    pub text_subfolder: Option<String>,
    /// Text folders: the labels file in each split folder (`{split}` = folder name).
    pub labels_file: Option<String>,
    /// `as-written` (default) or `icd10-category` (ICD-10-CM codes rolled up to their category).
    pub label_map: Option<String>,
    /// Sources that name train and validation but no test split: the share of validation moved to
    /// a test split (stratified, by patient, with `seed`).
    pub test_from_validation: Option<f64>,
    /// How many row errors to list (default 1000; all are counted).
    pub max_errors: Option<usize>,
    /// Who imports (default: `local`).
    pub actor: Option<String>,
    /// Preview only: how many rows to show (default 10).
    pub preview_rows: Option<usize>,
}

impl ImportOptionsDto {
    /// The validated options (stage two of parsing).
    pub fn to_options(&self) -> Result<ImportOptions> {
        let format = match self.format.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => Some(f.parse::<Format>().map_err(|e| ApiError::invalid(e.to_string()))?),
            None => None,
        };
        let mut labels: Vec<String> = self.label_column.iter().cloned().collect();
        labels.extend(self.label_columns.iter().cloned());
        let defaults = ImportOptions::default();
        if let Some(r) = self.split_ratios {
            if r.iter().any(|x| !x.is_finite() || *x < 0.0) || r.iter().sum::<f64>() <= 0.0 {
                return Err(ApiError::invalid("split ratios must be three non-negative numbers with a positive sum"));
            }
        }
        Ok(ImportOptions {
            format,
            name: self.name.clone().filter(|n| !n.trim().is_empty()),
            mapping: ColumnMapping {
                text: self.text_column.clone(),
                labels,
                patient_id: self.patient_column.clone(),
                external_id: self.id_column.clone(),
                split: self.split_column.clone(),
            },
            label_separator: self.label_separator.clone().filter(|s| !s.is_empty()),
            skip_bad_rows: self.skip_bad_rows,
            merge_duplicates: self.merge_duplicates,
            allow_reimport: self.allow_reimport,
            seed: self.seed.unwrap_or(defaults.seed),
            ratios: self.split_ratios.map(SplitRatios).unwrap_or_default(),
            text_subfolder: self.text_subfolder.clone().filter(|s| !s.is_empty()),
            labels_file: self.labels_file.clone().filter(|s| !s.is_empty()),
            label_map: self.label_map.as_deref().unwrap_or_default().parse::<LabelMap>().map_err(ApiError::invalid)?,
            test_from_validation: self.test_from_validation,
            max_errors: self.max_errors.unwrap_or(defaults.max_errors),
            actor: self.actor.clone().unwrap_or(defaults.actor),
        })
    }
}

/// Which column plays which role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolesDto {
    pub text: Option<String>,
    pub labels: Vec<String>,
    pub patient_id: Option<String>,
    pub note_id: Option<String>,
    pub split: Option<String>,
}

impl From<&ColumnMapping> for RolesDto {
    fn from(m: &ColumnMapping) -> Self {
        RolesDto {
            text: m.text.clone(),
            labels: m.labels.clone(),
            patient_id: m.patient_id.clone(),
            note_id: m.external_id.clone(),
            split: m.split.clone(),
        }
    }
}

/// A first look at a file or folder before importing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewDto {
    pub format: String,
    pub delimiter: Option<String>,
    pub encoding: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Guessed roles (or the ones named in the options).
    pub roles: RolesDto,
    /// Text folders: subfolders that hold notes (choices for `textSubfolder`).
    pub text_subfolders: Vec<String>,
    pub warnings: Vec<String>,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowErrorDto {
    /// For folders: the file, relative to the folder.
    pub file: Option<String>,
    pub line: u64,
    pub message: String,
}

/// A row whose text repeats an earlier row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateDto {
    pub line: u64,
    pub first_line: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitCountDto {
    pub split: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelCountDto {
    pub label: String,
    pub count: u64,
}

/// What an import did. `datasetId` is null when bad rows refused it (then nothing was stored and
/// `errors` lists them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReportDto {
    pub dataset_id: Option<i64>,
    pub imported: bool,
    pub name: String,
    pub format: String,
    pub encoding: String,
    pub delimiter: Option<String>,
    pub sha256: String,
    pub mapping: RolesDto,
    pub records: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub duplicate_groups: u64,
    pub duplicate_rows: Vec<DuplicateDto>,
    pub merged_duplicates: bool,
    pub errors: Vec<RowErrorDto>,
    pub warnings: Vec<String>,
    /// `column`, `folder` or `assigned`.
    pub split_source: String,
    pub seed: Option<u64>,
    pub splits: Vec<SplitCountDto>,
    /// Distinct labels.
    pub labels: u64,
    pub bytes: u64,
}

impl From<ImportReport> for ImportReportDto {
    fn from(r: ImportReport) -> Self {
        ImportReportDto {
            dataset_id: r.dataset_id,
            imported: r.dataset_id.is_some(),
            name: r.name,
            format: r.format.as_str().to_owned(),
            encoding: r.encoding.as_str().to_owned(),
            delimiter: r.delimiter.map(String::from),
            sha256: r.sha256,
            mapping: RolesDto::from(&r.mapping),
            records: r.records,
            rejected: r.rejected,
            duplicates: r.duplicates,
            duplicate_groups: r.duplicate_groups,
            duplicate_rows: r.duplicate_rows.iter().map(|d| DuplicateDto { line: d.line, first_line: d.first_line }).collect(),
            merged_duplicates: r.merged_duplicates,
            errors: r.errors.into_iter().map(|e| RowErrorDto { file: e.file, line: e.line, message: e.message }).collect(),
            warnings: r.warnings,
            split_source: r.split_source.as_str().to_owned(),
            seed: r.seed,
            splits: splits(&r.splits),
            labels: r.labels,
            bytes: r.bytes,
        }
    }
}

fn splits(counts: &[(Split, u64)]) -> Vec<SplitCountDto> {
    counts.iter().map(|(s, n)| SplitCountDto { split: s.as_str().to_owned(), count: *n }).collect()
}

/// One dataset in a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetDto {
    pub id: i64,
    pub name: String,
    pub format: String,
    pub source_path: Option<String>,
    pub sha256: Option<String>,
    pub parent_id: Option<i64>,
    pub seed: Option<u64>,
    pub created_at: String,
    pub created_by: String,
    pub records: u64,
    pub rejected: u64,
}

impl From<&Dataset> for DatasetDto {
    fn from(d: &Dataset) -> Self {
        DatasetDto {
            id: d.id,
            name: d.name.clone(),
            format: d.format.clone(),
            source_path: d.source_path.clone(),
            sha256: d.source_sha256.clone(),
            parent_id: d.parent_id,
            seed: d.seed,
            created_at: d.created_at.clone(),
            created_by: d.created_by.clone(),
            records: d.records,
            rejected: d.rejected,
        }
    }
}

/// One dataset with its counts per split and per label.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetDetailDto {
    #[serde(flatten)]
    pub dataset: DatasetDto,
    pub column_mapping: serde_json::Value,
    pub options: serde_json::Value,
    pub splits: Vec<SplitCountDto>,
    /// Most frequent first.
    pub labels: Vec<LabelCountDto>,
    pub unlabelled: u64,
    /// Rows an import with "skip bad rows" left out (at most 1000 listed).
    pub rejected_rows: Vec<RowErrorDto>,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordDto {
    pub id: i64,
    pub dataset_id: i64,
    pub external_id: Option<String>,
    pub patient_id: Option<String>,
    pub text: String,
    pub labels: Vec<String>,
    pub split: String,
    pub source_line: u64,
}

impl From<Record> for RecordDto {
    fn from(r: Record) -> Self {
        RecordDto {
            id: r.id,
            dataset_id: r.dataset_id,
            external_id: r.external_id,
            patient_id: r.patient_id,
            text: r.text,
            labels: r.labels,
            split: r.split.as_str().to_owned(),
            source_line: r.source_line,
        }
    }
}

/// A page of records and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordPageDto {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub records: Vec<RecordDto>,
}

/// The most records one page returns.
pub const MAX_PAGE: u64 = 1000;

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let code = match &e {
            IngestError::Cancelled => ErrorCode::Cancelled,
            IngestError::Store(_) => ErrorCode::Store,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

impl Api {
    /// Format, delimiter, encoding, columns, first rows and guessed roles of `path`.
    pub fn preview_import(&self, path: &Path, options: &ImportOptionsDto) -> Result<PreviewDto> {
        self.check(crate::Command::ImportDataset)?;
        let opts = options.to_options()?;
        let p = localdx_ingest::preview(path, &opts, options.preview_rows.unwrap_or(10))?;
        Ok(PreviewDto {
            format: p.format.as_str().to_owned(),
            delimiter: p.delimiter.map(String::from),
            encoding: p.encoding.as_str().to_owned(),
            columns: p.columns,
            rows: p.rows,
            roles: RolesDto::from(&p.roles),
            text_subfolders: p.text_subfolders,
            warnings: p.warnings,
        })
    }

    /// Imports `path` as a new dataset, reporting bytes read through `reporter`; a cancel rolls
    /// everything back (error code `cancelled`). Bad rows refuse the import unless
    /// `skipBadRows`: the report then has `datasetId: null` and lists them.
    pub fn import(&self, path: &Path, options: &ImportOptionsDto, reporter: &dyn Reporter, cancel: &Cancel) -> Result<ImportReportDto> {
        let store = self.permit(crate::Command::ImportDataset)?;
        let mut opts = options.to_options()?;
        opts.actor = self.actor().to_owned();
        Ok(localdx_ingest::import(&store, path, &opts, reporter, cancel)?.into())
    }

    /// All datasets, oldest first.
    pub fn datasets(&self) -> Result<Vec<DatasetDto>> {
        let store = self.permit(crate::Command::ListDatasets)?;
        Ok(store.datasets()?.iter().map(DatasetDto::from).collect())
    }

    fn dataset_or_404(&self, store: &Permit<'_>, id: i64) -> Result<Dataset> {
        store.dataset(id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {id}")))
    }

    /// One dataset with counts per split and per label.
    pub fn dataset(&self, id: i64) -> Result<DatasetDetailDto> {
        let store = self.permit(crate::Command::ViewDataset)?;
        let d = self.dataset_or_404(&store, id)?;
        let stats = store.dataset_stats(id)?;
        let rejected_rows = store
            .rejections(id)?
            .into_iter()
            .take(1000)
            .map(|r| RowErrorDto { file: r.file, line: r.line, message: r.message })
            .collect();
        Ok(DatasetDetailDto {
            dataset: DatasetDto::from(&d),
            column_mapping: d.column_mapping,
            options: d.options,
            splits: splits(&stats.per_split),
            labels: stats.per_label.into_iter().map(|(label, count)| LabelCountDto { label, count }).collect(),
            unlabelled: stats.unlabelled,
            rejected_rows,
        })
    }

    /// A page of a dataset's records (at most [`MAX_PAGE`]), optionally only those whose text
    /// contains `search` (case-insensitive).
    pub fn records(&self, dataset_id: i64, offset: u64, limit: u64, search: Option<&str>) -> Result<RecordPageDto> {
        let store = self.permit(crate::Command::ReadRawRecords)?;
        self.dataset_or_404(&store, dataset_id)?;
        let limit = limit.min(MAX_PAGE);
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let total = store.record_count(dataset_id, search)?;
        let records = store.records(dataset_id, offset, limit, search)?.into_iter().map(RecordDto::from).collect();
        Ok(RecordPageDto { total, offset, limit, records })
    }

    /// One record.
    pub fn record(&self, id: i64) -> Result<RecordDto> {
        let store = self.permit(crate::Command::ReadRawRecords)?;
        let r = store.record(id)?.ok_or_else(|| ApiError::not_found(format!("no record {id}")))?;
        Ok(r.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> (tempfile::TempDir, Api) {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::open(&dir.path().join("db.sqlite"), None).unwrap();
        (dir, api)
    }

    #[test]
    fn import_browse_and_wire_names() {
        let (dir, api) = api();
        let path = dir.path().join("notes.csv");
        std::fs::write(&path, "id,note,dx\n1,Chest pain,angina\n2,,flu\n3,chest tightness,angina\n").unwrap();
        let opts: ImportOptionsDto =
            serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "dx"})).unwrap();
        let refused = api.import(&path, &opts, &(), &Cancel::new()).unwrap();
        assert_eq!((refused.dataset_id, refused.rejected), (None, 1));
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["errors"][0]["line"], 3);
        assert!(json.get("datasetId").is_some() && json.get("duplicateGroups").is_some());

        let opts = ImportOptionsDto { skip_bad_rows: true, ..opts };
        let report = api.import(&path, &opts, &(), &Cancel::new()).unwrap();
        let id = report.dataset_id.unwrap();
        let page = api.records(id, 0, 10, Some("CHEST")).unwrap();
        assert_eq!((page.total, page.records.len()), (2, 2));
        assert_eq!(api.record(page.records[0].id).unwrap().text, "Chest pain");
        let detail = api.dataset(id).unwrap();
        assert_eq!(detail.labels, vec![LabelCountDto { label: "angina".into(), count: 2 }]);
        assert_eq!(detail.rejected_rows.len(), 1);
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["id"], id);
        assert!(json.get("createdAt").is_some() && json.get("splits").is_some());
        assert_eq!(api.datasets().unwrap().len(), 1);

        // Negative rows: unknown ids, formats and re-imports are errors with codes.
        assert_eq!(api.dataset(id + 1).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(api.record(9999).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(api.records(id + 1, 0, 10, None).unwrap_err().code, ErrorCode::NotFound);
        let bad = ImportOptionsDto { format: Some("xlsx".into()), ..Default::default() };
        assert_eq!(api.import(&path, &bad, &(), &Cancel::new()).unwrap_err().code, ErrorCode::InvalidInput);
        let again = api.import(&path, &opts, &(), &Cancel::new()).unwrap_err();
        assert!(again.message.contains(&format!("dataset {id}")), "{}", again.message);
    }

    #[test]
    fn preview_reports_guessed_roles() {
        let (dir, api) = api();
        let path = dir.path().join("notes.tsv");
        std::fs::write(&path, "note_id\ttext\tdiagnosis\n1\tshort of breath on exertion\tI50.9\n").unwrap();
        let p = api.preview_import(&path, &ImportOptionsDto::default()).unwrap();
        assert_eq!((p.format.as_str(), p.delimiter.as_deref()), ("tsv", Some("\t")));
        assert_eq!(p.roles.text.as_deref(), Some("text"));
        assert_eq!(p.roles.labels, vec!["diagnosis".to_owned()]);
        assert_eq!(p.roles.note_id.as_deref(), Some("note_id"));
        let json = serde_json::to_value(&p).unwrap();
        assert!(json["roles"].get("noteId").is_some() && json.get("textSubfolders").is_some());
    }
}
