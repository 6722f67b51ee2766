//! Precision-recall curves, average precision, and decision thresholds chosen to maximise F1 on
//! a validation split (never on the split that is reported).
//!
//! The curve follows scikit-learn's `precision_recall_curve`: one point per distinct score, in
//! increasing threshold order, with the point (precision 1, recall 0) appended, and average
//! precision is `sum (R_n - R_{n-1}) P_n` (`average_precision_score`).

use crate::cases::{Cases, Thresholds};
use serde::Serialize;

/// A precision-recall curve; `thresholds` has one entry fewer than `precision` and `recall`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// Cumulative (threshold, tp, fp) at each distinct score, highest score first.
fn binary_counts(scores: &[f64], positive: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (j, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_value = order.get(j + 1).is_none_or(|&next| scores[next] != scores[i]);
        if last_of_value {
            out.push((scores[i], tp, fp));
        }
    }
    out
}

/// The precision-recall curve of `scores` against binary `positive`. With no positives the
/// recall is 1 everywhere (as scikit-learn does, which warns).
pub fn pr_curve(scores: &[f64], positive: &[bool]) -> PrCurve {
    let pts = binary_counts(scores, positive);
    let total_tp = pts.last().map(|p| p.1).unwrap_or(0);
    let mut precision = Vec::with_capacity(pts.len() + 1);
    let mut recall = Vec::with_capacity(pts.len() + 1);
    let mut thresholds = Vec::with_capacity(pts.len());
    for &(t, tp, fp) in pts.iter().rev() {
        precision.push(if tp + fp == 0 { 0.0 } else { tp as f64 / (tp + fp) as f64 });
        recall.push(if total_tp == 0 { 1.0 } else { tp as f64 / total_tp as f64 });
        thresholds.push(t);
    }
    precision.push(1.0);
    recall.push(0.0);
    PrCurve { precision, recall, thresholds }
}

/// Average precision of a curve (0 when there are no positives).
pub fn average_precision(scores: &[f64], positive: &[bool]) -> f64 {
    if !positive.iter().any(|&p| p) {
        return 0.0;
    }
    let c = pr_curve(scores, positive);
    (0..c.precision.len() - 1).map(|i| (c.recall[i] - c.recall[i + 1]) * c.precision[i]).sum()
}

/// The threshold (one of the scores) whose decisions `score >= t` give the highest F1, and that
/// F1; on ties the highest threshold. `None` when there are no positives.
pub fn best_f1_threshold(scores: &[f64], positive: &[bool]) -> Option<(f64, f64)> {
    let pts = binary_counts(scores, positive);
    let total_tp = pts.last()?.1;
    if total_tp == 0 {
        return None;
    }
    let mut best: Option<(f64, f64)> = None;
    for &(t, tp, fp) in &pts {
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + (total_tp - tp)) as f64;
        if best.is_none_or(|(_, b)| f1 > b) {
            best = Some((t, f1));
        }
    }
    best
}

/// Scores and gold membership of label `l` over all cases.
pub fn label_column(cases: &Cases, l: usize) -> (Vec<f64>, Vec<bool>) {
    let scores = cases.scores().iter().map(|s| s[l]).collect();
    let positive = cases.gold().iter().map(|g| g.contains(&l)).collect();
    (scores, positive)
}

/// How thresholds are chosen on validation cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// One threshold maximising micro-F1 over all (case, label) decisions.
    Global,
    /// One threshold per label maximising that label's F1; labels with fewer than
    /// `min_positives` validation positives get the global threshold.
    PerLabel { min_positives: usize },
}

/// Thresholds chosen on `validation` (to be applied to another split). `fallback` is used when
/// the validation cases have no positive at all.
pub fn choose_thresholds(validation: &Cases, strategy: Strategy, fallback: f64) -> Thresholds {
    let flat_scores: Vec<f64> = validation.scores().iter().flatten().copied().collect();
    let flat_pos: Vec<bool> =
        validation.gold().iter().flat_map(|g| (0..validation.n_labels()).map(move |l| g.contains(&l))).collect();
    let global = best_f1_threshold(&flat_scores, &flat_pos).map(|b| b.0).unwrap_or(fallback);
    match strategy {
        Strategy::Global => Thresholds::Global(global),
        Strategy::PerLabel { min_positives } => Thresholds::PerLabel(
            (0..validation.n_labels())
                .map(|l| {
                    let (s, p) = label_column(validation, l);
                    if p.iter().filter(|&&x| x).count() < min_positives.max(1) {
                        return global;
                    }
                    best_f1_threshold(&s, &p).map(|b| b.0).unwrap_or(global)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)]
    fn best_threshold_rows() {
        // (scores, positives, expected (threshold, f1))
        let rows: Vec<(Vec<f64>, Vec<bool>, Option<(f64, f64)>)> = vec![
            (vec![0.9, 0.8, 0.3, 0.1], vec![true, true, false, false], Some((0.8, 1.0))),
            (vec![0.9, 0.8, 0.3, 0.1], vec![false, true, false, true], Some((0.1, 2.0 * 2.0 / (4.0 + 2.0)))),
            (vec![0.5, 0.4], vec![false, false], None),
            (vec![], vec![], None),
        ];
        for (s, p, expected) in rows {
            assert_eq!(best_f1_threshold(&s, &p), expected, "{s:?} {p:?}");
        }
    }
}
