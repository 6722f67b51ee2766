//! Clinicians' feedback on diagnostic suggestions (migration 3): accept or reject a suggested
//! label, or add a diagnosis the model missed. Each row is written together with an event in the
//! append-only log, in one transaction. This module never stores a typed note's text unless the
//! caller passes it (the clinician chose to save it).

use localdx_access::{Grant, Reads};
use crate::events::log_event_on;
use crate::{Result, Store, StoreError};
use rusqlite::params;

/// Feedback to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback<'a> {
    pub actor: &'a str,
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    /// The note's text, only for a typed note the clinician chose to save.
    pub note_text: Option<&'a str>,
    /// The run id or base model whose suggestion this is about.
    pub model: &'a str,
    pub label: &'a str,
    /// `accept`, `reject` or `add`.
    pub verdict: &'a str,
    pub probability: Option<f64>,
}

/// One stored piece of feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub id: i64,
    pub created_at: String,
    pub actor: String,
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    /// Whether a typed note was stored with the verdict.
    pub note_saved: bool,
    /// The typed note itself, returned only to a grant that reads raw text: it was typed by a
    /// clinician and has not been reviewed.
    pub note_text: Option<String>,
    pub model: String,
    pub label: String,
    pub verdict: String,
    pub probability: Option<f64>,
}

/// The verdicts the table accepts.
pub const VERDICTS: [&str; 3] = ["accept", "reject", "add"];

impl Store {
    /// Stores one piece of feedback and logs it; returns its id.
    pub fn add_feedback(&self, f: &NewFeedback) -> Result<i64> {
        if !VERDICTS.contains(&f.verdict) {
            return Err(StoreError::Invalid(format!("unknown verdict {:?} (accept, reject, add)", f.verdict)));
        }
        if f.label.trim().is_empty() {
            return Err(StoreError::Invalid("feedback needs a label".into()));
        }
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "INSERT INTO feedback (actor, dataset_id, record_id, note_text, model, label, verdict, probability)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![f.actor, f.dataset_id, f.record_id, f.note_text, f.model, f.label.trim(), f.verdict, f.probability],
        )?;
        let id = tx.last_insert_rowid();
        let detail = serde_json::json!({
            "feedback_id": id, "dataset_id": f.dataset_id, "record_id": f.record_id, "model": f.model,
            "label": f.label.trim(), "verdict": f.verdict, "note_saved": f.note_text.is_some(),
        });
        let subject = f.record_id.map(|r| format!("record:{r}")).unwrap_or_else(|| format!("feedback:{id}"));
        log_event_on(&tx, f.actor, "feedback.add", Some(&subject), &detail)?;
        tx.commit()?;
        Ok(id)
    }

    /// All feedback, oldest first; the typed notes only for a `grant` that reads raw text.
    pub fn feedback(&self, grant: &Grant) -> Result<Vec<Feedback>> {
        let raw = grant.reads() == Reads::Raw;
        let mut stmt = self.conn().prepare(
            "SELECT id, created_at, actor, dataset_id, record_id, note_text, model, label, verdict, probability
             FROM feedback ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Feedback {
                id: r.get(0)?,
                created_at: r.get(1)?,
                actor: r.get(2)?,
                dataset_id: r.get(3)?,
                record_id: r.get(4)?,
                note_saved: r.get::<_, Option<String>>(5)?.is_some(),
                note_text: if raw { r.get(5)? } else { None },
                model: r.get(6)?,
                label: r.get(7)?,
                verdict: r.get(8)?,
                probability: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(verdict: &'a str, label: &'a str) -> NewFeedback<'a> {
        NewFeedback { actor: "dr-a", dataset_id: None, record_id: None, note_text: None, model: "run-1", label, verdict, probability: Some(0.4) }
    }

    #[test]
    fn feedback_is_stored_and_logged_and_bad_rows_refused() {
        let store = Store::open_in_memory().unwrap();
        let cases: &[(&str, &str, bool)] = &[("accept", "I10", true), ("add", " J45 ", true), ("reject", "E11", true), ("maybe", "I10", false), ("accept", "  ", false)];
        for (verdict, label, ok) in cases {
            assert_eq!(store.add_feedback(&new(verdict, label)).is_ok(), *ok, "{verdict} {label:?}");
        }
        let all = store.feedback(&localdx_access::check(localdx_access::Role::Steward, localdx_access::Command::ReadRawRecords).unwrap()).unwrap();
        assert_eq!(all.iter().map(|f| (f.verdict.as_str(), f.label.as_str())).collect::<Vec<_>>(), [("accept", "I10"), ("add", "J45"), ("reject", "E11")]);
        assert!(all.iter().all(|f| f.note_text.is_none()));
        let logged = store.events().unwrap().into_iter().filter(|e| e.kind == "feedback.add").count();
        assert_eq!(logged, 3, "refused rows leave no event");
    }

    #[test]
    fn typed_notes_come_back_only_to_a_raw_grant() {
        use localdx_access::{check, Command, Role};
        let store = Store::open_in_memory().unwrap();
        store.add_feedback(&NewFeedback { note_text: Some("Seen by Dr. Ada Lee"), ..new("add", "I10") }).unwrap();
        let raw = store.feedback(&check(Role::Steward, Command::ReadRawRecords).unwrap()).unwrap();
        assert_eq!((raw[0].note_saved, raw[0].note_text.as_deref()), (true, Some("Seen by Dr. Ada Lee")));
        let released = store.feedback(&check(Role::Clinician, Command::Evaluate).unwrap()).unwrap();
        assert_eq!((released[0].note_saved, released[0].note_text.as_deref()), (true, None));
    }
}
