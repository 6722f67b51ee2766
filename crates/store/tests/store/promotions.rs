//! Promotions: at most one current per dataset, replacing ends the previous one in the same step,
//! withdrawing ends it with a reason, and every change is in the event log.

use crate::{seed, Split};
use localdx_store::{NewPromotion, Store, StoreError};

fn promotion<'a>(dataset_id: i64, run_id: &'a str, metrics: &'a serde_json::Value) -> NewPromotion<'a> {
    NewPromotion { dataset_id, run_id, version_id: dataset_id + 1, report_sha256: "ab12", metrics, reason: "read the report", actor: "sam" }
}

#[test]
fn one_current_promotion_per_dataset_replaced_then_withdrawn() {
    let store = Store::open_in_memory().unwrap();
    let a = seed(&store, &[("chest pain", &["I20"], Split::Train)]);
    let b = seed(&store, &[("cough", &["J20"], Split::Train)]);
    let m = serde_json::json!({"macroF1": 0.81});
    assert_eq!(store.current_promotion(a).unwrap(), None);

    let (first, replaced) = store.promote(&promotion(a, "run-1", &m)).unwrap();
    assert_eq!((first.run_id.as_str(), replaced, first.ended_at.clone()), ("run-1", None, None));
    assert_eq!(first.metrics, m);
    store.promote(&promotion(b, "run-7", &m)).unwrap();
    let (second, replaced) = store.promote(&promotion(a, "run-2", &m)).unwrap();
    assert_eq!(replaced.map(|r| r.run_id), Some("run-1".to_owned()), "the new promotion says what it replaced");
    assert_eq!(store.current_promotion(a).unwrap().map(|p| p.id), Some(second.id));
    assert_eq!(store.current_promotion(b).unwrap().map(|p| p.run_id), Some("run-7".to_owned()), "another dataset's promotion is untouched");
    let history = store.promotions(Some(a)).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].ended_by.as_deref(), history[0].end_reason.as_deref()), (Some("sam"), Some("replaced by run-2")));

    let ended = store.demote(a, "ada", "drift on new notes").unwrap().expect("a promotion was current");
    assert_eq!((ended.run_id.as_str(), ended.end_reason.as_deref()), ("run-2", Some("drift on new notes")));
    assert_eq!(store.current_promotion(a).unwrap(), None);
    assert_eq!(store.demote(a, "ada", "again").unwrap(), None, "nothing left to withdraw");
    assert_eq!(store.promotions(None).unwrap().len(), 3);

    let kinds: Vec<String> = store.events().unwrap().into_iter().map(|e| e.kind).filter(|k| k.starts_with("model.")).collect();
    assert_eq!(kinds, ["model.promote", "model.promote", "model.promote", "model.demote"]);

    // Negative rows: no run, metrics that are not an object; nothing is stored for them.
    assert!(matches!(store.promote(&promotion(a, " ", &m)), Err(StoreError::Invalid(_))));
    assert!(matches!(store.promote(&promotion(a, "run-3", &serde_json::json!(0.8))), Err(StoreError::Invalid(_))));
    assert_eq!(store.promotions(None).unwrap().len(), 3);
}
