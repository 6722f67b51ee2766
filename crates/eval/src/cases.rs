//! Validated evaluation input: the label list, each case's gold labels and its probability for
//! every label, and how scores turn into decisions (arg-max or thresholds).

use crate::error::EvalError;
use serde::Serialize;

/// How decisions are made from scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One gold label per case; the prediction is the highest-scoring label.
    MultiClass,
    /// Any number of gold labels per case; a label is predicted when its score reaches its threshold.
    MultiLabel,
}

/// Decision thresholds of a multi-label task: a label is predicted when `score >= threshold`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Thresholds {
    /// One threshold for every label.
    Global(f64),
    /// One threshold per label, in label order.
    PerLabel(Vec<f64>),
}

impl Thresholds {
    /// The threshold of label `l`.
    pub fn of(&self, l: usize) -> f64 {
        match self {
            Thresholds::Global(t) => *t,
            Thresholds::PerLabel(v) => v.get(l).copied().unwrap_or(0.5),
        }
    }
}

/// Cases ready for evaluation. Invariants (checked by [`Cases::new`]): every case has one score
/// per label, each score is a probability in [0, 1], gold indices are inside the label list,
/// gold indices of a case are sorted and distinct, and a multi-class case has exactly one gold
/// label.
#[derive(Debug, Clone, PartialEq)]
pub struct Cases {
    labels: Vec<String>,
    gold: Vec<Vec<usize>>,
    scores: Vec<Vec<f64>>,
    kind: Kind,
}

impl Cases {
    /// Checks and builds cases. Zero cases is allowed here (metrics of nothing are zeros);
    /// [`crate::evaluate`] refuses it.
    pub fn new(labels: Vec<String>, gold: Vec<Vec<usize>>, scores: Vec<Vec<f64>>, kind: Kind) -> Result<Cases, EvalError> {
        if labels.is_empty() {
            return Err(EvalError::NoLabels);
        }
        if gold.len() != scores.len() {
            return Err(EvalError::Unpaired(format!("{} gold rows for {} score rows", gold.len(), scores.len())));
        }
        let n_labels = labels.len();
        let mut gold = gold;
        for (case, (g, s)) in gold.iter_mut().zip(&scores).enumerate() {
            if s.len() != n_labels {
                return Err(EvalError::ScoreCount { case, got: s.len(), expected: n_labels });
            }
            if let Some((label, &value)) = s.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
                return Err(EvalError::BadScore { case, label, value });
            }
            if let Some(&label) = g.iter().find(|&&l| l >= n_labels) {
                return Err(EvalError::BadGold { case, label, labels: n_labels });
            }
            g.sort_unstable();
            g.dedup();
            if kind == Kind::MultiClass && g.len() != 1 {
                return Err(EvalError::NotSingleLabel { case, got: g.len() });
            }
        }
        Ok(Cases { labels, gold, scores, kind })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    pub fn gold(&self) -> &[Vec<usize>] {
        &self.gold
    }
    pub fn scores(&self) -> &[Vec<f64>] {
        &self.scores
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn len(&self) -> usize {
        self.gold.len()
    }
    pub fn is_empty(&self) -> bool {
        self.gold.is_empty()
    }
    pub fn n_labels(&self) -> usize {
        self.labels.len()
    }

    /// Label indices of case `i` from highest to lowest score; ties keep label order.
    pub fn ranked(&self, i: usize) -> Vec<usize> {
        let s = &self.scores[i];
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        order
    }

    /// The predicted label set of every case: the arg-max (first on ties) for multi-class,
    /// labels whose score reaches their threshold for multi-label (`thresholds` is ignored for
    /// multi-class).
    pub fn decide(&self, thresholds: &Thresholds) -> Vec<Vec<usize>> {
        self.scores
            .iter()
            .map(|s| match self.kind {
                Kind::MultiClass => {
                    let mut best = 0;
                    for (l, v) in s.iter().enumerate() {
                        if *v > s[best] {
                            best = l;
                        }
                    }
                    vec![best]
                }
                Kind::MultiLabel => (0..s.len()).filter(|&l| s[l] >= thresholds.of(l)).collect(),
            })
            .collect()
    }

    /// Checks that `thresholds` fit these labels.
    pub fn check_thresholds(&self, thresholds: &Thresholds) -> Result<(), EvalError> {
        match thresholds {
            Thresholds::PerLabel(v) if v.len() != self.n_labels() => {
                Err(EvalError::ThresholdCount { got: v.len(), expected: self.n_labels() })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("L{i}")).collect()
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn invalid_input_is_refused_with_its_position() {
        let rows: Vec<(Vec<Vec<usize>>, Vec<Vec<f64>>, Kind, Option<EvalError>)> = vec![
            (vec![vec![0]], vec![vec![0.6, 0.4]], Kind::MultiClass, None),
            (vec![], vec![], Kind::MultiClass, None),
            (vec![vec![0]], vec![vec![0.6]], Kind::MultiClass, Some(EvalError::ScoreCount { case: 0, got: 1, expected: 2 })),
            (vec![vec![0]], vec![vec![f64::NAN, 0.4]], Kind::MultiClass, Some(EvalError::BadScore { case: 0, label: 0, value: f64::NAN })),
            (vec![vec![2]], vec![vec![0.5, 0.5]], Kind::MultiClass, Some(EvalError::BadGold { case: 0, label: 2, labels: 2 })),
            (vec![vec![0, 1]], vec![vec![0.5, 0.5]], Kind::MultiClass, Some(EvalError::NotSingleLabel { case: 0, got: 2 })),
            (vec![vec![]], vec![vec![0.5, 0.5]], Kind::MultiLabel, None),
            (vec![vec![1], vec![]], vec![vec![0.5, 1.5], vec![0.1, 0.1]], Kind::MultiLabel, Some(EvalError::BadScore { case: 0, label: 1, value: 1.5 })),
        ];
        for (gold, scores, kind, expected) in rows {
            let got = Cases::new(labels(2), gold.clone(), scores, kind).err();
            // NaN != NaN: compare the rendered error.
            assert_eq!(got.map(|e| e.to_string()), expected.map(|e| e.to_string()), "{gold:?}");
        }
    }

    #[test]
    fn decisions_argmax_and_thresholds() {
        let mc = Cases::new(labels(3), vec![vec![0], vec![2]], vec![vec![0.2, 0.5, 0.3], vec![0.4, 0.2, 0.4]], Kind::MultiClass).unwrap();
        assert_eq!(mc.decide(&Thresholds::Global(0.9)), vec![vec![1], vec![0]], "arg-max, first label on ties");
        let ml = Cases::new(labels(3), vec![vec![0], vec![]], vec![vec![0.2, 0.5, 0.3], vec![0.9, 0.0, 0.4]], Kind::MultiLabel).unwrap();
        assert_eq!(ml.decide(&Thresholds::Global(0.3)), vec![vec![1, 2], vec![0, 2]]);
        assert_eq!(ml.decide(&Thresholds::PerLabel(vec![0.95, 0.5, 0.35])), vec![vec![1], vec![2]]);
    }
}
