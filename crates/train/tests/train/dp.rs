//! DP-SGD: the accountant against reference values, noise calibration, and a DP run end to end.

use crate::{synthetic_task, tiny_model_file};
use localdx_job::Cancel;
use localdx_train::dp::{epsilon, noise_for_epsilon, DpConfig};
use localdx_train::trainer::{TrainConfig, TrainEvent};

/// Reference epsilons from Opacus 1.6.0's RDP accountant (`opacus/accountants/analysis/rdp.py`,
/// run offline with numpy/scipy, same orders: 1.1..10.9 step 0.1 and 12..63):
///
/// ```python
/// alphas = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
/// r = rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=alphas)
/// eps, best_alpha = rdp.get_privacy_spent(orders=alphas, rdp=r, delta=delta)
/// ```
const OPACUS: [(f64, f64, u64, f64, f64); 5] = [
    // (q, sigma, steps, delta, epsilon)
    (0.01, 1.1, 1000, 1e-5, 1.7117700912203435),   // best order 9.6 (fractional)
    (0.004, 0.8, 10000, 1e-5, 3.9404674292264215), // best order 5.3
    (0.1, 2.0, 100, 1e-5, 2.5805688086608938),     // best order 7.6
    (8.0 / 816.0, 0.9, 204, 1.0 / 816.0, 0.9280465266235745), // best order 6.7
    (0.05, 5.0, 500, 1e-6, 1.0463733581050816),    // best order 21 (integer)
];

#[test]
fn rdp_accountant_matches_opacus() {
    for (q, sigma, steps, delta, expected) in OPACUS {
        let eps = epsilon(q, sigma, steps, delta);
        assert!((eps - expected).abs() < 1e-4 * expected.max(1.0), "q={q} sigma={sigma} steps={steps}: {eps} vs Opacus {expected}");
    }
}

#[test]
fn noise_calibration_meets_the_target() {
    for (target, q, steps) in [(8.0, 0.01, 1000u64), (1.0, 0.004, 10_000), (3.0, 0.1, 100)] {
        let sigma = noise_for_epsilon(target, q, steps, 1e-5).unwrap();
        let eps = epsilon(q, sigma, steps, 1e-5);
        assert!(eps <= target && eps > 0.97 * target, "target {target}: sigma {sigma} gives {eps}");
    }
    assert!(noise_for_epsilon(0.0, 0.01, 10, 1e-5).is_none());
}

#[test]
fn dp_run_reports_epsilon_at_delta_one_over_n() {
    let (_d, model) = tiny_model_file();
    let data = synthetic_task(24, 6);
    let run = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 4,
        max_len: 12,
        dp: Some(DpConfig { target_epsilon: Some(8.0), noise_multiplier: None, clip: 1.0, delta: None }),
        ..TrainConfig::default()
    };
    let out = localdx_train::train(&run.path().join("r"), &model, &data, &cfg, &Cancel::new(), &|_: &TrainEvent| {}).unwrap();
    assert_eq!(out.delta, Some(1.0 / 24.0));
    let eps = out.epsilon.unwrap();
    assert!(eps <= 8.0 && eps > 7.5, "epsilon {eps}");
    assert!(out.noise_multiplier.unwrap() > 0.0);
}
