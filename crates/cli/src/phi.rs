//! `localdx phi detect|redact|eval|config`: argument parsing, input reading and printing around
//! the PHI functions of `localdx-api`. No detection logic lives here.
//!
//! Text given on standard input or as a file needs no database: the project's configuration is
//! read from `--db` when that file exists, else the defaults apply.

use crate::output::Context;
use anyhow::{bail, Context as _, Result};
use localdx_api::phi::{self as api, EvalReportDto, PhiEvalDto, RedactReportDto, SpanDto, StrategyDto};
use localdx_api::{Api, Cancel, Progress};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum PhiCommand {
    /// Find PHI in a dataset, a file, or one note on standard input.
    Detect {
        /// A dataset id.
        #[arg(long, conflicts_with_all = ["file", "jsonl"])]
        dataset: Option<i64>,
        /// A text file holding one note.
        #[arg(long, conflicts_with = "jsonl")]
        file: Option<PathBuf>,
        /// A JSONL file of `{"text": ...}` lines: prints one result line per input line.
        #[arg(long)]
        jsonl: Option<PathBuf>,
        /// For a file, standard input or JSONL: the union (what review and release run), or the
        /// rules or the tagger alone (to compare sources).
        #[arg(long, default_value = "union", value_parser = ["union", "rules", "tagger"])]
        source: String,
    },
    /// Redact a dataset into a new derived dataset, or standard input to standard output.
    Redact {
        /// A dataset id; without it, standard input (or --file) is redacted to standard output.
        #[arg(long)]
        dataset: Option<i64>,
        /// A text file holding one note.
        #[arg(long, conflicts_with = "dataset")]
        file: Option<PathBuf>,
        /// How to replace PHI.
        #[arg(long, default_value = "tag", value_parser = ["tag", "mask", "surrogate"])]
        strategy: String,
        /// The patient the text belongs to (keys surrogates and date shifts).
        #[arg(long, default_value = "stdin")]
        patient: String,
        /// Name of the redacted dataset (default: "<source> (redacted)").
        #[arg(long)]
        name: Option<String>,
    },
    /// Measure the engine against gold annotations.
    Eval {
        /// The gold file.
        #[arg(long)]
        gold: PathBuf,
        /// Its format.
        #[arg(long, value_parser = ["deid-jsonl", "presidio-json"])]
        format: String,
        /// How many misses and false alarms to list.
        #[arg(long, default_value_t = 20)]
        misses: usize,
        /// Which notes to score: the fixed split of the PhysioNet dev file by patient and of the
        /// Presidio sentences by template (docs/phi.md). Rules are written from `tuning` only;
        /// `held-out` is for measuring.
        #[arg(long, default_value = "all", value_parser = ["all", "tuning", "held-out"])]
        part: String,
        /// Which detector to score: the rules, the tagger alone, their union (what review and
        /// release run), or all three on the same notes.
        #[arg(long, default_value = "all", value_parser = ["all", "rules", "tagger", "union"])]
        source: String,
        /// A PHI configuration as JSON to use instead of the project's, e.g. '{"years_alone":true}'.
        #[arg(long)]
        config: Option<String>,
    },
    /// Show or set the project's PHI configuration (allow/deny lists, thresholds, types).
    Config {
        /// The new configuration as JSON, e.g. '{"threshold":0.6,"allow":["Foley"]}'.
        #[arg(long)]
        set: Option<String>,
    },
}

pub fn run(ctx: &Context, cmd: PhiCommand) -> Result<()> {
    match cmd {
        PhiCommand::Detect { dataset: Some(id), .. } => detect_dataset(ctx, id),
        PhiCommand::Detect { jsonl: Some(path), source, .. } => detect_jsonl(ctx, &path, &source),
        PhiCommand::Detect { file, source, .. } => {
            let text = read_input(file.as_ref())?;
            let spans = text_detector(ctx, &source)?.detect(&text);
            ctx.emit(&spans, |spans| print_spans(&text, spans))
        }
        PhiCommand::Redact { dataset: Some(id), strategy, name, .. } => redact_dataset(ctx, id, &strategy, name.as_deref()),
        PhiCommand::Redact { file, strategy, patient, .. } => {
            let text = read_input(file.as_ref())?;
            let strategy: StrategyDto = strategy.parse()?;
            let secret = if strategy == StrategyDto::Surrogate { secret(ctx)? } else { Vec::new() };
            let out = api::redact_text(&config(ctx)?, &localdx_api::workspace::Layout::for_db(&ctx.db).models, &text, strategy, &patient, &secret);
            if ctx.json {
                println!("{}", serde_json::json!({ "text": out }));
            } else {
                std::io::stdout().write_all(out.as_bytes())?;
            }
            Ok(())
        }
        PhiCommand::Eval { gold, format, misses, part, source, config: json } => {
            let config = match json {
                Some(j) => api::PhiConfig::from_json(&j).map_err(|e| anyhow::anyhow!("--config: {e}"))?,
                None => config(ctx)?,
            };
            eval(ctx, &config, &gold, &format, &part, &source, misses)
        }
        PhiCommand::Config { set } => {
            let api = ctx.open()?;
            let config = match set {
                Some(json) => api.set_phi_config(&json)?,
                None => api.phi_config()?,
            };
            let value: serde_json::Value = serde_json::from_str(&config.to_json())?;
            ctx.emit(&value, |v| println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()))
        }
    }
}

/// The project's configuration when the database exists, else the defaults.
fn config(ctx: &Context) -> Result<api::PhiConfig> {
    if ctx.db.exists() {
        Ok(ctx.open()?.phi_config()?)
    } else {
        Ok(Default::default())
    }
}

/// The project's secret when the database exists; a surrogate run without a database gets a
/// fixed secret and says so.
fn secret(ctx: &Context) -> Result<Vec<u8>> {
    if ctx.db.exists() {
        Ok(ctx.open()?.phi_secret()?)
    } else {
        eprintln!("note: {} does not exist; surrogates use a fixed demo secret", ctx.db.display());
        Ok(b"localdx-demo-secret".to_vec())
    }
}

fn read_input(file: Option<&PathBuf>) -> Result<String> {
    let mut bytes = Vec::new();
    match file {
        Some(p) => bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => {
            std::io::stdin().read_to_end(&mut bytes)?;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn print_spans(text: &str, spans: &[SpanDto]) {
    if spans.is_empty() {
        println!("no PHI found ({} chars)", text.chars().count());
    }
    for s in spans {
        let why = match (&s.context_word, s.context_delta) {
            (Some(w), Some(d)) if d != 0.0 => format!(", context {w:?} {d:+.2}"),
            (Some(w), _) => format!(", cue {w:?}"),
            _ => String::new(),
        };
        println!("{:>6}..{:<6} {:<14} {:.2}  {:<30} {}/{}{}", s.start, s.end, s.entity, s.score, format!("{:?}", s.text), s.detector, s.pattern, why);
    }
}

/// The detector for texts given on the command line; says on standard error when the tagger was
/// meant to run and cannot (the rules then run alone).
fn text_detector(ctx: &Context, source: &str) -> Result<api::TextDetector> {
    let source = api::Source::parse_list(source).and_then(|s| s.first().copied()).ok_or_else(|| anyhow::anyhow!("unknown source {source:?}"))?;
    // with a database, the union is the workspace's own (its retrained head when one is kept)
    let detector = if source == api::Source::Union && ctx.db.exists() {
        let workspace = ctx.open()?;
        api::TextDetector::from_detector(workspace.detector(workspace.phi_config()?)?)
    } else {
        api::TextDetector::for_source(&config(ctx)?, &localdx_api::workspace::Layout::for_db(&ctx.db).models, source)?
    };
    if let Some(w) = detector.detector().warning {
        eprintln!("warning: {w}");
    }
    Ok(detector)
}

fn detect_jsonl(ctx: &Context, path: &PathBuf, source: &str) -> Result<()> {
    let detector = text_detector(ctx, source)?;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading line {} of {}", i + 1, path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("line {} of {} is not JSON", i + 1, path.display()))?;
        let Some(text) = value.get("text").and_then(|t| t.as_str()) else {
            bail!("line {} of {} has no string field \"text\"", i + 1, path.display());
        };
        let spans = detector.detect(text);
        let mut result = serde_json::json!({ "line": i + 1, "spans": spans });
        if let Some(id) = value.get("id") {
            result["id"] = id.clone();
        }
        writeln!(out, "{result}")?;
    }
    Ok(())
}

fn detect_dataset(ctx: &Context, id: i64) -> Result<()> {
    let api: Api = ctx.open()?;
    let bar = ctx.progress_bar();
    let report = |p: &Progress| bar.update(p);
    let result = api.phi_detect_dataset(id, &report, &Cancel::new());
    bar.finish();
    let records = result?;
    ctx.emit(&records, |records| {
        let total: usize = records.iter().map(|r| r.spans.len()).sum();
        for r in records.iter().filter(|r| !r.spans.is_empty()) {
            let spans: Vec<String> = r.spans.iter().map(|s| format!("{}:{:?}", s.entity, s.text)).collect();
            println!("record {:>6}  {}", r.record_id, spans.join("  "));
        }
        println!("{} spans in {} records", total, records.len());
    })
}

fn redact_dataset(ctx: &Context, id: i64, strategy: &str, name: Option<&str>) -> Result<()> {
    let api: Api = ctx.open()?;
    let strategy: StrategyDto = strategy.parse()?;
    let bar = ctx.progress_bar();
    let report = |p: &Progress| bar.update(p);
    let result = api.phi_redact_dataset(id, strategy, name, &report, &Cancel::new());
    bar.finish();
    let r: RedactReportDto = result?;
    ctx.emit(&r, |r| {
        println!("dataset {} -> new dataset {}: {} records, {} spans replaced", r.source_dataset_id, r.dataset_id, r.records, r.spans);
        for (t, n) in &r.per_type {
            println!("  {t:<15} {n}");
        }
    })
}

fn eval(ctx: &Context, config: &api::PhiConfig, gold: &PathBuf, format: &str, part: &str, source: &str, misses: usize) -> Result<()> {
    let bar = ctx.progress_bar();
    let report = |p: &Progress| bar.update(p);
    let models = localdx_api::workspace::Layout::for_db(&ctx.db).models;
    let result = api::evaluate_gold(config, &models, gold, format, part, source, misses, &report);
    bar.finish();
    let r: PhiEvalDto = result?;
    ctx.emit(&r, |r| {
        println!("part: {} ({} notes, {} gold tokens)", r.part, r.notes, r.gold_tokens);
        if let Some(w) = &r.warning {
            println!("warning: {w}");
        }
        println!("{:<8} {:>8} {:>10} {:>7} {:>8} {:>10}", "source", "recall", "precision", "F2", "spans", "notes/s");
        for s in &r.reports {
            println!("{:<8} {:>8.4} {:>10.4} {:>7.4} {:>8.4} {:>10.1}", s.source, s.token_recall, s.token_precision, s.f2, s.span_recall, s.notes_per_second);
        }
        println!("(token recall: the share of gold PHI tokens covered by a detection; notes/s: the rules run on one core, the tagger on all of them)");
        for s in &r.reports {
            print_report(s);
        }
    })
}

fn print_report(r: &EvalReportDto) {
    println!("\n== {}: per type (gold label: spans found/gold, token recall)", r.source);
    for (k, t) in &r.per_type {
        let scope = if t.in_scope { "" } else { "  (out of scope)" };
        println!("  {k:<20} {:>5}/{:<5} {:.3}{scope}", t.found_spans, t.gold_spans, t.token_recall);
    }
    if !r.misses.is_empty() {
        println!("misses (first {}):", r.misses.len());
        for m in &r.misses {
            println!("  {:<18} {}", m.label, m.context);
        }
    }
    if !r.false_alarms.is_empty() {
        println!("false alarms (first {}):", r.false_alarms.len());
        for f in &r.false_alarms {
            println!("  {:<12} {:<32} {}", f.label, f.pattern, f.context);
        }
    }
}
