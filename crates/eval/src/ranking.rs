//! Ranking metrics of the suggestion list: top-k accuracy (a gold label among the k best) and
//! recall@k (the share of a case's gold labels among its k best). Cases without gold labels are
//! skipped; ties in scores keep label order. For multi-class cases both are scikit-learn's
//! `top_k_accuracy_score`.

use crate::cases::Cases;

fn per_case(cases: &Cases, k: usize, f: impl Fn(usize, usize) -> f64) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for i in 0..cases.len() {
        let g = &cases.gold()[i];
        if g.is_empty() {
            continue;
        }
        let top = cases.ranked(i);
        let hits = top.iter().take(k).filter(|l| g.contains(l)).count();
        sum += f(hits, g.len());
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Share of cases (with gold labels) having at least one gold label among their `k` best.
pub fn top_k_accuracy(cases: &Cases, k: usize) -> f64 {
    per_case(cases, k, |hits, _| if hits > 0 { 1.0 } else { 0.0 })
}

/// Mean over cases (with gold labels) of the share of gold labels among the `k` best.
pub fn recall_at_k(cases: &Cases, k: usize) -> f64 {
    per_case(cases, k, |hits, n| hits as f64 / n as f64)
}
