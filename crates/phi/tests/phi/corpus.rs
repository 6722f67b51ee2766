//! The corpus evaluations. The targets are PhysioNet deid dev notes: token recall >= 0.98 at
//! token precision >= 0.80; Presidio synthetic sentences: token recall >= 0.95 on the types in
//! scope. The engine reaches both (see docs/phi.md); the FLOOR constants sit just below the measured
//! figures (PhysioNet recall 0.9858 at precision 0.8467, Presidio recall 0.9563) so that a regression
//! fails, and the tests print the figures. Read from `../shared/data`; skipped with a message when
//! that folder is absent.

use localdx_phi::eval::{evaluate, read_gold, EvalReport, GoldFormat};
use localdx_phi::Engine;
use std::path::Path;
use std::time::Instant;

fn run(rel: &str, format: GoldFormat) -> Option<EvalReport> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(rel);
    if !path.exists() {
        eprintln!("skipping: {} not found (the shared data folder is absent)", path.display());
        return None;
    }
    let notes = read_gold(&path, format).expect("gold file reads");
    let clock = Instant::now();
    let engine = Engine::default();
    let report = evaluate(&|t| engine.detect(t), &notes, format, &|| clock.elapsed().as_secs_f64(), &());
    eprintln!(
        "{rel}: token recall {:.4}, precision {:.4}, F2 {:.4}, span recall {:.4}, {} misses, {} false-alarm tokens",
        report.token_recall,
        report.token_precision,
        report.f2,
        report.span_recall,
        report.misses.len(),
        report.false_alarms.len()
    );
    Some(report)
}

#[test]
fn physionet_dev_meets_targets() {
    let Some(r) = run("physionet_deid/deid_gold_dev.jsonl", GoldFormat::DeidJsonl) else { return };
    assert_eq!(r.notes, 1450);
    // issue target: recall 0.98 at precision 0.80; floors just below the measured figures
    const RECALL_FLOOR: f64 = 0.984;
    const PRECISION_FLOOR: f64 = 0.84;
    assert!(r.token_recall >= RECALL_FLOOR, "token recall {}", r.token_recall);
    assert!(r.token_precision >= PRECISION_FLOOR, "token precision {}", r.token_precision);
}

#[test]
fn presidio_synth_meets_targets() {
    let Some(r) = run("presidio_synth/synth_dataset_v2.json", GoldFormat::PresidioJson) else { return };
    assert_eq!(r.notes, 1500);
    // issue target: recall 0.95 on the types in scope; floor just below the measured figure
    const RECALL_FLOOR: f64 = 0.955;
    assert!(r.token_recall >= RECALL_FLOOR, "token recall {}", r.token_recall);
}
