//! The model card of a run: what it may be used for, its data with the release's hash and the PHI
//! the review found, the base model's licence, training and privacy settings, test metrics per
//! label, failure modes and the promotion; Markdown and HTML with nothing executable.

use crate::sealed::{released_dataset, tiny_models, tiny_run, LABELS};
use crate::workspace;
use localdx_api::eval::{EvalOptions, RunRequest};

/// The text of a PDF as poppler's `pdftotext` reads it (installed by scripts/install-deps.sh).
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    match std::process::Command::new("pdftotext").arg(&path).arg("-").output() {
        Ok(out) => {
            assert!(out.status.success(), "pdftotext refused the file: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => {
            localdx_testkit::skip(&format!("PDF read-back: pdftotext is missing ({e})"));
            None
        }
    }
}

#[test]
fn a_model_card_holds_the_data_model_training_metrics_and_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let (_, version) = released_dataset(&admin, dir.path());
    let run = tiny_run(&admin, version);
    let release = admin.releases(None).unwrap().remove(0);

    let card = admin.model_card(&run).unwrap();
    let md = &card.markdown;
    for section in ["## Intended use", "## Who must not rely on it", "## Data", "## Base model", "## Training", "## Evaluation on the test split", "## Known failure modes", "## In use"] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains(&release.sha256), "the release's content hash");
    assert!(md.contains("| name |") && md.contains("| date |"), "the PHI the review found per type:\n{md}");
    assert!(md.contains("No differential privacy"), "the privacy budget");
    assert!(md.contains("Not in use"));
    for label in LABELS {
        assert!(md.contains(&format!("| {label} |")), "a row per label: {label}");
    }
    assert!(md.contains("fewer than 5 test cases") || md.contains("test cases)"), "two test notes: every label is a failure mode");

    admin.promote(&run, "card test").unwrap();
    let promoted = admin.model_card(&run).unwrap();
    assert!(promoted.markdown.contains("Promoted by ada") && promoted.markdown.contains("card test"));
    assert!(promoted.html.starts_with("<!DOCTYPE html>") && !promoted.html.contains("<script"), "self-contained, nothing executable");
    assert!(promoted.html.contains(&release.sha256));

    // The PDFs read back as text: the card with its run, data hash and promotion; the report
    // with the run and its metrics.
    if let Some(text) = pdftotext(&promoted.pdf) {
        assert!(text.contains(&format!("Model card: {run}")) && text.contains("Known failure modes") && text.contains("Promoted by ada"), "{text}");
        assert!(text.contains(&release.sha256[..16]), "the release hash is in the card: {text}");
    }
    let report = admin.report_run_pdf(RunRequest { run_id: &run, vs: None, split: "test" }, "2026-12-04", &EvalOptions::default()).unwrap();
    if let Some(text) = pdftotext(&report) {
        assert!(text.contains(&run) && text.contains("Micro-F1") && text.contains(LABELS[0]), "{text}");
    }
}
