//! A model in use: promoting builds the run's test report and is audited, replacing ends the
//! previous promotion, clinicians read what is in use but may not change it, and withdrawing is
//! audited too.

use crate::sealed::{released_dataset, tiny_models, tiny_run};
use crate::{login, workspace, CLINICIAN, STEWARD};
use localdx_api::ErrorCode;

#[test]
fn a_run_is_promoted_from_its_report_replaced_and_withdrawn_with_an_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let (raw, version) = released_dataset(&admin, dir.path());
    let first = tiny_run(&admin, version);
    let steward = login(dir.path(), STEWARD).with_models(models.path());
    let clinician = login(dir.path(), CLINICIAN).with_models(models.path());

    assert_eq!(clinician.promote(&first, "looks good").unwrap_err().code, ErrorCode::Forbidden, "clinicians do not choose the model");
    assert_eq!(steward.promote(&first, "  ").unwrap_err().code, ErrorCode::InvalidInput, "a promotion says why");
    assert_eq!(steward.promote("run-99", "x").unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(clinician.promoted(version).unwrap(), None);

    let p = steward.promote(&first, "macro-F1 beats the base model on the test split").unwrap();
    assert_eq!((p.run_id.as_str(), p.dataset_id, p.version_id, p.ended_at.clone()), (first.as_str(), raw, version, None));
    assert_eq!(p.metrics["cases"], 2, "the report was built on the two test notes: {}", p.metrics);
    assert!(p.metrics["macroF1"].as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)), "{}", p.metrics);
    assert_eq!(p.report_sha256.len(), 64);
    for asked in [raw, version] {
        assert_eq!(clinician.promoted(asked).unwrap().map(|p| p.run_id), Some(first.clone()), "the dataset and its release name the same task");
    }

    let second = tiny_run(&admin, version);
    let q = admin.promote(&second, "retrained").unwrap();
    assert_eq!(clinician.promoted(version).unwrap().map(|p| p.id), Some(q.id));
    let history = clinician.promotions(Some(version)).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].end_reason.as_deref(), history[0].ended_by.as_deref()), (Some(format!("replaced by {second}").as_str()), Some("ada")));

    assert_eq!(clinician.demote(raw, "no").unwrap_err().code, ErrorCode::Forbidden);
    let ended = steward.demote(raw, "scores drifted on new notes").unwrap();
    assert_eq!((ended.run_id.as_str(), ended.end_reason.as_deref()), (second.as_str(), Some("scores drifted on new notes")));
    assert_eq!(clinician.promoted(raw).unwrap(), None);
    assert_eq!(steward.demote(raw, "again").unwrap_err().code, ErrorCode::NotFound);

    let audit = |action: &str| admin.audit_list(&serde_json::from_value(serde_json::json!({"action": action})).unwrap()).unwrap();
    let promotions = audit("model.promote");
    assert_eq!(promotions.len(), 2);
    assert_eq!((promotions[0].actor.as_str(), promotions[0].subject.clone()), ("sam", format!("dataset:{raw}")));
    assert_eq!(promotions[1].before["run_id"], first.as_str(), "the replacement names what it replaced");
    assert_eq!(promotions[1].after["report_sha256"], q.report_sha256.as_str());
    let demotions = audit("model.demote");
    assert_eq!((demotions.len(), demotions[0].reason.as_str()), (1, "scores drifted on new notes"));
    assert!(admin.audit_verify(None).unwrap().ok);
}
