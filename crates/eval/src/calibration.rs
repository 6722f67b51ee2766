//! Calibration: does a probability of 0.8 come true 80% of the time? A reliability curve over
//! equal-width bins and the expected calibration error (ECE).
//!
//! Binning follows scikit-learn's `calibration_curve(strategy="uniform")`: bin edges
//! `i * (1 / n_bins)`, and a probability `p` falls in the bin numbered by how many inner edges are
//! strictly below it (so 0.1 is in the first of ten bins). ECE is `sum_b (n_b / N) |observed_b -
//! mean_probability_b|` over the same bins.

use crate::cases::{Cases, Kind};
use serde::Serialize;

/// One non-empty bin of a reliability curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean predicted probability in the bin (scikit-learn's `prob_pred`).
    pub mean_probability: f64,
    /// Share of the bin's predictions that came true (`prob_true`).
    pub observed: f64,
}

/// A reliability curve and its expected calibration error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reliability {
    pub bins: Vec<Bin>,
    pub ece: f64,
}

/// Reliability of binary predictions (`probs[i]` that `outcomes[i]` is true) over `n_bins`
/// equal-width bins; empty bins are left out. No predictions gives no bins and an ECE of 0.
pub fn reliability(probs: &[f64], outcomes: &[bool], n_bins: usize) -> Reliability {
    let n_bins = n_bins.max(1);
    let step = 1.0 / n_bins as f64;
    let edges: Vec<f64> = (0..=n_bins).map(|i| if i == n_bins { 1.0 } else { i as f64 * step }).collect();
    let mut sum_p = vec![0.0; n_bins];
    let mut sum_y = vec![0.0; n_bins];
    let mut count = vec![0usize; n_bins];
    for (&p, &y) in probs.iter().zip(outcomes) {
        let b = edges[1..n_bins].iter().filter(|&&e| e < p).count();
        sum_p[b] += p;
        sum_y[b] += if y { 1.0 } else { 0.0 };
        count[b] += 1;
    }
    let total = probs.len().min(outcomes.len());
    let mut bins = Vec::new();
    let mut ece = 0.0;
    for b in 0..n_bins {
        if count[b] == 0 {
            continue;
        }
        let (mp, ob) = (sum_p[b] / count[b] as f64, sum_y[b] / count[b] as f64);
        ece += count[b] as f64 / total as f64 * (ob - mp).abs();
        bins.push(Bin { lower: edges[b], upper: edges[b + 1], count: count[b], mean_probability: mp, observed: ob });
    }
    Reliability { bins, ece }
}

/// The binary predictions whose calibration is measured: for multi-class the top-1 probability
/// and whether the top-1 label is right; for multi-label every (case, label) probability and
/// whether the label is gold.
pub fn confidence_pairs(cases: &Cases) -> (Vec<f64>, Vec<bool>) {
    let mut probs = Vec::new();
    let mut outcomes = Vec::new();
    for (g, s) in cases.gold().iter().zip(cases.scores()) {
        match cases.kind() {
            Kind::MultiClass => {
                let mut best = 0;
                for (l, v) in s.iter().enumerate() {
                    if *v > s[best] {
                        best = l;
                    }
                }
                probs.push(s[best]);
                outcomes.push(g.contains(&best));
            }
            Kind::MultiLabel => {
                for (l, v) in s.iter().enumerate() {
                    probs.push(*v);
                    outcomes.push(g.contains(&l));
                }
            }
        }
    }
    (probs, outcomes)
}
