//! Retraining with new local data: clinicians' verdicts become a dataset that is reviewed and
//! released like any import (its PHI redacted), a successor trains on both releases with its
//! predecessor's settings, and it is compared with the run in use on held-out notes the new data
//! does not repeat.

use crate::sealed::{released_dataset, tiny_models, tiny_run, LABELS, NAME};
use crate::workspace;
use localdx_api::phi::StrategyDto;
use localdx_api::review::BulkAcceptDto;
use localdx_api::suggest::FeedbackInputDto;
use localdx_api::{Cancel, ErrorCode};

#[test]
fn verdicts_become_a_released_dataset_and_a_successor_compared_on_held_out_notes() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let (_, version) = released_dataset(&admin, dir.path());
    let run = tiny_run(&admin, version);
    admin.promote(&run, "the first model").unwrap();
    assert_eq!(admin.feedback_dataset(version, None).unwrap_err().code, ErrorCode::Blocked, "no verdict yet");

    let records = admin.released_records(version, 0, 100).unwrap().records;
    let test = records.iter().find(|r| r.split == "test").unwrap();
    let train = records.iter().find(|r| r.split == "train").unwrap();
    let verdict = |record: Option<i64>, label: &str, verdict: &str, note: Option<&str>| FeedbackInputDto {
        dataset_id: Some(version),
        record_id: record,
        note_text: note.map(str::to_owned),
        save_note: note.is_some(),
        model: run.clone(),
        label: label.into(),
        verdict: verdict.into(),
        probability: Some(0.6),
    };
    admin.save_feedback(&verdict(Some(test.id), &test.labels[0], "accept", None)).unwrap();
    let other = if train.labels[0] == LABELS[0] { LABELS[1] } else { LABELS[0] };
    admin.save_feedback(&verdict(Some(train.id), &train.labels[0], "reject", None)).unwrap();
    admin.save_feedback(&verdict(Some(train.id), other, "add", None)).unwrap();
    let typed = format!("Seen by Dr. {NAME} today: yellow plaques on the eyelids again.");
    admin.save_feedback(&verdict(None, LABELS[0], "add", Some(&typed))).unwrap();

    let made = admin.feedback_dataset(version, None).unwrap();
    assert_eq!((made.notes, made.verdicts), (3, 4));
    let mut from = made.from_records.clone();
    from.sort();
    let mut want = vec![test.id, train.id];
    want.sort();
    assert_eq!(from, want);
    let page = admin.records(made.dataset_id, 0, 10, None).unwrap().records;
    let relabelled = page.iter().find(|r| r.text == train.text).unwrap();
    assert_eq!(relabelled.labels, vec![other.to_owned()], "the rejected label is gone, the added one is there");

    // Training reads releases only: the new dataset is reviewed and released first, and its PHI
    // (the typed note names the doctor) is redacted like any import's.
    assert_eq!(admin.retrain(&run, made.dataset_id, &Cancel::new(), &|_, _| {}).unwrap_err().code, ErrorCode::Blocked);
    admin.review_detect(made.dataset_id, &(), &Cancel::new()).unwrap();
    admin.review_accept_all(made.dataset_id, &BulkAcceptDto { sign_off: true, ..Default::default() }).unwrap();
    let released = admin.release(made.dataset_id, StrategyDto::Tag, &(), &Cancel::new()).unwrap();
    let new_notes = admin.released_records(released.version_id, 0, 10).unwrap().records;
    assert!(new_notes.iter().all(|r| !r.text.contains("Quackenbush")), "the name is redacted: {:?}", new_notes.iter().map(|r| &r.text).collect::<Vec<_>>());

    let retrained = admin.retrain(&run, released.version_id, &Cancel::new(), &|_, _| {}).unwrap();
    assert_ne!(retrained.run.run_id, run);
    let successor = retrained.comparison;
    assert_eq!(successor.successor, retrained.run.run_id);
    assert_eq!(successor.compared_with, run, "compared with the run in use");
    assert_eq!((successor.held_out, successor.left_out), (1, 1), "the judged test note trained the successor: it is left out");
    assert!((successor.macro_f1_after - successor.macro_f1_before - successor.difference).abs() < 1e-9);
    assert!(successor.low <= successor.difference && successor.difference <= successor.high);
    assert_eq!(successor.offered, successor.difference >= 0.0);
    let audit = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "training.successor"})).unwrap()).unwrap();
    assert_eq!((audit.len(), audit[0].after["compared_with"].as_str()), (1, Some(run.as_str())));
}
