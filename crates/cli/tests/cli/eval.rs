//! `localdx eval` and `localdx report` on prediction files written by the test (the JSON of
//! `localdx predict --json`): the `--json` contract (snake_case metric names, per-label rows),
//! thresholds chosen on validation predictions, a paired comparison, a self-contained report,
//! and refused inputs. Evaluating a trained run end to end needs a run and a model and is not
//! done here.

use super::localdx;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

fn row(id: i64, gold: &[&str], probs: &[(&str, f64)]) -> Value {
    let predictions: Vec<Value> = probs.iter().map(|(l, p)| json!({"label": l, "probability": p})).collect();
    json!({"record_id": id, "gold": gold, "predictions": predictions})
}

/// Multi-class, labels asthma/cold/flu. Predicted (arg-max): flu, cold, cold, flu, cold.
/// flu tp1 fp1 fn1 (P .5 R .5 F1 .5); cold tp2 fp1 fn0 (P 2/3 R 1 F1 .8); asthma never
/// predicted (P 0 by zero_division=0, R 0, F1 0). Micro: tp3 fp2 fn2 -> P = R = F1 = .6.
/// Ranks of the gold label: 1, 2, 1, 3, 1 -> recall@1 .6, recall@2 .8.
fn multi_class() -> Value {
    json!([
        row(1, &["flu"], &[("flu", 0.7), ("cold", 0.2), ("asthma", 0.1)]),
        row(2, &["flu"], &[("cold", 0.5), ("flu", 0.4), ("asthma", 0.1)]),
        row(3, &["cold"], &[("cold", 0.6), ("flu", 0.3), ("asthma", 0.1)]),
        row(4, &["asthma"], &[("flu", 0.5), ("cold", 0.3), ("asthma", 0.2)]),
        row(5, &["cold"], &[("cold", 0.8), ("asthma", 0.15), ("flu", 0.05)]),
    ])
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

fn label<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["per_label"].as_array().unwrap().iter().find(|r| r["label"] == name).unwrap()
}

#[test]
fn eval_of_a_predictions_file_prints_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let f = write(dir.path(), "pred.json", &multi_class());
    let (ok, r) = localdx(&db, &["eval", "--predictions", f.to_str().unwrap(), "--k", "1,2", "--bootstrap", "200"]);
    assert!(ok, "{r}");
    for (key, want) in [("micro_f1", 0.6), ("micro_precision", 0.6), ("micro_recall", 0.6), ("macro_f1", (0.5 + 0.8) / 3.0), ("accuracy", 0.6)] {
        close(&r[key], want);
    }
    assert_eq!(r["top_k_recall"], json!([{"k": 1, "value": 0.6}, {"k": 2, "value": 0.8}]));
    assert_eq!((r["kind"].as_str(), r["thresholds_source"].as_str(), r["cases"].as_u64()), (Some("multi_class"), Some("none"), Some(5)));
    let rows: Vec<&str> = r["per_label"].as_array().unwrap().iter().map(|x| x["label"].as_str().unwrap()).collect();
    assert_eq!(rows, ["cold", "flu", "asthma"], "sorted by support");
    let asthma = label(&r, "asthma");
    assert_eq!((asthma["support"].as_u64(), asthma["predicted"].as_u64()), (Some(1), Some(0)));
    close(&asthma["precision"], 0.0);
    close(&label(&r, "cold")["f1"], 0.8);
    assert_eq!(r["confusion"], json!([[0, 0, 1], [0, 2, 0], [0, 1, 1]]), "rows gold, columns predicted (asthma, cold, flu)");
    let ci = r["intervals"].as_array().unwrap().iter().find(|i| i["metric"] == "micro_f1").unwrap();
    assert!(ci["low"].as_f64().unwrap() <= 0.6 && 0.6 <= ci["high"].as_f64().unwrap(), "{ci}");
    // Forced multi-label at the default threshold 0.5: predicted flu, cold, cold, flu, cold
    // (record 2's 0.5 reaches it) -> the same decisions, now scored as sets.
    let (ok, r) = localdx(&db, &["eval", "--predictions", f.to_str().unwrap(), "--kind", "multi-label", "--bootstrap", "0"]);
    assert!(ok, "{r}");
    assert_eq!((r["kind"].as_str(), r["thresholds_source"].as_str(), r["confusion"].is_null()), (Some("multi_label"), Some("default"), true));
    close(&r["micro_f1"], 0.6);
}

#[test]
fn multi_label_thresholds_come_from_the_validation_predictions() {
    // Validation: label a is separated at 0.6, label b at 0.7 (best F1 = 1 for both).
    let val = json!([
        row(1, &["a", "b"], &[("a", 0.9), ("b", 0.8)]),
        row(2, &["a"], &[("a", 0.6), ("b", 0.3)]),
        row(3, &[], &[("a", 0.4), ("b", 0.35)]),
        row(4, &["b"], &[("a", 0.2), ("b", 0.7)]),
    ]);
    // Test with those thresholds: a tp1 fn1, b tp1 fp1 fn1 -> micro P 2/3, R 1/2, F1 4/7.
    // With the default 0.5 instead: micro P .8, R 1.
    let test = json!([
        row(11, &["a", "b"], &[("a", 0.65), ("b", 0.75)]),
        row(12, &["a"], &[("a", 0.55), ("b", 0.72)]),
        row(13, &["b"], &[("a", 0.1), ("b", 0.69)]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let (t, v) = (write(dir.path(), "test.json", &test), write(dir.path(), "val.json", &val));
    let (ok, r) = localdx(&db, &["eval", "--predictions", t.to_str().unwrap(), "--validation-predictions", v.to_str().unwrap()]);
    assert!(ok, "{r}");
    assert_eq!((r["kind"].as_str(), r["thresholds_source"].as_str()), (Some("multi_label"), Some("validation")));
    assert_eq!(r["thresholds"], json!({"per_label": [0.6, 0.7]}));
    close(&r["micro_precision"], 2.0 / 3.0);
    close(&r["micro_recall"], 0.5);
    close(&r["micro_f1"], 4.0 / 7.0);
    close(&label(&r, "b")["threshold"], 0.7);
    let (ok, r) = localdx(&db, &["eval", "--predictions", t.to_str().unwrap()]);
    assert!(ok, "{r}");
    assert_eq!(r["thresholds_source"], "default");
    close(&r["micro_precision"], 0.8);
    close(&r["micro_recall"], 1.0);
}

#[test]
fn comparing_a_model_with_itself_shows_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let f = write(dir.path(), "pred.json", &multi_class());
    let mut shuffled = multi_class().as_array().unwrap().clone();
    shuffled.reverse();
    let g = write(dir.path(), "other.json", &Value::Array(shuffled));
    let (ok, r) = localdx(&db, &["eval", "--predictions", f.to_str().unwrap(), "--vs-predictions", g.to_str().unwrap(), "--bootstrap", "100"]);
    assert!(ok, "{r}");
    let c = &r["comparison"];
    assert_eq!(c["cases"], 5);
    for m in c["metrics"].as_array().unwrap() {
        assert_eq!((m["difference"].as_f64(), m["low"].as_f64(), m["high"].as_f64()), (Some(0.0), Some(0.0), Some(0.0)), "{m}");
    }
    assert_eq!((c["mcnemar"]["only_a"].as_u64(), c["mcnemar"]["p_value"].as_f64()), (Some(0), Some(1.0)));
}

#[test]
fn report_is_one_self_contained_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let f = write(dir.path(), "pred.json", &multi_class());
    let out = dir.path().join("report.html");
    let (ok, r) = localdx(&db, &["report", "--predictions", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{r}");
    let html = std::fs::read_to_string(&out).unwrap();
    assert_eq!(r["bytes"].as_u64(), Some(html.len() as u64));
    for forbidden in ["http:", "https:", "<script", "<link", "src=", "url("] {
        assert!(!html.contains(forbidden), "report refers outside itself: {forbidden}");
    }
    for section in ["Summary", "Per-label precision", "Precision-recall curves", "Confusion matrix", "Calibration", "Date"] {
        assert!(html.contains(section), "missing {section}");
    }
    assert!(html.matches("<svg").count() >= 4);
}

#[test]
fn refused_inputs_exit_non_zero_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"not\": \"an array\"}").unwrap();
    let not_prob = write(dir.path(), "p.json", &json!([row(1, &["flu"], &[("flu", 1.5)])]));
    let empty = write(dir.path(), "e.json", &json!([]));
    let missing = dir.path().join("missing.json");
    // (args, expected error code, a word of the message)
    let rows: [(&[&str], &str, &str); 5] = [
        (&["eval", "--predictions", bad.to_str().unwrap()], "invalid_input", "localdx predict --json"),
        (&["eval", "--predictions", not_prob.to_str().unwrap()], "invalid_input", "not a probability"),
        (&["eval", "--predictions", empty.to_str().unwrap()], "invalid_input", "no predictions"),
        (&["eval", "--predictions", missing.to_str().unwrap()], "internal", "missing.json"),
        (&["eval", "--run", "run-9"], "not_found", "no run run-9"),
    ];
    for (args, code, word) in rows {
        let (ok, r) = localdx(&db, args);
        assert!(!ok, "{args:?}");
        assert_eq!(r["error"]["code"], code, "{args:?}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(word), "{args:?}: {r}");
    }
    // Neither --run nor --predictions: refused by the argument parser.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localdx")).args(["--db", db.to_str().unwrap(), "eval"]).output().unwrap();
    assert!(!out.status.success());
}
