//! K-fold cross-validation: which fold each note belongs to, and what K evaluations say together.
//!
//! Folds are dealt by *group* (a patient, or a note alone when its patient is unknown), so no
//! patient's notes are on both sides of a split. Groups are sorted by their main label and then
//! by a seeded hash of their key, and dealt round-robin: each label's groups spread evenly over
//! the folds (stratification), and the order within a label is random but reproducible.
//!
//! Each metric is summarised by its mean over folds, the sample standard deviation and a 95%
//! Student-t interval `mean ± t(0.975, K-1) · sd / √K`. Folds share training notes, so these
//! intervals are narrower than the truth (Bengio and Grandvalet, 2004); the report says so.
//! Per-label precision, recall and F1 are pooled: the counts of all folds are summed first.
//!
//! Pure, like the rest of this crate: the caller trains and scores each fold.

use crate::bootstrap::SplitMix64;
use crate::classify::{prf, Counts};
use crate::error::EvalError;
use crate::evaluate::Evaluation;
use crate::html::{escape, ReportInfo};
use crate::Kind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The fold (0..k) of each member. `members[i]` is (group key, main label of the member); a
/// group's main label is that of its first member.
pub fn assign_folds(members: &[(String, String)], k: usize, seed: u64) -> Result<Vec<usize>, EvalError> {
    if k < 2 {
        return Err(EvalError::Folds(format!("{k} folds: at least 2 are needed")));
    }
    let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
    for (g, label) in members {
        groups.entry(g.as_str()).or_insert(label.as_str());
    }
    if groups.len() < k {
        return Err(EvalError::Folds(format!("{} patients (groups of notes) cannot fill {k} folds", groups.len())));
    }
    let mut order: Vec<(&str, u64, &str)> = groups.iter().map(|(g, l)| (*l, key_hash(seed, g), *g)).collect();
    order.sort();
    let fold_of: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, (_, _, g))| (*g, i % k)).collect();
    Ok(members.iter().map(|(g, _)| fold_of[g.as_str()]).collect())
}

/// A seeded 64-bit hash of a key (FNV-1a of the bytes, then a SplitMix64 step keyed by the seed),
/// the same on every machine.
fn key_hash(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    SplitMix64::new(h ^ seed.rotate_left(17)).next_u64()
}

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (1.96 beyond 30).
pub fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
        2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96,
    }
}

/// One metric over the folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldMetric {
    pub metric: String,
    /// The value on each fold's test part, in fold order.
    pub values: Vec<f64>,
    pub mean: f64,
    /// Sample standard deviation (n - 1).
    pub sd: f64,
    /// The 95% t-interval of the mean, clipped to [0, 1].
    pub low: f64,
    pub high: f64,
}

impl FoldMetric {
    pub fn new(metric: &str, values: Vec<f64>) -> FoldMetric {
        let n = values.len();
        let mean = if n == 0 { 0.0 } else { values.iter().sum::<f64>() / n as f64 };
        let sd = if n < 2 { 0.0 } else { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() };
        let half = if n < 2 { 0.0 } else { t_975(n - 1) * sd / (n as f64).sqrt() };
        FoldMetric { metric: metric.to_string(), values, mean, sd, low: (mean - half).max(0.0), high: (mean + half).min(1.0) }
    }
}

/// A label's figures with the counts of every fold's test part summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledLabel {
    pub label: String,
    pub support: usize,
    pub predicted: usize,
    pub true_positives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// In how many folds' test parts the label occurs.
    pub folds_present: usize,
}

/// The metrics summarised over folds, in the order shown.
pub fn metric_names(first: &Evaluation) -> Vec<String> {
    let mut names: Vec<String> = [
        "accuracy",
        "micro_precision",
        "micro_recall",
        "micro_f1",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "weighted_f1",
        "mean_average_precision",
        "expected_calibration_error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(first.top_k_accuracy.iter().map(|a| format!("top_{}_accuracy", a.k)));
    names.extend(first.top_k_recall.iter().map(|a| format!("recall_at_{}", a.k)));
    names
}

fn metric_of(e: &Evaluation, name: &str) -> Option<f64> {
    let at = |v: &[crate::evaluate::AtK], k: &str| v.iter().find(|a| a.k.to_string() == k).map(|a| a.value);
    Some(match name {
        "accuracy" => e.accuracy,
        "micro_precision" => e.micro_precision,
        "micro_recall" => e.micro_recall,
        "micro_f1" => e.micro_f1,
        "macro_precision" => e.macro_precision,
        "macro_recall" => e.macro_recall,
        "macro_f1" => e.macro_f1,
        "weighted_f1" => e.weighted_f1,
        "mean_average_precision" => e.mean_average_precision,
        "expected_calibration_error" => e.calibration.ece,
        n => {
            if let Some(k) = n.strip_prefix("top_").and_then(|r| r.strip_suffix("_accuracy")) {
                return at(&e.top_k_accuracy, k);
            }
            return at(&e.top_k_recall, n.strip_prefix("recall_at_")?);
        }
    })
}

/// What K folds' evaluations say together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub folds: usize,
    /// Test cases per fold.
    pub cases: Vec<usize>,
    pub metrics: Vec<FoldMetric>,
    /// Sorted by pooled support, largest first (then by label).
    pub per_label: Vec<PooledLabel>,
}

impl Summary {
    pub fn metric(&self, name: &str) -> Option<&FoldMetric> {
        self.metrics.iter().find(|m| m.metric == name)
    }
}

/// Summarises the folds' test evaluations (one per fold, in fold order).
pub fn summarize(folds: &[Evaluation]) -> Result<Summary, EvalError> {
    let first = folds.first().ok_or(EvalError::Empty)?;
    if folds.iter().any(|e| e.kind != first.kind) {
        return Err(EvalError::Folds("the folds' evaluations are of different kinds".into()));
    }
    let metrics = metric_names(first)
        .iter()
        .map(|name| FoldMetric::new(name, folds.iter().map(|e| metric_of(e, name).unwrap_or(0.0)).collect()))
        .collect();
    let mut pooled: BTreeMap<&str, (Counts, usize)> = BTreeMap::new();
    for e in folds {
        for r in &e.per_label {
            let tp = if r.support == 0 { 0 } else { (r.recall * r.support as f64).round() as usize };
            let entry = pooled.entry(r.label.as_str()).or_default();
            entry.0.add(Counts { tp, fp: r.predicted.saturating_sub(tp), fn_: r.support - tp.min(r.support) });
            entry.1 += usize::from(r.support > 0);
        }
    }
    let mut per_label: Vec<PooledLabel> = pooled
        .into_iter()
        .map(|(label, (c, present))| {
            let p = prf(c);
            PooledLabel {
                label: label.to_string(),
                support: c.support(),
                predicted: c.tp + c.fp,
                true_positives: c.tp,
                precision: p.precision,
                recall: p.recall,
                f1: p.f1,
                folds_present: present,
            }
        })
        .collect();
    per_label.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.label.cmp(&b.label)));
    Ok(Summary { folds: folds.len(), cases: folds.iter().map(|e| e.cases).collect(), metrics, per_label })
}

/// The cross-validation report as one self-contained HTML document: the facts (folds, seed,
/// data version, model, settings), the metric table with every fold's value, a dot plot of
/// the folds, and the pooled per-label table.
pub fn render(s: &Summary, kind: Kind, info: &ReportInfo) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let title = escape(&info.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{}</style></head><body><h1>{title}</h1><table>",
        crate::html::STYLE
    );
    for (k, v) in &info.facts {
        let _ = write!(out, "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>", escape(k), escape(v));
    }
    let task = match kind {
        Kind::MultiClass => "multi-class (arg-max decision)",
        Kind::MultiLabel => "multi-label (thresholds chosen on each fold's validation part, never its test part)",
    };
    let total: usize = s.cases.iter().sum();
    let sizes: Vec<String> = s.cases.iter().map(usize::to_string).collect();
    let _ = write!(
        out,
        "<tr><th class=\"l\">Task</th><td class=\"l\">{task}</td></tr><tr><th class=\"l\">Folds</th><td class=\"l\">{} folds by patient; {total} test notes in all ({} per fold)</td></tr></table>",
        s.folds,
        sizes.join(", ")
    );
    let _ = write!(
        out,
        "<p class=\"note\">Each fold's test part is scored by a model trained without it; fold k+1 is its validation part. The interval is the mean ± t(0.975, {}) · sd / √{}. Folds share most of their training notes, so the folds' values are not independent and the interval is narrower than the true uncertainty: read it as a lower bound.</p>",
        s.folds.saturating_sub(1),
        s.folds
    );
    out.push_str("<h2>Metrics over folds</h2><table><tr><th class=\"l\">metric</th><th>mean</th><th>sd</th><th>95% CI</th>");
    for i in 0..s.folds {
        let _ = write!(out, "<th>fold {}</th>", i + 1);
    }
    out.push_str("</tr>");
    for m in &s.metrics {
        let _ = write!(out, "<tr><td class=\"l\">{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3} - {:.3}</td>", escape(&m.metric.replace('_', " ")), m.mean, m.sd, m.low, m.high);
        for v in &m.values {
            let _ = write!(out, "<td>{v:.3}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    dot_plot(s, &mut out);
    out.push_str("<h2>Per-label figures pooled over folds</h2><table><tr><th class=\"l\">label</th><th>support</th><th>predicted</th><th>true positives</th><th>precision</th><th>recall</th><th>F1</th><th>folds present</th></tr>");
    for r in &s.per_label {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            escape(&r.label),
            r.support,
            r.predicted,
            r.true_positives,
            r.precision,
            r.recall,
            r.f1,
            r.folds_present
        );
    }
    out.push_str("</table><p class=\"note\">Counts are summed over the folds' test parts before precision, recall and F1 are computed; a label never predicted has precision 0 (zero_division=0).</p></body></html>\n");
    out
}

/// One row per metric: each fold a dot, the mean a bar, the interval a line.
fn dot_plot(s: &Summary, out: &mut String) {
    let (name_w, w, row_h) = (190.0, 460.0, 22.0);
    let h = 30.0 + s.metrics.len() as f64 * row_h;
    let mut svg = format!(r#"<svg width="{}" height="{h}" role="img" aria-label="metric values per fold">"#, name_w + w + 20.0);
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let x = name_w + v * w;
        let _ = write!(svg, r##"<line x1="{x}" y1="14" x2="{x}" y2="{}" stroke="#eee"/><text x="{x}" y="11" text-anchor="middle">{v:.2}</text>"##, h - 4.0);
    }
    for (i, m) in s.metrics.iter().enumerate() {
        let y = 28.0 + i as f64 * row_h;
        let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##, name_w - 6.0, y + 4.0, escape(&m.metric.replace('_', " ")));
        let _ = write!(svg, r##"<line x1="{:.1}" y1="{y}" x2="{:.1}" y2="{y}" stroke="#1f77b4" stroke-width="2"/>"##, name_w + m.low * w, name_w + m.high * w);
        let _ = write!(svg, r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#1f77b4" stroke-width="2"/>"##, name_w + m.mean * w, y - 7.0, y + 7.0);
        for (f, v) in m.values.iter().enumerate() {
            let _ = write!(svg, r##"<circle cx="{:.1}" cy="{y}" r="3" fill="#ff7f0e" fill-opacity="0.7"><title>fold {}: {v:.3}</title></circle>"##, name_w + v.clamp(0.0, 1.0) * w, f + 1);
        }
    }
    svg.push_str("</svg>");
    let _ = write!(out, "<h2>Folds at a glance</h2><p class=\"note\">Dots: each fold's value; tick: the mean; line: the 95% interval.</p>{svg}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, Cases, Options, Thresholds};

    fn members(n_patients: usize, notes_each: usize, labels: &[&str]) -> Vec<(String, String)> {
        let mut m = Vec::new();
        for p in 0..n_patients {
            for _ in 0..notes_each {
                m.push((format!("p{p}"), labels[p % labels.len()].to_string()));
            }
        }
        m
    }

    #[test]
    fn a_patient_never_spans_two_folds() {
        let m = members(23, 3, &["a", "b", "c"]);
        let folds = assign_folds(&m, 5, 7).unwrap();
        let mut of: BTreeMap<&str, usize> = BTreeMap::new();
        for ((g, _), f) in m.iter().zip(&folds) {
            assert!(*f < 5);
            assert_eq!(*of.entry(g).or_insert(*f), *f, "patient {g} is in two folds");
        }
    }

    #[test]
    fn folds_are_balanced_and_stratified() {
        // 60 single-note patients, labels a (30), b (20), c (10): each of 5 folds gets 6, 4, 2.
        let mut m = Vec::new();
        for (label, n) in [("a", 30), ("b", 20), ("c", 10)] {
            for i in 0..n {
                m.push((format!("{label}{i}"), label.to_string()));
            }
        }
        let folds = assign_folds(&m, 5, 1).unwrap();
        for f in 0..5 {
            for (label, want) in [("a", 6), ("b", 4), ("c", 2)] {
                let got = m.iter().zip(&folds).filter(|((_, l), g)| l == label && **g == f).count();
                assert_eq!(got, want, "fold {f} label {label}");
            }
        }
    }

    #[test]
    fn the_seed_reorders_but_reproduces() {
        let m = members(40, 1, &["a", "b"]);
        assert_eq!(assign_folds(&m, 4, 3).unwrap(), assign_folds(&m, 4, 3).unwrap());
        assert_ne!(assign_folds(&m, 4, 3).unwrap(), assign_folds(&m, 4, 4).unwrap());
    }

    #[test]
    fn too_few_groups_or_folds_is_an_error() {
        assert!(matches!(assign_folds(&members(3, 5, &["a"]), 4, 0), Err(EvalError::Folds(_))));
        assert!(matches!(assign_folds(&members(10, 1, &["a"]), 1, 0), Err(EvalError::Folds(_))));
    }

    #[test]
    fn fold_metric_matches_a_hand_computed_t_interval() {
        // values 0.6, 0.7, 0.8: mean 0.7, sd 0.1, half-width 4.303 * 0.1 / sqrt(3) = 0.24843.
        let m = FoldMetric::new("x", vec![0.6, 0.7, 0.8]);
        assert!((m.mean - 0.7).abs() < 1e-12);
        assert!((m.sd - 0.1).abs() < 1e-12);
        assert!((m.low - (0.7 - 0.248_434)).abs() < 1e-5, "{}", m.low);
        assert!((m.high - (0.7 + 0.248_434)).abs() < 1e-5);
        assert_eq!(t_975(4), 2.776);
        assert_eq!(t_975(100), 1.96);
        let clipped = FoldMetric::new("y", vec![0.99, 1.0, 0.98]);
        assert!(clipped.high <= 1.0);
    }

    fn eval(gold: Vec<usize>, scores: Vec<Vec<f64>>) -> Evaluation {
        let labels = vec!["a".to_string(), "b".to_string()];
        let cases = Cases::new(labels, gold.into_iter().map(|g| vec![g]).collect(), scores, Kind::MultiClass).unwrap();
        evaluate(&cases, &Thresholds::Global(0.5), &Options { bootstrap: None, ..Options::default() }).unwrap()
    }

    #[test]
    fn per_label_counts_are_pooled_before_ratios() {
        // Fold 1: a,a predicted a,b; fold 2: b,b,a predicted b,b,b.
        let f1 = eval(vec![0, 0], vec![vec![0.9, 0.1], vec![0.2, 0.8]]);
        let f2 = eval(vec![1, 1, 0], vec![vec![0.1, 0.9], vec![0.3, 0.7], vec![0.4, 0.6]]);
        let s = summarize(&[f1, f2]).unwrap();
        let a = s.per_label.iter().find(|r| r.label == "a").unwrap();
        // a: support 3, predicted 1, tp 1 -> precision 1, recall 1/3.
        assert_eq!((a.support, a.predicted, a.true_positives, a.folds_present), (3, 1, 1, 2));
        assert!((a.recall - 1.0 / 3.0).abs() < 1e-12 && (a.precision - 1.0).abs() < 1e-12);
        let b = s.per_label.iter().find(|r| r.label == "b").unwrap();
        // b: support 2, predicted 4, tp 2 -> precision 0.5, recall 1.
        assert_eq!((b.support, b.predicted, b.true_positives, b.folds_present), (2, 4, 2, 1));
        let acc = s.metric("accuracy").unwrap();
        assert_eq!(acc.values, vec![0.5, 2.0 / 3.0]);
        assert_eq!(s.cases, vec![2, 3]);
        assert!(s.metric("recall_at_1").is_some() && s.metric("top_3_accuracy").is_some());
    }

    #[test]
    fn the_report_states_folds_and_facts_and_escapes_labels() {
        let f1 = eval(vec![0, 1], vec![vec![0.9, 0.1], vec![0.2, 0.8]]);
        let mut f2 = eval(vec![1, 0], vec![vec![0.1, 0.9], vec![0.6, 0.4]]);
        f2.per_label[0].label = "<b>".into();
        let s = summarize(&[f1, f2]).unwrap();
        let info = ReportInfo { title: "CV".into(), facts: vec![("Seed".into(), "42".into()), ("Data version".into(), "v3".into())] };
        let html = render(&s, Kind::MultiClass, &info);
        assert!(html.contains("2 folds by patient") && html.contains("42") && html.contains("v3"));
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
        assert!(html.contains("lower bound"));
    }
}
