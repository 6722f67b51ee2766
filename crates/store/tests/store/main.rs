//! Integration tests of the store: migrations, settings, the append-only event log, writing a
//! dataset in one transaction, and the read side (paging, search, counts).

use localdx_store::{NewDataset, NewRecord, Split, Store, StoreError, MIGRATIONS};
use rusqlite::Connection;

mod audit;
mod gold;
mod monitor;
mod promotions;

fn new_dataset(name: &str, sha: Option<&str>) -> NewDataset {
    NewDataset {
        name: name.to_owned(),
        source_path: Some(format!("/data/{name}.csv")),
        format: "csv".to_owned(),
        column_mapping: serde_json::json!({"text": "note"}),
        source_sha256: sha.map(str::to_owned),
        parent_id: None,
        seed: Some(42),
        options: serde_json::json!({}),
        created_by: "tester".to_owned(),
    }
}

fn labels(ls: &[&str]) -> Vec<String> {
    ls.iter().map(|s| s.to_string()).collect()
}

/// Writes a small dataset: (text, labels, split) rows.
fn seed(store: &Store, rows: &[(&str, &[&str], Split)]) -> i64 {
    let owned: Vec<(String, Vec<String>, Split)> = rows.iter().map(|(t, l, s)| (t.to_string(), labels(l), *s)).collect();
    store
        .create_dataset(
            &new_dataset("notes", Some("abc")),
            owned.iter().enumerate().map(|(i, (text, labels, split))| NewRecord {
                external_id: Some("n"),
                patient_id: None,
                text,
                labels,
                split: *split,
                source_line: i as u64 + 2,
            }),
        )
        .unwrap()
}

#[test]
fn migrations_run_once_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path, None).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(store);
    // Re-opening applies nothing twice.
    let store = Store::open(&path, None).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(store);
    let raw = Connection::open(&path).unwrap();
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    raw.pragma_update(None, "user_version", 99).unwrap();
    drop(raw);
    match Store::open(&path, None) {
        Err(StoreError::NewerSchema { found: 99, .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[test]
fn a_keyed_database_holds_no_plain_text_and_refuses_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let key = [7u8; 32];
    let name = "Zebulon Quackenbush";
    let store = Store::open(&path, Some(&key)).unwrap();
    let id = seed(&store, &[(&format!("Seen by Dr. {name} today"), &["flu"], Split::Train)]);
    store.set_setting("phi.config", name).unwrap();
    // Read back through the key; then look at every file the store wrote while it is still open
    // (the WAL holds the newest pages until a checkpoint).
    assert!(store.records(&raw_grant(), id, 0, 10, None).unwrap()[0].text.contains(name));
    let scan = |when: &str| {
        let mut files = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            files += 1;
            assert!(!bytes.windows(name.len()).any(|w| w == name.as_bytes()), "{when}: plain text in a file");
            assert!(!bytes.windows(15).any(|w| w == b"SQLite format 3"), "{when}: a plain SQLite header");
        }
        files
    };
    assert!(scan("open") >= 2, "db and wal exist while open");
    drop(store);
    scan("closed");

    // Negative rows: another key, and no key, are refused with a clear error; the right key opens.
    for wrong in [Some(&[8u8; 32]), None] {
        let err = Store::open(&path, wrong).err().expect("refused");
        assert!(matches!(err, StoreError::WrongKey), "{err}");
        assert!(err.to_string().contains("key"));
    }
    let store = Store::open(&path, Some(&key)).unwrap();
    assert_eq!(store.record_count(id, Some("Quackenbush")).unwrap(), 1);
}

#[test]
fn settings_round_trip() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.setting("phi.config").unwrap(), None);
    store.set_setting("phi.config", r#"{"strategy":"mask"}"#).unwrap();
    store.set_setting("phi.config", r#"{"strategy":"surrogate"}"#).unwrap();
    assert_eq!(store.setting("phi.config").unwrap().as_deref(), Some(r#"{"strategy":"surrogate"}"#));
}

#[test]
fn the_event_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path, None).unwrap();
    let id = store.log_event("alice", "dataset.import", Some("dataset:1"), &serde_json::json!({"records": 3})).unwrap();
    let events = store.events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].id, events[0].actor.as_str(), events[0].kind.as_str()), (id, "alice", "dataset.import"));
    assert_eq!(events[0].detail["records"], 3);
    let raw = Connection::open(&path).unwrap();
    let update = raw.execute("UPDATE events SET actor = 'mallory'", []);
    let delete = raw.execute("DELETE FROM events", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(store.events().unwrap().len(), 1);
}

#[test]
fn a_dataset_writer_rolls_back_unless_finished() {
    let store = Store::open_in_memory().unwrap();
    {
        let mut w = store.dataset_writer(&new_dataset("half", None)).unwrap();
        let l = labels(&["flu"]);
        w.insert(&NewRecord { external_id: None, patient_id: None, text: "a", labels: &l, split: Split::Train, source_line: 2 })
            .unwrap();
        w.log_event("tester", "dataset.import", None, &serde_json::json!({})).unwrap();
        // Dropped without finish().
    }
    assert!(store.datasets().unwrap().is_empty());
    assert!(store.events().unwrap().is_empty());

    let mut w = store.dataset_writer(&new_dataset("whole", Some("f00d"))).unwrap();
    let l = labels(&["flu"]);
    let id = w
        .insert(&NewRecord { external_id: Some("x1"), patient_id: Some("p1"), text: "a", labels: &l, split: Split::Test, source_line: 7 })
        .unwrap();
    w.set_labels(id, &labels(&["flu", "cold"])).unwrap();
    w.set_split(id, Split::Validation).unwrap();
    w.reject(None, 9, "missing text").unwrap();
    let dataset_id = w.finish().unwrap();
    let d = store.dataset(dataset_id).unwrap().unwrap();
    assert_eq!((d.name.as_str(), d.records, d.rejected, d.seed), ("whole", 1, 1, Some(42)));
    assert_eq!(d.column_mapping["text"], "note");
    let r = store.record(&raw_grant(), id).unwrap().unwrap();
    assert_eq!(r.labels, labels(&["flu", "cold"]));
    assert_eq!((r.split, r.source_line, r.external_id.as_deref(), r.patient_id.as_deref()), (Split::Validation, 7, Some("x1"), Some("p1")));
    assert_eq!(store.rejections(dataset_id).unwrap()[0].line, 9);
    assert_eq!(store.datasets_by_sha256("f00d").unwrap().len(), 1);
    assert!(store.datasets_by_sha256("beef").unwrap().is_empty());
    assert_eq!(store.record(&raw_grant(), id + 100).unwrap(), None);
    assert_eq!(store.dataset(dataset_id + 100).unwrap(), None);
}

#[test]
fn records_page_search_and_count() {
    let store = Store::open_in_memory().unwrap();
    let id = seed(
        &store,
        &[
            ("Chest PAIN at rest", &["angina"], Split::Train),
            ("no pain today", &["healthy"], Split::Train),
            ("fever 100% of the time", &["flu", "angina"], Split::Validation),
            ("cough", &[], Split::Test),
        ],
    );
    let check = |offset, limit, search: Option<&str>, want: &[&str], total: u64| {
        let got: Vec<String> = store.records(&raw_grant(), id, offset, limit, search).unwrap().into_iter().map(|r| r.text).collect();
        assert_eq!(got, want, "{offset} {limit} {search:?}");
        assert_eq!(store.record_count(id, search).unwrap(), total, "{search:?}");
    };
    check(0, 10, None, &["Chest PAIN at rest", "no pain today", "fever 100% of the time", "cough"], 4);
    check(1, 2, None, &["no pain today", "fever 100% of the time"], 4);
    check(0, 10, Some("pain"), &["Chest PAIN at rest", "no pain today"], 2);
    check(1, 10, Some("PAIN"), &["no pain today"], 2);
    check(0, 10, Some("100%"), &["fever 100% of the time"], 1);
    check(0, 10, Some(""), &["Chest PAIN at rest", "no pain today", "fever 100% of the time", "cough"], 4);
    // Negative rows: `%` and `_` are literal, and other datasets are not searched.
    check(0, 10, Some("%"), &["fever 100% of the time"], 1);
    check(0, 10, Some("_"), &[], 0);
    assert_eq!(store.record_count(id + 1, None).unwrap(), 0);

    let stats = store.dataset_stats(id).unwrap();
    assert_eq!(stats.records, 4);
    assert_eq!(stats.per_split, vec![(Split::Train, 2), (Split::Validation, 1), (Split::Test, 1)]);
    assert_eq!(
        stats.per_label,
        vec![("angina".to_owned(), 2), ("flu".to_owned(), 1), ("healthy".to_owned(), 1)]
    );
    assert_eq!(stats.unlabelled, 1);
}

/// Note text leaves the store only under a grant that covers it: a clinician's prediction grant
/// reads a released version but not the raw notes it came from, a grant for a command that reads
/// no text reads nothing, and what needs no text (labels, the owning dataset) needs no grant.
#[test]
fn note_text_needs_a_grant_that_covers_its_dataset() {
    use localdx_access::{check, Command, Role};
    let store = Store::open_in_memory().unwrap();
    let raw = seed(&store, &[("Seen by Dr. Ada Lee", &["flu"], Split::Train)]);
    let mut w = store.dataset_writer(&NewDataset { parent_id: Some(raw), ..new_dataset("notes (released)", None) }).unwrap();
    let l = labels(&["flu"]);
    let redacted = w.insert(&NewRecord { external_id: None, patient_id: None, text: "Seen by Dr. [NAME]", labels: &l, split: Split::Train, source_line: 2 }).unwrap();
    w.mark_released(raw, "tag", "00", 1, 1, "sam").unwrap();
    let version = w.finish().unwrap();
    let raw_record = store.records(&raw_grant(), raw, 0, 1, None).unwrap()[0].id;

    let predict = check(Role::Clinician, Command::Predict).unwrap();
    assert_eq!(store.records(&predict, version, 0, 10, None).unwrap()[0].text, "Seen by Dr. [NAME]");
    assert_eq!(store.record(&predict, redacted).unwrap().unwrap().text, "Seen by Dr. [NAME]");
    for refused in [store.records(&predict, raw, 0, 10, None).map(|_| ()), store.record(&predict, raw_record).map(|_| ())] {
        assert!(matches!(refused, Err(StoreError::NotGranted { command: Command::Predict, .. })), "{refused:?}");
    }
    let audit = check(Role::Admin, Command::ReadAudit).unwrap();
    assert!(matches!(store.records(&audit, version, 0, 10, None), Err(StoreError::NotGranted { .. })));
    assert!(matches!(store.record(&audit, redacted), Err(StoreError::NotGranted { .. })));
    // A record that does not exist is still "none", whatever the grant.
    assert_eq!(store.record(&predict, raw_record + 100).unwrap(), None);
    assert_eq!(store.record_labels(raw_record).unwrap(), Some(labels(&["flu"])));
    assert_eq!(store.dataset_of_record(raw_record).unwrap(), Some(raw));
    assert_eq!((store.record_labels(raw_record + 100).unwrap(), store.dataset_of_record(raw_record + 100).unwrap()), (None, None));
}

/// What a steward's "read raw note text" grants: every note.
fn raw_grant() -> localdx_access::Grant {
    localdx_access::check(localdx_access::Role::Steward, localdx_access::Command::ReadRawRecords).unwrap()
}
