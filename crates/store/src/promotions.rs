//! Which run is in use for a dataset's task (migration 9). A promotion names the run, the
//! released version it trained on, the figures of the report built on its test split, who
//! promoted it and why. Promoting another run for the same dataset ends the current promotion in
//! the same step, and withdrawing one ends it with a reason; ended rows are the history. Each
//! change is logged in the event log.

use crate::events::log_event_on;
use crate::{Result, Store, StoreError};
use rusqlite::{params, OptionalExtension, Row};

/// A promotion to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPromotion<'a> {
    /// The imported dataset whose task the run serves (the source of its released version).
    pub dataset_id: i64,
    pub run_id: &'a str,
    /// The released version the run trained on.
    pub version_id: i64,
    /// SHA-256 of the report's HTML built for the run on its test split at promotion.
    pub report_sha256: &'a str,
    /// The report's headline figures (JSON object).
    pub metrics: &'a serde_json::Value,
    pub reason: &'a str,
    pub actor: &'a str,
}

/// One stored promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub id: i64,
    pub dataset_id: i64,
    pub run_id: String,
    pub version_id: i64,
    pub report_sha256: String,
    pub metrics: serde_json::Value,
    pub reason: String,
    pub promoted_by: String,
    pub promoted_at: String,
    pub ended_by: Option<String>,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

const COLUMNS: &str = "id, dataset_id, run_id, version_id, report_sha256, metrics, reason, promoted_by, promoted_at, ended_by, ended_at, end_reason";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Promotion> {
    let metrics: String = r.get(5)?;
    Ok(Promotion {
        id: r.get(0)?,
        dataset_id: r.get(1)?,
        run_id: r.get(2)?,
        version_id: r.get(3)?,
        report_sha256: r.get(4)?,
        metrics: serde_json::from_str(&metrics).unwrap_or(serde_json::Value::Null),
        reason: r.get(6)?,
        promoted_by: r.get(7)?,
        promoted_at: r.get(8)?,
        ended_by: r.get(9)?,
        ended_at: r.get(10)?,
        end_reason: r.get(11)?,
    })
}

impl Store {
    /// Puts `p.run_id` into use for `p.dataset_id`, ending the current promotion of that dataset
    /// (replaced by this one); returns the new promotion and the one it replaced. Runs in a
    /// savepoint, so it is all or nothing inside or outside a caller's transaction.
    pub fn promote(&self, p: &NewPromotion) -> Result<(Promotion, Option<Promotion>)> {
        if p.run_id.trim().is_empty() {
            return Err(StoreError::Invalid("a promotion needs a run".into()));
        }
        if !p.metrics.is_object() {
            return Err(StoreError::Invalid("a promotion's metrics are a JSON object".into()));
        }
        let conn = self.conn();
        conn.execute_batch("SAVEPOINT promote")?;
        let done = (|| -> Result<(Promotion, Option<Promotion>)> {
            let replaced = self.current_promotion(p.dataset_id)?;
            let reason = format!("replaced by {}", p.run_id);
            conn.execute(
                "UPDATE promotions SET ended_by = ?1, ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), end_reason = ?2
                 WHERE dataset_id = ?3 AND ended_at IS NULL",
                params![p.actor, reason, p.dataset_id],
            )?;
            conn.execute(
                "INSERT INTO promotions (dataset_id, run_id, version_id, report_sha256, metrics, reason, promoted_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![p.dataset_id, p.run_id, p.version_id, p.report_sha256, p.metrics.to_string(), p.reason, p.actor],
            )?;
            let id = conn.last_insert_rowid();
            let detail = serde_json::json!({"promotion_id": id, "run_id": p.run_id, "version_id": p.version_id, "replaced": replaced.as_ref().map(|r| &r.run_id)});
            log_event_on(conn, p.actor, "model.promote", Some(&format!("dataset:{}", p.dataset_id)), &detail)?;
            let new = conn.query_row(&format!("SELECT {COLUMNS} FROM promotions WHERE id = ?1"), [id], from_row)?;
            Ok((new, replaced))
        })();
        match done {
            Ok(v) => {
                conn.execute_batch("RELEASE promote")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK TO promote; RELEASE promote");
                Err(e)
            }
        }
    }

    /// Withdraws the current promotion of `dataset_id` (suggestions then have no default model);
    /// returns it as ended, or `None` when none was current.
    pub fn demote(&self, dataset_id: i64, actor: &str, reason: &str) -> Result<Option<Promotion>> {
        let Some(current) = self.current_promotion(dataset_id)? else { return Ok(None) };
        let conn = self.conn();
        conn.execute_batch("SAVEPOINT demote")?;
        let done = (|| -> Result<Promotion> {
            conn.execute(
                "UPDATE promotions SET ended_by = ?1, ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), end_reason = ?2 WHERE id = ?3",
                params![actor, reason, current.id],
            )?;
            log_event_on(conn, actor, "model.demote", Some(&format!("dataset:{dataset_id}")), &serde_json::json!({"promotion_id": current.id, "run_id": current.run_id}))?;
            Ok(conn.query_row(&format!("SELECT {COLUMNS} FROM promotions WHERE id = ?1"), [current.id], from_row)?)
        })();
        match done {
            Ok(v) => {
                conn.execute_batch("RELEASE demote")?;
                Ok(Some(v))
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK TO demote; RELEASE demote");
                Err(e)
            }
        }
    }

    /// The promotion in use for `dataset_id`, if any.
    pub fn current_promotion(&self, dataset_id: i64) -> Result<Option<Promotion>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {COLUMNS} FROM promotions WHERE dataset_id = ?1 AND ended_at IS NULL"), [dataset_id], from_row)
            .optional()?)
    }

    /// Every promotion, current and ended, oldest first (of one dataset when given).
    pub fn promotions(&self, dataset_id: Option<i64>) -> Result<Vec<Promotion>> {
        let mut stmt = self.conn().prepare(&format!("SELECT {COLUMNS} FROM promotions WHERE ?1 IS NULL OR dataset_id = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([dataset_id], from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
