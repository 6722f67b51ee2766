//! PHI-free texts with any detection: every one is a false alarm a steward must clear. The issue's
//! target is at most 10%; the ceiling sits just above the share measured on this commit, so that a
//! regression fails. Symptom2Disease (`../shared/data/symptom2disease`, column `text`): 1,200
//! patients' descriptions of their symptoms, no identifiers. Print what fires with
//! `cargo run --release -p localdx-phi --example phi_free`.

use crate::corpus::shared_data;
use localdx_phi::eval::{phi_free_share, read_csv_column};
use localdx_phi::Engine;

#[test]
fn symptom2disease_texts_are_rarely_flagged() {
    let Some(path) = shared_data("symptom2disease/Symptom2Disease.csv") else { return };
    let texts = read_csv_column(&path, "text").expect("csv reads");
    assert_eq!(texts.len(), 1200);
    let engine = Engine::default();
    let r = phi_free_share(&|t| engine.detect(t), &texts, 10);
    eprintln!("Symptom2Disease: {} of {} PHI-free texts flagged ({:.2}%): {:?}", r.flagged, r.texts, 100.0 * r.share, r.by_pattern);
    const TARGET: f64 = 0.10;
    const CEILING: f64 = 0.01;
    assert!(r.share <= TARGET.min(CEILING), "{:.4} of PHI-free texts flagged: {:?}", r.share, r.examples);
}
