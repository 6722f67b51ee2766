//! Differential privacy for LoRA training (DP-SGD, Abadi et al. 2016): each example's gradient is
//! clipped to norm `clip`, the clipped gradients are summed, Gaussian noise of standard deviation
//! `noise_multiplier * clip` is added, and the sum is divided by the batch size. The privacy spent
//! is tracked with the Rényi-DP accountant of the sampled Gaussian mechanism (Mironov, Talwar and
//! Zhang 2019, https://arxiv.org/abs/1908.10530), converted to (epsilon, delta) with the conversion
//! of Balle et al. 2020 (the one Opacus uses), at `delta = 1/N` unless given.
//!
//! Sampling: batches are fixed-size slices of a shuffled epoch while the accountant assumes Poisson
//! sampling with rate `batch / N`; this is the usual approximation (Opacus does the same when its
//! Poisson sampling is turned off) and is stated in the run's report.

use serde::{Deserialize, Serialize};

/// DP-SGD settings of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// Target epsilon; the noise multiplier is chosen to meet it over the whole run.
    pub target_epsilon: Option<f64>,
    /// Noise multiplier, when given directly instead of a target epsilon.
    pub noise_multiplier: Option<f64>,
    /// Per-example gradient norm bound.
    pub clip: f64,
    /// Delta; `None` means `1 / N` (N = training examples).
    pub delta: Option<f64>,
}

/// The Rényi orders the accountant tries (those of Opacus' RDP accountant).
pub fn default_orders() -> Vec<f64> {
    let mut orders: Vec<f64> = (1..100).map(|x| 1.0 + x as f64 / 10.0).collect();
    orders.extend((12..64).map(|x| x as f64));
    orders
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY; // only reached through rounding; the true value is ~0
    }
    a + (-(b - a).exp()).ln_1p()
}

/// `ln(erfc(x))`, from the Chebyshev fit of Numerical Recipes (`erfcc`, relative error < 1.2e-7),
/// which gives the logarithm directly and so stays accurate far in the tail.
fn log_erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let log_pos = t.ln() + poly;
    if x >= 0.0 {
        log_pos
    } else {
        (2.0 - log_pos.exp()).ln()
    }
}

fn ln_binom(n: f64, k: f64) -> (f64, f64) {
    // Generalised binomial coefficient for real n and integer k: sign and log-magnitude.
    let mut log = 0.0;
    let mut sign = 1.0;
    let mut i = 0.0;
    while i < k {
        let num = n - i;
        if num < 0.0 {
            sign = -sign;
        }
        log += num.abs().ln() - (i + 1.0).ln();
        i += 1.0;
    }
    (sign, log)
}

/// `ln A_alpha` of the sampled Gaussian mechanism for sampling rate `q` and noise `sigma`.
fn log_a(q: f64, sigma: f64, alpha: f64) -> f64 {
    if alpha.fract() == 0.0 {
        let a = alpha as u64;
        let mut acc = f64::NEG_INFINITY;
        for k in 0..=a {
            let (_, lb) = ln_binom(alpha, k as f64);
            let kf = k as f64;
            let term = lb + kf * q.ln() + (alpha - kf) * (1.0 - q).ln() + (kf * kf - kf) / (2.0 * sigma * sigma);
            acc = log_add(acc, term);
        }
        acc
    } else {
        let (mut a0, mut a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
        let mut i = 0.0f64;
        loop {
            let (sign, lc) = ln_binom(alpha, i);
            let j = alpha - i;
            let t0 = lc + i * q.ln() + j * (1.0 - q).ln();
            let t1 = lc + j * q.ln() + i * (1.0 - q).ln();
            let e0 = 0.5f64.ln() + log_erfc((i - z0) / (2f64.sqrt() * sigma));
            let e1 = 0.5f64.ln() + log_erfc((z0 - j) / (2f64.sqrt() * sigma));
            let s0 = t0 + (i * i - i) / (2.0 * sigma * sigma) + e0;
            let s1 = t1 + (j * j - j) / (2.0 * sigma * sigma) + e1;
            if sign > 0.0 {
                a0 = log_add(a0, s0);
                a1 = log_add(a1, s1);
            } else {
                a0 = log_sub(a0, s0);
                a1 = log_sub(a1, s1);
            }
            i += 1.0;
            if s0.max(s1) < -30.0 || i > 10_000.0 {
                break;
            }
        }
        log_add(a0, a1)
    }
}

/// RDP of `steps` compositions of the sampled Gaussian mechanism at order `alpha`.
pub fn rdp(q: f64, sigma: f64, steps: u64, alpha: f64) -> f64 {
    let per_step = if q == 0.0 {
        0.0
    } else if sigma == 0.0 {
        f64::INFINITY
    } else if q == 1.0 {
        alpha / (2.0 * sigma * sigma)
    } else {
        log_a(q, sigma, alpha) / (alpha - 1.0)
    };
    per_step * steps as f64
}

/// Epsilon at `delta` after `steps` steps with sampling rate `q` and noise multiplier `sigma`.
pub fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> f64 {
    default_orders()
        .into_iter()
        .map(|a| {
            let r = rdp(q, sigma, steps, a);
            r + ((a - 1.0) / a).ln() - (delta.ln() + a.ln()) / (a - 1.0)
        })
        .filter(|e| e.is_finite())
        .fold(f64::INFINITY, f64::min)
        .max(0.0)
}

/// The smallest noise multiplier (to 0.5%) whose epsilon is at most `target`.
pub fn noise_for_epsilon(target: f64, q: f64, steps: u64, delta: f64) -> Option<f64> {
    if !(target > 0.0) {
        return None;
    }
    let (mut lo, mut hi) = (0.05f64, 1.0f64);
    while epsilon(q, hi, steps, delta) > target {
        hi *= 2.0;
        if hi > 1e4 {
            return None;
        }
    }
    while hi / lo > 1.005 {
        let mid = (lo * hi).sqrt();
        if epsilon(q, mid, steps, delta) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// Standard normal samples (Box-Muller) from a seeded generator.
pub fn gaussian(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    use rand::Rng;
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        out.push((r * (2.0 * std::f64::consts::PI * u2).cos()) as f32);
        out.push((r * (2.0 * std::f64::consts::PI * u2).sin()) as f32);
    }
    out.truncate(n);
    out
}
