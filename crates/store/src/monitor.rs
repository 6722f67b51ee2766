//! The suggestion log (migration 10): one row per suggestion shown, with no note text. The API
//! writes a row each time a model suggests for a note and reads them back by model and time for
//! monitoring (acceptance, top-5 hits, calibration and input drift per week).

use crate::{Result, Store, StoreError};
use rusqlite::params;

/// A suggestion to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLoggedSuggestion<'a> {
    /// When it was shown (`None`: now). Replaying dated notes gives their own dates.
    pub at: Option<&'a str>,
    pub actor: &'a str,
    /// The run id, or `base:MODEL`.
    pub model: &'a str,
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    /// The note's length in words.
    pub words: u64,
    /// The share of the note's words that the model's training notes never used.
    pub unseen: Option<f64>,
    /// The top labels with their probabilities, best first.
    pub top: &'a [(String, f64)],
    /// The recorded labels, when the note is a stored case.
    pub gold: Option<&'a [String]>,
}

/// One logged suggestion.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedSuggestion {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub model: String,
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    pub words: u64,
    pub unseen: Option<f64>,
    pub top: Vec<(String, f64)>,
    pub gold: Option<Vec<String>>,
}

impl Store {
    /// Logs one suggestion; returns its id.
    pub fn log_suggestion(&self, s: &NewLoggedSuggestion) -> Result<i64> {
        if s.model.trim().is_empty() {
            return Err(StoreError::Invalid("a logged suggestion names its model".into()));
        }
        if s.unseen.is_some_and(|u| !(0.0..=1.0).contains(&u)) {
            return Err(StoreError::Invalid("the unseen share lies between 0 and 1".into()));
        }
        let top = serde_json::to_string(s.top)?;
        let gold = s.gold.map(serde_json::to_string).transpose()?;
        self.conn().execute(
            "INSERT INTO suggestion_log (at, actor, model, dataset_id, record_id, words, unseen, top, gold)
             VALUES (COALESCE(?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![s.at, s.actor, s.model, s.dataset_id, s.record_id, s.words as i64, s.unseen, top, gold],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    /// The logged suggestions, oldest first (of one model when given).
    pub fn logged_suggestions(&self, model: Option<&str>) -> Result<Vec<LoggedSuggestion>> {
        let mut stmt = self.conn().prepare(
            "SELECT id, at, actor, model, dataset_id, record_id, words, unseen, top, gold FROM suggestion_log
             WHERE ?1 IS NULL OR model = ?1 ORDER BY at, id",
        )?;
        let rows = stmt.query_map([model], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get::<_, i64>(6)?, r.get(7)?, r.get::<_, String>(8)?, r.get::<_, Option<String>>(9)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, actor, model, dataset_id, record_id, words, unseen, top, gold) = row?;
            out.push(LoggedSuggestion {
                id,
                at,
                actor,
                model,
                dataset_id,
                record_id,
                words: words as u64,
                unseen,
                top: serde_json::from_str(&top)?,
                gold: gold.map(|g| serde_json::from_str(&g)).transpose()?,
            });
        }
        Ok(out)
    }
}
