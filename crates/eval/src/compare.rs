//! Paired comparison of two models on the same cases: a paired bootstrap of the difference of
//! each metric (both models scored on the same resamples) and, for multi-class tasks, McNemar's
//! test on the cases where exactly one model is right.
//!
//! McNemar follows the usual definitions (statsmodels' `mcnemar`): with `b` = cases only model A
//! gets right and `c` = cases only model B gets right, the corrected statistic is
//! `(|b - c| - 1)^2 / (b + c)` with a chi-square (1 dof) p-value, and the exact p-value is
//! `min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])`.

use crate::bootstrap::{self, Settings};
use crate::cases::{Cases, Kind, Thresholds};
use crate::error::EvalError;
use crate::evaluate::{bootstrapped_metrics, Outcomes};
use serde::Serialize;

/// The difference `b - a` of one metric, with its paired-bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedDiff {
    pub metric: String,
    pub a: f64,
    pub b: f64,
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// Two-sided bootstrap p-value: twice the smaller share of resamples on either side of 0.
    pub p_value: f64,
}

/// McNemar's test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McNemar {
    /// Cases only model A gets right.
    pub only_a: usize,
    /// Cases only model B gets right.
    pub only_b: usize,
    pub statistic: f64,
    pub p_value: f64,
    pub exact_p_value: f64,
}

/// A paired comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub cases: usize,
    pub metrics: Vec<PairedDiff>,
    pub mcnemar: Option<McNemar>,
}

/// Compares model B against model A on the same cases (same order, labels and gold).
pub fn compare(a: &Cases, ta: &Thresholds, b: &Cases, tb: &Thresholds, ks: &[usize], settings: Settings) -> Result<Comparison, EvalError> {
    if a.is_empty() {
        return Err(EvalError::Empty);
    }
    if a.len() != b.len() || a.labels() != b.labels() || a.gold() != b.gold() || a.kind() != b.kind() {
        return Err(EvalError::Unpaired("the two models were not scored on the same cases and labels".into()));
    }
    a.check_thresholds(ta)?;
    b.check_thresholds(tb)?;
    let oa = Outcomes::new(a, &a.decide(ta), ks);
    let ob = Outcomes::new(b, &b.decide(tb), ks);
    let all: Vec<usize> = (0..a.len()).collect();
    let (pa, pb) = (oa.stats(&all), ob.stats(&all));
    let diffs = bootstrap::resample(a.len(), settings, |idx| oa.stats(idx).iter().zip(ob.stats(idx)).map(|(x, y)| y - x).collect());
    let tail = (1.0 - settings.level) / 2.0 * 100.0;
    let metrics = bootstrapped_metrics(ks)
        .into_iter()
        .enumerate()
        .map(|(m, name)| {
            let d = &diffs[m];
            let below = d.iter().filter(|&&x| x <= 0.0).count() as f64 / d.len() as f64;
            let above = d.iter().filter(|&&x| x >= 0.0).count() as f64 / d.len() as f64;
            PairedDiff {
                metric: name,
                a: pa[m],
                b: pb[m],
                difference: pb[m] - pa[m],
                low: bootstrap::percentile(d, tail),
                high: bootstrap::percentile(d, 100.0 - tail),
                p_value: (2.0 * below.min(above)).min(1.0),
            }
        })
        .collect();
    let mcnemar = (a.kind() == Kind::MultiClass).then(|| {
        let only_a = (0..a.len()).filter(|&i| oa.correct(i) && !ob.correct(i)).count();
        let only_b = (0..a.len()).filter(|&i| !oa.correct(i) && ob.correct(i)).count();
        mcnemar(only_a, only_b)
    });
    Ok(Comparison { cases: a.len(), metrics, mcnemar })
}

/// McNemar's test from the discordant counts.
pub fn mcnemar(only_a: usize, only_b: usize) -> McNemar {
    let n = only_a + only_b;
    if n == 0 {
        return McNemar { only_a, only_b, statistic: 0.0, p_value: 1.0, exact_p_value: 1.0 };
    }
    let d = (only_a as f64 - only_b as f64).abs() - 1.0;
    let statistic = d * d / n as f64;
    let p_value = erfc((statistic / 2.0).sqrt()).min(1.0);
    let exact_p_value = (2.0 * binomial_half_cdf(only_a.min(only_b), n)).min(1.0);
    McNemar { only_a, only_b, statistic, p_value, exact_p_value }
}

/// P[Binomial(n, 1/2) <= m], summed in log space so large n does not underflow.
fn binomial_half_cdf(m: usize, n: usize) -> f64 {
    let mut log_term = -(n as f64) * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(m + 1);
    for i in 0..=m {
        terms.push(log_term);
        log_term += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>()
}

/// The complementary error function: the Maclaurin series of erf below 2, the continued
/// fraction of erfc above (relative error about 1e-13 over the range used here).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = x;
        let mut sum = x;
        for n in 1..100 {
            term *= -x * x / n as f64;
            let t = term / (2 * n + 1) as f64;
            sum += t;
            if t.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
        let mut f = x;
        for n in (1..=80).rev() {
            f = x + (n as f64 / 2.0) / f;
        }
        (-x * x).exp() / std::f64::consts::PI.sqrt() / f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_reference_values() {
        // scipy.special.erfc([0, 0.5, 1.5, 2.0, 3.0, 5.0])
        let rows = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.5, 0.03389485352468927),
            (2.0, 0.004677734981047266),
            (3.0, 2.2090496998585445e-05),
            (5.0, 1.5374597944280347e-12),
        ];
        for (x, want) in rows {
            assert!(((erfc(x) - want) / want).abs() < 1e-11, "erfc({x}) = {} want {want}", erfc(x));
        }
    }
}
