//! Times the metrics engine on synthetic cases: `cargo run --release -p localdx-eval --example
//! bench -- [cases] [labels] [resamples]` (defaults 10000 cases, 50 labels, 1000 resamples).
//! Scores are drawn with the engine's own seeded generator, so every run times the same work.

use localdx_eval::bootstrap::{Settings, SplitMix64};
use localdx_eval::curves::{choose_thresholds, Strategy};
use localdx_eval::{evaluate, Cases, Kind, Options};
use std::time::Instant;

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn synthetic(n: usize, labels: usize, kind: Kind, seed: u64) -> Cases {
    let mut rng = SplitMix64::new(seed);
    let mut gold = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let g: Vec<usize> = match kind {
            Kind::MultiClass => vec![rng.below(labels)],
            Kind::MultiLabel => (0..labels).filter(|_| uniform(&mut rng) < 0.05).collect(),
        };
        let mut s: Vec<f64> = (0..labels).map(|l| uniform(&mut rng) + if g.contains(&l) { 0.8 } else { 0.0 }).collect();
        match kind {
            Kind::MultiClass => {
                let total: f64 = s.iter().sum();
                s.iter_mut().for_each(|x| *x /= total);
            }
            Kind::MultiLabel => s.iter_mut().for_each(|x| *x /= 1.8),
        }
        gold.push(g);
        scores.push(s);
    }
    let names = (0..labels).map(|l| format!("label {l}")).collect();
    Cases::new(names, gold, scores, kind).expect("synthetic cases are valid")
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (n, labels, resamples) = (args.first().copied().unwrap_or(10_000), args.get(1).copied().unwrap_or(50), args.get(2).copied().unwrap_or(1000));
    for kind in [Kind::MultiClass, Kind::MultiLabel] {
        let test = synthetic(n, labels, kind, 1);
        let validation = synthetic(n / 2, labels, kind, 2);
        let start = Instant::now();
        let t = choose_thresholds(&validation, Strategy::PerLabel { min_positives: 1 }, 0.5);
        let chose = start.elapsed();
        let opts = Options { bootstrap: None, curves: true, ..Options::default() };
        let start = Instant::now();
        let e = evaluate(&test, &t, &opts).expect("evaluates");
        let point = start.elapsed();
        let opts = Options { bootstrap: Some(Settings { resamples, ..Settings::default() }), ..Options::default() };
        let start = Instant::now();
        let _ = evaluate(&test, &t, &opts).expect("evaluates");
        let boot = start.elapsed();
        println!(
            "{kind:?}: {n} cases x {labels} labels: thresholds on {} validation cases {:.1} ms; all metrics with PR curves {:.1} ms (micro-F1 {:.3}); with {resamples} bootstrap resamples {:.1} ms",
            n / 2,
            chose.as_secs_f64() * 1e3,
            point.as_secs_f64() * 1e3,
            e.micro_f1,
            boot.as_secs_f64() * 1e3
        );
    }
}
