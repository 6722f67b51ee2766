//! Bootstrap confidence intervals: resample the cases with replacement, recompute the metric,
//! take percentiles. The generator is a seeded SplitMix64, so the same seed gives the same
//! interval on every machine.

use serde::Serialize;

/// SplitMix64 (Steele, Lea and Flood, 2014): a small, fast, seeded generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform index below `n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 for
    /// the sizes used here).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// A point estimate with a percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// The `q`-th percentile (0..=100) of sorted values with linear interpolation (NumPy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub resamples: usize,
    pub seed: u64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { resamples: 1000, seed: 20_241_122, level: 0.95 }
    }
}

/// For each resample of `n` case indices, the values of every statistic `stat` returns (all
/// statistics share the resamples). Returns one sorted vector per statistic.
pub fn resample(n: usize, settings: Settings, mut stat: impl FnMut(&[usize]) -> Vec<f64>) -> Vec<Vec<f64>> {
    let mut rng = SplitMix64::new(settings.seed);
    let mut idx = vec![0usize; n];
    let mut out: Vec<Vec<f64>> = Vec::new();
    if n == 0 {
        return out;
    }
    for _ in 0..settings.resamples {
        for slot in idx.iter_mut() {
            *slot = rng.below(n);
        }
        let values = stat(&idx);
        if out.is_empty() {
            out = vec![Vec::with_capacity(settings.resamples); values.len()];
        }
        for (o, v) in out.iter_mut().zip(values) {
            o.push(v);
        }
    }
    for o in &mut out {
        o.sort_by(f64::total_cmp);
    }
    out
}

/// The percentile interval of sorted bootstrap values around `estimate`.
pub fn interval(estimate: f64, sorted: &[f64], level: f64) -> Interval {
    let tail = (1.0 - level) / 2.0 * 100.0;
    Interval { estimate, low: percentile(sorted, tail), high: percentile(sorted, 100.0 - tail) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 97.5, 100]) = [1, 1.75, 2.5, 3.925, 4]
        let v = [1.0, 2.0, 3.0, 4.0];
        for (q, want) in [(0.0, 1.0), (25.0, 1.75), (50.0, 2.5), (97.5, 3.925), (100.0, 4.0)] {
            assert!((percentile(&v, q) - want).abs() < 1e-12, "{q}");
        }
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn generator_is_seeded_and_uniform_enough() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut hist = [0usize; 10];
        for _ in 0..100_000 {
            hist[a.below(10)] += 1;
        }
        assert!(hist.iter().all(|&h| (9_500..10_500).contains(&h)), "{hist:?}");
    }
}
