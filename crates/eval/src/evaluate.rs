//! Everything about one model on one set of cases, in one [`Evaluation`]: decisions, per-label
//! rows, averages, top-k, confusion matrix, PR curves, calibration and bootstrap intervals.

use crate::bootstrap::{self, Interval, Settings};
use crate::calibration::{confidence_pairs, reliability, Reliability};
use crate::cases::{Cases, Kind, Thresholds};
use crate::classify::{self, averages, counts, prf, Counts};
use crate::confusion::confusion;
use crate::curves::{average_precision, label_column, pr_curve, PrCurve};
use crate::error::EvalError;
use crate::ranking::{recall_at_k, top_k_accuracy};
use serde::Serialize;

/// What to compute besides the point metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The k of top-k accuracy and recall@k.
    pub ks: Vec<usize>,
    /// Bootstrap intervals, or none.
    pub bootstrap: Option<Settings>,
    pub calibration_bins: usize,
    /// Keep every label's full PR curve (for plots); average precision is always computed.
    pub curves: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { ks: vec![1, 3, 5], bootstrap: Some(Settings::default()), calibration_bins: 10, curves: false }
    }
}

/// A metric at a cut-off k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AtK {
    pub k: usize,
    pub value: f64,
}

/// One label's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelRow {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold occurrences.
    pub support: usize,
    /// Times the label was predicted.
    pub predicted: usize,
    pub average_precision: f64,
    /// The decision threshold used (multi-label only).
    pub threshold: Option<f64>,
}

/// A label's precision-recall curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelCurve {
    pub label: String,
    pub curve: PrCurve,
}

/// A named bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedInterval {
    pub metric: String,
    #[serde(flatten)]
    pub interval: Interval,
}

/// The evaluation of one model on one set of cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub kind: Kind,
    pub cases: usize,
    pub labels: Vec<String>,
    /// Multi-class: accuracy. Multi-label: subset accuracy (predicted set equals gold set).
    pub accuracy: f64,
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_precision: f64,
    pub weighted_recall: f64,
    pub weighted_f1: f64,
    /// Mean over labels with at least one gold case of their average precision.
    pub mean_average_precision: f64,
    pub top_k_accuracy: Vec<AtK>,
    pub top_k_recall: Vec<AtK>,
    /// Sorted by support, largest first (then by label).
    pub per_label: Vec<LabelRow>,
    /// Multi-label decision thresholds (none for multi-class, which takes the arg-max).
    pub thresholds: Option<Thresholds>,
    /// Multi-class only: `confusion[gold][predicted]` in the order of `labels`.
    pub confusion: Option<Vec<Vec<usize>>>,
    pub calibration: Reliability,
    pub intervals: Vec<NamedInterval>,
    /// Empty unless [`Options::curves`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pr_curves: Vec<LabelCurve>,
}

impl Evaluation {
    /// The interval of `metric`, if bootstrapped.
    pub fn interval(&self, metric: &str) -> Option<Interval> {
        self.intervals.iter().find(|i| i.metric == metric).map(|i| i.interval)
    }
}

/// Per-case decision outcomes, ready to be summed over any resample of the cases.
#[derive(Debug, Clone)]
pub struct Outcomes {
    n_labels: usize,
    per_case: Vec<Vec<(usize, Counts)>>,
    exact: Vec<bool>,
    /// recall@k per case for each k (None for a case without gold labels).
    recall_k: Vec<Vec<Option<f64>>>,
}

/// The metrics that are bootstrapped, in the order [`Outcomes::stats`] returns them.
pub fn bootstrapped_metrics(ks: &[usize]) -> Vec<String> {
    let mut names: Vec<String> =
        ["micro_f1", "macro_f1", "micro_precision", "micro_recall", "accuracy"].iter().map(|s| s.to_string()).collect();
    names.extend(ks.iter().map(|k| format!("recall_at_{k}")));
    names
}

impl Outcomes {
    pub fn new(cases: &Cases, predicted: &[Vec<usize>], ks: &[usize]) -> Outcomes {
        let mut per_case = Vec::with_capacity(cases.len());
        let mut recall_k = Vec::with_capacity(cases.len());
        for (i, (g, p)) in cases.gold().iter().zip(predicted).enumerate() {
            let mut row: Vec<(usize, Counts)> = Vec::new();
            for &l in p {
                let c = if g.contains(&l) { Counts { tp: 1, fp: 0, fn_: 0 } } else { Counts { tp: 0, fp: 1, fn_: 0 } };
                row.push((l, c));
            }
            for &l in g {
                if !p.contains(&l) {
                    row.push((l, Counts { tp: 0, fp: 0, fn_: 1 }));
                }
            }
            per_case.push(row);
            let ranked = if g.is_empty() { Vec::new() } else { cases.ranked(i) };
            recall_k.push(
                ks.iter()
                    .map(|&k| {
                        (!g.is_empty()).then(|| ranked.iter().take(k).filter(|l| g.contains(l)).count() as f64 / g.len() as f64)
                    })
                    .collect(),
            );
        }
        let exact = cases.gold().iter().zip(predicted).map(|(g, p)| g == p).collect();
        Outcomes { n_labels: cases.n_labels(), per_case, exact, recall_k }
    }

    pub fn len(&self) -> usize {
        self.exact.len()
    }
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }
    /// Whether case `i`'s predicted set equals its gold set.
    pub fn correct(&self, i: usize) -> bool {
        self.exact[i]
    }

    /// The metrics named by [`bootstrapped_metrics`] over the cases `idx` (repeats allowed).
    pub fn stats(&self, idx: &[usize]) -> Vec<f64> {
        let mut c = vec![Counts::default(); self.n_labels];
        let mut exact = 0usize;
        let ks = self.recall_k.first().map_or(0, Vec::len);
        let mut rk = vec![(0.0, 0usize); ks];
        for &i in idx {
            for &(l, x) in &self.per_case[i] {
                c[l].add(x);
            }
            exact += usize::from(self.exact[i]);
            for (acc, v) in rk.iter_mut().zip(&self.recall_k[i]) {
                if let Some(v) = v {
                    acc.0 += v;
                    acc.1 += 1;
                }
            }
        }
        let a = averages(&c);
        let mut out = vec![a.micro.f1, a.macro_.f1, a.micro.precision, a.micro.recall];
        out.push(if idx.is_empty() { 0.0 } else { exact as f64 / idx.len() as f64 });
        out.extend(rk.iter().map(|(s, n)| if *n == 0 { 0.0 } else { s / *n as f64 }));
        out
    }
}

/// Evaluates `cases` with `thresholds` (used only for multi-label).
pub fn evaluate(cases: &Cases, thresholds: &Thresholds, options: &Options) -> Result<Evaluation, EvalError> {
    if cases.is_empty() {
        return Err(EvalError::Empty);
    }
    cases.check_thresholds(thresholds)?;
    let n = cases.n_labels();
    let predicted = cases.decide(thresholds);
    let c = counts(cases.gold(), &predicted, n);
    let avg = averages(&c);
    let mut per_label = Vec::with_capacity(n);
    let mut pr_curves = Vec::new();
    let mut ap_sum = 0.0;
    let mut ap_n = 0usize;
    for (l, cl) in c.iter().enumerate() {
        let (scores, positive) = label_column(cases, l);
        let ap = average_precision(&scores, &positive);
        if cl.support() > 0 {
            ap_sum += ap;
            ap_n += 1;
        }
        if options.curves {
            pr_curves.push(LabelCurve { label: cases.labels()[l].clone(), curve: pr_curve(&scores, &positive) });
        }
        let p = prf(*cl);
        per_label.push(LabelRow {
            label: cases.labels()[l].clone(),
            precision: p.precision,
            recall: p.recall,
            f1: p.f1,
            support: cl.support(),
            predicted: cl.tp + cl.fp,
            average_precision: ap,
            threshold: (cases.kind() == Kind::MultiLabel).then(|| thresholds.of(l)),
        });
    }
    per_label.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.label.cmp(&b.label)));
    let (probs, outcomes) = confidence_pairs(cases);
    let mut intervals = Vec::new();
    if let Some(settings) = options.bootstrap {
        let outs = Outcomes::new(cases, &predicted, &options.ks);
        let point = outs.stats(&(0..cases.len()).collect::<Vec<_>>());
        let samples = bootstrap::resample(cases.len(), settings, |idx| outs.stats(idx));
        for ((name, est), sorted) in bootstrapped_metrics(&options.ks).into_iter().zip(point).zip(&samples) {
            intervals.push(NamedInterval { metric: name, interval: bootstrap::interval(est, sorted, settings.level) });
        }
    }
    Ok(Evaluation {
        kind: cases.kind(),
        cases: cases.len(),
        labels: cases.labels().to_vec(),
        accuracy: classify::exact_match(cases.gold(), &predicted),
        micro_precision: avg.micro.precision,
        micro_recall: avg.micro.recall,
        micro_f1: avg.micro.f1,
        macro_precision: avg.macro_.precision,
        macro_recall: avg.macro_.recall,
        macro_f1: avg.macro_.f1,
        weighted_precision: avg.weighted.precision,
        weighted_recall: avg.weighted.recall,
        weighted_f1: avg.weighted.f1,
        mean_average_precision: if ap_n == 0 { 0.0 } else { ap_sum / ap_n as f64 },
        top_k_accuracy: options.ks.iter().map(|&k| AtK { k, value: top_k_accuracy(cases, k) }).collect(),
        top_k_recall: options.ks.iter().map(|&k| AtK { k, value: recall_at_k(cases, k) }).collect(),
        per_label,
        thresholds: (cases.kind() == Kind::MultiLabel).then(|| thresholds.clone()),
        confusion: (cases.kind() == Kind::MultiClass).then(|| confusion(cases.gold(), &predicted, n)),
        calibration: reliability(&probs, &outcomes, options.calibration_bins),
        intervals,
        pr_curves,
    })
}
