//! `localdx import`, `localdx datasets`, `localdx dataset show|records`: argument parsing and
//! printing around the dataset functions of `localdx-api`. No import logic lives here.

use crate::output::Context;
use anyhow::{bail, Result};
use localdx_api::datasets::{DatasetDetailDto, ImportOptionsDto, ImportReportDto, PreviewDto, RecordPageDto};
use localdx_api::{Cancel, Progress};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A CSV/TSV/JSONL file, or a folder of .txt notes (train/dev/test subfolders become splits).
    pub path: PathBuf,
    /// Input format; detected from the path when absent.
    #[arg(long, value_parser = ["csv", "tsv", "jsonl", "text-folder"])]
    pub format: Option<String>,
    /// Dataset name (default: the file or folder name).
    #[arg(long)]
    pub name: Option<String>,
    /// Column (or JSON key) holding the note text.
    #[arg(long)]
    pub text_column: Option<String>,
    /// Column holding labels; repeat for several label columns.
    #[arg(long)]
    pub label_column: Vec<String>,
    /// Separator of several labels in one cell (multi-label), e.g. ";".
    #[arg(long)]
    pub label_separator: Option<String>,
    /// Column holding the patient id (a patient never spans two splits).
    #[arg(long)]
    pub patient_column: Option<String>,
    /// Column holding the note's own id.
    #[arg(long)]
    pub id_column: Option<String>,
    /// Column holding the split: train, validation (or dev), test.
    #[arg(long)]
    pub split_column: Option<String>,
    /// Import the good rows and keep a list of the rejected ones, instead of refusing the file.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Store one record per distinct text, carrying the labels of all its copies.
    #[arg(long)]
    pub merge_duplicates: bool,
    /// Import a file that was imported before (same SHA-256).
    #[arg(long)]
    pub allow_reimport: bool,
    /// Seed of the split assignment when the source names no splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Shares of train,validation,test when splits are assigned.
    #[arg(long, value_delimiter = ',', num_args = 3, value_name = "TRAIN,VALIDATION,TEST")]
    pub split_ratios: Option<Vec<f64>>,
    /// Text folders: the subfolder of each split folder holding the notes, e.g. text_files_en.
    #[arg(long)]
    pub text_subfolder: Option<String>,
    /// Text folders: labels file in each split folder ("{split}" = folder name; default
    /// {split}D.tsv, labels.tsv, or the only .tsv).
    #[arg(long)]
    pub labels_file: Option<String>,
    /// Rewrite labels before storing them: as-written, or icd10-category (ICD-10-CM codes rolled up
    /// to their 3-character category, e.g. r50.9 -> R50).
    #[arg(long, value_name = "MAP")]
    pub label_map: Option<String>,
    /// When the source has train and validation but no test split: move this share of validation
    /// (by patient, stratified, seeded) to a test split, e.g. 0.5.
    #[arg(long, value_name = "SHARE")]
    pub test_from_validation: Option<f64>,
    /// How many bad rows to list (all are counted).
    #[arg(long, default_value_t = 1000)]
    pub max_errors: usize,
    /// Only show the detected format, columns, guessed roles and first rows; import nothing.
    #[arg(long)]
    pub preview: bool,
    /// Rows shown by --preview.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
}

#[derive(clap::Subcommand)]
pub enum DatasetCommand {
    /// Counts per split and per label.
    Show { id: i64 },
    /// A page of records, optionally only those containing a search string.
    Records {
        id: i64,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long)]
        search: Option<String>,
    },
    /// What the data can support before training: labels and their long tail, split balance,
    /// note length against each preset, duplicates, notes per patient, PHI per type, warnings.
    Stats { id: i64 },
}

fn actor() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".to_owned())
}

impl ImportArgs {
    fn options(&self) -> ImportOptionsDto {
        ImportOptionsDto {
            format: self.format.clone(),
            name: self.name.clone(),
            text_column: self.text_column.clone(),
            label_column: None,
            label_columns: self.label_column.clone(),
            label_separator: self.label_separator.clone(),
            patient_column: self.patient_column.clone(),
            id_column: self.id_column.clone(),
            split_column: self.split_column.clone(),
            skip_bad_rows: self.skip_bad_rows,
            merge_duplicates: self.merge_duplicates,
            allow_reimport: self.allow_reimport,
            seed: Some(self.seed),
            split_ratios: self.split_ratios.as_deref().and_then(|r| <[f64; 3]>::try_from(r).ok()),
            text_subfolder: self.text_subfolder.clone(),
            labels_file: self.labels_file.clone(),
            label_map: self.label_map.clone(),
            test_from_validation: self.test_from_validation,
            max_errors: Some(self.max_errors),
            actor: Some(actor()),
            preview_rows: Some(self.rows),
        }
    }
}

#[derive(Serialize)]
struct LineError {
    line: u64,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
}

#[derive(Serialize)]
struct Failure {
    code: &'static str,
    message: String,
}

/// `import --json`: snake_case keys, as the command-line contract names them.
#[derive(Serialize)]
struct ImportOutput {
    dataset_id: Option<i64>,
    name: String,
    records: u64,
    rejected: u64,
    duplicates: u64,
    duplicate_groups: u64,
    merged_duplicates: bool,
    errors: Vec<LineError>,
    warnings: Vec<String>,
    format: String,
    encoding: String,
    sha256: String,
    labels: u64,
    split_source: String,
    seed: Option<u64>,
    splits: std::collections::BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
}

fn refusal_message(r: &ImportReportDto) -> String {
    format!(
        "{} bad row(s); nothing was imported. Fix them, or use --skip-bad-rows to import the other {} row(s) and keep a list of the rejected ones",
        r.rejected, r.records
    )
}

impl From<&ImportReportDto> for ImportOutput {
    fn from(r: &ImportReportDto) -> Self {
        ImportOutput {
            dataset_id: r.dataset_id,
            name: r.name.clone(),
            records: r.records,
            rejected: r.rejected,
            duplicates: r.duplicates,
            duplicate_groups: r.duplicate_groups,
            merged_duplicates: r.merged_duplicates,
            errors: r.errors.iter().map(|e| LineError { line: e.line, message: e.message.clone(), file: e.file.clone() }).collect(),
            warnings: r.warnings.clone(),
            format: r.format.clone(),
            encoding: r.encoding.clone(),
            sha256: r.sha256.clone(),
            labels: r.labels,
            split_source: r.split_source.clone(),
            seed: r.seed,
            splits: r.splits.iter().map(|s| (s.split.clone(), s.count)).collect(),
            error: r.dataset_id.is_none().then(|| Failure { code: "invalid_input", message: refusal_message(r) }),
        }
    }
}

pub fn import(ctx: &Context, args: ImportArgs) -> Result<()> {
    let opts = args.options();
    let api = ctx.open()?;
    if args.preview {
        let p = api.preview_import(&args.path, &opts)?;
        return ctx.emit(&p, print_preview);
    }
    let bar = ctx.progress_bar();
    let reporter = |p: &Progress| bar.update(p);
    let result = api.import(&args.path, &opts, &reporter, &Cancel::new());
    bar.finish();
    let report = result?;
    let out = ImportOutput::from(&report);
    ctx.emit(&out, |_| print_report(&report))?;
    if report.dataset_id.is_none() {
        if ctx.json {
            // The report above already says why, in the same JSON object.
            std::process::exit(1);
        }
        bail!(refusal_message(&report));
    }
    Ok(())
}

fn print_preview(p: &PreviewDto) {
    let delim = match p.delimiter.as_deref() {
        Some("\t") => " (tab-separated)".to_owned(),
        Some(d) => format!(" (delimiter {d:?})"),
        None => String::new(),
    };
    println!("format:   {}{delim}", p.format);
    println!("encoding: {}", p.encoding);
    println!("columns:  {}", p.columns.join(", "));
    let r = &p.roles;
    let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    println!("guessed roles:");
    println!("  text:       {}", or_dash(&r.text));
    println!("  labels:     {}", if r.labels.is_empty() { "-".to_owned() } else { r.labels.join(", ") });
    println!("  patient id: {}", or_dash(&r.patient_id));
    println!("  note id:    {}", or_dash(&r.note_id));
    println!("  split:      {}", or_dash(&r.split));
    if !p.text_subfolders.is_empty() {
        println!("text subfolders: {}", p.text_subfolders.join(", "));
    }
    println!("first rows:");
    for row in &p.rows {
        let cells: Vec<String> = row.iter().map(|c| one_line(c, 60)).collect();
        println!("  {}", cells.join(" | "));
    }
    for w in &p.warnings {
        println!("note: {w}");
    }
}

/// `s` on one line, cut to `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

fn print_report(r: &ImportReportDto) {
    for e in &r.errors {
        match &e.file {
            Some(f) => eprintln!("{f}:{}: {}", e.line, e.message),
            None => eprintln!("line {}: {}", e.line, e.message),
        }
    }
    if (r.errors.len() as u64) < r.rejected {
        eprintln!("... and {} more bad rows", r.rejected - r.errors.len() as u64);
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    let Some(id) = r.dataset_id else { return };
    println!(
        "Imported {} records into dataset {id} ({:?}, {}, {}); {} rejected row(s), {} duplicate row(s).",
        r.records, r.name, r.format, r.encoding, r.rejected, r.duplicates
    );
    let splits: Vec<String> = r.splits.iter().map(|s| format!("{} {}", s.split, s.count)).collect();
    let source = match (r.split_source.as_str(), r.seed) {
        ("assigned", Some(seed)) => format!("assigned by patient/text, stratified by label, seed {seed}"),
        (other, _) => format!("from the {other}"),
    };
    println!("Splits: {} ({source}). Distinct labels: {}.", splits.join(", "), r.labels);
}

pub fn list(ctx: &Context) -> Result<()> {
    let api = ctx.open()?;
    let datasets = api.datasets()?;
    ctx.emit(&datasets, |ds| {
        if ds.is_empty() {
            println!("No datasets yet: run `localdx import FILE`.");
            return;
        }
        println!("{:>4}  {:<28} {:<11} {:>8} {:>8}  created", "id", "name", "format", "records", "rejected");
        for d in ds {
            println!(
                "{:>4}  {:<28} {:<11} {:>8} {:>8}  {} by {}",
                d.id,
                one_line(&d.name, 28),
                d.format,
                d.records,
                d.rejected,
                d.created_at,
                d.created_by
            );
        }
    })
}

pub fn dataset(ctx: &Context, cmd: DatasetCommand) -> Result<()> {
    let api = ctx.open()?;
    match cmd {
        DatasetCommand::Show { id } => {
            let d = api.dataset(id)?;
            ctx.emit(&d, print_dataset)
        }
        DatasetCommand::Records { id, offset, limit, search } => {
            let page = api.records(id, offset, limit, search.as_deref())?;
            ctx.emit(&page, print_records)
        }
        DatasetCommand::Stats { id } => ctx.emit(&api.dataset_stats(id)?, print_stats),
    }
}

fn print_stats(s: &localdx_api::stats::DatasetStatsDto) {
    let pct = |n: u64, of: u64| if of == 0 { 0.0 } else { 100.0 * n as f64 / of as f64 };
    println!("dataset {}: {} ({} notes: train {}, validation {}, test {})", s.dataset_id, s.name, s.notes, s.splits.train, s.splits.validation, s.splits.test);
    println!("labels: {} ({} with fewer than {} notes), {} unlabelled notes{}", s.labels.len(), s.rare_labels, s.rare_threshold, s.unlabelled, if s.multi_label { ", multi-label" } else { "" });
    println!("  {:>6} {:>6} {:>6} {:>6}  label", "notes", "train", "valid", "test");
    for l in s.labels.iter().take(15) {
        let n = &l.notes;
        let name = l.name.as_deref().map(|n| format!("  ({})", one_line(n, 50))).unwrap_or_default();
        println!("  {:>6} {:>6} {:>6} {:>6}  {}{name}", n.train + n.validation + n.test, n.train, n.validation, n.test, l.label);
    }
    if s.labels.len() > 15 {
        println!("  ... {} more (--json lists all)", s.labels.len() - 15);
    }
    let len = &s.length;
    println!("length ({}): median {}, 90th percentile {}, longest {} tokens", len.tokenizer, len.median, len.p90, len.max);
    for b in &len.bins {
        let bar = "#".repeat((pct(b.notes, len.counted) / 2.0).round() as usize);
        let label = b.up_to.map_or_else(|| "longer".to_owned(), |u| format!("<= {u}"));
        println!("  {label:>8} {:>6}  {bar}", b.notes);
    }
    for p in &len.presets {
        println!("  preset {:<9} reads {:>5} tokens: cuts {} notes ({:.1}%)", p.preset, p.max_len, p.truncated, 100.0 * p.share);
    }
    let d = &s.duplicates;
    println!("duplicates: {} exact, {} near pairs (Jaccard >= {}), {} pairs across training and evaluation", d.exact, d.near_pairs, d.near_threshold, d.across_splits);
    for e in d.examples.iter().take(5) {
        println!("  #{} ({}) ~ #{} ({}): {:.2}", e.a, e.splits[0], e.b, e.splits[1], e.similarity);
    }
    let p = &s.patients;
    if p.patients > 0 {
        println!("patients: {} ({} notes name one), at most {} notes each, {} with notes in more than one split", p.patients, p.notes_with_patient, p.max_notes, p.across_splits);
    } else {
        println!("patients: no note names its patient");
    }
    if s.phi.is_empty() {
        println!("PHI: not reviewed");
    } else {
        println!("PHI found in review ({:>8} {:>6} {:>8} {:>9}):", "redacted", "added", "rejected", "undecided");
        for t in &s.phi {
            println!("  {:<16} {:>8} {:>6} {:>8} {:>9}", t.entity, t.redacted, t.added, t.rejected, t.undecided);
        }
    }
    for w in &s.warnings {
        println!("warning: {w}");
    }
}

fn print_dataset(d: &DatasetDetailDto) {
    let ds = &d.dataset;
    println!("dataset {}: {}", ds.id, ds.name);
    println!("  format {}, {} records, {} rejected rows", ds.format, ds.records, ds.rejected);
    if let Some(p) = &ds.source_path {
        println!("  source {p}");
    }
    if let Some(sha) = &ds.sha256 {
        println!("  sha256 {sha}");
    }
    println!("  created {} by {}", ds.created_at, ds.created_by);
    if let Some(seed) = ds.seed {
        println!("  splits assigned with seed {seed}");
    }
    println!("per split:");
    for s in &d.splits {
        println!("  {:<12} {:>8}", s.split, s.count);
    }
    println!("per label ({} labels, {} unlabelled records):", d.labels.len(), d.unlabelled);
    for l in &d.labels {
        println!("  {:>8}  {}", l.count, l.label);
    }
}

fn print_records(p: &RecordPageDto) {
    println!("{} matching records; showing {} from {}", p.total, p.records.len(), p.offset);
    for r in &p.records {
        println!(
            "#{} [{}] line {} {} labels: {}",
            r.id,
            r.split,
            r.source_line,
            r.external_id.as_deref().unwrap_or("-"),
            r.labels.join(", ")
        );
        println!("    {}", one_line(&r.text, 120));
    }
}
