//! The detector learning from the clinic: a steward's decisions on signed-off notes retrain the
//! tagger, which is measured before and after on the dataset's gold notes and kept only when the
//! union's recall holds; every version is stored and audited, and the kept one is what detection
//! then runs. Runs on the real encoder (the repository's models folder, which setup fills).

use super::*;
use localdx_api::review::BulkAcceptDto;
use localdx_api::ErrorCode;

const FIRST: [&str; 8] = ["Ines", "Tomasz", "Aroha", "Kwame", "Lucia", "Bjorn", "Naledi", "Priya"];
const LAST: [&str; 8] = ["Okonkwo", "Lindqvist", "Tawhiri", "Mensah", "Ferreira", "Haugen", "Dlamini", "Raman"];

/// Notes in one clinic's own shape: a referral code the shipped detector was never shown.
fn notes() -> Vec<(String, String, String)> {
    (0..16)
        .map(|i| {
            let text = format!(
                "Referral KV{:04}Q received. {} {} reports cough for {} days; seen with her daughter. Plan: chest film, review in clinic.",
                1000 + i * 37,
                FIRST[i % 8],
                LAST[(i * 3) % 8],
                2 + i % 5
            );
            (format!("n{i}"), text, "cough".to_string())
        })
        .collect()
}

/// A workspace whose models folder is the repository's (setup's) one.
fn workspace_with_models(dir: &Path) -> bool {
    let Some(models) = detector::models() else { return false };
    std::os::unix::fs::symlink(models.canonicalize().unwrap(), dir.join("models")).unwrap();
    true
}

#[test]
fn retraining_on_decisions_is_measured_on_gold_stored_audited_and_kept_only_when_recall_holds() {
    let dir = tempfile::tempdir().unwrap();
    if !workspace_with_models(dir.path()) {
        return;
    }
    drop(workspace(dir.path()));
    let s = login(dir.path(), STEWARD);
    let rows = notes();
    let borrowed: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    let id = import(&s, dir.path(), &borrowed);
    let records = s.records(id, 0, 100, None).unwrap().records;

    // no decisions yet: nothing to learn from and nothing to measure on
    assert_eq!(s.review_retrain_detector(id, &(), &Cancel::new()).unwrap_err().code, ErrorCode::Blocked);

    let summary = s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert_eq!(summary.detector.sources, ["rules", "tagger"], "{:?}", summary.detector);
    assert_eq!(summary.detector.version, None, "the shipped head");
    let gold = s.gold_sample(id, 4, Some(5)).unwrap();
    // the steward marks every referral code the detector left out, then accepts the rest
    for r in &records {
        let at = r.text.find("KV").unwrap();
        let note = s.review_note(r.id).unwrap();
        if !note.spans.iter().any(|sp| sp.start < at + 7 && at < sp.end) {
            s.review_add_span(r.id, at, at + 7, "id", "clinic referral code").unwrap();
        }
    }
    let bulk = BulkAcceptDto { entity: None, min_score: None, sign_off: true, spot_check: Some(0), seed: None, reason: Some("test".into()) };
    s.review_accept_all(id, &bulk).unwrap();

    // a cancelled run stores nothing
    let cancel = Cancel::new();
    cancel.cancel();
    assert_eq!(s.review_retrain_detector(id, &(), &cancel).unwrap_err().code, ErrorCode::Cancelled);
    assert!(s.detector_versions().unwrap().is_empty());

    let stages = std::sync::Mutex::new(Vec::new());
    let reporter = |p: &localdx_api::Progress| stages.lock().unwrap().push(p.stage.clone());
    let r = s.review_retrain_detector(id, &reporter, &Cancel::new()).unwrap();
    let signed_off = 16 - gold.record_ids.len();
    assert_eq!(r.held_back, signed_off / 5, "every fifth signed-off note chooses the threshold: {r:?}");
    assert_eq!((r.examples + r.held_back, r.gold_notes), (signed_off, gold.record_ids.len()), "gold notes are measured, never trained on");
    assert!((0.05..=0.99).contains(&r.threshold), "a threshold from the grid: {r:?}");
    assert!(r.example_spans >= r.examples, "{r:?}");
    assert_eq!(r.started_from, None);
    assert_eq!(r.kept, r.after.token_recall >= r.before.token_recall, "{r:?}");
    assert!(r.epochs.len() >= 4 && r.epochs.iter().all(|e| e.loss.is_finite()), "{:?}", r.epochs);
    let stages = stages.into_inner().unwrap();
    assert!(stages.contains(&"encode".to_string()) && stages.contains(&"retrain".to_string()), "{stages:?}");

    let versions = s.detector_versions().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].id, versions[0].kept, versions[0].active), (r.version_id, r.kept, r.kept));
    assert_eq!(versions[0].recall_after, r.after.token_recall);
    // detection now runs the kept version (or still the shipped head)
    s.review_reopen(records[0].id, "re-run after retraining").unwrap();
    let again = s.review_detect(id, &(), &Cancel::new()).unwrap();
    assert_eq!(again.detector.version, r.kept.then_some(r.version_id));
    drop(s);

    // audited with figures, never text; clinicians may not retrain
    let a = login(dir.path(), ADMIN);
    let audit = a.audit_list(&Default::default()).unwrap();
    let entry = audit.iter().find(|e| e.action == "review.retrain_detector").expect("an audit entry");
    assert_eq!(entry.after["version"], r.version_id);
    assert_eq!(entry.after["kept"], r.kept);
    assert!(!entry.after.to_string().contains("KV1"), "no note text in the audit trail");
    drop(a);
    let c = login(dir.path(), CLINICIAN);
    assert_eq!(c.review_retrain_detector(id, &(), &Cancel::new()).unwrap_err().code, ErrorCode::Forbidden);
}
