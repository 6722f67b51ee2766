//! The review workflow end to end through the API, on an encrypted database: accounts and roles,
//! encryption at rest (no file holds a known name in plain text), detection into the review
//! queue, decisions and learning, sign-off, release with its leakage scan, clinicians' view, and
//! the audit chain catching an edit made to the file with plain SQL.

mod access;
mod card;
mod detector;
mod fuzz;
mod gold;
mod monitor;
mod promotion;
mod retrain;
mod review;
mod sealed;
mod stats;
mod successor;
mod training;

use localdx_api::datasets::ImportOptionsDto;
use localdx_api::{Api, Cancel, Credentials};
use std::path::Path;

pub const ADMIN: (&str, &str) = ("ada", "ada-password-1");
pub const STEWARD: (&str, &str) = ("sam", "sam-password-1");
pub const CLINICIAN: (&str, &str) = ("cleo", "cleo-password-1");

pub fn creds((user, password): (&str, &str)) -> Credentials {
    Credentials::new(user, password)
}

/// A new encrypted database with an admin, a steward and a clinician; returns the admin's handle.
pub fn workspace(dir: &Path) -> Api {
    let api = Api::init(&dir.join("ldx.sqlite"), &creds(ADMIN)).unwrap();
    api.add_user(STEWARD.0, "steward", STEWARD.1).unwrap();
    api.add_user(CLINICIAN.0, "clinician", CLINICIAN.1).unwrap();
    api
}

pub fn login(dir: &Path, who: (&str, &str)) -> Api {
    Api::open(&dir.join("ldx.sqlite"), Some(&creds(who))).unwrap()
}

/// Imports `rows` (note id, text, label) as a CSV dataset and returns its id.
pub fn import(api: &Api, dir: &Path, rows: &[(&str, &str, &str)]) -> i64 {
    let path = dir.join("notes.csv");
    let mut w = String::from("id,note,dx\n");
    for (id, text, dx) in rows {
        w.push_str(&format!("{id},\"{}\",{dx}\n", text.replace('"', "\"\"")));
    }
    std::fs::write(&path, w).unwrap();
    let opts: ImportOptionsDto = serde_json::from_value(serde_json::json!({"textColumn": "note", "labelColumn": "dx", "idColumn": "id"})).unwrap();
    let report = api.import(&path, &opts, &(), &Cancel::new()).unwrap();
    std::fs::remove_file(&path).unwrap();
    report.dataset_id.unwrap()
}
