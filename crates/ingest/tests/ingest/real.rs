//! The real data sets: MTSamples (CSV with empty texts and duplicates), Symptom2Disease (CSV),
//! CodiEsp (folder of notes + labels TSV), PhysioNet deid (JSONL with patient ids).

use crate::{fingerprint, raw_grant, run, shared};
use localdx_ingest::{preview, ColumnMapping, Format, ImportOptions, IngestError, LabelMap, SplitSource};
use localdx_store::{Split, Store};
use std::collections::{HashMap, HashSet};

/// Rows of mtsamples.csv whose transcription is empty, by file line (computed with Python's csv).
const MTSAMPLES_EMPTY_LINES: [u64; 33] = [
    100, 120, 209, 267, 464, 629, 635, 687, 737, 879, 887, 992, 993, 994, 996, 1027, 1066, 2032, 2475, 2518, 2549, 2605,
    2608, 2671, 3607, 3613, 3646, 3651, 3654, 3657, 3751, 3797, 4678,
];

fn mtsamples_options() -> ImportOptions {
    ImportOptions {
        mapping: ColumnMapping {
            text: Some("transcription".into()),
            labels: vec!["medical_specialty".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn mtsamples_is_refused_then_imported_with_skip_bad_rows_then_recognised() {
    let Some(path) = shared("mtsamples/mtsamples.csv") else { return };
    let store = Store::open_in_memory().unwrap();
    let before = fingerprint(&store);

    let refused = run(&store, &path, &mtsamples_options()).unwrap();
    assert_eq!(refused.dataset_id, None);
    assert_eq!(refused.rejected, 33);
    let lines: Vec<u64> = refused.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, MTSAMPLES_EMPTY_LINES);
    assert!(refused.errors[0].message.contains("missing text"), "{}", refused.errors[0].message);
    assert_eq!(fingerprint(&store), before, "a refused import changes nothing");

    let opts = ImportOptions { skip_bad_rows: true, ..mtsamples_options() };
    let report = run(&store, &path, &opts).unwrap();
    let id = report.dataset_id.expect("imported");
    assert_eq!((report.records, report.rejected, report.duplicates, report.duplicate_groups), (4966, 33, 2609, 2150));
    assert_eq!(report.labels, 40);
    assert_eq!(store.dataset(id).unwrap().unwrap().records, 4966);
    let rejected: Vec<u64> = store.rejections(id).unwrap().iter().map(|r| r.line).collect();
    assert_eq!(rejected, MTSAMPLES_EMPTY_LINES);
    // Duplicates never straddle splits when splits are assigned.
    let mut split_of: HashMap<String, Split> = HashMap::new();
    for r in store.records(&raw_grant(), id, 0, 10_000, None).unwrap() {
        let prev = split_of.insert(r.text.trim().to_owned(), r.split);
        assert!(prev.is_none() || prev == Some(r.split), "duplicate text in two splits (line {})", r.source_line);
    }

    // Same file again: recognised by its SHA-256, naming the dataset.
    match run(&store, &path, &opts) {
        Err(e @ IngestError::AlreadyImported { .. }) => {
            let m = e.to_string();
            assert!(m.contains(&format!("dataset {id}")) && m.contains("mtsamples"), "{m}");
        }
        other => panic!("expected a re-import refusal, got {other:?}"),
    }

    // Merging duplicates: one record per distinct text, carrying every specialty.
    let merged = ImportOptions { allow_reimport: true, merge_duplicates: true, ..opts };
    let report = run(&store, &path, &merged).unwrap();
    let id = report.dataset_id.unwrap();
    assert_eq!(report.records, 2357);
    assert_eq!(store.record_count(id, None).unwrap(), 2357);
    let multi = store.records(&raw_grant(), id, 0, 10_000, None).unwrap().iter().filter(|r| r.labels.len() > 1).count();
    // 2,148 repeated texts appear under more than one specialty (Python: distinct specialties per
    // distinct stripped text > 1); the other two repeat with the same specialty.
    assert_eq!(multi, 2148, "each repeated text carries all its specialties");
}

#[test]
fn symptom2disease_imports_1200_records_with_24_labels_stratified() {
    let Some(path) = shared("symptom2disease/Symptom2Disease.csv") else { return };
    let store = Store::open_in_memory().unwrap();
    // No mapping at all: the guessed roles (text, label, index) are used and said so.
    let report = run(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!((report.records, report.labels, report.rejected), (1200, 24, 0));
    assert_eq!(report.mapping.text.as_deref(), Some("text"));
    assert!(report.warnings.iter().any(|w| w.contains("guessed")), "{:?}", report.warnings);
    assert_eq!(report.split_source, SplitSource::Assigned);
    assert_eq!(report.seed, Some(42));
    let stats = store.dataset_stats(report.dataset_id.unwrap()).unwrap();
    assert_eq!(stats.per_label.len(), 24);
    assert!(stats.per_label.iter().all(|(_, n)| *n == 50));
    assert_eq!(stats.per_split, vec![(Split::Train, 960), (Split::Validation, 120), (Split::Test, 120)]);
    let d = store.dataset(report.dataset_id.unwrap()).unwrap().unwrap();
    assert_eq!(d.seed, Some(42));
}

#[test]
fn codiesp_folder_imports_750_notes_with_icd10_labels() {
    let Some(root) = shared("codiesp") else { return };
    let store = Store::open_in_memory().unwrap();
    // Two folders of notes (Spanish and English): the Spanish originals when asked for...
    let spanish = ImportOptions { text_subfolder: Some("text_files".into()), ..Default::default() };
    let es = run(&store, &root, &spanish).unwrap();
    assert_eq!(es.records, 750);
    let es_id = es.dataset_id.unwrap();
    assert!(store.records(&raw_grant(), es_id, 0, 1, None).unwrap()[0].text.contains(" de "));
    // ... and the English ones by default, saying so (a different source: not a re-import).
    let auto = run(&store, &root, &ImportOptions::default()).unwrap();
    assert_eq!(auto.records, 750);
    assert!(auto.warnings.iter().any(|w| w.contains("using text_files_en")), "{:?}", auto.warnings);
    assert_ne!(auto.sha256, es.sha256);
    let store = Store::open_in_memory().unwrap();
    let opts = ImportOptions { text_subfolder: Some("text_files_en".into()), ..Default::default() };
    let report = run(&store, &root, &opts).unwrap();
    assert_eq!(report.format, Format::TextFolder);
    assert_eq!(report.split_source, SplitSource::Folder);
    assert_eq!(report.records, 750);
    assert_eq!(report.splits, vec![(Split::Train, 500), (Split::Validation, 250), (Split::Test, 0)]);
    let id = report.dataset_id.unwrap();
    let records = store.records(&raw_grant(), id, 0, 1000, None).unwrap();
    // Every note has codes, and every distinct (doc, code) pair of trainD.tsv/devD.tsv is stored.
    assert!(records.iter().all(|r| !r.labels.is_empty()));
    let r = records.iter().find(|r| r.external_id.as_deref() == Some("S0004-06142005000700014-1")).unwrap();
    assert!(r.labels.contains(&"n44.8".to_owned()) && r.labels.contains(&"r60.9".to_owned()), "{:?}", r.labels);
    let pairs: usize = records.iter().map(|r| r.labels.len()).sum();
    let expected: HashSet<(String, String)> = ["train/trainD.tsv", "dev/devD.tsv"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(root.join(f)).unwrap().lines().map(|l| {
            let mut p = l.split('\t');
            (p.next().unwrap().to_owned(), p.next().unwrap().to_owned())
        }).collect::<Vec<_>>())
        .collect();
    assert_eq!(pairs, expected.len());
}

#[test]
fn physionet_jsonl_keeps_each_patient_in_one_split() {
    let Some(path) = shared("physionet_deid/deid_gold_dev.jsonl") else { return };
    let store = Store::open_in_memory().unwrap();
    let report = run(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!(report.format, Format::Jsonl);
    assert_eq!(report.records, 1450);
    assert_eq!(report.mapping.patient_id.as_deref(), Some("patient_id"));
    let mut split_of: HashMap<String, Split> = HashMap::new();
    let records = store.records(&raw_grant(), report.dataset_id.unwrap(), 0, 10_000, None).unwrap();
    for r in &records {
        let p = r.patient_id.clone().expect("patient id");
        assert_eq!(*split_of.entry(p).or_insert(r.split), r.split, "patient in two splits");
    }
    assert!(split_of.values().any(|s| *s == Split::Test) && split_of.values().any(|s| *s == Split::Validation));
}

#[test]
fn preview_guesses_mtsamples_roles() {
    let Some(path) = shared("mtsamples/mtsamples.csv") else { return };
    let p = preview(&path, &ImportOptions::default(), 5).unwrap();
    assert_eq!((p.format, p.delimiter), (Format::Csv, Some(',')));
    assert_eq!(p.columns.len(), 6);
    assert_eq!(p.rows.len(), 5);
    assert_eq!(p.roles.text.as_deref(), Some("transcription"));
    assert_eq!(p.roles.labels, vec!["medical_specialty".to_owned()]);
    assert_eq!(p.roles.external_id.as_deref(), Some("note_id"));
}

#[test]
fn codiesp_rolls_codes_up_to_categories_and_carves_a_test_split_from_dev() {
    let Some(root) = shared("codiesp") else { return };
    let store = Store::open_in_memory().unwrap();
    let opts = ImportOptions {
        text_subfolder: Some("text_files_en".into()),
        label_map: LabelMap::Icd10Category,
        test_from_validation: Some(0.5),
        ..Default::default()
    };
    let report = run(&store, &root, &opts).unwrap();
    assert_eq!(report.records, 750);
    // Train stays as the source named it; dev is halved, stratified, into validation and test.
    let splits: HashMap<Split, u64> = report.splits.iter().copied().collect();
    assert_eq!(splits[&Split::Train], 500);
    assert_eq!(splits[&Split::Validation] + splits[&Split::Test], 250);
    assert!((110..=140).contains(&splits[&Split::Test]), "{splits:?}");
    let records = store.records(&raw_grant(), report.dataset_id.unwrap(), 0, 1000, None).unwrap();
    let r = records.iter().find(|r| r.external_id.as_deref() == Some("S0004-06142005000700014-1")).unwrap();
    assert!(r.labels.contains(&"N44".to_owned()) && r.labels.contains(&"R60".to_owned()), "{:?}", r.labels);
    assert!(records.iter().flat_map(|r| &r.labels).all(|l| l.len() == 3 && l.chars().next().unwrap().is_ascii_uppercase()));
    // Codes of one category in one note become one label.
    assert!(records.iter().all(|r| r.labels.iter().collect::<HashSet<_>>().len() == r.labels.len()));
    // The same seed gives the same test split.
    let again = Store::open_in_memory().unwrap();
    let report2 = run(&again, &root, &opts).unwrap();
    assert_eq!(report.splits, report2.splits);
}
