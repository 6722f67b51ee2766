//! Gold notes and the learned-terms table of migration 7: a database written before it keeps its
//! terms, context words are unique per type, samples exclude notes already gold, and imported
//! gold replaces a note's sample gold.

use super::*;
use localdx_store::GoldSpanRow;

#[test]
fn migration_7_keeps_terms_and_adds_context_words_per_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let raw = Connection::open(&path).unwrap();
    for (i, sql) in MIGRATIONS[..6].iter().enumerate() {
        raw.execute_batch(sql).unwrap();
        raw.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
    }
    raw.execute("INSERT INTO review_terms (list, term, entity, dataset_id, proposed_by, confirmed_by) VALUES ('deny', 'blue unit', 'location', 1, 'sam', 'sam')", []).unwrap();
    drop(raw);

    let store = Store::open(&path, None).unwrap();
    let terms = store.terms().unwrap();
    assert_eq!(terms.len(), 1);
    assert_eq!((terms[0].list.as_str(), terms[0].term.as_str(), terms[0].confirmed_by.as_deref()), ("deny", "blue unit", Some("sam")));
    let name = store.propose_term("context", "c/o", Some("name"), 1, "sam").unwrap();
    let location = store.propose_term("context", "c/o", Some("location"), 1, "sam").unwrap();
    assert_ne!(name, location, "one context word per type");
    assert_eq!(store.propose_term("context", "c/o", Some("name"), 1, "sam").unwrap(), name, "a repeat is the same term");
    // negative rows: the deny-list stays unique by term; a context word needs a type; no fourth list
    assert_eq!(store.propose_term("deny", "blue unit", Some("name"), 1, "sam").unwrap(), terms[0].id);
    assert!(store.propose_term("context", "seen by", None, 1, "sam").is_err());
    assert!(store.propose_term("maybe", "x", None, 1, "sam").is_err());
    assert_eq!(store.terms().unwrap().len(), 3);
}

#[test]
fn samples_draw_from_notes_not_yet_gold_and_imports_replace_them() {
    let store = Store::open_in_memory().unwrap();
    let id = seed(&store, &[("one", &[], Split::Train), ("two", &[], Split::Train), ("three", &[], Split::Test)]);
    let other = seed(&store, &[("elsewhere", &[], Split::Train)]);
    let ids = store.gold_candidates(id).unwrap();
    assert_eq!(ids.len(), 3);
    let big_seed = u64::MAX - 5;
    let sample = store.add_gold_sample(id, big_seed, &ids[..2], "sam").unwrap();
    assert_eq!(store.gold_candidates(id).unwrap(), vec![ids[2]]);
    let samples = store.gold_samples(id).unwrap();
    assert_eq!((samples[0].id, samples[0].size, samples[0].seed), (sample, 2, big_seed), "the seed survives bit for bit");
    // negative rows: a note already gold, a record of another dataset
    assert!(store.add_gold_sample(id, 1, &ids[..1], "sam").is_err());
    let stranger = store.gold_candidates(other).unwrap()[0];
    assert!(store.add_gold_sample(id, 1, &[stranger], "sam").is_err());
    assert!(store.set_imported_gold(id, stranger, "deid-jsonl", &[], "sam").is_err());

    let spans = vec![GoldSpanRow { start: 0, end: 3, label: "Name".into() }];
    store.set_imported_gold(id, ids[0], "deid-jsonl", &spans, "sam").unwrap();
    store.set_imported_gold(id, ids[0], "deid-jsonl", &spans, "sam").unwrap();
    assert_eq!(store.gold_spans(ids[0]).unwrap(), spans, "a second import replaces the first");
    let notes: Vec<(i64, String, Option<i64>)> = store.gold_notes(id).unwrap().into_iter().map(|n| (n.record_id, n.source, n.sample_id)).collect();
    assert_eq!(notes, vec![(ids[0], "import".into(), None), (ids[1], "sample".into(), Some(sample))]);
    assert!(!store.note_in_review(ids[0]).unwrap());
}
