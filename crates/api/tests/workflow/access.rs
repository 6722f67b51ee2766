//! Accounts, roles, encryption at rest and the audit chain.

use super::*;
use localdx_api::audit::AuditFilterDto;
use localdx_api::{Command, ErrorCode};
use std::time::Instant;

use crate::sealed::{assert_no_plain_text, released_dataset, tiny_models, tiny_run, LABELS, NAME};
use localdx_api::training::Scorer;

/// The workspace imports notes naming a patient, reviews and releases them, trains a tiny run,
/// lists it, predicts with it and exports the release (to a folder of the user's, outside the
/// workspace): no file under the workspace folder holds the name or a label of the data in plain
/// text, nor SQLite's plain header.
#[test]
fn no_file_holds_a_known_name_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let api = workspace(dir.path());
    let steward = login(dir.path(), STEWARD).with_models(models.path());
    drop(api);
    let (id, version) = released_dataset(&steward, dir.path());
    let page = steward.records(id, 0, 100, None).unwrap();
    assert!(page.records.iter().all(|r| r.text.contains(NAME)), "readable through the API");
    let run = tiny_run(&steward, version);
    assert_eq!(steward.runs().unwrap()[0].run_id, run);
    let rows = steward.predict(Scorer::Run(&run), version, "test").unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| LABELS.contains(&r.gold[0].as_str())), "predictions read the sealed run");
    let outside = tempfile::tempdir().unwrap();
    let export = outside.path().join("release.jsonl");
    steward.export_release(version, &export, "jsonl").unwrap();
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(!exported.contains("Quackenbush") && exported.contains("[NAME]"), "{exported}");
    // A clinician's typed note saved with feedback stays in the database: the CSV leaves it out.
    let input = serde_json::json!({"noteText": format!("Dr. {NAME} asks"), "saveNote": true, "model": run, "label": LABELS[0], "verdict": "accept"});
    steward.save_feedback(&serde_json::from_value(input).unwrap()).unwrap();
    let csv = steward.feedback_csv().unwrap();
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

#[test]
fn probe_tells_first_run_encrypted_and_plain_apart() {
    use localdx_api::session::{probe, Found};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ldx.sqlite");
    assert_eq!(probe(&db), Found::Nothing);
    drop(workspace(dir.path()));
    assert_eq!(probe(&db), Found::Encrypted);
    let plain = dir.path().join("plain.sqlite");
    drop(Api::open(&plain, None).unwrap());
    assert_eq!(probe(&plain), Found::Plain);
}

#[test]
fn logout_is_audited_and_refused_without_accounts() {
    let dir = tempfile::tempdir().unwrap();
    drop(workspace(dir.path()));
    let cleo = login(dir.path(), CLINICIAN);
    cleo.logout().unwrap();
    drop(cleo);
    let admin = login(dir.path(), ADMIN);
    let last: Vec<(String, String, String)> = admin
        .audit_list(&AuditFilterDto { limit: Some(3), ..Default::default() })
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.subject))
        .collect();
    let row = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(last, vec![row("cleo", "login", "user:cleo"), row("cleo", "logout", "user:cleo"), row("ada", "login", "user:ada")]);
    assert!(admin.audit_verify(None).unwrap().ok);
    let plain = Api::open(&dir.path().join("plain.sqlite"), None).unwrap();
    assert_eq!(plain.logout().unwrap_err().code, ErrorCode::InvalidInput);
}

#[test]
fn audit_filters_and_export_are_admin_only_and_the_export_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let admin = workspace(dir.path());
    // Init, two user.add entries: subjects user:ada, user:sam, user:cleo.
    let subjects = |f: AuditFilterDto| admin.audit_list(&f).unwrap().into_iter().map(|e| e.subject).collect::<Vec<_>>();
    assert_eq!(subjects(AuditFilterDto { subject_contains: Some("user:c".into()), ..Default::default() }), vec!["user:cleo"]);
    assert_eq!(subjects(AuditFilterDto { limit: Some(1), before_seq: Some(3), ..Default::default() }), vec!["user:sam"]);
    assert_eq!(subjects(AuditFilterDto { to: Some("2000-12-31".into()), ..Default::default() }), Vec::<String>::new());
    for bad in ["2026-13-01", "yesterday", "2026-1-1"] {
        let e = admin.audit_list(&AuditFilterDto { from: Some(bad.into()), ..Default::default() }).unwrap_err();
        assert!(e.code == ErrorCode::InvalidInput && e.message.contains("`from`"), "{bad}: {e:?}");
    }

    let out = dir.path().join("exports");
    let filter = AuditFilterDto { action: Some("user.".into()), limit: Some(1), ..Default::default() };
    let csv = admin.audit_export(&filter, "csv", &out.join("audit.csv")).unwrap();
    assert_eq!(csv.entries, 3, "paging is ignored: every matching entry");
    let text = std::fs::read_to_string(out.join("audit.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "seq,at,actor,action,subject,before,after,reason,prev_hash,hash");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[2].contains(",ada,user.add,user:sam,null,") && lines[2].contains("\"{\"\"role\"\":\"\"steward\"\"}\""), "{}", lines[2]);
    let jsonl = admin.audit_export(&filter, "jsonl", &out.join("audit.jsonl")).unwrap();
    assert_eq!(jsonl.entries, 3);
    let first: serde_json::Value = serde_json::from_str(std::fs::read_to_string(out.join("audit.jsonl")).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!((first["seq"].as_i64(), first["after"]["role"].as_str()), (Some(1), Some("admin")));
    assert_eq!(admin.audit_export(&filter, "xml", &out.join("audit.xml")).unwrap_err().code, ErrorCode::InvalidInput);
    assert!(!out.join("audit.xml").exists());

    // Each export is in the trail, with the file's hash; the chain stays intact.
    let exports = admin.audit_list(&AuditFilterDto { action: Some("audit.export".into()), ..Default::default() }).unwrap();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0].after["sha256"].as_str(), Some(csv.sha256.as_str()));
    assert_eq!(exports[1].subject, format!("file:{}", out.join("audit.jsonl").display()));
    assert!(admin.audit_verify(None).unwrap().ok);

    let sam = login(dir.path(), STEWARD);
    assert_eq!(sam.audit_export(&filter, "csv", &out.join("sam.csv")).unwrap_err().code, ErrorCode::Forbidden);
    assert!(!out.join("sam.csv").exists());
}

/// The Suggestions screen's test cases and the dataset statistics: a clinician reads a released version's (redacted) notes
/// but not the raw notes of the dataset it came from; a steward reads both. Exports go through
/// the API: a clinician may write a report, nobody may write over the workspace's database.
#[test]
fn test_cases_and_exports_follow_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let admin = workspace(dir.path());
    let steward = login(dir.path(), STEWARD);
    let (raw, version) = released_dataset(&steward, dir.path());
    let clinician = login(dir.path(), CLINICIAN);
    let released = clinician.test_cases(version, 10).unwrap();
    assert!(!released.is_empty() && released.iter().all(|r| !r.text.contains(NAME)), "redacted cases");
    let refused = clinician.test_cases(raw, 10).unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden, "{}", refused.message);
    assert!(steward.test_cases(raw, 10).unwrap().iter().any(|r| r.text.contains(NAME)));
    // Statistics count note text, so they follow the same line: a released version's for the
    // clinician (with the review's PHI counts of the dataset it came from), not the raw one's.
    let stats = clinician.dataset_stats(version).unwrap();
    assert!(stats.phi.iter().any(|p| p.redacted > 0), "{:?}", stats.phi);
    assert_eq!(clinician.dataset_stats(raw).unwrap_err().code, ErrorCode::Forbidden);
    assert!(steward.dataset_stats(raw).is_ok());

    let written = clinician.export_report(&dir.path().join("out/report.html"), "<html></html>").unwrap();
    assert!(written.ends_with("report.html"));
    let db = dir.path().join("ldx.sqlite");
    for who in [&admin, &steward, &clinician] {
        let e = who.export_report(&db.with_extension("sqlite.keys"), "x").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "not an export type: {}", e.message);
        let e = who.export_report(&dir.path().join("runs/report.csv"), "x").unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden, "{}", e.message);
    }
    let audited = admin.audit_list(&AuditFilterDto { action: Some("export.report".into()), ..Default::default() }).unwrap();
    assert_eq!(audited.len(), 1, "one export written, one audited");
    assert_eq!(audited[0].actor, CLINICIAN.0);
}
