//! The import driver: plans the read (format, encoding, delimiter, mapping), checks the source's
//! hash against earlier imports, then streams rows through one validation path into one store
//! transaction, detecting duplicate texts and assigning splits on the way.

use crate::encoding::{scan, Encoding};
use crate::folder::{discover, FolderSource};
use crate::jsonl::JsonlSource;
use crate::preview::{effective_mapping, sample_jsonl, sample_table, table_delimiter};
use crate::source::{find_column, resolve, Item, Source, SourceRow};
use crate::labels::LabelMap;
use crate::split::{parse_split_name, Assigner, GroupKey, SplitRatios};
use crate::table::TableSource;
use crate::{
    ColumnMapping, DuplicateRow, Format, ImportOptions, ImportReport, IngestError, RowError, SplitSource,
};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_store::{DatasetWriter, NewDataset, NewRecord, Split, Store};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

/// 128 bits of the SHA-256 of `parts`: a collision-free key for texts and patients.
fn key(parts: &[&[u8]]) -> GroupKey {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

/// Splits label cells on the separator, trims, drops empties and repeats (order kept).
fn labels_of(raw: &[String], separator: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |l: &str| {
        let l = l.trim();
        if !l.is_empty() && !out.iter().any(|x| x == l) {
            out.push(l.to_owned());
        }
    };
    for cell in raw {
        match separator.filter(|s| !s.is_empty()) {
            Some(sep) => cell.split(sep).for_each(&mut push),
            None => push(cell),
        }
    }
    out
}

/// Applies the import's label map to one row's labels, dropping repeats the map creates
/// (`r50.9` and `r50.2` are both `R50`).
fn map_labels(labels: Vec<String>, map: LabelMap) -> Result<Vec<String>, String> {
    if map == LabelMap::AsWritten {
        return Ok(labels);
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for l in labels {
        let m = map.apply(&l)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// A reader that fails once the user cancels, so that hashing a large file stops promptly.
struct CancelRead<'c, R> {
    inner: R,
    cancel: &'c Cancel,
}

impl<R: std::io::Read> std::io::Read for CancelRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        self.inner.read(buf)
    }
}

/// Everything decided before the first row is read.
struct Plan {
    format: Format,
    encoding: Encoding,
    delimiter: Option<u8>,
    sha256: String,
    bytes: u64,
    mapping: ColumnMapping,
    source: Box<dyn Source>,
    warnings: Vec<String>,
    split_source: SplitSource,
}

fn plan(path: &Path, opts: &ImportOptions, reporter: &dyn Reporter, cancel: &Cancel, store: &Store) -> Result<Plan, IngestError> {
    let format = opts.format.unwrap_or_else(|| Format::detect(path));
    let mut warnings = Vec::new();
    let (sha256, bytes, encoding) = if format == Format::TextFolder {
        if !path.is_dir() {
            return Err(IngestError::Layout(format!("{} is not a folder", path.display())));
        }
        let layout = discover(path, opts.text_subfolder.as_deref(), opts.labels_file.as_deref())?;
        (layout.sha256()?, layout.bytes, Encoding::Utf8)
    } else {
        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let size = file.metadata().map(|m| m.len()).ok();
        let mut meter = Meter::new("checking", "bytes", size, reporter);
        let reader = CancelRead { inner: file, cancel };
        let scanned = scan(std::io::BufReader::with_capacity(1 << 20, reader), |n| meter.tick(n))
            .map_err(|e| if cancel.is_cancelled() { IngestError::Cancelled } else { IngestError::io(path, e) })?
            .map_err(|source| IngestError::Encoding { path: path.display().to_string(), source })?;
        meter.finish(scanned.size);
        if scanned.encoding == Encoding::Windows1252 {
            warnings.push("the file is not valid UTF-8; it was read as Windows-1252 (Latin-1) and converted".to_owned());
        }
        (scanned.sha256, scanned.size, scanned.encoding)
    };
    if !opts.allow_reimport {
        if let Some(d) = store.datasets_by_sha256(&sha256)?.into_iter().next() {
            return Err(IngestError::AlreadyImported { dataset_id: d.id, name: d.name, created_at: d.created_at, sha256 });
        }
    }
    let mut delimiter = None;
    let (mapping, source): (ColumnMapping, Box<dyn Source>) = match format {
        Format::TextFolder => {
            let layout = discover(path, opts.text_subfolder.as_deref(), opts.labels_file.as_deref())?;
            let mapping = ColumnMapping {
                text: Some(layout.parts.first().map(|p| p.text_dir.display().to_string()).unwrap_or_default()),
                labels: layout.parts.iter().filter_map(|p| p.labels_file.as_ref()).map(|p| p.display().to_string()).collect(),
                patient_id: None,
                external_id: Some("file name".to_owned()),
                split: layout.parts.iter().any(|p| p.split.is_some()).then(|| "folder".to_owned()),
            };
            (mapping, Box::new(FolderSource::new(layout)))
        }
        Format::Jsonl => {
            let (keys, sample) = sample_jsonl(path, encoding, 50)?;
            let mapping = effective_mapping(&opts.mapping, &keys, &sample);
            if let Some(text) = &mapping.text {
                if !keys.is_empty() && find_column(&keys, text).is_none() {
                    return Err(IngestError::MissingColumn { role: "text", name: text.clone(), available: keys });
                }
            }
            (mapping.clone(), Box::new(JsonlSource::open(path, encoding, mapping)?))
        }
        Format::Csv | Format::Tsv => {
            let d = table_delimiter(path, format, encoding)?;
            delimiter = Some(d);
            let (mut source, header) = TableSource::open(path, encoding, d)?;
            let mapping = if opts.mapping.is_empty() {
                let (_, sample) = sample_table(path, encoding, d, 50)?;
                effective_mapping(&opts.mapping, &header, &sample)
            } else {
                opts.mapping.clone()
            };
            if mapping.text.is_none() {
                return Err(IngestError::NoTextColumn { available: header });
            }
            source.set_columns(resolve(&header, &mapping)?);
            (mapping, Box::new(source))
        }
    };
    if format != Format::TextFolder {
        if mapping.text.is_none() {
            return Err(IngestError::NoTextColumn { available: Vec::new() });
        }
        if opts.mapping.is_empty() {
            warnings.push(format!(
                "no columns named: using the guessed ones (text: {}, labels: {}, patient id: {}, id: {}, split: {})",
                mapping.text.as_deref().unwrap_or("-"),
                if mapping.labels.is_empty() { "-".to_owned() } else { mapping.labels.join(", ") },
                mapping.patient_id.as_deref().unwrap_or("-"),
                mapping.external_id.as_deref().unwrap_or("-"),
                mapping.split.as_deref().unwrap_or("-"),
            ));
        }
    }
    let split_source = match (format, &mapping.split) {
        (Format::TextFolder, Some(_)) => SplitSource::Folder,
        (Format::TextFolder, None) => SplitSource::Assigned,
        (_, Some(_)) => SplitSource::Column,
        (_, None) => SplitSource::Assigned,
    };
    Ok(Plan { format, encoding, delimiter, sha256, bytes, mapping, source, warnings, split_source })
}

/// What is remembered about each distinct text.
struct Seen {
    first_line: u64,
    /// Set when merging duplicates: the stored record and its growing label set.
    record: Option<(i64, Vec<String>)>,
    changed: bool,
    copies: u64,
}

/// Imports `path` into `store` as a new dataset. Returns the report; when bad rows refuse the
/// import (the default) the report has no `dataset_id` and the store is unchanged.
///
/// The steps: plan the read, open the dataset's transaction, stream the rows through one
/// validation path, report, and (unless bad rows refused the import) commit.
pub fn import(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<ImportReport, IngestError> {
    let mut plan = plan(path, opts, reporter, cancel, store)?;
    let name = dataset_name(path, opts);
    let seed = (plan.split_source == SplitSource::Assigned || opts.test_from_validation.is_some()).then_some(opts.seed);
    let new = new_dataset(path, opts, &plan, &name, seed);
    let mut writer = store.dataset_writer(&new)?;
    let mut meter = Meter::new("import", "bytes", Some(plan.bytes), reporter);
    let mut splits = Splits::new(opts)?;
    let rows = RowCheck {
        opts,
        format: plan.format,
        split_source: plan.split_source,
        split_column: plan.mapping.split.clone(),
        text_name: plan.mapping.text.clone().unwrap_or_default(),
    };
    let mut tally = Tally::default();
    read_rows(&mut *plan.source, &rows, &mut splits, &mut writer, &mut tally, &mut meter, cancel)?;
    meter.finish(plan.bytes);
    let report = report(plan, name, seed, &mut tally, opts);
    if tally.rejected > 0 && !opts.skip_bad_rows {
        // All or nothing: dropping the writer rolls the transaction back.
        drop(writer);
        return Ok(report);
    }
    if tally.records == 0 {
        return Err(IngestError::NoRecords { path: path.display().to_string() });
    }
    let dataset_id = commit(writer, &tally, &new, &report, opts)?;
    Ok(ImportReport { dataset_id: Some(dataset_id), ..report })
}

/// The dataset's name: the one asked for, else the file's stem.
fn dataset_name(path: &Path, opts: &ImportOptions) -> String {
    opts.name.clone().unwrap_or_else(|| {
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".to_owned())
    })
}

/// The dataset row: where it came from and every option that shaped it, so that it can be redone.
fn new_dataset(path: &Path, opts: &ImportOptions, plan: &Plan, name: &str, seed: Option<u64>) -> NewDataset {
    let source_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    NewDataset {
        name: name.to_owned(),
        source_path: Some(source_path.display().to_string()),
        format: plan.format.as_str().to_owned(),
        column_mapping: serde_json::to_value(&plan.mapping).unwrap_or_default(),
        source_sha256: Some(plan.sha256.clone()),
        parent_id: None,
        seed,
        options: serde_json::json!({
            "labelSeparator": opts.label_separator,
            "mergeDuplicates": opts.merge_duplicates,
            "skipBadRows": opts.skip_bad_rows,
            "splitSource": plan.split_source.as_str(),
            "ratios": opts.ratios.0,
            "encoding": plan.encoding.as_str(),
            "delimiter": plan.delimiter.map(|d| (d as char).to_string()),
            "labelMap": opts.label_map.as_str(),
            "testFromValidation": opts.test_from_validation,
        }),
        created_by: opts.actor.clone(),
    }
}

/// How rows get their split: assigned (grouped by patient, stratified by first label), or as the
/// source named it.
struct Splits {
    assigner: Assigner,
    /// Carves a test split out of a validation split the source named (grouped and stratified
    /// like an assigned split, with the same seed).
    holdout: Option<Assigner>,
}

impl Splits {
    fn new(opts: &ImportOptions) -> Result<Splits, IngestError> {
        let holdout = match opts.test_from_validation {
            Some(share) if !(share > 0.0 && share < 1.0) => {
                return Err(IngestError::Options(format!("the share of validation moved to test must be between 0 and 1, not {share}")))
            }
            Some(share) => Some(Assigner::new(opts.seed, SplitRatios([0.0, 1.0 - share, share]))),
            None => None,
        };
        Ok(Splits { assigner: Assigner::new(opts.seed, opts.ratios), holdout })
    }

    fn split_of(&mut self, given: Option<Split>, group: GroupKey, stratum: &str) -> Split {
        match (given, self.holdout.as_mut()) {
            (Some(Split::Validation), Some(holdout)) => holdout.assign(group, stratum),
            (Some(s), _) => s,
            (None, _) => self.assigner.assign(group, stratum),
        }
    }
}

/// What the row loop has counted and remembered so far.
#[derive(Default)]
struct Tally {
    seen: HashMap<GroupKey, Seen>,
    errors: Vec<RowError>,
    rejected: u64,
    duplicates: u64,
    duplicate_rows: Vec<DuplicateRow>,
    split_counts: [u64; 3],
    labels_seen: HashSet<String>,
    records: u64,
}

impl Tally {
    /// Counts a bad row, keeps it as a rejection when bad rows are skipped, and keeps its error
    /// for the report (the first `max_errors` of them).
    fn bad(&mut self, e: RowError, writer: &mut DatasetWriter<'_>, opts: &ImportOptions) -> Result<(), IngestError> {
        self.rejected += 1;
        if opts.skip_bad_rows {
            writer.reject(e.file.as_deref(), e.line, &e.message)?;
        }
        if self.errors.len() < opts.max_errors {
            self.errors.push(e);
        }
        Ok(())
    }

    /// Counts a row whose text an earlier row had. When duplicates are merged, its labels join the
    /// earlier record's and it returns true: the row is done (a merged record keeps the split of
    /// its first copy).
    fn duplicate(&mut self, text_key: GroupKey, line: u64, labels: &[String], opts: &ImportOptions) -> bool {
        let Some(prev) = self.seen.get_mut(&text_key) else { return false };
        self.duplicates += 1;
        prev.copies += 1;
        if self.duplicate_rows.len() < opts.max_errors {
            self.duplicate_rows.push(DuplicateRow { line, first_line: prev.first_line });
        }
        let Some((_, merged)) = prev.record.as_mut() else { return false };
        for l in labels {
            if !merged.contains(l) {
                self.labels_seen.insert(l.clone());
                merged.push(l.clone());
                prev.changed = true;
            }
        }
        true
    }
}

/// The fixed inputs of the one validation path every row goes through.
struct RowCheck<'o> {
    opts: &'o ImportOptions,
    format: Format,
    split_source: SplitSource,
    /// The split column's name, for the message when a row leaves it empty.
    split_column: Option<String>,
    /// The text column's name, for the message when a row leaves it empty.
    text_name: String,
}

impl RowCheck<'_> {
    fn missing_text(&self) -> String {
        if self.format == Format::TextFolder {
            "missing text: the note is empty".to_owned()
        } else {
            format!("missing text: {:?} is empty", self.text_name)
        }
    }

    /// The split the source named for a row, `None` when splits are assigned; an error message
    /// when the name is unknown or a split column is empty.
    fn given_split(&self, split: Option<&str>) -> Result<Option<Split>, String> {
        match (&self.split_source, split.map(str::trim)) {
            (SplitSource::Column | SplitSource::Folder, Some(s)) if !s.is_empty() => match parse_split_name(s) {
                Some(split) => Ok(Some(split)),
                None => Err(format!("unknown split {s:?} (expected train, validation or test)")),
            },
            (SplitSource::Column, _) => Err(format!("missing split: {:?} is empty", self.split_column.as_deref().unwrap_or_default())),
            _ => Ok(None),
        }
    }
}

/// Streams the source's rows into the writer, stopping when the user cancels.
fn read_rows(
    source: &mut dyn Source,
    rows: &RowCheck,
    splits: &mut Splits,
    writer: &mut DatasetWriter<'_>,
    tally: &mut Tally,
    meter: &mut Meter,
    cancel: &Cancel,
) -> Result<(), IngestError> {
    while let Some(item) = source.next_item()? {
        if cancel.is_cancelled() {
            return Err(IngestError::Cancelled);
        }
        meter.tick(source.done());
        match item {
            Item::Row(row) => add_row(row, rows, splits, writer, tally)?,
            Item::Bad(e) => tally.bad(e, writer, rows.opts)?,
        }
    }
    Ok(())
}

/// One row: its text, split and labels checked (a bad row is counted, not stored), duplicates
/// noted or merged, its split assigned, stored unless bad rows already refused the import.
fn add_row(row: SourceRow, rows: &RowCheck, splits: &mut Splits, writer: &mut DatasetWriter<'_>, tally: &mut Tally) -> Result<(), IngestError> {
    let opts = rows.opts;
    let SourceRow { file, line, text, labels, patient_id, external_id, split } = row;
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return tally.bad(RowError::new(file, line, rows.missing_text()), writer, opts);
    };
    let given_split = match rows.given_split(split.as_deref()) {
        Ok(split) => split,
        Err(m) => return tally.bad(RowError::new(file, line, m), writer, opts),
    };
    let labels = match map_labels(labels_of(&labels, opts.label_separator.as_deref()), opts.label_map) {
        Ok(labels) => labels,
        Err(m) => return tally.bad(RowError::new(file, line, m), writer, opts),
    };
    let text_key = key(&[b"text", text.trim().as_bytes()]);
    if tally.duplicate(text_key, line, &labels, opts) {
        return Ok(());
    }
    let first_copy = !tally.seen.contains_key(&text_key);
    let patient = patient_id.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let group = match patient {
        Some(p) => key(&[b"patient", p.as_bytes()]),
        None => text_key,
    };
    let stratum = labels.first().map(String::as_str).unwrap_or("");
    let split = splits.split_of(given_split, group, stratum);
    let external = external_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut record_id = 0;
    if tally.rejected == 0 || opts.skip_bad_rows {
        record_id = writer.insert(&NewRecord {
            external_id: external,
            patient_id: patient,
            text: &text,
            labels: &labels,
            split,
            source_line: line,
        })?;
    }
    tally.records += 1;
    tally.split_counts[Split::ALL.iter().position(|s| *s == split).unwrap_or(0)] += 1;
    for l in &labels {
        if !tally.labels_seen.contains(l) {
            tally.labels_seen.insert(l.clone());
        }
    }
    if first_copy {
        let record = opts.merge_duplicates.then_some((record_id, labels));
        tally.seen.insert(text_key, Seen { first_line: line, record, changed: false, copies: 1 });
    }
    Ok(())
}

/// The report of a read, without a dataset id yet; its warnings are the plan's, the source's and
/// the duplicates'.
fn report(plan: Plan, name: String, seed: Option<u64>, tally: &mut Tally, opts: &ImportOptions) -> ImportReport {
    let Plan { format, encoding, delimiter, sha256, bytes, mapping, mut source, mut warnings, split_source } = plan;
    let duplicates = tally.duplicates;
    let duplicate_groups = tally.seen.values().filter(|s| s.copies > 1).count() as u64;
    warnings.extend(source_warnings(&mut *source));
    if duplicates > 0 {
        warnings.push(format!(
            "{duplicates} row(s) repeat the text of an earlier row ({duplicate_groups} distinct texts occur more than once){}",
            if opts.merge_duplicates { "; merged into one record each with all their labels" } else { "" }
        ));
    }
    ImportReport {
        dataset_id: None,
        name,
        format,
        encoding,
        delimiter: delimiter.map(|d| d as char),
        sha256,
        mapping,
        records: tally.records,
        rejected: tally.rejected,
        duplicates,
        duplicate_groups,
        duplicate_rows: std::mem::take(&mut tally.duplicate_rows),
        merged_duplicates: opts.merge_duplicates,
        errors: std::mem::take(&mut tally.errors),
        warnings,
        split_source,
        seed,
        splits: Split::ALL.iter().copied().zip(tally.split_counts).collect(),
        labels: tally.labels_seen.len() as u64,
        bytes,
    }
}

/// Stores the merged label sets, logs the import and commits the transaction; returns the
/// dataset's id.
fn commit(mut writer: DatasetWriter<'_>, tally: &Tally, new: &NewDataset, report: &ImportReport, opts: &ImportOptions) -> Result<i64, IngestError> {
    for s in tally.seen.values() {
        if let (true, Some((id, labels))) = (s.changed, &s.record) {
            writer.set_labels(*id, labels)?;
        }
    }
    let dataset_id = writer.dataset_id();
    writer.log_event(
        &opts.actor,
        "dataset.import",
        Some(&format!("dataset:{dataset_id}")),
        &serde_json::json!({
            "path": new.source_path,
            "sha256": report.sha256,
            "format": report.format.as_str(),
            "records": tally.records,
            "rejected": tally.rejected,
            "duplicates": tally.duplicates,
            "mergedDuplicates": opts.merge_duplicates,
            "seed": report.seed,
        }),
    )?;
    writer.finish()?;
    Ok(dataset_id)
}

/// Warnings a source collected while reading (text folders: labels problems, recoded files).
fn source_warnings(source: &mut dyn Source) -> Vec<String> {
    source.take_warnings()
}
