//! The headless review workflow through the `localdx` binary on an encrypted database:
//! init -> user add -> import -> review detect -> release refused -> review accept --all ->
//! release -> export -> clinician refused raw text -> audit verify, with credentials from the
//! environment; and no file the database wrote holds a patient's name in plain text.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const NAME: &str = "Zebulon Quackenbush";

/// Runs `localdx --db DB --json ARGS` as `user` (password from the environment) and returns (exit
/// success, parsed stdout).
fn as_user(db: &Path, user: (&str, &str), new_password: Option<&str>, args: &[&str]) -> (bool, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_localdx"));
    cmd.arg("--db").arg(db).arg("--json").args(args).env("LOCALDX_USER", user.0).env("LOCALDX_PASSWORD", user.1).env_remove("LOCALDX_NEW_PASSWORD");
    if let Some(p) = new_password {
        cmd.env("LOCALDX_NEW_PASSWORD", p);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), value)
}

#[test]
fn init_import_detect_accept_release_and_verify() {
    let work = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = work.path().join("clinic.sqlite");
    let (ada, sam, cleo) = (("ada", "ada-password-1"), ("sam", "sam-password-1"), ("cleo", "cleo-password-1"));

    let (ok, v) = as_user(&db, ada, None, &["init"]);
    assert!(ok && v["encrypted"] == true && v["admin"] == "ada", "{v}");
    assert!(as_user(&db, ada, Some(sam.1), &["user", "add", "sam", "--role", "steward"]).0);
    assert!(as_user(&db, ada, Some(cleo.1), &["user", "add", "cleo", "--role", "clinician"]).0);
    let (ok, v) = as_user(&db, sam, Some("x-password-9"), &["user", "add", "eve", "--role", "admin"]);
    assert!(!ok && v["error"]["code"] == "forbidden", "{v}");
    let (ok, v) = as_user(&db, ("sam", "not-his-password"), None, &["datasets"]);
    assert!(!ok && v["error"]["code"] == "unauthorized", "{v}");

    let csv = data.path().join("notes.csv");
    std::fs::write(
        &csv,
        format!("id,note,dx\n1,\"Seen by Dr. {NAME} on 10/18/2003, phone 617-555-0199.\",flu\n2,\"Follow-up with Dr. {NAME} on 11/02/2003.\",flu\n3,\"No complaints today.\",cold\n"),
    )
    .unwrap();
    let (ok, v) = as_user(&db, sam, None, &["import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "dx"]);
    assert!(ok, "{v}");
    let id = v["dataset_id"].as_i64().unwrap().to_string();

    let (ok, v) = as_user(&db, sam, None, &["review", "detect", &id]);
    assert!(ok && v["spans"].as_u64().unwrap() >= 4, "{v}");
    let (ok, v) = as_user(&db, sam, None, &["release", &id, "--strategy", "tag"]);
    assert!(!ok && v["error"]["code"] == "blocked", "{v}");
    let (ok, v) = as_user(&db, sam, None, &["review", "accept", &id]);
    assert!(!ok, "--all or --type is required: {v}");
    let (ok, v) = as_user(&db, sam, None, &["review", "accept", &id, "--all", "--spot-check", "2"]);
    assert!(ok && v["openNotes"] == 0 && v["spotCheck"].as_array().unwrap().len() == 2, "{v}");

    let (ok, v) = as_user(&db, sam, None, &["release", &id, "--strategy", "tag"]);
    assert!(ok, "{v}");
    let version = v["version_id"].as_i64().unwrap().to_string();
    assert_eq!(v["records"], 3);

    let out = data.path().join("release.jsonl");
    let (ok, v) = as_user(&db, sam, None, &["export", &version, "--out", out.to_str().unwrap()]);
    assert!(ok && v["records"] == 3, "{v}");
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(!exported.contains("Quackenbush") && exported.contains("[NAME]") && exported.contains("[DATE]"), "{exported}");

    // The clinician cannot read raw text.
    let (ok, v) = as_user(&db, cleo, None, &["dataset", "records", &id]);
    assert!(!ok && v["error"]["code"] == "forbidden", "{v}");

    let (ok, v) = as_user(&db, ada, None, &["audit", "verify"]);
    assert!(ok && v["ok"] == true && v["entries"].as_u64().unwrap() >= 10, "{v}");
    let (ok, v) = as_user(&db, ada, None, &["audit", "list", "--action", "review.bulk_accept"]);
    assert!(ok && v[0]["actor"] == "sam", "{v}");

    // Nothing the database wrote holds the name in plain text.
    for entry in std::fs::read_dir(work.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"Quackenbush"), "{} holds the name", path.display());
    }
}

/// `review gold import`, `review gold sample` and `review quality` on a plain database: the gold
/// file's note is matched by patient and note id, measured once detection has run on it.
#[test]
fn gold_import_sample_and_quality() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("gold.sqlite");
    let text = "Dr. Marder saw pt in Rockvillle, 2/6 murmur on 10/18/2003";
    let row = |note: u32, text: &str, phi: &str| format!("{{\"patient_id\": 7, \"note_id\": {note}, \"text\": \"{text}\", \"phi\": [{phi}]}}\n");
    let gold_line = row(1, text, r#"{"start": 4, "end": 10, "type": "HCPName"}, {"start": 21, "end": 31, "type": "Location"}, {"start": 47, "end": 57, "type": "Date"}"#);
    let notes = work.path().join("notes.jsonl");
    std::fs::write(&notes, format!("{gold_line}{}", row(2, "No complaints today.", ""))).unwrap();
    let gold = work.path().join("gold.jsonl");
    std::fs::write(&gold, &gold_line).unwrap();
    let (ok, v) = super::localdx(&db, &["import", notes.to_str().unwrap(), "--text-column", "text", "--id-column", "note_id", "--patient-column", "patient_id"]);
    assert!(ok, "{v}");
    let id = v["dataset_id"].as_i64().unwrap().to_string();

    let (ok, v) = super::localdx(&db, &["review", "gold", "import", &id, gold.to_str().unwrap(), "--format", "deid-jsonl"]);
    assert!(ok && v["notes"] == 1 && v["spans"] == 3 && v["unmatched"] == 0, "{v}");
    let (ok, v) = super::localdx(&db, &["review", "gold", "import", &id, gold.to_str().unwrap(), "--format", "brat"]);
    assert!(!ok && v["error"]["code"] == "invalid_input", "{v}");
    let (ok, v) = super::localdx(&db, &["review", "gold", "sample", &id, "--size", "5", "--seed", "3"]);
    assert!(ok && v["recordIds"].as_array().unwrap().len() == 1 && v["seed"] == 3, "the one note left: {v}");

    let (ok, v) = super::localdx(&db, &["review", "quality", &id]);
    assert!(ok && v["measured"] == 0, "nothing measured before detection: {v}");
    let statuses: Vec<&str> = v["notes"].as_array().unwrap().iter().map(|n| n["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["undetected", "open"]);

    assert!(super::localdx(&db, &["review", "detect", &id]).0);
    let (ok, v) = super::localdx(&db, &["review", "quality", &id]);
    // Marder and the date found, "Rockvillle" (misspelt) missed: 2 of 3 spans, 4 of 5 tokens.
    assert!(ok && v["measured"] == 1 && v["goldSpans"] == 3, "{v}");
    assert!((v["spanRecall"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9 && v["tokenRecall"] == 0.8, "{v}");
    assert_eq!((v["misses"][0]["type"].as_str(), v["misses"][0]["text"].as_str()), (Some("Location"), Some("Rockvillle")), "{v}");
    assert_eq!(v["missesTotal"], 1);
}

/// `init --from` copies a plain database into a new encrypted one (the plain file left as it was,
/// with a warning to delete it), and the encrypted workspace refuses a plain adapter export
/// unless `--unencrypted` is given.
#[test]
fn init_from_converts_a_plain_database_and_warns() {
    let plain_dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let plain = plain_dir.path().join("plain.sqlite");
    let csv = plain_dir.path().join("notes.csv");
    std::fs::write(&csv, format!("id,note,dx\n1,\"Seen by Dr. {NAME} on 10/18/2003.\",flu\n2,\"No complaints today.\",cold\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_localdx"))
        .arg("--db")
        .arg(&plain)
        .args(["--json", "import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "dx"])
        .env_remove("LOCALDX_USER")
        .env_remove("LOCALDX_PASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let plain_bytes = std::fs::read(&plain).unwrap();

    let db = work.path().join("clinic.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_localdx"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "init", "--from"])
        .arg(&plain)
        .env("LOCALDX_USER", "ada")
        .env("LOCALDX_PASSWORD", "ada-password-1")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(out.status.success() && v["admin"] == "ada" && v["tables"]["records"] == 2, "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning") && stderr.contains("delete them securely") && stderr.contains("plain.sqlite"), "{stderr}");
    assert_eq!(std::fs::read(&plain).unwrap(), plain_bytes, "the plain file is untouched");

    let ada = ("ada", "ada-password-1");
    let (ok, page) = as_user(&db, ada, None, &["dataset", "records", "1"]);
    assert!(ok && page["records"][0]["text"].as_str().unwrap().contains(NAME), "{page}");
    let (ok, v) = as_user(&db, ada, None, &["audit", "list", "--action", "database.convert"]);
    assert!(ok && v[0]["reason"] == "database converted", "{v}");
    let (ok, v) = as_user(&db, ada, None, &["runs", "export", "run-1", "--out", work.path().join("adapter").to_str().unwrap()]);
    assert!(!ok && v["error"]["code"] == "blocked" && v["error"]["message"].as_str().unwrap().contains("--unencrypted"), "{v}");
    // Converting again over the new database is refused.
    let (ok, v) = as_user(&db, ada, None, &["init", "--from", plain.to_str().unwrap()]);
    assert!(!ok && v["error"]["code"] == "invalid_input", "{v}");
    for path in [work.path().join("clinic.sqlite"), work.path().join("clinic.sqlite.keys")] {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"Quackenbush"), "{} holds the name", path.display());
    }
}

/// A scripted pipeline resolves spans one by one: list a note's spans, reject one (not PHI),
/// retype another, add a missed one, sign off, reopen with a reason, and release. Refused
/// verdicts name what is wrong.
#[test]
fn single_span_decisions_headless() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("plain.sqlite");
    let csv = work.path().join("notes.csv");
    std::fs::write(&csv, "id,note,dx\n1,\"Seen by Dr. Zebulon Quackenbush on 10/18/2003 at blue unit.\",flu\n").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_localdx")).arg("--db").arg(&db).arg("--json").args(args).env_remove("LOCALDX_MODELS").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let value: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"));
        (out.status.success(), value)
    };
    let (ok, v) = run(&["import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "dx"]);
    assert!(ok, "{v}");
    let id = v["dataset_id"].as_i64().unwrap().to_string();
    let (ok, v) = run(&["review", "detect", &id]);
    assert!(ok && v["detector"]["sources"][0] == "rules", "{v}");
    let (ok, v) = run(&["review", "note", "1"]);
    assert!(ok, "{v}");
    let spans = v["spans"].as_array().unwrap().clone();
    let by_type = |t: &str| spans.iter().find(|s| s["type"] == t).unwrap_or_else(|| panic!("a {t} span in {spans:?}"))["id"].to_string();
    let (name, date) = (by_type("name"), by_type("date"));

    let (ok, v) = run(&["review", "decide", &name, "retype"]);
    assert!(!ok && v["error"].to_string().contains("--type"), "{v}");
    let (ok, v) = run(&["review", "decide", &name, "maybe"]);
    assert!(!ok && v["error"].to_string().contains("accept, reject or retype"), "{v}");
    let (ok, v) = run(&["review", "decide", &date, "reject", "--reason", "a test date"]);
    assert!(ok && v["state"] == "rejected", "{v}");
    let (ok, v) = run(&["review", "decide", &name, "retype", "--type", "location"]);
    assert!(ok && v["type"] == "location", "{v}");
    let (ok, v) = run(&["review", "decide", &name, "retype", "--type", "name"]);
    assert!(ok && v["type"] == "name", "{v}");
    let text = "Seen by Dr. Zebulon Quackenbush on 10/18/2003 at blue unit.";
    let at = text.find("blue unit").unwrap().to_string();
    let end = (text.find("blue unit").unwrap() + 9).to_string();
    let (ok, v) = run(&["review", "add", "1", &at, &end, "--type", "location"]);
    assert!(ok && v["state"] == "accepted", "{v}");
    // every other span accepted one by one, then the note signed off
    let (_, v) = run(&["review", "note", "1"]);
    for s in v["spans"].as_array().unwrap().iter().filter(|s| s["state"] == "undecided") {
        assert!(run(&["review", "decide", &s["id"].to_string(), "accept"]).0);
    }
    assert!(run(&["review", "sign-off", "1"]).0);
    let (ok, v) = run(&["review", "reopen", "1", "--reason", "second look"]);
    assert!(ok && v["state"] == "open", "{v}");
    assert!(run(&["review", "sign-off", "1"]).0);
    let (ok, v) = run(&["release", &id, "--strategy", "tag"]);
    assert!(ok, "{v}");
    let version = v["version_id"].as_i64().unwrap().to_string();
    let out = work.path().join("release.jsonl");
    assert!(run(&["export", &version, "--out", out.to_str().unwrap()]).0);
    let released = std::fs::read_to_string(&out).unwrap();
    assert!(!released.contains("Quackenbush") && !released.contains("blue unit") && released.contains("10/18/2003"), "{released}");
}

/// The retrain-from-decisions loop headless: notes decided and signed off, a gold sample
/// reviewed, `review retrain-detector`, gold recall before and after, the version listed.
#[test]
fn retrain_detector_from_decisions_headless() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    if !models.join("all-MiniLM-L6-v2/model.safetensors").is_file() {
        localdx_testkit::skip(&format!("no encoder in {}", models.display()));
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("plain.sqlite");
    let csv = work.path().join("notes.csv");
    let mut rows = String::from("id,note,dx\n");
    let names = ["Ines Okonkwo", "Tomasz Lindqvist", "Aroha Tawhiri", "Kwame Mensah", "Lucia Ferreira", "Bjorn Haugen", "Naledi Dlamini", "Priya Raman"];
    for i in 0..10 {
        rows.push_str(&format!("{i},\"Referral KV{:04}Q received. {} reports cough; review in clinic.\",cough\n", 1000 + i * 37, names[i % 8]));
    }
    std::fs::write(&csv, rows).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_localdx")).arg("--db").arg(&db).arg("--json").args(args).env("LOCALDX_MODELS", &models).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let value: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), value)
    };
    let (ok, v) = run(&["import", csv.to_str().unwrap(), "--text-column", "note", "--label-column", "dx"]);
    assert!(ok, "{v}");
    let id = v["dataset_id"].as_i64().unwrap().to_string();
    let (ok, v) = run(&["review", "detect", &id]);
    assert!(ok && v["detector"]["sources"] == serde_json::json!(["rules", "tagger"]), "{v}");
    let (ok, v) = run(&["review", "retrain-detector", &id]);
    assert!(!ok && v["error"]["code"] == "blocked" && v["error"].to_string().contains("gold"), "no gold notes yet: {v}");
    let (ok, v) = run(&["review", "gold", "sample", &id, "--size", "3", "--seed", "5"]);
    assert!(ok, "{v}");
    let (ok, v) = run(&["review", "accept", &id, "--all", "--spot-check", "0"]);
    assert!(ok && v["openNotes"] == 0, "{v}");
    let (ok, v) = run(&["review", "retrain-detector", &id]);
    assert!(ok, "{v}");
    // 7 signed-off notes outside the gold: every fifth is held back to choose the threshold
    assert_eq!((v["examples"].as_u64(), v["heldBack"].as_u64(), v["goldNotes"].as_u64()), (Some(6), Some(1), Some(3)), "{v}");
    let (before, after) = (v["before"]["tokenRecall"].as_f64().unwrap(), v["after"]["tokenRecall"].as_f64().unwrap());
    assert_eq!(v["kept"].as_bool(), Some(after >= before), "{v}");
    let (ok, list) = run(&["review", "detector-versions"]);
    assert!(ok && list[0]["id"] == v["versionId"] && list[0]["active"] == v["kept"], "{list}");
    // a text scanned with this database runs the workspace's union (its kept head, if any)
    let note = work.path().join("note.txt");
    std::fs::write(&note, "Referral KV2000Q received. Ines Okonkwo reports cough.").unwrap();
    let (ok, spans) = run(&["phi", "detect", "--file", note.to_str().unwrap()]);
    assert!(ok && spans.as_array().is_some_and(|s| s.iter().any(|x| x["text"] == "Ines Okonkwo" || x["text"] == "Okonkwo")), "{spans}");
}
