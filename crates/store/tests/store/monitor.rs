//! The suggestion log keeps no note text, reads back by model in time order, and refuses rows
//! that could not be monitored.

use localdx_store::{NewLoggedSuggestion, Store, StoreError};

#[test]
fn logged_suggestions_read_back_by_model_in_time_order() {
    let store = Store::open_in_memory().unwrap();
    let top = vec![("I10".to_owned(), 0.7), ("E11.9".to_owned(), 0.2)];
    let gold = vec!["I10".to_owned()];
    let row = |at: &'static str, model: &'static str| NewLoggedSuggestion {
        at: Some(at),
        actor: "cleo",
        model,
        dataset_id: Some(1),
        record_id: Some(5),
        words: 42,
        unseen: Some(0.25),
        top: &top,
        gold: Some(&gold),
    };
    store.log_suggestion(&row("2026-11-09T10:00:00Z", "run-1")).unwrap();
    store.log_suggestion(&row("2026-11-02T10:00:00Z", "run-1")).unwrap();
    store.log_suggestion(&row("2026-11-05T10:00:00Z", "run-2")).unwrap();
    store.log_suggestion(&NewLoggedSuggestion { at: None, gold: None, unseen: None, ..row("", "run-1") }).unwrap();
    let run1 = store.logged_suggestions(Some("run-1")).unwrap();
    assert_eq!(run1.len(), 3);
    assert_eq!(run1[0].at, "2026-11-02T10:00:00Z", "oldest first");
    assert_eq!((run1[0].top.clone(), run1[0].gold.clone(), run1[0].words), (top.clone(), Some(gold.clone()), 42));
    assert!(run1[2].at.starts_with("20") && run1[2].gold.is_none(), "no date given: now");
    assert_eq!(store.logged_suggestions(None).unwrap().len(), 4);

    assert!(matches!(store.log_suggestion(&NewLoggedSuggestion { unseen: Some(1.5), ..row("2026-11-02T10:00:00Z", "run-1") }), Err(StoreError::Invalid(_))));
    assert!(matches!(store.log_suggestion(&row("2026-11-02T10:00:00Z", " ")), Err(StoreError::Invalid(_))));
    assert_eq!(store.logged_suggestions(None).unwrap().len(), 4);
}
