//! The append-only event log: who did what to which thing, and when. A trigger in the schema
//! refuses any UPDATE or DELETE on it.

use crate::{Result, Store};
use rusqlite::params;

/// One logged event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    /// ISO 8601 UTC time, set by the database.
    pub at: String,
    pub actor: String,
    /// Dotted kind, e.g. `dataset.import`.
    pub kind: String,
    /// What it is about, e.g. `dataset:3`.
    pub subject: Option<String>,
    pub detail: serde_json::Value,
}

impl Store {
    /// Appends an event and returns its id.
    pub fn log_event(&self, actor: &str, kind: &str, subject: Option<&str>, detail: &serde_json::Value) -> Result<i64> {
        log_event_on(self.conn(), actor, kind, subject, detail)
    }

    /// All events, oldest first.
    pub fn events(&self) -> Result<Vec<Event>> {
        let mut stmt = self.conn().prepare("SELECT id, at, actor, kind, subject, detail FROM events ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, actor, kind, subject, detail) = row?;
            out.push(Event { id, at, actor, kind, subject, detail: serde_json::from_str(&detail)? });
        }
        Ok(out)
    }
}

pub(crate) fn log_event_on(
    conn: &rusqlite::Connection,
    actor: &str,
    kind: &str,
    subject: Option<&str>,
    detail: &serde_json::Value,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO events (actor, kind, subject, detail) VALUES (?1, ?2, ?3, ?4)",
        params![actor, kind, subject, serde_json::to_string(detail)?],
    )?;
    Ok(conn.last_insert_rowid())
}
