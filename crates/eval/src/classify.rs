//! Per-label precision, recall, F1 and support, and their micro, macro and weighted averages,
//! from predicted label sets. A ratio with a zero denominator is 0 (scikit-learn's
//! `zero_division=0`): a label that is never predicted has precision 0, a label that never
//! occurs has recall 0.

use serde::Serialize;

/// Decision counts of one label over all cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    /// Gold occurrences of the label.
    pub fn support(&self) -> usize {
        self.tp + self.fn_
    }
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

/// Precision, recall and F1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Precision, recall and F1 of counts (F1 = 2tp / (2tp + fp + fn), 0 when that is 0/0).
pub fn prf(c: Counts) -> Prf {
    Prf { precision: ratio(c.tp, c.tp + c.fp), recall: ratio(c.tp, c.tp + c.fn_), f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_) }
}

/// Per-label counts of `predicted` label sets against `gold` label sets.
pub fn counts(gold: &[Vec<usize>], predicted: &[Vec<usize>], n_labels: usize) -> Vec<Counts> {
    let mut out = vec![Counts::default(); n_labels];
    for (g, p) in gold.iter().zip(predicted) {
        for &l in p {
            if g.contains(&l) {
                out[l].tp += 1;
            } else {
                out[l].fp += 1;
            }
        }
        for &l in g {
            if !p.contains(&l) {
                out[l].fn_ += 1;
            }
        }
    }
    out
}

/// Micro, macro and weighted averages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Averages {
    /// From the summed counts of all labels.
    pub micro: Prf,
    /// The unweighted mean of each label's value, over every label in the list.
    #[serde(rename = "macro")]
    pub macro_: Prf,
    /// The mean of each label's value weighted by its support (0 when there is no support).
    pub weighted: Prf,
}

/// Averages of per-label counts.
pub fn averages(counts: &[Counts]) -> Averages {
    let mut total = Counts::default();
    for c in counts {
        total.add(*c);
    }
    let per: Vec<Prf> = counts.iter().map(|c| prf(*c)).collect();
    let n = per.len().max(1) as f64;
    let macro_ = Prf {
        precision: per.iter().map(|p| p.precision).sum::<f64>() / n,
        recall: per.iter().map(|p| p.recall).sum::<f64>() / n,
        f1: per.iter().map(|p| p.f1).sum::<f64>() / n,
    };
    let support: usize = counts.iter().map(Counts::support).sum();
    let w = |f: fn(&Prf) -> f64| {
        if support == 0 {
            0.0
        } else {
            per.iter().zip(counts).map(|(p, c)| f(p) * c.support() as f64).sum::<f64>() / support as f64
        }
    };
    Averages { micro: prf(total), macro_, weighted: Prf { precision: w(|p| p.precision), recall: w(|p| p.recall), f1: w(|p| p.f1) } }
}

/// Share of cases whose predicted set equals the gold set (multi-class: accuracy; multi-label:
/// subset accuracy). 0 for no cases.
pub fn exact_match(gold: &[Vec<usize>], predicted: &[Vec<usize>]) -> f64 {
    let hits = gold.iter().zip(predicted).filter(|(g, p)| g == p).count();
    ratio(hits, gold.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_division_rows() {
        // (counts, expected precision, recall, f1)
        let rows = [
            (Counts { tp: 0, fp: 0, fn_: 3 }, 0.0, 0.0, 0.0), // never predicted: precision 0 by zero_division=0
            (Counts { tp: 0, fp: 2, fn_: 0 }, 0.0, 0.0, 0.0), // never in gold: recall 0
            (Counts { tp: 0, fp: 0, fn_: 0 }, 0.0, 0.0, 0.0), // absent everywhere
            (Counts { tp: 2, fp: 1, fn_: 1 }, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0),
        ];
        for (c, p, r, f) in rows {
            assert_eq!(prf(c), Prf { precision: p, recall: r, f1: f }, "{c:?}");
        }
    }

    #[test]
    fn empty_input_gives_zeros() {
        let c = counts(&[], &[], 3);
        assert_eq!(averages(&c), Averages::default());
        assert_eq!(exact_match(&[], &[]), 0.0);
    }
}
