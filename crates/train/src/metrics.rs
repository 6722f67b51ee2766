//! The validation figures of a training run (accuracy, macro-F1, micro-F1) from label
//! probabilities, counted by the metrics engine (`localdx-eval`, checked against scikit-learn) so
//! that training, `localdx eval` and reports agree on every figure.

use localdx_eval::classify::{averages, counts, exact_match};
use serde::Serialize;

/// Metrics of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Multi-class: top-1 accuracy. Multi-label: share of notes whose predicted set is exact.
    pub accuracy: f64,
    /// Mean of the per-label F1 over every label (scikit-learn's convention: a label absent from
    /// both gold and predictions counts as 0).
    pub macro_f1: f64,
    /// F1 over all (note, label) decisions.
    pub micro_f1: f64,
    pub count: usize,
}

/// `probs[i][l]` against `gold[i]` (label indices; indices `>= labels` are ignored). Multi-class
/// predicts the arg-max, multi-label every label with probability `>= threshold`.
pub fn evaluate(probs: &[Vec<f32>], gold: &[Vec<usize>], labels: usize, multi_label: bool, threshold: f32) -> Metrics {
    let predicted: Vec<Vec<usize>> = probs
        .iter()
        .map(|p| {
            if multi_label {
                (0..labels).filter(|&l| p.get(l).is_some_and(|&x| x >= threshold)).collect()
            } else {
                p.iter().take(labels).enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).into_iter().collect()
            }
        })
        .collect();
    let gold: Vec<Vec<usize>> = gold
        .iter()
        .map(|g| {
            let mut g: Vec<usize> = g.iter().copied().filter(|&l| l < labels).collect();
            g.sort_unstable();
            g.dedup();
            g
        })
        .collect();
    let avg = averages(&counts(&gold, &predicted, labels));
    Metrics { accuracy: exact_match(&gold, &predicted), macro_f1: avg.macro_.f1, micro_f1: avg.micro.f1, count: probs.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_class_accuracy_and_macro_f1() {
        // gold: 0, 0, 1, 2 ; predicted: 0, 1, 1, 1
        let probs = vec![vec![0.8, 0.1, 0.1], vec![0.2, 0.7, 0.1], vec![0.1, 0.8, 0.1], vec![0.3, 0.4, 0.3]];
        let gold = vec![vec![0], vec![0], vec![1], vec![2]];
        let m = evaluate(&probs, &gold, 3, false, 0.5);
        assert_eq!(m.accuracy, 0.5);
        // F1: label0 2*1/(2+0+1)=0.667, label1 2*1/(2+2+0)=0.5, label2 0 -> mean 0.3889
        assert!((m.macro_f1 - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn multi_label_threshold() {
        let probs = vec![vec![0.9, 0.6, 0.1], vec![0.2, 0.1, 0.4]];
        let gold = vec![vec![0, 1], vec![2]];
        let m = evaluate(&probs, &gold, 3, true, 0.5);
        assert_eq!(m.accuracy, 0.5);
        // tp=2 fp=0 fn=1 -> micro 4/5
        assert!((m.micro_f1 - 0.8).abs() < 1e-9);
    }
}
