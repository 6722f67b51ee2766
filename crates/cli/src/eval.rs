//! `localdx eval` and `localdx report`: argument parsing, reading prediction files, printing and
//! writing the report around `localdx_api::eval`. Metrics come from a run (scored through the
//! training API) or from the JSON of `localdx predict --json`.

use crate::output::Context;
use anyhow::{bail, Context as _, Result};
use localdx_api::eval::{self, EvalDto, EvalOptions, PredictionRow, RunRequest, Scores, Versus};
use localdx_api::eval::Kind;
use std::path::{Path, PathBuf};

/// Where the scores come from and how they are turned into decisions (shared by eval and report).
#[derive(clap::Args)]
pub struct SourceArgs {
    /// Evaluate this run (scores the dataset's split and its validation split).
    #[arg(long, conflicts_with = "predictions", required_unless_present = "predictions")]
    pub run: Option<String>,
    /// Compare with another run on the same records.
    #[arg(long, requires = "run", conflicts_with = "vs_base")]
    pub vs: Option<String>,
    /// Compare with the base model's zero-shot head (`default` unless a model name is given).
    #[arg(long, requires = "run", num_args = 0..=1, default_missing_value = "default")]
    pub vs_base: Option<String>,
    /// The split to evaluate (never validation: thresholds are chosen there).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Evaluate the JSON printed by `localdx predict --json` instead of running a model.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// `localdx predict --split validation --json` output: multi-label thresholds are chosen on it.
    #[arg(long, requires = "predictions")]
    pub validation_predictions: Option<PathBuf>,
    /// Predictions of a second model on the same records, to compare with.
    #[arg(long, requires = "predictions")]
    pub vs_predictions: Option<PathBuf>,
    /// Validation predictions of the second model (its own thresholds).
    #[arg(long, requires = "vs_predictions")]
    pub vs_validation_predictions: Option<PathBuf>,
    /// Force the task kind (default: multi-label when a record has several gold labels or the
    /// probabilities of a record do not sum to 1).
    #[arg(long, value_parser = ["multi-class", "multi-label"])]
    pub kind: Option<String>,
    /// Multi-label thresholds: one per label, or one for all labels.
    #[arg(long, value_parser = ["per-label", "global"], default_value = "per-label")]
    pub thresholds: String,
    /// The k of top-k accuracy and recall@k (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    pub k: Vec<usize>,
    /// Bootstrap resamples for the 95% intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 20_241_122)]
    pub seed: u64,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The file to write: HTML, or PDF when it ends in `.pdf`.
    #[arg(long)]
    pub out: PathBuf,
}

impl SourceArgs {
    fn options(&self) -> Result<EvalOptions> {
        if self.k.is_empty() || self.k.contains(&0) {
            bail!("--k needs positive cut-offs, e.g. 1,3,5");
        }
        Ok(EvalOptions {
            per_label_thresholds: self.thresholds == "per-label",
            ks: self.k.clone(),
            resamples: self.bootstrap,
            seed: self.seed,
            kind: self.kind.as_deref().map(|k| if k == "multi-label" { Kind::MultiLabel } else { Kind::MultiClass }),
            ..EvalOptions::default()
        })
    }
    fn versus(&self) -> Option<Versus<'_>> {
        match (&self.vs, &self.vs_base) {
            (Some(r), _) => Some(Versus::Run(r)),
            (None, Some(m)) => Some(Versus::Base(m)),
            (None, None) => None,
        }
    }
}

fn read(path: &Path) -> Result<Vec<PredictionRow>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("while reading {}", path.display()))?;
    Ok(eval::parse_predictions(&text, &path.display().to_string())?)
}

fn read_opt(path: &Option<PathBuf>) -> Result<Option<Vec<PredictionRow>>> {
    path.as_deref().map(read).transpose()
}

/// Prediction files named on the command line: (test, validation) of A and optionally of B.
type Files = ((Vec<PredictionRow>, Option<Vec<PredictionRow>>), Option<(Vec<PredictionRow>, Option<Vec<PredictionRow>>)>);

fn files(a: &SourceArgs, path: &Path) -> Result<Files> {
    let test = read(path)?;
    let val = read_opt(&a.validation_predictions)?;
    let other = match &a.vs_predictions {
        Some(p) => Some((read(p)?, read_opt(&a.vs_validation_predictions)?)),
        None => None,
    };
    Ok(((test, val), other))
}

fn print_eval(d: &EvalDto) {
    let e = &d.evaluation;
    let ci = |m: &str| e.interval(m).map(|i| format!("  [{:.3}, {:.3}]", i.low, i.high)).unwrap_or_default();
    println!("{} cases, {} labels ({:?}; thresholds: {})", e.cases, e.labels.len(), e.kind, d.thresholds_source);
    if d.skipped_unlabelled > 0 {
        println!("{} records without a gold label left out", d.skipped_unlabelled);
    }
    println!("micro  P {:.3}  R {:.3}  F1 {:.3}{}", e.micro_precision, e.micro_recall, e.micro_f1, ci("micro_f1"));
    println!("macro  P {:.3}  R {:.3}  F1 {:.3}{}", e.macro_precision, e.macro_recall, e.macro_f1, ci("macro_f1"));
    println!("weighted F1 {:.3}  accuracy {:.3}{}  mAP {:.3}  ECE {:.3}", e.weighted_f1, e.accuracy, ci("accuracy"), e.mean_average_precision, e.calibration.ece);
    for r in &e.top_k_recall {
        println!("recall@{} {:.3}{}", r.k, r.value, ci(&format!("recall_at_{}", r.k)));
    }
    println!("{:<30} {:>7} {:>9} {:>9} {:>9}", "label", "support", "precision", "recall", "F1");
    for r in &e.per_label {
        println!("{:<30} {:>7} {:>9.3} {:>9.3} {:>9.3}", r.label, r.support, r.precision, r.recall, r.f1);
    }
    if let Some(c) = &d.comparison {
        println!("comparison (B - A, 95% paired bootstrap):");
        for m in &c.metrics {
            println!("  {:<16} {:.3} -> {:.3}  {:+.3} [{:+.3}, {:+.3}] p={:.3}", m.metric, m.a, m.b, m.difference, m.low, m.high, m.p_value);
        }
        if let Some(m) = &c.mcnemar {
            println!("  McNemar: only A right {}, only B right {}, p={:.4} (exact {:.4})", m.only_a, m.only_b, m.p_value, m.exact_p_value);
        }
    }
}

pub fn eval(ctx: &Context, args: EvalArgs) -> Result<()> {
    let a = &args.source;
    let opts = a.options()?;
    let dto = match (&a.run, &a.predictions) {
        (Some(run), _) => {
            let api = ctx.open()?;
            api.evaluate_run(RunRequest { run_id: run, vs: a.versus(), split: &a.split }, &opts)?
        }
        (None, Some(path)) => {
            let ((test, val), other) = files(a, path)?;
            let b = other.as_ref().map(|(t, v)| Scores { test: t, validation: v.as_deref() });
            eval::evaluate_scores(&Scores { test: &test, validation: val.as_deref() }, b.as_ref(), &opts)?
        }
        (None, None) => bail!("give --run RUN or --predictions FILE"),
    };
    ctx.emit(&dto, print_eval)
}

#[derive(serde::Serialize)]
struct Written {
    out: String,
    bytes: usize,
}

pub fn report(ctx: &Context, args: ReportArgs) -> Result<()> {
    let a = &args.source;
    let opts = a.options()?;
    let date = localdx_api::eval::today();
    // `.pdf` writes the report as a PDF, anything else as self-contained HTML.
    let pdf = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    let html: Vec<u8> = match (&a.run, &a.predictions) {
        (Some(run), _) => {
            let api = ctx.open()?;
            let req = RunRequest { run_id: run, vs: a.versus(), split: &a.split };
            if pdf { api.report_run_pdf(req, &date, &opts)? } else { api.report_run(req, &date, &opts)?.into_bytes() }
        }
        (None, Some(path)) => {
            let ((test, val), other) = files(a, path)?;
            let b = other.as_ref().map(|(t, v)| Scores { test: t, validation: v.as_deref() });
            let mut facts = vec![("Predictions".to_string(), path.display().to_string())];
            if let Some(v) = &a.validation_predictions {
                facts.push(("Validation predictions (thresholds)".into(), v.display().to_string()));
            }
            if let Some(v) = &a.vs_predictions {
                facts.push(("Compared with".into(), v.display().to_string()));
            }
            facts.push(("Model, adapter hash, privacy budget".into(), "not known from a predictions file (use --run)".into()));
            facts.push(("Date".into(), date));
            let scores = Scores { test: &test, validation: val.as_deref() };
            if pdf { eval::report_scores_pdf(&scores, b.as_ref(), facts, &opts)? } else { eval::report_scores(&scores, b.as_ref(), facts, &opts)?.into_bytes() }
        }
        (None, None) => bail!("give --run RUN or --predictions FILE"),
    };
    std::fs::write(&args.out, &html).with_context(|| format!("while writing {}", args.out.display()))?;
    ctx.emit(&Written { out: args.out.display().to_string(), bytes: html.len() }, |w| println!("wrote {} ({} bytes)", w.out, w.bytes))
}
