//! Small broken (and tricky) files written by the tests: each bad one must be refused with its
//! line numbers and leave the store exactly as it was.

use crate::{fingerprint, raw_grant, run};
use localdx_ingest::{import, ColumnMapping, Encoding, ImportOptions, IngestError, LabelMap};
use localdx_job::Cancel;
use localdx_store::{Split, Store};
use std::path::PathBuf;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn mapping(text: &str, label: &str) -> ImportOptions {
    ImportOptions {
        mapping: ColumnMapping { text: Some(text.into()), labels: vec![label.into()], ..Default::default() },
        ..Default::default()
    }
}

/// Imports `contents` as `name` and expects a refusal listing `lines` with messages containing
/// `needle`, the store unchanged (it already holds one dataset).
fn check_refused(name: &str, contents: &str, opts: ImportOptions, lines: &[u64], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite"), None).unwrap();
    let good = write(&dir, "good.csv", b"note,dx\nfine,ok\n");
    run(&store, &good, &mapping("note", "dx")).unwrap();
    let before = fingerprint(&store);
    let path = write(&dir, name, contents.as_bytes());
    let report = run(&store, &path, &opts).unwrap();
    assert_eq!(report.dataset_id, None, "{name} must be refused");
    let got: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(got, lines, "{name}: {:?}", report.errors);
    assert!(report.errors.iter().any(|e| e.message.contains(needle)), "{name}: {:?}", report.errors);
    assert_eq!(fingerprint(&store), before, "{name}: the store changed");
}

#[test]
fn malformed_files_are_refused_with_line_numbers() {
    check_refused("missing.csv", "note,dx\na,x\n,y\n  ,z\nb,x\n", mapping("note", "dx"), &[3, 4], "missing text");
    // Regression: with CRLF line ends the reader counted every row one line short.
    check_refused("crlf.csv", "note,dx\r\n\"a\r\nb\",x\r\n,y\r\nc,z\r\n", mapping("note", "dx"), &[4], "missing text");
    check_refused("fields.csv", "note,dx\na,x\nb,x,extra\nc\nd,x\n", mapping("note", "dx"), &[3, 4], "expected 2 fields");
    check_refused(
        "quote.csv",
        "note,dx\na,x\n\"multi\nline\",y\n\"never closed,z\nmore\nlines\n",
        mapping("note", "dx"),
        &[5],
        "unterminated quoted field",
    );
    check_refused(
        "bad.jsonl",
        "{\"text\": \"a\", \"dx\": \"x\"}\n\n{\"text\": \"b\", \"dx\": \n[1, 2]\n{\"dx\": \"y\"}\n",
        mapping("text", "dx"),
        &[3, 4, 5],
        "invalid JSON",
    );
    let split = ImportOptions {
        mapping: ColumnMapping { text: Some("note".into()), split: Some("part".into()), ..Default::default() },
        ..Default::default()
    };
    check_refused("split.csv", "note,part\na,train\nb,holdout\nc,\nd,dev\n", split, &[3, 4], "unknown split");
    let icd = ImportOptions { label_map: LabelMap::Icd10Category, label_separator: Some(";".into()), ..mapping("note", "dx") };
    check_refused("icd.csv", "note,dx\na,r50.9\nb,I10;fever\nc,\"R50.1;R51\"\nd,flu\n", icd, &[3, 5], "not an ICD-10-CM code");
}

#[test]
fn a_test_share_outside_zero_and_one_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite"), None).unwrap();
    let path = write(&dir, "notes.csv", b"note,dx,part\na,x,train\nb,y,dev\n");
    for share in [0.0, 1.0, -0.2, f64::NAN] {
        let mut opts = mapping("note", "dx");
        opts.mapping.split = Some("part".into());
        opts.test_from_validation = Some(share);
        let err = run(&store, &path, &opts).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{share}: {err}");
    }
    assert_eq!(fingerprint(&store).0, 0);
}

#[test]
fn skip_bad_rows_stores_good_rows_and_keeps_the_rejected_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let path = write(&dir, "mixed.csv", b"note,dx\na,x\n,y\nb,x,extra\nc,z\n");
    let opts = ImportOptions { skip_bad_rows: true, ..mapping("note", "dx") };
    let report = run(&store, &path, &opts).unwrap();
    let id = report.dataset_id.unwrap();
    assert_eq!((report.records, report.rejected), (2, 2));
    let lines: Vec<u64> = store.rejections(id).unwrap().iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4]);
    let sources: Vec<u64> = store.records(&raw_grant(), id, 0, 10, None).unwrap().iter().map(|r| r.source_line).collect();
    assert_eq!(sources, [2, 5]);
}

#[test]
fn bom_semicolons_multiline_fields_and_multi_labels() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let csv = "\u{FEFF}id;note;codes;part\n1;\"two\nlines; with \"\"quotes\"\"\";A01|B02 | A01;train\n2;plain;;test\n";
    let path = write(&dir, "semi.csv", csv.as_bytes());
    let opts = ImportOptions {
        mapping: ColumnMapping {
            text: Some("note".into()),
            labels: vec!["codes".into()],
            external_id: Some("id".into()),
            split: Some("part".into()),
            patient_id: None,
        },
        label_separator: Some("|".into()),
        ..Default::default()
    };
    let report = run(&store, &path, &opts).unwrap();
    assert_eq!(report.delimiter, Some(';'));
    let records = store.records(&raw_grant(), report.dataset_id.unwrap(), 0, 10, None).unwrap();
    assert_eq!(records[0].text, "two\nlines; with \"quotes\"");
    assert_eq!(records[0].labels, vec!["A01".to_owned(), "B02".to_owned()]);
    assert_eq!((records[0].split, records[0].external_id.as_deref(), records[0].source_line), (Split::Train, Some("1"), 2));
    assert_eq!((records[1].split, records[1].labels.len(), records[1].source_line), (Split::Test, 0, 4));
}

#[test]
fn latin1_is_converted_with_a_warning_and_utf16_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let path = write(&dir, "latin1.csv", b"note,dx\nfi\xe8vre \x93forte\x94,grippe\n");
    let report = run(&store, &path, &mapping("note", "dx")).unwrap();
    assert_eq!(report.encoding, Encoding::Windows1252);
    assert!(report.warnings.iter().any(|w| w.contains("Windows-1252")), "{:?}", report.warnings);
    let r = &store.records(&raw_grant(), report.dataset_id.unwrap(), 0, 1, None).unwrap()[0];
    assert_eq!(r.text, "fi\u{e8}vre \u{201c}forte\u{201d}");

    let before = fingerprint(&store);
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("note\n".encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
    let path = write(&dir, "utf16.csv", &utf16);
    let err = run(&store, &path, &mapping("note", "dx")).unwrap_err();
    assert!(matches!(err, IngestError::Encoding { .. }), "{err}");
    assert!(err.to_string().contains("UTF-16"), "{err}");
    assert_eq!(fingerprint(&store), before);
}

#[test]
fn missing_columns_and_cancel_are_errors_that_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let path = write(&dir, "notes.csv", b"note,dx\na,x\nb,y\n");
    let err = run(&store, &path, &mapping("body", "dx")).unwrap_err();
    assert!(err.to_string().contains("\"body\"") && err.to_string().contains("note, dx"), "{err}");
    let jsonl = write(&dir, "notes.jsonl", b"{\"note\": \"a\"}\n");
    let err = run(&store, &jsonl, &mapping("body", "dx")).unwrap_err();
    assert!(matches!(err, IngestError::MissingColumn { .. }), "{err}");
    let cancel = Cancel::new();
    cancel.cancel();
    let err = import(&store, &path, &mapping("note", "dx"), &(), &cancel).unwrap_err();
    assert!(matches!(err, IngestError::Cancelled));
    // Cancelled while rows are being written: rolled back.
    let cancel = Cancel::new();
    let rows_seen = std::sync::atomic::AtomicU64::new(0);
    let reporter = |p: &localdx_job::Progress| {
        if p.stage == "import" {
            rows_seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            cancel.cancel();
        }
    };
    let err = import(&store, &path, &mapping("note", "dx"), &reporter, &cancel).unwrap_err();
    assert!(matches!(err, IngestError::Cancelled), "{err}");
    assert!(rows_seen.into_inner() > 0, "the import had started");
    assert_eq!(fingerprint(&store), (0, 0, vec![]));
}

#[test]
fn text_folder_without_split_folders_assigns_splits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    let root = dir.path().join("notes");
    std::fs::create_dir(&root).unwrap();
    for i in 0..20 {
        std::fs::write(root.join(format!("doc{i:02}.txt")), format!("note number {i}")).unwrap();
    }
    std::fs::write(root.join("empty.txt"), "  \n").unwrap();
    let labels: String = (0..20).map(|i| format!("doc{i:02}\t{}\n", if i % 2 == 0 { "even" } else { "odd" })).collect();
    std::fs::write(root.join("labels.tsv"), format!("{labels}ghost\tx\nbroken-line\n")).unwrap();
    let report = run(&store, &root, &ImportOptions::default()).unwrap();
    assert_eq!(report.dataset_id, None);
    let errors: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors, ["labels.tsv:22: expected doc_id<TAB>label", "empty.txt:1: missing text: the note is empty"]);
    let report = run(&store, &root, &ImportOptions { skip_bad_rows: true, ..Default::default() }).unwrap();
    assert_eq!((report.records, report.labels), (20, 2));
    assert!(report.warnings.iter().any(|w| w.contains("ghost")), "{:?}", report.warnings);
    assert!(report.splits.iter().all(|(_, n)| *n > 0), "{:?}", report.splits);
}

#[test]
fn ambiguous_text_folders_are_refused_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_memory().unwrap();
    for sub in ["notes_fr", "notes_de"] {
        let d = dir.path().join("train").join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("a.txt"), "text").unwrap();
    }
    match run(&store, dir.path(), &ImportOptions::default()) {
        Err(IngestError::Layout(m)) => assert!(m.contains("notes_de, notes_fr") && m.contains("--text-subfolder"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let opts = ImportOptions { text_subfolder: Some("notes_fr".into()), ..Default::default() };
    let report = run(&store, dir.path(), &opts).unwrap();
    assert_eq!((report.records, report.splits[0].1), (1, 1));
    let missing = ImportOptions { text_subfolder: Some("notes_en".into()), ..Default::default() };
    assert!(matches!(run(&store, dir.path(), &missing), Err(IngestError::Layout(_))));
}
