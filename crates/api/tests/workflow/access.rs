//! Accounts, roles, encryption at rest and the audit chain.

use super::*;
use localdx_api::{Command, ErrorCode};
use std::time::Instant;

use crate::sealed::{assert_no_plain_text, released_dataset, tiny_models, tiny_run, LABELS, NAME};
use localdx_api::training::{self, Scorer};

/// The workspace imports notes naming a patient, reviews and releases them, trains a tiny run,
/// lists it, predicts with it and exports the release (to a folder of the user's, outside the
/// workspace): no file under the workspace folder holds the name or a label of the data in plain
/// text, nor SQLite's plain header.
#[test]
fn no_file_holds_a_known_name_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let api = workspace(dir.path());
    let steward = login(dir.path(), STEWARD);
    drop(api);
    let (id, version) = released_dataset(&steward, dir.path());
    let page = steward.records(id, 0, 100, None).unwrap();
    assert!(page.records.iter().all(|r| r.text.contains(NAME)), "readable through the API");
    let runs = dir.path().join("runs");
    let run = tiny_run(&steward, &runs, models.path(), version);
    assert_eq!(training::runs(&steward, &runs).unwrap()[0].run_id, run);
    let rows = training::predict(&steward, &runs, models.path(), Scorer::Run(&run), version, "test").unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| LABELS.contains(&r.gold[0].as_str())), "predictions read the sealed run");
    let outside = tempfile::tempdir().unwrap();
    let export = outside.path().join("release.jsonl");
    steward.export_release(version, &export, "jsonl").unwrap();
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(!exported.contains("Quackenbush") && exported.contains("[NAME]"), "{exported}");
    // A clinician's typed note saved with feedback stays in the database: the CSV leaves it out.
    let input = serde_json::json!({"noteText": format!("Dr. {NAME} asks"), "saveNote": true, "model": run, "label": LABELS[0], "verdict": "accept"});
    localdx_api::suggest::save_feedback(&steward, &serde_json::from_value(input).unwrap()).unwrap();
    let csv = localdx_api::suggest::feedback_csv(&steward).unwrap();
    assert!(csv.contains(LABELS[0]) && !csv.contains("Quackenbush"), "{csv}");

    let needles: [&[u8]; 5] = [NAME.as_bytes(), b"Quackenbush", b"SQLite format 3", LABELS[0].as_bytes(), LABELS[1].as_bytes()];
    let open = assert_no_plain_text(dir.path(), &needles, "while open");
    for name in ["ldx.sqlite.keys", "ldx.sqlite-wal", &format!("runs/{run}/run.json"), &format!("runs/{run}/best.safetensors"), &format!("runs/{run}/checkpoint.safetensors")] {
        assert!(open.iter().any(|f| f == name), "{name} missing from {open:?}");
    }
    drop(steward);
    assert_no_plain_text(dir.path(), &needles, "after closing");
}

#[test]
fn logins_roles_and_slowed_failures() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ldx.sqlite");
    let admin = workspace(dir.path());
    assert_eq!(admin.session().role, localdx_api::Role::Admin);
    assert!(admin.session().encrypted);
    let users: Vec<String> = admin.users().unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(users, vec!["ada", "sam", "cleo"]);
    // Negative rows: a taken name, an unknown role, a short password, init over an existing db.
    assert_eq!(admin.add_user("sam", "steward", "long-enough-pw").unwrap_err().code, ErrorCode::InvalidInput);
    assert_eq!(admin.add_user("zed", "root", "long-enough-pw").unwrap_err().code, ErrorCode::InvalidInput);
    assert_eq!(admin.add_user("zed", "steward", "short").unwrap_err().code, ErrorCode::InvalidInput);
    assert!(Api::init(&db, &creds(ADMIN)).is_err());
    drop(admin);

    // Without credentials, with a wrong password, as an unknown user: clear refusals.
    let no_login = Api::open(&db, None).err().unwrap();
    assert_eq!(no_login.code, ErrorCode::Unauthorized);
    assert!(no_login.message.contains("encrypted"), "{}", no_login.message);
    for bad in [("sam", "sam-password-2"), ("nobody", "sam-password-1")] {
        let e = Api::open(&db, Some(&creds(bad))).err().unwrap();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Unauthorized, "unknown user or wrong password"));
    }
    // One failure for sam: the next login waits (0.5 s) even with the right password, and the
    // failure reaches the audit trail.
    let t = Instant::now();
    let steward = login(dir.path(), STEWARD);
    assert!(t.elapsed().as_millis() >= 500, "{:?}", t.elapsed());
    assert_eq!(steward.session().role, localdx_api::Role::Steward);
    assert_eq!(steward.add_user("eve", "admin", "long-enough-pw").unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(steward.audit_list(&Default::default()).unwrap_err().code, ErrorCode::Forbidden);
    drop(steward);
    let admin = login(dir.path(), ADMIN);
    let logins = admin.audit_list(&serde_json::from_value(serde_json::json!({"action": "login", "actor": "sam"})).unwrap()).unwrap();
    assert_eq!(logins.last().unwrap().after["failedAttemptsBefore"], 1);

    // A changed password and a disabled account: no data is re-encrypted, the old password and
    // the disabled user are refused.
    let clinician = login(dir.path(), CLINICIAN);
    clinician.change_password(CLINICIAN.1, "cleo-password-2").unwrap();
    assert_eq!(clinician.change_password("wrong-current", "x-password-3").unwrap_err().code, ErrorCode::Unauthorized);
    drop(clinician);
    assert!(Api::open(&db, Some(&creds(CLINICIAN))).is_err());
    let clinician = login(dir.path(), ("cleo", "cleo-password-2"));
    assert_eq!(clinician.records(1, 0, 10, None).unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(clinician.check(Command::ReadRawRecords).unwrap_err().code, ErrorCode::Forbidden);
    drop(clinician);
    admin.disable_user("cleo", "left the clinic").unwrap();
    assert_eq!(admin.disable_user("ada", "").unwrap_err().code, ErrorCode::InvalidInput);
    assert!(Api::open(&db, Some(&creds(("cleo", "cleo-password-2")))).is_err());
    assert!(admin.audit_verify(None).unwrap().ok);
}

/// Opens the database file with the master key, drops the triggers and runs `sql`, as someone
/// with the key and a SQLite shell would.
fn tamper(db: &Path, who: (&str, &str), sql: &str) {
    let mut kf = localdx_access::KeyFile::load(&localdx_access::KeyFile::path_for(db)).unwrap();
    let key = kf.unlock(who.0, who.1).unwrap().key;
    let hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{hex}'\"; DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; {sql}"
    ))
    .unwrap();
}

#[test]
fn audit_verify_catches_an_edit_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ldx.sqlite");
    let admin = workspace(dir.path());
    let v = admin.audit_verify(None).unwrap();
    assert!(v.ok && v.entries == 3, "{v:?}");
    let head = v.head_hash.clone().unwrap();
    assert!(admin.audit_verify(Some(&head)).unwrap().ok);
    drop(admin);
    // Give sam the admin role in the entry that created them.
    tamper(&db, ADMIN, "UPDATE audit SET after = '{\"role\":\"admin\"}' WHERE seq = 2");
    let admin = login(dir.path(), ADMIN);
    let v = admin.audit_verify(None).unwrap();
    assert_eq!((v.ok, v.broken_seq), (false, Some(2)), "{v:?}");
    assert!(v.reason.unwrap().contains("altered"));
    drop(admin);

    // Cutting the newest entries off (with the chain head left as it was) is caught too.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ldx.sqlite");
    drop(workspace(dir.path()));
    tamper(&db, ADMIN, "DELETE FROM audit WHERE seq >= 3");
    let admin = login(dir.path(), ADMIN);
    let v = admin.audit_verify(None).unwrap();
    assert_eq!((v.ok, v.broken_seq), (false, Some(3)), "{v:?}");
}

#[test]
fn plain_databases_have_no_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.sqlite");
    let api = Api::open(&db, None).unwrap();
    assert_eq!((api.session().user.as_str(), api.session().encrypted), ("local", false));
    assert_eq!(api.add_user("sam", "steward", "long-enough-pw").unwrap_err().code, ErrorCode::InvalidInput);
    drop(api);
    let e = Api::open(&db, Some(&creds(ADMIN))).err().unwrap();
    assert!(e.message.contains("no accounts"), "{}", e.message);
}
