//! The audit trail: appends chain, `verify` names the first entry someone edited in the file with
//! plain SQL, and catches entries cut off the end.

use localdx_store::{AuditEntry, AuditFilter, Store};
use rusqlite::Connection;
use serde_json::json;

fn append(store: &Store, n: usize) {
    for i in 0..n {
        let subject = format!("span:{i}");
        store
            .audit(&AuditEntry {
                actor: if i % 2 == 0 { "ana" } else { "ben" },
                action: if i % 3 == 0 { "review.accept" } else { "review.reject" },
                subject: &subject,
                before: json!({"state": "undecided"}),
                after: json!({"state": "accepted"}),
                reason: "",
            })
            .unwrap();
    }
}

/// Opens the file behind the store's back, as someone with a SQLite shell and the key would.
fn tamper(path: &std::path::Path, key: &[u8; 32], sql: &str) {
    let conn = Connection::open(path).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\"; DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; {sql}"))
        .unwrap();
}

/// (SQL run on the file, the seq `verify` must name; `None` = intact).
const CASES: &[(&str, Option<i64>)] = &[
    ("SELECT 1", None),
    ("UPDATE audit SET actor = 'mallory' WHERE seq = 3", Some(3)),
    ("UPDATE audit SET after = '{\"state\":\"rejected\"}' WHERE seq = 5", Some(5)),
    ("UPDATE audit SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1", Some(1)),
    ("DELETE FROM audit WHERE seq = 4", Some(4)),
    ("DELETE FROM audit WHERE seq >= 5", Some(5)),
    ("DELETE FROM audit", Some(1)),
    ("DELETE FROM audit WHERE seq = 6; DELETE FROM settings WHERE key = 'audit.head'", Some(6)),
];

#[test]
fn verify_names_the_first_entry_edited_in_the_file() {
    let key = [3u8; 32];
    for (sql, expected) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = Store::open(&path, Some(&key)).unwrap();
        append(&store, 6);
        let ok = store.verify_audit().unwrap();
        assert_eq!((ok.entries, ok.broken.clone(), ok.head.as_ref().map(|h| h.0)), (6, None, Some(6)));
        drop(store);
        tamper(&path, &key, sql);
        let store = Store::open(&path, Some(&key)).unwrap();
        let verdict = store.verify_audit().unwrap();
        assert_eq!(verdict.broken.as_ref().map(|b| b.seq), *expected, "{sql}: {verdict:?}");
        // Appending more does not hide the damage (or is refused when the head is gone).
        for _ in 0..2 {
            let _ = store.audit(&AuditEntry { actor: "ana", action: "login", subject: "user:ana", before: json!(null), after: json!(null), reason: "" });
        }
        let later = store.verify_audit().unwrap();
        assert_eq!(later.broken.is_some(), expected.is_some(), "{sql}, then appending: {later:?}");
    }
}

#[test]
fn entries_are_append_only_and_filterable() {
    let store = Store::open_in_memory().unwrap();
    append(&store, 6);
    let all = store.audit_entries(&AuditFilter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(all[1].prev_hash, all[0].hash);
    let ana = store.audit_entries(&AuditFilter { actor: Some("ana".into()), ..Default::default() }).unwrap();
    assert_eq!(ana.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3, 5]);
    let accepts = store.audit_entries(&AuditFilter { action_prefix: Some("review.acc".into()), ..Default::default() }).unwrap();
    assert_eq!(accepts.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 4]);
    let last2 = store.audit_entries(&AuditFilter { limit: Some(2), ..Default::default() }).unwrap();
    assert_eq!(last2.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6]);
    // Paging back from the newest: the page before seq 5.
    let page2 = store.audit_entries(&AuditFilter { limit: Some(2), before_seq: Some(5), ..Default::default() }).unwrap();
    assert_eq!(page2.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    // Subject text: "span:1" is a part of no other subject here; "pan:" of all.
    let seqs = |f: AuditFilter| store.audit_entries(&f).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(AuditFilter { subject_contains: Some("span:1".into()), ..Default::default() }), vec![2]);
    assert_eq!(seqs(AuditFilter { subject_contains: Some("pan:".into()), ..Default::default() }).len(), 6);
    assert_eq!(seqs(AuditFilter { subject_contains: Some("user:".into()), ..Default::default() }), Vec::<i64>::new());
    // Dates: the days of the first and last entry (UTC) include all; a day before or after none.
    let (first, last) = (all[0].at[..10].to_owned(), all[5].at[..10].to_owned());
    assert_eq!(seqs(AuditFilter { at_from: Some(first), at_to: Some(last), ..Default::default() }).len(), 6);
    assert_eq!(seqs(AuditFilter { at_to: Some("2000-01-01".into()), ..Default::default() }), Vec::<i64>::new());
    assert_eq!(seqs(AuditFilter { at_from: Some("9999-01-01".into()), ..Default::default() }), Vec::<i64>::new());
    assert!(store.verify_audit().unwrap().broken.is_none());
}

#[test]
fn an_action_and_its_entry_roll_back_together() {
    let store = Store::open_in_memory().unwrap();
    append(&store, 1);
    let failed: Result<(), localdx_store::StoreError> = store.atomically(|| {
        append(&store, 2);
        Err(localdx_store::StoreError::Invalid("refused".into()))
    });
    assert!(failed.is_err());
    assert_eq!(store.audit_entries(&AuditFilter::default()).unwrap().len(), 1);
    assert!(store.verify_audit().unwrap().broken.is_none(), "the head rolled back too");
    store.atomically(|| -> Result<(), localdx_store::StoreError> {
        append(&store, 2);
        Ok(())
    })
    .unwrap();
    assert_eq!(store.verify_audit().unwrap().entries, 3);
}
