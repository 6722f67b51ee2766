//! `localdx suggest` and `localdx feedback` end to end on the real default model (SmolLM2 at
//! `$LOCALDX_MODELS`, else `models/` of the checkout; skipped with a message only when the file is
//! absent, and failing instead under `CI=true`): the `--json` contract (ranked labels with probabilities,
//! attribution words with char offsets into the note), the note read from stdin, refused inputs.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn models() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("LOCALDX_MODELS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")),
    ];
    let found = candidates.into_iter().flatten().find(|d| d.join("SmolLM2-135M-Instruct.Q4_1.gguf").exists());
    if found.is_none() {
        localdx_testkit::skip("SmolLM2-135M-Instruct.Q4_1.gguf is not in $LOCALDX_MODELS or models/ (run scripts/fetch-models.sh)");
    }
    found
}

/// Runs `localdx --db DB --json ARGS...` with `stdin` and returns (success, parsed stdout).
fn localdx_stdin(db: &Path, models: &Path, args: &[&str], stdin: &str) -> (bool, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_localdx"))
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("LOCALDX_MODELS", models)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), value)
}

const KINDS: [(&str, &str); 4] = [
    ("J45.909", "Wheezing and tight chest at night, relieved by the inhaler"),
    ("I10", "Blood pressure high again at 162/98, mild headache, on amlodipine"),
    ("E11.9", "Thirsty and passing urine often, fasting glucose raised, on metformin"),
    ("L30.9", "Itchy red patches on both forearms, dry skin, using an emollient"),
];

#[test]
fn suggest_ranks_labels_and_names_the_words_that_mattered() {
    let Some(models) = models() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let csv = dir.path().join("notes.csv");
    let mut text = String::from("note,diagnosis,split\n");
    for i in 0..10 {
        let split = if i < 6 { "train" } else if i < 8 { "validation" } else { "test" };
        for (code, note) in KINDS {
            text.push_str(&format!("\"{note}. Visit {}.\",{code},{split}\n", i + 1));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let (ok, report) = localdx_stdin(&db, &models, &["import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "diagnosis", "--split-column", "split"], "");
    assert!(ok, "{report}");
    let dataset = report["dataset_id"].as_i64().unwrap().to_string();

    let note = "Wheezing and a tight chest at night, better with the inhaler. Fièvre absente.";
    let args = ["suggest", "--base", "default", "--dataset", &dataset, "--top-k", "3", "--windows", "8"];
    let (ok, s) = localdx_stdin(&db, &models, &args, note);
    assert!(ok, "{s}");
    assert_eq!(s["model"], "base:default");
    let labels = s["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3, "--top-k 3: {s}");
    let probs: Vec<f64> = labels.iter().map(|l| l["probability"].as_f64().unwrap()).collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "ranked highest first: {probs:?}");
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
    for l in labels {
        let code = l["label"].as_str().unwrap();
        assert!(KINDS.iter().any(|(c, _)| *c == code), "a label of the dataset: {code}");
        assert_eq!(l["icd10"], true, "{code} has the shape of an ICD-10 code");
    }
    assert_eq!(s["windows"], 7, "13 words, at most 8 windows: windows of 2 words, 7 of them");
    let chars: Vec<char> = note.chars().collect();
    let words = s["attribution"].as_array().unwrap();
    assert!(!words.is_empty() && words.len() <= 5, "{s}");
    for w in words {
        let (start, end) = (w["start"].as_u64().unwrap() as usize, w["end"].as_u64().unwrap() as usize);
        assert_eq!(chars[start..end].iter().collect::<String>(), w["text"].as_str().unwrap(), "char offsets point at the words");
        assert!(w["drop"].as_f64().unwrap() > 0.0);
    }
    let drops: Vec<f64> = words.iter().map(|w| w["drop"].as_f64().unwrap()).collect();
    assert!(drops.windows(2).all(|w| w[0] >= w[1]), "largest drop first: {drops:?}");

    // Without attribution: no windows re-scored.
    let (ok, plain) = localdx_stdin(&db, &models, &["suggest", "--base", "default", "--dataset", &dataset, "--windows", "0"], note);
    assert!(ok);
    assert_eq!((plain["windows"].as_u64(), plain["attribution"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(plain["labels"].as_array().unwrap().len(), 4, "--top-k defaults to 5; the dataset has 4 labels");

    // Evidence: the words matching each label's ICD-10-CM name, with char offsets; a denied
    // finding is shown as denied, and a label whose name is not in the note has none.
    let note = "Known asthma since childhood, wheezing at night. Denies dermatitis.";
    let (ok, s) = localdx_stdin(&db, &models, &["suggest", "--base", "default", "--dataset", &dataset, "--windows", "0"], note);
    assert!(ok, "{s}");
    let chars: Vec<char> = note.chars().collect();
    let evidence = |code: &str| s["labels"].as_array().unwrap().iter().find(|l| l["label"] == code).map(|l| l["evidence"].as_array().unwrap().clone()).unwrap();
    let asthma = evidence("J45.909");
    assert_eq!(asthma.len(), 1, "{s}");
    let (start, end) = (asthma[0]["start"].as_u64().unwrap() as usize, asthma[0]["end"].as_u64().unwrap() as usize);
    assert_eq!(chars[start..end].iter().collect::<String>(), "asthma");
    assert_eq!((asthma[0]["negated"].as_bool(), asthma[0]["relative"].as_bool()), (Some(false), Some(false)));
    let dermatitis = evidence("L30.9");
    assert_eq!((dermatitis.len(), dermatitis[0]["text"].as_str(), dermatitis[0]["negated"].as_bool()), (1, Some("dermatitis"), Some(true)), "{s}");
    assert!(evidence("I10").is_empty() && evidence("E11.9").is_empty(), "{s}");

    // Negative rows: an empty note, a missing run, --base without --dataset, --top-k 0.
    let (ok, e) = localdx_stdin(&db, &models, &args, "  \n ");
    assert!(!ok && e["error"]["message"].as_str().unwrap().contains("empty"), "{e}");
    let (ok, e) = localdx_stdin(&db, &models, &["suggest", "--run", "run-9"], note);
    assert!(!ok && e["error"]["code"] == "not_found", "{e}");
    let (ok, e) = localdx_stdin(&db, &models, &["suggest", "--base", "default", "--dataset", &dataset, "--top-k", "0"], note);
    assert!(!ok && e["error"]["message"].as_str().unwrap().contains("top-k"), "{e}");
    let out = Command::new(env!("CARGO_BIN_EXE_localdx")).args(["--db", db.to_str().unwrap(), "suggest", "--base", "default"]).output().unwrap();
    assert!(!out.status.success(), "--base needs --dataset");

    // Training reads released versions only: refused before review and release, then run on the
    // newest release of the same dataset.
    let train = ["train", "--dataset", &dataset, "--epochs", "1", "--rank", "2"];
    let (ok, e) = localdx_stdin(&db, &models, &train, "");
    assert!(!ok && e["error"]["code"] == "blocked", "an unreleased dataset is refused: {e}");
    for step in [&["review", "detect", &dataset][..], &["review", "accept", &dataset, "--all"], &["release", &dataset, "--strategy", "tag"]] {
        let (ok, out) = localdx_stdin(&db, &models, step, "");
        assert!(ok, "{step:?}: {out}");
    }
    // A one-epoch run, then the same note with the run, and the run's evaluation against the base.
    let (ok, run) = localdx_stdin(&db, &models, &train, "");
    assert!(ok, "{run}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    // The start of a run is in the audit trail, with the released version it read.
    let (ok, a) = localdx_stdin(&db, &models, &["audit", "list", "--action", "training.start"], "");
    assert!(ok && a.as_array().map(Vec::len) == Some(1), "{a}");
    assert_eq!(a[0]["subject"], format!("run:{run_id}"), "{a}");
    let (ok, s) = localdx_stdin(&db, &models, &["suggest", "--run", &run_id, "--top-k", "2"], note);
    assert!(ok, "{s}");
    assert_eq!((s["model"].as_str(), s["labels"].as_array().map(Vec::len)), (Some(run_id.as_str()), Some(2)));
    assert_eq!(s["maxTokens"].as_u64(), Some(64), "the quick preset reads 64 tokens");
    let (ok, e) = localdx_stdin(&db, &models, &["eval", "--run", &run_id, "--vs-base", "--split", "test", "--bootstrap", "100"], "");
    assert!(ok, "{e}");
    for key in ["micro_f1", "macro_f1", "micro_precision", "micro_recall"] {
        let v = e[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {e}"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert_eq!(e["cases"], 8, "2 test notes for each of 4 labels");
    assert!(e["top_k_recall"].as_array().unwrap().iter().any(|r| r["k"] == 1), "{e}");
    assert_eq!(e["per_label"].as_array().unwrap().len(), 4);
    assert_eq!(e["comparison"]["cases"], 8, "paired with the base model on the same notes");

    // Feedback: none yet, so the export is the header alone.
    let (ok, list) = localdx_stdin(&db, &models, &["feedback", "list"], "");
    assert!(ok);
    assert_eq!(list, serde_json::json!([]));
    let out = Command::new(env!("CARGO_BIN_EXE_localdx")).args(["--db", db.to_str().unwrap(), "feedback", "export"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "feedback_id,created_at,actor,dataset_id,record_id,model,label,verdict,probability\n");
}
