//! Classification metrics computed from probabilities: accuracy and macro-F1 for one diagnosis per
//! note, micro- and macro-F1 at a threshold for several codes per note.

use serde::Serialize;

/// Metrics of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Multi-class: top-1 accuracy. Multi-label: share of notes whose predicted set is exact.
    pub accuracy: f64,
    /// Mean over labels that occur in gold or predictions of the per-label F1.
    pub macro_f1: f64,
    /// F1 over all (note, label) decisions.
    pub micro_f1: f64,
    pub count: usize,
}

/// `probs[i][l]` against `gold[i]` (label indices). Multi-class predicts the arg-max, multi-label
/// every label with probability `>= threshold`.
pub fn evaluate(probs: &[Vec<f32>], gold: &[Vec<usize>], labels: usize, multi_label: bool, threshold: f32) -> Metrics {
    let (mut tp, mut fp, mut fnn) = (vec![0usize; labels], vec![0usize; labels], vec![0usize; labels]);
    let mut exact = 0;
    for (p, g) in probs.iter().zip(gold) {
        let predicted: Vec<usize> = if multi_label {
            (0..labels).filter(|&l| p.get(l).copied().unwrap_or(0.0) >= threshold).collect()
        } else {
            let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
            best.into_iter().collect()
        };
        let mut gold_sorted = g.clone();
        gold_sorted.sort_unstable();
        if predicted == gold_sorted || (!multi_label && predicted.first().is_some_and(|x| g.contains(x))) {
            exact += 1;
        }
        for &l in &predicted {
            if g.contains(&l) {
                tp[l] += 1;
            } else {
                fp[l] += 1;
            }
        }
        for &l in g {
            if l < labels && !predicted.contains(&l) {
                fnn[l] += 1;
            }
        }
    }
    let f1 = |tp: usize, fp: usize, fnn: usize| if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fnn) as f64 };
    let active: Vec<usize> = (0..labels).filter(|&l| tp[l] + fp[l] + fnn[l] > 0).collect();
    let macro_f1 = if active.is_empty() { 0.0 } else { active.iter().map(|&l| f1(tp[l], fp[l], fnn[l])).sum::<f64>() / active.len() as f64 };
    let micro_f1 = f1(tp.iter().sum(), fp.iter().sum(), fnn.iter().sum());
    let count = probs.len();
    Metrics { accuracy: if count == 0 { 0.0 } else { exact as f64 / count as f64 }, macro_f1, micro_f1, count }
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
