//! Key/value settings (per-project configuration stored as text, often JSON, by other crates).

use crate::{Result, Store};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// The value of setting `key`, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets (inserts or replaces) setting `key`.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        set_on(self.conn(), key, value)
    }
}

/// Sets `key` on `conn` (inside the caller's transaction, if any).
pub(crate) fn set_on(conn: &rusqlite::Connection, key: &str, value: &str) -> Result<()> {
    {
        conn.execute(
            "INSERT INTO settings (key, value, updated_at)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value],
        )?;
        Ok(())
    }
}
