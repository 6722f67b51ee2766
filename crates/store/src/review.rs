//! The review workflow's tables and its state machine.
//!
//! Per span: `undecided` -> `accepted` | `rejected` | `retyped` | `resized` ([`apply`]); a decided
//! span may be decided again, and every decision is kept so [`Store::undo_review`] can restore the
//! state before the last one. Spans the steward adds start `accepted`. Per note: `open` ->
//! `signed_off` only when no span of the note is undecided; a signed-off note refuses decisions
//! until reopened. Offsets here are byte offsets into the record's text (see `localdx-span`).
//!
//! This module stores and checks; it never runs detection or redaction and never logs note text.

use crate::{Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Where a span stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanState {
    Undecided,
    Accepted,
    Rejected,
    Retyped,
    Resized,
}

impl SpanState {
    pub const ALL: [SpanState; 5] = [SpanState::Undecided, SpanState::Accepted, SpanState::Rejected, SpanState::Retyped, SpanState::Resized];

    pub fn as_str(self) -> &'static str {
        match self {
            SpanState::Undecided => "undecided",
            SpanState::Accepted => "accepted",
            SpanState::Rejected => "rejected",
            SpanState::Retyped => "retyped",
            SpanState::Resized => "resized",
        }
    }

    fn parse(s: &str) -> Result<SpanState> {
        SpanState::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| StoreError::Invalid(format!("span state {s:?}")))
    }

    /// Whether the span is redacted at release (everything decided except `rejected`).
    pub fn redacts(self) -> bool {
        matches!(self, SpanState::Accepted | SpanState::Retyped | SpanState::Resized)
    }
}

/// A steward's decision on one span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Decision {
    Accept,
    Reject,
    /// Keep the bounds, change the type (an entity name such as `name`).
    Retype { entity: String },
    /// Keep the type, change the bounds (byte offsets).
    Resize { start: usize, end: usize },
}

/// The part of a span a decision changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanView {
    pub state: SpanState,
    pub start: usize,
    pub end: usize,
    pub entity: String,
}

/// A decision the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// New bounds that are empty, reversed, outside the text or inside a character.
    #[error("invalid span bounds {start}..{end} for a text of {len} bytes")]
    Bounds { start: usize, end: usize, len: usize },
    /// A retype to the type the span already has, or a resize to the bounds it already has.
    #[error("the decision changes nothing")]
    NoChange,
    /// The note is signed off; reopen it first.
    #[error("note {0} is signed off; reopen it to change decisions")]
    SignedOff(i64),
    /// Sign-off with spans still undecided.
    #[error("note {record_id} still has {undecided} undecided span(s)")]
    Undecided { record_id: i64, undecided: u64 },
    /// Nothing to undo in this note.
    #[error("nothing to undo in note {0}")]
    NothingToUndo(i64),
    /// No such span or note in review.
    #[error("no {0} in review")]
    Missing(String),
}

/// Checks `start..end` against `text`: non-empty, in bounds, on char boundaries.
pub fn check_bounds(text: &str, start: usize, end: usize) -> Result<(), ReviewError> {
    if start < end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end) {
        Ok(())
    } else {
        Err(ReviewError::Bounds { start, end, len: text.len() })
    }
}

/// The state machine: what `decision` makes of `current` on a note with `text`.
pub fn apply(current: &SpanView, decision: &Decision, text: &str) -> Result<SpanView, ReviewError> {
    let mut next = current.clone();
    match decision {
        Decision::Accept => next.state = SpanState::Accepted,
        Decision::Reject => next.state = SpanState::Rejected,
        Decision::Retype { entity } => {
            if *entity == current.entity {
                return Err(ReviewError::NoChange);
            }
            next.state = SpanState::Retyped;
            next.entity = entity.clone();
        }
        Decision::Resize { start, end } => {
            check_bounds(text, *start, *end)?;
            if (*start, *end) == (current.start, current.end) {
                return Err(ReviewError::NoChange);
            }
            next.state = SpanState::Resized;
            next.start = *start;
            next.end = *end;
        }
    }
    Ok(next)
}

/// A detection to put in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSpan {
    pub start: usize,
    pub end: usize,
    pub entity: String,
    pub score: f64,
    /// Detector, pattern, context word ... (JSON object).
    pub explanation: serde_json::Value,
}

/// One span in review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewSpan {
    pub id: i64,
    pub dataset_id: i64,
    pub record_id: i64,
    /// `detected` or `added`.
    pub origin: String,
    /// As detected (or added).
    pub start: usize,
    pub end: usize,
    pub entity: String,
    pub score: f64,
    pub explanation: serde_json::Value,
    /// The current decision and the bounds and type it leaves.
    pub view: SpanView,
    pub decided_by: Option<String>,
}

/// Review counts of one dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReviewCounts {
    pub notes: u64,
    pub signed_off: u64,
    /// Spans per state, in [`SpanState::ALL`] order.
    pub spans: Vec<(SpanState, u64)>,
}

/// A learned allow- or deny-list term, or a context word.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub id: i64,
    /// `allow`, `deny` or `context` (words before an added span; `entity` is its type).
    pub list: String,
    pub term: String,
    pub entity: Option<String>,
    pub dataset_id: Option<i64>,
    pub proposed_by: String,
    pub confirmed_by: Option<String>,
}

/// A released version: the immutable redacted copy (`version_dataset_id`) of `dataset_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: i64,
    pub dataset_id: i64,
    pub version_dataset_id: i64,
    pub strategy: String,
    pub sha256: String,
    pub records: u64,
    pub spans: u64,
    pub released_by: String,
    pub released_at: String,
}

const SPAN_COLUMNS: &str = "id, dataset_id, record_id, origin, start, end, entity, score, explanation, state,
     final_start, final_end, final_entity, decided_by";

fn span_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ReviewSpan, String, String)> {
    Ok((
        ReviewSpan {
            id: r.get(0)?,
            dataset_id: r.get(1)?,
            record_id: r.get(2)?,
            origin: r.get(3)?,
            start: r.get::<_, i64>(4)? as usize,
            end: r.get::<_, i64>(5)? as usize,
            entity: r.get(6)?,
            score: r.get(7)?,
            explanation: serde_json::Value::Null,
            view: SpanView {
                state: SpanState::Undecided,
                start: r.get::<_, i64>(10)? as usize,
                end: r.get::<_, i64>(11)? as usize,
                entity: r.get(12)?,
            },
            decided_by: r.get(13)?,
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish_span((mut s, explanation, state): (ReviewSpan, String, String)) -> Result<ReviewSpan> {
    s.explanation = serde_json::from_str(&explanation)?;
    s.view.state = SpanState::parse(&state)?;
    Ok(s)
}

const RELEASE_COLUMNS: &str = "id, dataset_id, version_dataset_id, strategy, sha256, records, spans, released_by, released_at";

fn release_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        id: r.get(0)?,
        dataset_id: r.get(1)?,
        version_dataset_id: r.get(2)?,
        strategy: r.get(3)?,
        sha256: r.get(4)?,
        records: r.get::<_, i64>(5)? as u64,
        spans: r.get::<_, i64>(6)? as u64,
        released_by: r.get(7)?,
        released_at: r.get(8)?,
    })
}

impl Store {
    /// Puts fresh detections of one record in the queue: undecided detected spans of the record are
    /// replaced; a new detection that overlaps a decided or added span is dropped (the decision
    /// stands). Opens the note's review if it has none. Returns how many spans were queued.
    /// Refused on a signed-off note.
    pub fn queue_detections(&self, dataset_id: i64, record_id: i64, spans: &[NewSpan]) -> Result<u64> {
        self.ensure_note(dataset_id, record_id)?;
        if self.note_signed_off(record_id)? {
            return Err(ReviewError::SignedOff(record_id).into());
        }
        let conn = self.conn();
        conn.execute("DELETE FROM review_spans WHERE record_id = ?1 AND origin = 'detected' AND state = 'undecided'", [record_id])?;
        let kept = self.review_spans(record_id)?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO review_spans (dataset_id, record_id, origin, start, end, entity, score, explanation, state,
                                       final_start, final_end, final_entity)
             VALUES (?1, ?2, 'detected', ?3, ?4, ?5, ?6, ?7, 'undecided', ?3, ?4, ?5)",
        )?;
        let mut n = 0;
        for s in spans {
            let overlaps = kept.iter().any(|k| k.view.start < s.end && s.start < k.view.end);
            if overlaps {
                continue;
            }
            insert.execute(params![dataset_id, record_id, s.start as i64, s.end as i64, s.entity, s.score, serde_json::to_string(&s.explanation)?])?;
            n += 1;
        }
        Ok(n)
    }

    fn ensure_note(&self, dataset_id: i64, record_id: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO review_notes (record_id, dataset_id, state) VALUES (?1, ?2, 'open')",
            params![record_id, dataset_id],
        )?;
        Ok(())
    }

    /// Whether the note is signed off (false when it has no review yet).
    pub fn note_signed_off(&self, record_id: i64) -> Result<bool> {
        let state: Option<String> = self
            .conn()
            .query_row("SELECT state FROM review_notes WHERE record_id = ?1", [record_id], |r| r.get(0))
            .optional()?;
        Ok(state.as_deref() == Some("signed_off"))
    }

    /// The spans of one record in text order.
    pub fn review_spans(&self, record_id: i64) -> Result<Vec<ReviewSpan>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM review_spans WHERE record_id = ?1 ORDER BY final_start, id"
        ))?;
        let rows: Vec<_> = stmt.query_map([record_id], span_from_row)?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(finish_span).collect()
    }

    /// Every span of a dataset's review, by note and then in text order. Spans hold offsets and
    /// types, not the text they cover, so this needs no grant (PHI counts per type read it).
    pub fn dataset_review_spans(&self, dataset_id: i64) -> Result<Vec<ReviewSpan>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM review_spans WHERE dataset_id = ?1 ORDER BY record_id, final_start, id"
        ))?;
        let rows: Vec<_> = stmt.query_map([dataset_id], span_from_row)?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(finish_span).collect()
    }

    /// One span.
    pub fn review_span(&self, id: i64) -> Result<Option<ReviewSpan>> {
        let row = self
            .conn()
            .query_row(&format!("SELECT {SPAN_COLUMNS} FROM review_spans WHERE id = ?1"), [id], span_from_row)
            .optional()?;
        row.map(finish_span).transpose()
    }

    /// Undecided spans of a dataset, optionally of one type and at least `min_score`, in id order.
    pub fn undecided_spans(&self, dataset_id: i64, entity: Option<&str>, min_score: Option<f64>) -> Result<Vec<ReviewSpan>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {SPAN_COLUMNS} FROM review_spans WHERE dataset_id = ?1 AND state = 'undecided'
               AND (?2 IS NULL OR entity = ?2) AND score >= ?3 ORDER BY id"
        ))?;
        let rows: Vec<_> =
            stmt.query_map(params![dataset_id, entity, min_score.unwrap_or(f64::NEG_INFINITY)], span_from_row)?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(finish_span).collect()
    }

    /// Applies `decision` to span `id` of a note whose text is `text`, records it for undo, and
    /// returns the span before and after. Refused on a signed-off note.
    pub fn decide(&self, id: i64, decision: &Decision, text: &str, actor: &str, bulk: bool) -> Result<(ReviewSpan, ReviewSpan)> {
        let before = self.review_span(id)?.ok_or_else(|| ReviewError::Missing(format!("span {id}")))?;
        if self.note_signed_off(before.record_id)? {
            return Err(ReviewError::SignedOff(before.record_id).into());
        }
        let view = apply(&before.view, decision, text)?;
        self.write_view(id, &view, Some(actor))?;
        self.conn().execute(
            "INSERT INTO review_decisions (span_id, record_id, before, after, actor, bulk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, before.record_id, serde_json::to_string(&before.view)?, serde_json::to_string(&view)?, actor, bulk as i64],
        )?;
        let after = ReviewSpan { view, decided_by: Some(actor.to_owned()), ..before.clone() };
        Ok((before, after))
    }

    fn write_view(&self, id: i64, v: &SpanView, actor: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE review_spans SET state = ?2, final_start = ?3, final_end = ?4, final_entity = ?5, decided_by = ?6,
                    decided_at = CASE WHEN ?6 IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END
             WHERE id = ?1",
            params![id, v.state.as_str(), v.start as i64, v.end as i64, v.entity, actor],
        )?;
        Ok(())
    }

    /// Adds a span the detectors missed (accepted at once) and returns it.
    pub fn add_review_span(&self, dataset_id: i64, record_id: i64, text: &str, start: usize, end: usize, entity: &str, actor: &str) -> Result<ReviewSpan> {
        check_bounds(text, start, end)?;
        self.ensure_note(dataset_id, record_id)?;
        if self.note_signed_off(record_id)? {
            return Err(ReviewError::SignedOff(record_id).into());
        }
        self.conn().execute(
            "INSERT INTO review_spans (dataset_id, record_id, origin, start, end, entity, score, explanation, state,
                                       final_start, final_end, final_entity, decided_by, decided_at)
             VALUES (?1, ?2, 'added', ?3, ?4, ?5, 1.0, '{}', 'accepted', ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            params![dataset_id, record_id, start as i64, end as i64, entity, actor],
        )?;
        let id = self.conn().last_insert_rowid();
        self.conn().execute(
            "INSERT INTO review_decisions (span_id, record_id, before, after, actor) VALUES (?1, ?2, 'null', ?3, ?4)",
            params![id, record_id, serde_json::to_string(&SpanView { state: SpanState::Accepted, start, end, entity: entity.to_owned() })?, actor],
        )?;
        self.review_span(id)?.ok_or_else(|| ReviewError::Missing(format!("span {id}")).into())
    }

    /// Undoes the newest decision in a note (an added span is removed). Returns the span before
    /// the undo and after it (`None` when it was removed). Refused on a signed-off note.
    pub fn undo_review(&self, record_id: i64) -> Result<(ReviewSpan, Option<ReviewSpan>)> {
        if self.note_signed_off(record_id)? {
            return Err(ReviewError::SignedOff(record_id).into());
        }
        let last: Option<(i64, i64, String)> = self
            .conn()
            .query_row(
                "SELECT id, span_id, before FROM review_decisions WHERE record_id = ?1 AND undone = 0 ORDER BY id DESC LIMIT 1",
                [record_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (decision_id, span_id, before) = last.ok_or(ReviewError::NothingToUndo(record_id))?;
        let current = self.review_span(span_id)?.ok_or_else(|| ReviewError::Missing(format!("span {span_id}")))?;
        self.conn().execute("UPDATE review_decisions SET undone = 1 WHERE id = ?1", [decision_id])?;
        let before: Option<SpanView> = serde_json::from_str(&before)?;
        match before {
            None => {
                self.conn().execute("DELETE FROM review_spans WHERE id = ?1", [span_id])?;
                Ok((current, None))
            }
            Some(view) => {
                // The actor of the decision before, if any is still standing.
                let actor: Option<String> = self
                    .conn()
                    .query_row(
                        "SELECT actor FROM review_decisions WHERE span_id = ?1 AND undone = 0 ORDER BY id DESC LIMIT 1",
                        [span_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let actor = if view.state == SpanState::Undecided { None } else { actor };
                self.write_view(span_id, &view, actor.as_deref())?;
                let after = self.review_span(span_id)?;
                Ok((current, after))
            }
        }
    }

    /// Signs a note off; refused while a span is undecided.
    pub fn sign_off(&self, dataset_id: i64, record_id: i64, actor: &str) -> Result<()> {
        self.ensure_note(dataset_id, record_id)?;
        let undecided: i64 = self.conn().query_row(
            "SELECT count(*) FROM review_spans WHERE record_id = ?1 AND state = 'undecided'",
            [record_id],
            |r| r.get(0),
        )?;
        if undecided > 0 {
            return Err(ReviewError::Undecided { record_id, undecided: undecided as u64 }.into());
        }
        self.conn().execute(
            "UPDATE review_notes SET state = 'signed_off', signed_by = ?2, signed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE record_id = ?1",
            params![record_id, actor],
        )?;
        Ok(())
    }

    /// Reopens a signed-off note.
    pub fn reopen(&self, record_id: i64) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE review_notes SET state = 'open', signed_by = NULL, signed_at = NULL WHERE record_id = ?1",
            [record_id],
        )?;
        if n == 0 {
            return Err(ReviewError::Missing(format!("note {record_id}")).into());
        }
        Ok(())
    }

    /// Records of a dataset whose note is not signed off (no review yet counts as open), in id order.
    pub fn open_notes(&self, dataset_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare(
            "SELECT r.id FROM records r LEFT JOIN review_notes n ON n.record_id = r.id
             WHERE r.dataset_id = ?1 AND (n.state IS NULL OR n.state = 'open') ORDER BY r.id",
        )?;
        let rows = stmt.query_map([dataset_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record ids of a dataset's signed-off notes, in id order.
    pub fn signed_off_notes(&self, dataset_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare("SELECT record_id FROM review_notes WHERE dataset_id = ?1 AND state = 'signed_off' ORDER BY record_id")?;
        let rows = stmt.query_map([dataset_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Notes and spans per state of one dataset.
    pub fn review_counts(&self, dataset_id: i64) -> Result<ReviewCounts> {
        let notes: i64 = self.conn().query_row("SELECT count(*) FROM records WHERE dataset_id = ?1", [dataset_id], |r| r.get(0))?;
        let signed: i64 = self.conn().query_row(
            "SELECT count(*) FROM review_notes WHERE dataset_id = ?1 AND state = 'signed_off'",
            [dataset_id],
            |r| r.get(0),
        )?;
        let mut spans: Vec<(SpanState, u64)> = SpanState::ALL.iter().map(|s| (*s, 0)).collect();
        let mut stmt = self.conn().prepare("SELECT state, count(*) FROM review_spans WHERE dataset_id = ?1 GROUP BY state")?;
        let rows = stmt.query_map([dataset_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let state = SpanState::parse(&state)?;
            if let Some(slot) = spans.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = n as u64;
            }
        }
        Ok(ReviewCounts { notes: notes as u64, signed_off: signed as u64, spans })
    }

    /// Proposes a learned term (a repeat of an existing one is ignored; a context word repeats
    /// only with the same type); returns its id.
    pub fn propose_term(&self, list: &str, term: &str, entity: Option<&str>, dataset_id: i64, actor: &str) -> Result<i64> {
        self.conn().execute(
            "INSERT OR IGNORE INTO review_terms (list, term, entity, dataset_id, proposed_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![list, term, entity, dataset_id, actor],
        )?;
        Ok(self.conn().query_row(
            "SELECT id FROM review_terms WHERE list = ?1 AND term = ?2 AND (list <> 'context' OR entity = ?3)",
            params![list, term, entity],
            |r| r.get(0),
        )?)
    }

    /// Confirms a proposed term; returns whether it existed.
    pub fn confirm_term(&self, id: i64, actor: &str) -> Result<bool> {
        Ok(self.conn().execute("UPDATE review_terms SET confirmed_by = ?2 WHERE id = ?1", params![id, actor])? == 1)
    }

    /// Every learned term, oldest first.
    pub fn terms(&self) -> Result<Vec<Term>> {
        let mut stmt = self.conn().prepare("SELECT id, list, term, entity, dataset_id, proposed_by, confirmed_by FROM review_terms ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Term {
                id: r.get(0)?,
                list: r.get(1)?,
                term: r.get(2)?,
                entity: r.get(3)?,
                dataset_id: r.get(4)?,
                proposed_by: r.get(5)?,
                confirmed_by: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Releases of a dataset (or of every dataset), oldest first.
    pub fn releases(&self, dataset_id: Option<i64>) -> Result<Vec<Release>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE ?1 IS NULL OR dataset_id = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([dataset_id], release_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The release whose redacted copy is dataset `version_dataset_id`, if it is one.
    pub fn release_of_version(&self, version_dataset_id: i64) -> Result<Option<Release>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE version_dataset_id = ?1"), [version_dataset_id], release_from_row)
            .optional()?)
    }
}

impl crate::DatasetWriter<'_> {
    /// Marks the dataset being written as the released version of `release.dataset_id`; after
    /// commit its records can never change. Call after the last insert.
    pub fn mark_released(&self, dataset_id: i64, strategy: &str, sha256: &str, records: u64, spans: u64, actor: &str) -> Result<i64> {
        self.tx().execute(
            "INSERT INTO releases (dataset_id, version_dataset_id, strategy, sha256, records, spans, released_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![dataset_id, self.dataset_id(), strategy, sha256, records as i64, spans as i64, actor],
        )?;
        Ok(self.tx().last_insert_rowid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(state: SpanState, start: usize, end: usize, entity: &str) -> SpanView {
        SpanView { state, start, end, entity: entity.into() }
    }

    #[test]
    fn state_machine() {
        use SpanState::*;
        let text = "Seen by Dr. Núñez on 10/18/2003";
        let undecided = view(Undecided, 12, 19, "name");
        let retyped = view(Retyped, 12, 19, "location");
        // (from, decision, expected: Ok(to) or Err)
        let cases: Vec<(SpanView, Decision, Result<SpanView, ReviewError>)> = vec![
            (undecided.clone(), Decision::Accept, Ok(view(Accepted, 12, 19, "name"))),
            (undecided.clone(), Decision::Reject, Ok(view(Rejected, 12, 19, "name"))),
            (undecided.clone(), Decision::Retype { entity: "location".into() }, Ok(retyped.clone())),
            (undecided.clone(), Decision::Resize { start: 8, end: 19 }, Ok(view(Resized, 8, 19, "name"))),
            // Changing one's mind is a decision too.
            (view(Rejected, 12, 19, "name"), Decision::Accept, Ok(view(Accepted, 12, 19, "name"))),
            (retyped.clone(), Decision::Resize { start: 8, end: 19 }, Ok(view(Resized, 8, 19, "location"))),
            // Negative rows.
            (undecided.clone(), Decision::Retype { entity: "name".into() }, Err(ReviewError::NoChange)),
            (undecided.clone(), Decision::Resize { start: 12, end: 19 }, Err(ReviewError::NoChange)),
            (undecided.clone(), Decision::Resize { start: 19, end: 12 }, Err(ReviewError::Bounds { start: 19, end: 12, len: 33 })),
            (undecided.clone(), Decision::Resize { start: 12, end: 99 }, Err(ReviewError::Bounds { start: 12, end: 99, len: 33 })),
            // Byte 14 is inside "ñ".
            (undecided.clone(), Decision::Resize { start: 14, end: 19 }, Err(ReviewError::Bounds { start: 14, end: 19, len: 33 })),
            (undecided.clone(), Decision::Resize { start: 5, end: 5 }, Err(ReviewError::Bounds { start: 5, end: 5, len: 33 })),
        ];
        for (from, decision, expected) in cases {
            assert_eq!(apply(&from, &decision, text), expected, "{from:?} + {decision:?}");
        }
        assert!(Accepted.redacts() && Retyped.redacts() && Resized.redacts());
        assert!(!Rejected.redacts() && !Undecided.redacts());
    }
}
