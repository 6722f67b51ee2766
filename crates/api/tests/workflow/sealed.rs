//! What training writes in an encrypted workspace is sealed: a tiny run trains, predicts and is
//! listed through sealed files; a tampered file is refused by name; exporting adapters needs an
//! explicit, audited decision; and a plain workspace converts into an encrypted one with its data
//! equal and its runs sealed.

use super::*;
use localdx_api::phi::StrategyDto;
use localdx_api::review::BulkAcceptDto;
use localdx_api::training::{PredictionDto, Scorer, TrainRequest};
use localdx_api::ErrorCode;
use localdx_model::synthetic::{write_tiny_llama, TinySpec};
use std::path::PathBuf;

/// A known patient name and two label strings that only the data holds.
pub const NAME: &str = "Zebulon Quackenbush";
pub const LABELS: [&str; 2] = ["Xanthelasmatosis", "Zygomycetoma"];

/// A models folder (outside the workspace) holding the tiny llama as `tiny.gguf`.
pub fn tiny_models() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_llama(&dir.path().join("tiny.gguf"), &TinySpec::default()).unwrap();
    dir
}

/// Imports 16 notes (both labels, train / validation / test) naming [`NAME`], detects PHI,
/// accepts every span, releases with tags; returns (dataset id, released version id).
pub fn released_dataset(api: &Api, dir: &Path) -> (i64, i64) {
    let path = dir.join("notes.csv");
    let mut csv = String::from("id,note,dx,split\n");
    for i in 0..16 {
        let (label, words) = if i % 2 == 0 { (LABELS[0], "yellow plaques on the eyelids") } else { (LABELS[1], "fever and a black nasal crust") };
        let split = match i % 8 {
            0..=4 => "train",
            5 | 6 => "validation",
            _ => "test",
        };
        csv.push_str(&format!("n{i},\"Seen by Dr. {NAME} on 10/18/2003: {words}, visit {i}.\",{label},{split}\n"));
    }
    std::fs::write(&path, csv).unwrap();
    let opts: ImportOptionsDto =
        serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "dx", "idColumn": "id", "splitColumn": "split"})).unwrap();
    let id = api.import(&path, &opts, &(), &Cancel::new()).unwrap().dataset_id.unwrap();
    std::fs::remove_file(&path).unwrap();
    api.review_detect(id, &(), &Cancel::new()).unwrap();
    api.review_accept_all(id, &BulkAcceptDto { sign_off: true, spot_check: Some(2), seed: Some(1), ..Default::default() }).unwrap();
    let release = api.release(id, StrategyDto::Tag, &(), &Cancel::new()).unwrap();
    (id, release.version_id)
}

/// A one-epoch run of the tiny model on `dataset`; returns its id.
pub fn tiny_run(api: &Api, dataset: i64) -> String {
    let req = TrainRequest {
        dataset_id: dataset,
        model: Some("tiny".into()),
        epochs: Some(1),
        rank: Some(2),
        max_len: Some(16),
        last_layers: Some(1),
        seed: Some(3),
        ..Default::default()
    };
    api.train(&req, &Cancel::new(), &|_, _| {}).unwrap().run_id
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Fails if a file under `dir` holds a needle in plain text; returns the files, relative.
pub fn assert_no_plain_text(dir: &Path, needles: &[&[u8]], when: &str) -> Vec<String> {
    let mut names = Vec::new();
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            assert!(!bytes.windows(needle.len()).any(|w| w == *needle), "{when}: {} holds {:?}", path.display(), String::from_utf8_lossy(needle));
        }
        names.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    names
}

fn probabilities(rows: &[PredictionDto]) -> Vec<(i64, Vec<(String, f32)>)> {
    rows.iter().map(|r| (r.record_id, r.predictions.iter().map(|p| (p.label.clone(), p.probability)).collect())).collect()
}

#[test]
fn adapters_leave_an_encrypted_workspace_only_by_an_audited_decision() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let runs = dir.path().join("runs");
    let (_, version) = released_dataset(&admin, dir.path());
    let run = tiny_run(&admin, version);
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("adapter");

    let refused = admin.export_adapters(&run, &out, false).unwrap_err();
    assert_eq!(refused.code, ErrorCode::Blocked);
    assert!(refused.message.contains("encrypted") && refused.message.contains("--unencrypted"), "{}", refused.message);
    assert!(!out.exists(), "nothing written when refused");
    let clinician = login(dir.path(), CLINICIAN);
    assert_eq!(clinician.export_adapters(&run, &out, true).unwrap_err().code, ErrorCode::Forbidden);
    drop(clinician);

    let exported = admin.export_adapters(&run, &out, true).unwrap();
    assert_eq!(exported.labels, 2);
    let head = std::fs::read_to_string(out.join("localdx_head.json")).unwrap();
    assert!(head.contains(LABELS[0]), "the export is plain, for other tools");
    let audit = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "adapters.export"})).unwrap()).unwrap();
    let entry = audit.last().unwrap();
    assert_eq!((entry.actor.as_str(), entry.subject.as_str()), ("ada", format!("run:{run}").as_str()));
    let bytes = std::fs::read(out.join("adapter_model.safetensors")).unwrap();
    let sha: String = sha256(&bytes);
    assert_eq!(entry.after["files"]["adapter_model.safetensors"], sha.as_str(), "{}", entry.after);
    assert_eq!(entry.after["files"].as_object().unwrap().len(), 4);

    // The exported folder comes back as a sealed run that predicts as the original does.
    let imported = admin.import_adapters(&out, Some("tiny")).unwrap();
    let again = runs.join(&imported.run_id);
    for name in ["run.json", "best.safetensors"] {
        assert!(localdx_sealed::is_sealed(&std::fs::read(again.join(name)).unwrap()), "{name} of the imported run is sealed");
    }
    let predict = |run: &str| probabilities(&admin.predict(Scorer::Run(run), version, "test").unwrap());
    let (a, b) = (predict(&run), predict(&imported.run_id));
    assert_eq!(a.len(), b.len());
    for ((ra, pa), (rb, pb)) in a.iter().zip(&b) {
        assert_eq!(ra, rb);
        for ((la, xa), (lb, xb)) in pa.iter().zip(pb) {
            assert!(la == lb && (xa - xb).abs() < 1e-6, "record {ra}: {la} {xa} vs {lb} {xb}");
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_tampered_or_truncated_run_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let admin = workspace(dir.path()).with_models(models.path());
    let runs = dir.path().join("runs");
    let (_, version) = released_dataset(&admin, dir.path());
    let run = tiny_run(&admin, version);
    let best = runs.join(&run).join("best.safetensors");
    let good = std::fs::read(&best).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x40;
    for (what, bytes) in [("a flipped bit", flipped), ("truncated", good[..good.len() / 2].to_vec())] {
        std::fs::write(&best, &bytes).unwrap();
        let e = admin.predict(Scorer::Run(&run), version, "test").unwrap_err();
        assert!(e.message.contains(&best.display().to_string()) && e.message.contains("altered"), "{what}: {}", e.message);
    }
    // A plain file put in place of a sealed one is refused too.
    std::fs::write(runs.join(&run).join("run.json"), b"{}").unwrap();
    let e = admin.resume(&run, &Cancel::new(), &|_, _| {}).unwrap_err();
    assert!(e.message.contains("run.json") && e.message.contains("not encrypted"), "{}", e.message);
}

#[test]
fn a_plain_workspace_converts_to_an_encrypted_one() {
    let plain_dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let plain_db = plain_dir.path().join("plain.sqlite");
    let plain = Api::open(&plain_db, None).unwrap().with_models(models.path());
    let (id, version) = released_dataset(&plain, plain_dir.path());
    let run = tiny_run(&plain, version);
    let before_predictions = probabilities(&plain.predict(Scorer::Run(&run), version, "test").unwrap());
    let snapshot = |api: &Api| {
        let records = |d: i64| serde_json::to_value(api.records(d, 0, 100, None).unwrap().records).unwrap();
        let datasets = serde_json::to_value(api.datasets().unwrap()).unwrap();
        let releases = serde_json::to_value(api.releases(None).unwrap()).unwrap();
        let released = serde_json::to_value(api.released_records(version, 0, 100).unwrap().records).unwrap();
        (datasets, releases, records(id), released)
    };
    let before = snapshot(&plain);
    let audit_before = plain.audit_verify(None).unwrap();
    drop(plain);
    let plain_bytes = std::fs::read(&plain_db).unwrap();
    assert!(plain_bytes.windows(11).any(|w| w == b"Quackenbush"), "the plain file holds the name (else this test proves nothing)");

    let enc_dir = tempfile::tempdir().unwrap();
    let db = enc_dir.path().join("ldx.sqlite");
    // Negative rows: converting into the plain workspace's own folder (its runs would be
    // overwritten), from a missing file, or over an existing database.
    let same = Api::init_from(&plain_dir.path().join("new.sqlite"), &creds(ADMIN), &plain_db).err().unwrap();
    assert!(same.message.contains("own folder"), "{}", same.message);
    assert_eq!(Api::init_from(&db, &creds(ADMIN), &enc_dir.path().join("none.sqlite")).err().unwrap().code, ErrorCode::NotFound);
    assert!(!db.exists(), "a refused conversion leaves nothing");

    let (admin, out) = Api::init_from(&db, &creds(ADMIN), &plain_db).unwrap();
    let admin = admin.with_models(models.path());
    assert!(admin.session().encrypted);
    assert!(out.tables.get("records").is_some_and(|&n| n >= 16) && out.run_files >= 3, "{out:?}");
    assert_eq!(snapshot(&admin), before, "every dataset, record and release is equal");
    let verdict = admin.audit_verify(None).unwrap();
    assert!(verdict.ok && verdict.entries == audit_before.entries + 2, "{verdict:?} after {audit_before:?}");
    let converted = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "database.convert"})).unwrap()).unwrap();
    assert_eq!(converted.len(), 1);
    assert_eq!((converted[0].reason.as_str(), converted[0].before["sha256"].as_str()), ("database converted", Some(sha256(&plain_bytes).as_str())));
    // The run came along sealed, and predicts as it did.
    assert_eq!(admin.runs().unwrap().iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(), vec![run.clone()]);
    let after_predictions = probabilities(&admin.predict(Scorer::Run(&run), version, "test").unwrap());
    assert_eq!(after_predictions, before_predictions);
    drop(admin);

    let needles: [&[u8]; 4] = [NAME.as_bytes(), b"Quackenbush", LABELS[0].as_bytes(), LABELS[1].as_bytes()];
    let files = assert_no_plain_text(enc_dir.path(), &needles, "after converting");
    assert!(files.contains(&"ldx.sqlite".to_owned()) && files.contains(&format!("runs/{run}/best.safetensors")), "{files:?}");
    assert_eq!(std::fs::read(&plain_db).unwrap(), plain_bytes, "the plain file is left as it was");
    let admin = login(enc_dir.path(), ADMIN);
    assert_eq!(snapshot(&admin), before, "and reopens equal");
}
