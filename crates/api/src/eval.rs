//! Evaluation of a model's diagnostic suggestions: `localdx eval` and `localdx report`.
//!
//! Scores come either from a run (and optionally a second run or the base model to compare with),
//! scored through [`crate::training::predict`] (the training crate's `Predictor`), or from the JSON
//! that `localdx predict --json` printed. Multi-label decision thresholds are chosen on the
//! validation split's predictions and applied to the evaluated split, never chosen on it. The
//! metrics themselves are computed by `localdx-eval`.
//!
//! The JSON of `eval` uses the snake_case names fixed by the CLI's contract (`micro_f1`,
//! `macro_f1`, `micro_precision`, `micro_recall`, `top_k_recall`, `per_label`), not camelCase.
//! This module never writes files: the report is returned as a string.

use crate::training::{PredictionDto, Scorer};
use crate::{Api, ApiError, Result};
use localdx_eval::bootstrap::Settings;
use localdx_eval::compare::{compare, Comparison};
use localdx_eval::curves::{choose_thresholds, Strategy};
use localdx_eval::html::{render, ReportInfo};
use localdx_eval::{evaluate, Cases, EvalError, Evaluation, Options, Thresholds};
/// Multi-class (arg-max) or multi-label (thresholds): how scores become decisions.
pub use localdx_eval::Kind;
use localdx_train::checkpoint::RunFiles;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

impl From<EvalError> for ApiError {
    fn from(e: EvalError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

/// One label's probability, as printed by `localdx predict --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredIn {
    pub label: String,
    pub probability: f64,
}

/// One scored record, as printed by `localdx predict --json` (or produced by a run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// A number from the store; any JSON value is accepted so that other tools' ids work too.
    pub record_id: serde_json::Value,
    pub gold: Vec<String>,
    pub predictions: Vec<ScoredIn>,
}

impl From<PredictionDto> for PredictionRow {
    fn from(p: PredictionDto) -> Self {
        PredictionRow {
            record_id: p.record_id.into(),
            gold: p.gold,
            predictions: p.predictions.into_iter().map(|s| ScoredIn { label: s.label, probability: f64::from(s.probability) }).collect(),
        }
    }
}

/// Reads the JSON array printed by `localdx predict --json`; `what` names it in errors.
pub fn parse_predictions(json: &str, what: &str) -> Result<Vec<PredictionRow>> {
    serde_json::from_str(json).map_err(|e| ApiError::invalid(format!("{what}: not the JSON of `localdx predict --json` ({e})")))
}

/// How thresholds are chosen and what is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Per-label thresholds (labels without a validation positive get the global one) or one
    /// global threshold.
    pub per_label_thresholds: bool,
    /// The threshold when there is no validation split to choose one on.
    pub default_threshold: f64,
    pub ks: Vec<usize>,
    pub resamples: usize,
    pub seed: u64,
    /// Keep full PR curves (the report needs them; the JSON usually does not).
    pub curves: bool,
    /// Force the task kind; by default multi-label when a record has several gold labels or a
    /// model's probabilities do not sum to 1.
    pub kind: Option<Kind>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { per_label_thresholds: true, default_threshold: 0.5, ks: vec![1, 3, 5], resamples: 1000, seed: 20_241_122, curves: false, kind: None }
    }
}

/// The result of `localdx eval` (snake_case: the CLI's `--json` contract). The evaluation's
/// fields are flattened into this object.
#[derive(Debug, Clone, Serialize)]
pub struct EvalDto {
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// Where the multi-label thresholds come from: `validation`, `default` (no validation
    /// predictions were given) or `none` (multi-class takes the arg-max).
    pub thresholds_source: String,
    /// Records left out because they have no gold label (multi-class only).
    pub skipped_unlabelled: usize,
    /// The paired comparison with `--vs` (model A is the evaluated model, B the other one).
    pub comparison: Option<Comparison>,
}

/// Scores of one model: the evaluated split and, optionally, the validation split.
pub struct Scores<'a> {
    pub test: &'a [PredictionRow],
    pub validation: Option<&'a [PredictionRow]>,
}

fn label_list(sets: &[&[PredictionRow]]) -> Vec<String> {
    let mut all = BTreeSet::new();
    for rows in sets {
        for r in rows.iter() {
            all.extend(r.gold.iter().cloned());
            all.extend(r.predictions.iter().map(|p| p.label.clone()));
        }
    }
    all.into_iter().collect()
}

/// Multi-label when a record has several gold labels or a model's probabilities do not sum to
/// 1 (one sigmoid per label).
fn kind_of(sets: &[&[PredictionRow]]) -> Kind {
    let multi = sets.iter().flat_map(|rows| rows.iter()).any(|r| {
        let sum: f64 = r.predictions.iter().map(|p| p.probability).sum();
        r.gold.len() > 1 || (sum - 1.0).abs() > 0.01
    });
    if multi {
        Kind::MultiLabel
    } else {
        Kind::MultiClass
    }
}

/// Builds cases from rows; multi-class rows without gold are skipped (their count returned).
fn cases(rows: &[PredictionRow], labels: &[String], kind: Kind, what: &str) -> Result<(Cases, Vec<String>, usize)> {
    let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let mut gold = Vec::with_capacity(rows.len());
    let mut scores = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut skipped = 0;
    for r in rows {
        if kind == Kind::MultiClass && r.gold.is_empty() {
            skipped += 1;
            continue;
        }
        let mut s = vec![0.0; labels.len()];
        for p in &r.predictions {
            if let Some(&l) = index.get(p.label.as_str()) {
                s[l] = p.probability;
            }
        }
        gold.push(r.gold.iter().filter_map(|g| index.get(g.as_str()).copied()).collect());
        scores.push(s);
        ids.push(r.record_id.to_string());
    }
    let cases = Cases::new(labels.to_vec(), gold, scores, kind).map_err(|e| ApiError::invalid(format!("{what}: {e}")))?;
    Ok((cases, ids, skipped))
}

fn thresholds(validation: Option<&[PredictionRow]>, labels: &[String], kind: Kind, opts: &EvalOptions) -> Result<(Thresholds, &'static str)> {
    if kind == Kind::MultiClass {
        return Ok((Thresholds::Global(opts.default_threshold), "none"));
    }
    let Some(rows) = validation else { return Ok((Thresholds::Global(opts.default_threshold), "default")) };
    let (val, _, _) = cases(rows, labels, kind, "validation predictions")?;
    if val.is_empty() {
        return Err(ApiError::invalid("the validation predictions have no records"));
    }
    let strategy = if opts.per_label_thresholds { Strategy::PerLabel { min_positives: 1 } } else { Strategy::Global };
    Ok((choose_thresholds(&val, strategy, opts.default_threshold), "validation"))
}

/// Evaluates model `a` and, with `b`, compares `b` against it on the same records.
pub fn evaluate_scores(a: &Scores, b: Option<&Scores>, opts: &EvalOptions) -> Result<EvalDto> {
    let mut sets: Vec<&[PredictionRow]> = vec![a.test];
    sets.extend(a.validation);
    if let Some(b) = b {
        sets.push(b.test);
        sets.extend(b.validation);
    }
    if a.test.is_empty() {
        return Err(ApiError::invalid("no predictions to evaluate"));
    }
    let labels = label_list(&sets);
    let kind = opts.kind.unwrap_or_else(|| kind_of(&sets));
    let (ca, ids, skipped) = cases(a.test, &labels, kind, "predictions")?;
    let (ta, source) = thresholds(a.validation, &labels, kind, opts)?;
    let settings = Settings { resamples: opts.resamples, seed: opts.seed, level: 0.95 };
    let options = Options { ks: opts.ks.clone(), bootstrap: (opts.resamples > 0).then_some(settings), calibration_bins: 10, curves: opts.curves };
    let evaluation = evaluate(&ca, &ta, &options)?;
    let comparison = match b {
        None => None,
        Some(b) => {
            // Put B's records in A's order, matching by record id.
            let by_id: HashMap<String, &PredictionRow> = b.test.iter().map(|r| (r.record_id.to_string(), r)).collect();
            let a_rows: Vec<&PredictionRow> = a.test.iter().filter(|r| !(kind == Kind::MultiClass && r.gold.is_empty())).collect();
            let mut ordered = Vec::with_capacity(ids.len());
            for (id, ra) in ids.iter().zip(&a_rows) {
                let rb = by_id.get(id).ok_or_else(|| ApiError::invalid(format!("record {id} was scored by the first model only")))?;
                if rb.gold != ra.gold {
                    return Err(ApiError::invalid(format!("record {id} has different gold labels in the two prediction sets")));
                }
                ordered.push((*rb).clone());
            }
            let (cb, _, _) = cases(&ordered, &labels, kind, "predictions of the compared model")?;
            let (tb, _) = thresholds(b.validation, &labels, kind, opts)?;
            let cmp_settings = Settings { resamples: opts.resamples.max(1), ..settings };
            Some(compare(&ca, &ta, &cb, &tb, &opts.ks, cmp_settings)?)
        }
    };
    Ok(EvalDto { evaluation, thresholds_source: source.into(), skipped_unlabelled: skipped, comparison })
}

/// What to compare a run with.
pub enum Versus<'a> {
    Run(&'a str),
    /// The base model's zero-shot head (`default` names the default model).
    Base(&'a str),
}

/// What identifies a run: its dataset, model, adapters and privacy budget.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    pub run_id: String,
    pub dataset_id: i64,
    pub dataset: String,
    pub model: String,
    /// SHA-256 of the run's best adapters and head (the content of `best.safetensors`, opened
    /// when sealed: the same weights give the same hash in a plain and an encrypted workspace).
    pub adapter_sha256: String,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
}

impl Api {
    /// The facts of run `run_id` (for the report's header).
    pub fn run_facts(&self, run_id: &str) -> Result<RunFacts> {
        let store = self.permit(crate::Command::Evaluate)?;
        let files = RunFiles::open(&self.run_dir(run_id)?, &self.vault())?;
        let meta = &files.meta;
        let dataset_id: i64 = meta
            .context
            .get("dataset_id")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| ApiError::invalid(format!("run {run_id} does not name its dataset")))?;
        let dataset = match store.dataset(dataset_id)? {
            Some(d) => format!(
                "{} \"{}\" ({} records, imported {}{})",
                d.id,
                d.name,
                d.records,
                d.created_at,
                d.source_sha256.map(|h| format!(", source SHA-256 {h}")).unwrap_or_default()
            ),
            None => format!("{dataset_id} (no longer in the database)"),
        };
        let best = files.best_path();
        let bytes = files.vault.read(&best).map_err(|e| ApiError::invalid(format!("run {run_id}: cannot read the best adapters: {e}")))?;
        let adapter_sha256 = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        let outcome = meta.outcome.as_ref();
        Ok(RunFacts {
            run_id: run_id.to_owned(),
            dataset_id,
            dataset,
            model: meta.context.get("model").cloned().unwrap_or_else(|| meta.model_path.display().to_string()),
            adapter_sha256,
            epsilon: outcome.and_then(|o| o.epsilon),
            delta: outcome.and_then(|o| o.delta),
        })
    }
}

fn scored(api: &Api, scorer: Scorer, dataset: i64, split: &str) -> Result<Vec<PredictionRow>> {
    Ok(api.predict(scorer, dataset, split)?.into_iter().map(PredictionRow::from).collect())
}

/// Scores of one model on the evaluated split and, for a multi-label task, on the validation
/// split (where its thresholds are chosen).
type Scored = (Vec<PredictionRow>, Option<Vec<PredictionRow>>);

/// Scores `split` of the run's dataset with the run and with the model it is compared with;
/// the validation split is scored only when the task is multi-label (multi-class needs no
/// thresholds), which halves the work of a multi-class evaluation.
fn score_run(api: &Api, facts: &RunFacts, vs: Option<Versus>, split: &str, kind: Option<Kind>) -> Result<(Scored, Option<Scored>)> {
    if split == "validation" {
        return Err(ApiError::invalid("thresholds are chosen on the validation split: evaluate test (or train)"));
    }
    let both = |name: &str, is_run: bool| -> Result<Scored> {
        // The base model reads the notes as the evaluated run does, so that only the training differs.
        let scorer = || if is_run { Scorer::Run(name) } else { Scorer::BaseLike(name, &facts.run_id) };
        let test = scored(api, scorer(), facts.dataset_id, split)?;
        let validation = match kind.unwrap_or_else(|| kind_of(&[&test])) {
            Kind::MultiLabel => Some(scored(api, scorer(), facts.dataset_id, "validation")?),
            Kind::MultiClass => None,
        };
        Ok((test, validation))
    };
    let a = both(&facts.run_id, true)?;
    let b = match vs {
        None => None,
        Some(Versus::Run(r)) => Some(both(r, true)?),
        Some(Versus::Base(m)) => Some(both(m, false)?),
    };
    Ok((a, b))
}

/// Which run to evaluate on which split, and what to compare it with.
pub struct RunRequest<'a> {
    pub run_id: &'a str,
    pub vs: Option<Versus<'a>>,
    pub split: &'a str,
}

impl Api {
    /// `localdx eval --run RUN [--vs RUN|--vs-base]`: scores the run's dataset and evaluates it.
    pub fn evaluate_run(&self, req: RunRequest, opts: &EvalOptions) -> Result<EvalDto> {
        self.check(crate::Command::Evaluate)?;
        let facts = self.run_facts(req.run_id)?;
        let ((test, val), other) = score_run(self, &facts, req.vs, req.split, opts.kind)?;
        let a = Scores { test: &test, validation: val.as_deref() };
        let b = other.as_ref().map(|(t, v)| Scores { test: t, validation: v.as_deref() });
        evaluate_scores(&a, b.as_ref(), opts)
    }
}

/// The report's header rows for a run.
pub fn report_info(facts: &RunFacts, split: &str, date: &str) -> ReportInfo {
    let privacy = match (facts.epsilon, facts.delta) {
        (Some(e), Some(d)) => format!("DP-SGD, epsilon {e:.2} at delta {d:.2e}"),
        (Some(e), None) => format!("DP-SGD, epsilon {e:.2}"),
        _ => "no differential privacy (epsilon not bounded)".into(),
    };
    ReportInfo {
        title: format!("LocalDx evaluation of {} on the {split} split", facts.run_id),
        facts: vec![
            ("Dataset (data version)".into(), facts.dataset.clone()),
            ("Model".into(), facts.model.clone()),
            ("Run".into(), facts.run_id.clone()),
            ("Adapter hash (SHA-256 of best.safetensors)".into(), facts.adapter_sha256.clone()),
            ("Privacy budget".into(), privacy),
            ("Split evaluated".into(), format!("{split} (multi-label thresholds, when needed, are chosen on the validation split)")),
            ("Date".into(), date.to_owned()),
        ],
    }
}

impl Api {
    /// `localdx report --run RUN`: the self-contained HTML report of a run. `date` is printed in
    /// the report (the caller reads the clock).
    pub fn report_run(&self, req: RunRequest, date: &str, opts: &EvalOptions) -> Result<String> {
        let (dto, info) = self.report_parts(req, date, opts)?;
        Ok(render(&dto.evaluation, dto.comparison.as_ref(), &info))
    }

    /// The same report as a PDF (tables and bars in place of the HTML's plots).
    pub fn report_run_pdf(&self, req: RunRequest, date: &str, opts: &EvalOptions) -> Result<Vec<u8>> {
        let (dto, info) = self.report_parts(req, date, opts)?;
        Ok(localdx_eval::pdf::render(&localdx_eval::pdf::report(&dto.evaluation, dto.comparison.as_ref(), &info)))
    }

    /// A run's evaluation with curves, and its report header.
    fn report_parts(&self, req: RunRequest, date: &str, opts: &EvalOptions) -> Result<(EvalDto, ReportInfo)> {
        self.check(crate::Command::Evaluate)?;
        let facts = self.run_facts(req.run_id)?;
        let split = req.split;
        let ((test, val), other) = score_run(self, &facts, req.vs, split, opts.kind)?;
        let a = Scores { test: &test, validation: val.as_deref() };
        let b = other.as_ref().map(|(t, v)| Scores { test: t, validation: v.as_deref() });
        let dto = evaluate_scores(&a, b.as_ref(), &EvalOptions { curves: true, ..opts.clone() })?;
        Ok((dto, report_info(&facts, split, date)))
    }
}

/// The HTML report of predictions read from files (no run: the header says where they came from).
pub fn report_scores(a: &Scores, b: Option<&Scores>, facts: Vec<(String, String)>, opts: &EvalOptions) -> Result<String> {
    let dto = evaluate_scores(a, b, &EvalOptions { curves: true, ..opts.clone() })?;
    let info = ReportInfo { title: "LocalDx evaluation".into(), facts };
    Ok(render(&dto.evaluation, dto.comparison.as_ref(), &info))
}

/// The same report of predictions read from files, as a PDF.
pub fn report_scores_pdf(a: &Scores, b: Option<&Scores>, facts: Vec<(String, String)>, opts: &EvalOptions) -> Result<Vec<u8>> {
    let dto = evaluate_scores(a, b, &EvalOptions { curves: true, ..opts.clone() })?;
    let info = ReportInfo { title: "LocalDx evaluation".into(), facts };
    Ok(localdx_eval::pdf::render(&localdx_eval::pdf::report(&dto.evaluation, dto.comparison.as_ref(), &info)))
}

/// One row of a report's header (camelCase, for the app).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FactDto {
    pub name: String,
    pub value: String,
}

/// A run's report for the app: its header, the evaluation (with PR curves) and the same report as
/// self-contained HTML and as CSV, ready to be saved.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDto {
    pub title: String,
    pub facts: Vec<FactDto>,
    /// What the run was compared with (`run-2`, `base:default`), if anything.
    pub compared_with: Option<String>,
    pub evaluation: EvalDto,
    pub html: String,
    pub csv: String,
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The report as CSV: the header facts, the averages, then one row per label (sorted by support).
pub fn report_csv(facts: &[(String, String)], dto: &EvalDto) -> String {
    let e = &dto.evaluation;
    let mut out = String::from("section,name,value\n");
    for (k, v) in facts {
        out.push_str(&format!("fact,{},{}\n", csv_cell(k), csv_cell(v)));
    }
    let metrics = [
        ("cases", e.cases as f64),
        ("accuracy", e.accuracy),
        ("micro_precision", e.micro_precision),
        ("micro_recall", e.micro_recall),
        ("micro_f1", e.micro_f1),
        ("macro_precision", e.macro_precision),
        ("macro_recall", e.macro_recall),
        ("macro_f1", e.macro_f1),
        ("weighted_f1", e.weighted_f1),
        ("mean_average_precision", e.mean_average_precision),
        ("expected_calibration_error", e.calibration.ece),
    ];
    for (k, v) in metrics {
        out.push_str(&format!("metric,{k},{v}\n"));
    }
    for a in &e.top_k_recall {
        out.push_str(&format!("metric,top_{}_recall,{}\n", a.k, a.value));
    }
    for i in &e.intervals {
        out.push_str(&format!("interval_95,{},{} [{}; {}]\n", csv_cell(&i.metric), i.interval.estimate, i.interval.low, i.interval.high));
    }
    if let Some(c) = &dto.comparison {
        for d in &c.metrics {
            out.push_str(&format!("comparison,{},a {} b {} difference {} [{}; {}] p {}\n", csv_cell(&d.metric), d.a, d.b, d.difference, d.low, d.high, d.p_value));
        }
    }
    out.push_str("\nlabel,support,predicted,precision,recall,f1,average_precision,threshold\n");
    let mut rows: Vec<_> = e.per_label.iter().collect();
    rows.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.label.cmp(&b.label)));
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_cell(&r.label),
            r.support,
            r.predicted,
            r.precision,
            r.recall,
            r.f1,
            r.average_precision,
            r.threshold.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    out
}

impl Api {
    /// The report of a run for the app: evaluation, HTML and CSV from one scoring of the split.
    pub fn run_report(&self, req: RunRequest, date: &str, opts: &EvalOptions) -> Result<ReportDto> {
        let facts = self.run_facts(req.run_id)?;
        let compared_with = match &req.vs {
            None => None,
            Some(Versus::Run(r)) => Some((*r).to_owned()),
            Some(Versus::Base(m)) => Some(format!("base:{m}")),
        };
        let split = req.split;
        let ((test, val), other) = score_run(self, &facts, req.vs, split, opts.kind)?;
        let a = Scores { test: &test, validation: val.as_deref() };
        let b = other.as_ref().map(|(t, v)| Scores { test: t, validation: v.as_deref() });
        let evaluation = evaluate_scores(&a, b.as_ref(), &EvalOptions { curves: true, ..opts.clone() })?;
        let mut info = report_info(&facts, split, date);
        if let Some(c) = &compared_with {
            info.facts.push(("Compared with".into(), c.clone()));
        }
        let html = render(&evaluation.evaluation, evaluation.comparison.as_ref(), &info);
        let csv = report_csv(&info.facts, &evaluation);
        Ok(ReportDto {
            title: info.title.clone(),
            facts: info.facts.into_iter().map(|(name, value)| FactDto { name, value }).collect(),
            compared_with,
            evaluation,
            html,
            csv,
        })
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    civil_date((secs / 86_400) as i64)
}

/// The date `days` after 1970-01-01 (proleptic Gregorian calendar), as YYYY-MM-DD.
pub(crate) fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, gold: &[&str], probs: &[(&str, f64)]) -> PredictionRow {
        PredictionRow {
            record_id: id.into(),
            gold: gold.iter().map(|s| s.to_string()).collect(),
            predictions: probs.iter().map(|(l, p)| ScoredIn { label: l.to_string(), probability: *p }).collect(),
        }
    }

    #[test]
    fn kind_labels_and_skipped_rows() {
        let rows = vec![
            row(1, &["flu"], &[("flu", 0.7), ("cold", 0.3)]),
            row(2, &["cold"], &[("flu", 0.4), ("cold", 0.6)]),
            row(3, &[], &[("flu", 0.4), ("cold", 0.6)]),
            row(4, &["asthma"], &[("flu", 0.5), ("cold", 0.5)]),
        ];
        let dto = evaluate_scores(&Scores { test: &rows, validation: None }, None, &EvalOptions { resamples: 0, ..EvalOptions::default() }).unwrap();
        assert_eq!(dto.evaluation.kind, Kind::MultiClass);
        assert_eq!(dto.evaluation.labels, vec!["asthma", "cold", "flu"], "gold-only labels are kept (never predicted: precision 0)");
        assert_eq!((dto.evaluation.cases, dto.skipped_unlabelled, dto.thresholds_source.as_str()), (3, 1, "none"));
        // sigmoid scores (not summing to 1) make it multi-label even with one gold label each
        let ml = vec![row(1, &["flu"], &[("flu", 0.7), ("cold", 0.6)]), row(2, &[], &[("flu", 0.1), ("cold", 0.2)])];
        let dto = evaluate_scores(&Scores { test: &ml, validation: Some(&ml) }, None, &EvalOptions { resamples: 0, ..EvalOptions::default() }).unwrap();
        assert_eq!((dto.evaluation.kind, dto.evaluation.cases, dto.thresholds_source.as_str()), (Kind::MultiLabel, 2, "validation"));
        // a forced kind wins: multi-class takes the arg-max and leaves out the unlabelled record
        let forced = EvalOptions { resamples: 0, kind: Some(Kind::MultiClass), ..EvalOptions::default() };
        let dto = evaluate_scores(&Scores { test: &ml, validation: Some(&ml) }, None, &forced).unwrap();
        assert_eq!((dto.evaluation.kind, dto.evaluation.cases, dto.skipped_unlabelled), (Kind::MultiClass, 1, 1));
    }

    #[test]
    fn civil_dates() {
        // Day numbers from Python: (date(y, m, d) - date(1970, 1, 1)).days
        for (days, want) in [(0, "1970-01-01"), (11_016, "2000-02-29"), (20_779, "2026-11-22"), (-25_508, "1900-03-01"), (-1, "1969-12-31")] {
            assert_eq!(civil_date(days), want);
        }
    }

    #[test]
    fn refused_inputs() {
        let none: Vec<PredictionRow> = vec![];
        assert!(evaluate_scores(&Scores { test: &none, validation: None }, None, &EvalOptions::default()).is_err());
        assert!(parse_predictions("{\"record_id\": 1}", "x.json").is_err());
        let bad = vec![row(1, &["flu"], &[("flu", 1.7), ("cold", 0.3)])];
        let e = evaluate_scores(&Scores { test: &bad, validation: None }, None, &EvalOptions::default()).unwrap_err();
        assert!(e.message.contains("not a probability"), "{}", e.message);
        let a = vec![row(1, &["flu"], &[("flu", 0.7), ("cold", 0.3)])];
        let b = vec![row(2, &["flu"], &[("flu", 0.7), ("cold", 0.3)])];
        let e = evaluate_scores(&Scores { test: &a, validation: None }, Some(&Scores { test: &b, validation: None }), &EvalOptions::default()).unwrap_err();
        assert!(e.message.contains("record 1"), "{}", e.message);
    }
}
