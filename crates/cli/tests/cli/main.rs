//! End-to-end tests of the data commands of the `localdx` binary: exit codes, `--json` output
//! (snake_case keys for `import`), and that a refused import leaves the database unchanged.
//! Real data sets are read from `../shared/data/` and skipped with a message when absent.

mod eval;
mod faults;
mod review;
mod suggest;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        localdx_testkit::skip(&format!("{} is absent", p.display()));
        None
    }
}

/// Runs `localdx --db DB --json ARGS...` and returns (exit success, parsed stdout).
fn localdx(db: &Path, args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_localdx")).arg("--db").arg(db).arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), value)
}

fn lines(report: &Value) -> Vec<u64> {
    report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect()
}

/// What a refused import must not change: the dataset list with record counts.
fn datasets(db: &Path) -> Value {
    let (ok, v) = localdx(db, &["datasets"]);
    assert!(ok);
    v
}

#[test]
fn mtsamples_refused_then_imported_then_recognised() {
    let Some(csv) = shared("mtsamples/mtsamples.csv") else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let csv = csv.to_str().unwrap();
    let args = ["import", csv, "--text-column", "transcription", "--label-column", "medical_specialty"];

    let (ok, report) = localdx(&db, &args);
    assert!(!ok, "33 rows without text refuse the file");
    assert_eq!(report["dataset_id"], Value::Null);
    assert_eq!(report["rejected"], 33);
    let got = lines(&report);
    assert_eq!(got.len(), 33);
    assert_eq!((got[0], got[32]), (100, 4678));
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("missing text"));
    assert_eq!(datasets(&db), serde_json::json!([]));

    let (ok, report) = localdx(&db, &[&args[..], &["--skip-bad-rows"]].concat());
    assert!(ok, "{report}");
    for key in ["dataset_id", "records", "rejected", "duplicates", "errors"] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    assert_eq!((report["records"].as_u64(), report["rejected"].as_u64()), (Some(4966), Some(33)));
    assert_eq!(report["duplicates"], 2609);
    assert_eq!(lines(&report).len(), 33);
    let id = report["dataset_id"].as_i64().unwrap();

    let (ok, again) = localdx(&db, &[&args[..], &["--skip-bad-rows"]].concat());
    assert!(!ok);
    let message = again["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("dataset {id}")) && message.contains("SHA-256"), "{message}");

    let (ok, merged) = localdx(&db, &[&args[..], &["--skip-bad-rows", "--allow-reimport", "--merge-duplicates"]].concat());
    assert!(ok);
    assert_eq!(merged["records"], 2357);
    assert_eq!(datasets(&db).as_array().unwrap().len(), 2);
}

#[test]
fn symptom2disease_and_codiesp_import_with_their_counts() {
    let (Some(s2d), Some(codiesp)) = (shared("symptom2disease/Symptom2Disease.csv"), shared("codiesp")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let (ok, report) = localdx(&db, &["import", s2d.to_str().unwrap(), "--text-column", "text", "--label-column", "label"]);
    assert!(ok, "{report}");
    assert_eq!((report["records"].as_u64(), report["labels"].as_u64()), (Some(1200), Some(24)));
    let id = report["dataset_id"].as_i64().unwrap().to_string();
    let (ok, detail) = localdx(&db, &["dataset", "show", &id]);
    assert!(ok);
    assert_eq!(detail["labels"].as_array().unwrap().len(), 24);
    assert_eq!(detail["records"], 1200);
    // Its statistics, in the default model's tokens: Symptom2Disease repeats some of its notes,
    // a few of them across splits, and the warnings say so.
    let (ok, stats) = localdx(&db, &["dataset", "stats", &id]);
    assert!(ok, "{stats}");
    assert_eq!((stats["notes"].as_u64(), stats["labels"].as_array().unwrap().len()), (Some(1200), 24));
    let binned: u64 = stats["length"]["bins"].as_array().unwrap().iter().map(|b| b["notes"].as_u64().unwrap()).sum();
    assert_eq!(binned, 1200, "{}", stats["length"]);
    assert!(stats["duplicates"]["exact"].as_u64().unwrap() > 0, "{}", stats["duplicates"]);
    let across = stats["duplicates"]["acrossSplits"].as_u64().unwrap();
    assert_eq!(across > 0, stats["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("cross from training")), "{stats}");

    let args = ["import", codiesp.to_str().unwrap(), "--format", "text-folder", "--text-subfolder", "text_files_en"];
    let (ok, report) = localdx(&db, &args);
    assert!(ok, "{report}");
    assert_eq!(report["records"], 750);
    assert_eq!(report["splits"], serde_json::json!({"train": 500, "validation": 250, "test": 0}));
    let id = report["dataset_id"].as_i64().unwrap().to_string();
    let (ok, page) = localdx(&db, &["dataset", "records", &id, "--limit", "3", "--search", "FEVER"]);
    assert!(ok);
    assert!(page["total"].as_u64().unwrap() > 10);
    assert_eq!(page["records"].as_array().unwrap().len(), 3);
    assert!(page["records"][0]["labels"].as_array().unwrap().len() > 1, "ICD-10 codes: {}", page["records"][0]);
    // CodiEsp's long tail and its missing test split are what its statistics warn about.
    let (ok, stats) = localdx(&db, &["dataset", "stats", &id]);
    assert!(ok, "{stats}");
    assert_eq!((stats["multiLabel"].as_bool(), stats["splits"]["test"].as_u64()), (Some(true), Some(0)));
    assert!(stats["rareLabels"].as_u64().unwrap() * 2 > stats["labels"].as_array().unwrap().len() as u64, "most codes are rare");
    let warnings: Vec<&str> = stats["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.contains("no note is in the test split")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("no training note and cannot be learned")), "{warnings:?}");
}

#[test]
fn a_malformed_csv_is_refused_with_line_numbers_and_the_database_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "note,dx\nchest pain,angina\ncough,flu\n").unwrap();
    let (ok, _) = localdx(&db, &["import", good.to_str().unwrap()]);
    assert!(ok);
    let before = datasets(&db);
    let db_bytes = std::fs::metadata(&db).unwrap().len();

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "note,dx\nfine,x\n,y\nb,x,extra\n\"open quote,z\nand more\n").unwrap();
    let (ok, report) = localdx(&db, &["import", bad.to_str().unwrap(), "--text-column", "note"]);
    assert!(!ok);
    assert_eq!(lines(&report), [3, 4, 5]);
    assert_eq!(report["error"]["code"], "invalid_input");
    assert_eq!(datasets(&db), before);
    assert_eq!(std::fs::metadata(&db).unwrap().len(), db_bytes);

    // Negative rows: a missing file and an unknown column fail with a JSON error and exit 1.
    let (ok, err) = localdx(&db, &["import", "/nonexistent/notes.csv"]);
    assert!(!ok && err["error"]["message"].as_str().unwrap().contains("cannot read"), "{err}");
    let (ok, err) = localdx(&db, &["import", bad.to_str().unwrap(), "--text-column", "body"]);
    assert!(!ok && err["error"]["message"].as_str().unwrap().contains("\"body\""), "{err}");
    let (ok, err) = localdx(&db, &["dataset", "show", "99"]);
    assert!(!ok && err["error"]["code"] == "not_found", "{err}");
    assert_eq!(datasets(&db), before);
}

#[test]
fn preview_shows_guessed_roles_without_importing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let tsv = dir.path().join("notes.tsv");
    std::fs::write(&tsv, "patient_id\tnote\tdiagnosis\tsplit\np1\tshort of breath\tI50.9\ttrain\n").unwrap();
    let (ok, p) = localdx(&db, &["import", tsv.to_str().unwrap(), "--preview"]);
    assert!(ok);
    assert_eq!(p["format"], "tsv");
    assert_eq!(p["roles"]["text"], "note");
    assert_eq!(p["roles"]["patientId"], "patient_id");
    assert_eq!(p["roles"]["split"], "split");
    assert_eq!(p["roles"]["labels"], serde_json::json!(["diagnosis"]));
    assert_eq!(datasets(&db), serde_json::json!([]));
}

/// Regression: output into a pipe closed by its reader (`localdx datasets | head -c 10`) panicked
/// with a backtrace. It now ends quietly, as other Unix tools do.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipe.sqlite");
    let csv = dir.path().join("notes.csv");
    // More than a pipe buffer (64 KiB) of output, so the write fails even if it starts early.
    let filler = "cough at night and wheezing ".repeat(20);
    let rows: String = (0..200).map(|i| format!("Note {i}: {filler},J{:02}\n", i % 50)).collect();
    std::fs::write(&csv, format!("note,dx\n{rows}")).unwrap();
    assert!(localdx(&db, &["import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "dx"]).0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_localdx"))
        .arg("--db")
        .arg(&db)
        .args(["dataset", "records", "1", "--limit", "200"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
