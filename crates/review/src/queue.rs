//! The review queue: detection over a dataset into the queue (replacing undecided detections of an
//! earlier run; decisions stand), the notes still open (optionally the least certain first), and
//! the steward's decisions on spans (accept, reject, retype, resize, add a missed one, undo, bulk
//! accept with a spot-check sample), sign-off and reopening, and what the decisions teach: a
//! rejected span's text is proposed for the allow-list, an added span's for the deny-list and the
//! words right before it as a context word of its type.
//!
//! The span state machine and the sign-off rule live in `localdx-store`; detection is the
//! caller's detector. Offsets here are byte offsets.

use crate::{round3, sample, Error, Result, Tx};
use localdx_access::Grant;
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::{ContextTerm, DenyTerm, Detection, EntityType, PhiConfig};
use localdx_span::Span;
use localdx_store::{Dataset, Decision, NewSpan, Record, ReviewCounts, ReviewError, ReviewSpan, SpanState, Store, StoreError};
use serde_json::json;
use std::collections::BTreeMap;

/// Dataset `dataset_id`, refused when it is a released version (redacted and immutable).
pub fn reviewable(store: &Store, dataset_id: i64) -> Result<Dataset> {
    let ds = store.dataset(dataset_id)?.ok_or(Error::NoDataset(dataset_id))?;
    if store.release_of_version(dataset_id)?.is_some() {
        return Err(Error::ReleasedVersion(dataset_id));
    }
    Ok(ds)
}

/// Record `record_id`, for a `grant` that covers its text.
pub fn record(store: &Store, grant: &Grant, record_id: i64) -> Result<Record> {
    store.record(grant, record_id)?.ok_or(Error::NoRecord(record_id))
}

/// The dataset of record `record_id` (read without its text).
fn dataset_of(store: &Store, record_id: i64) -> Result<i64> {
    store.dataset_of_record(record_id)?.ok_or(Error::NoRecord(record_id))
}

/// Record `record_id` of a dataset that can be reviewed (see [`reviewable`]).
pub fn reviewable_record(store: &Store, grant: &Grant, record_id: i64) -> Result<Record> {
    let record = record(store, grant, record_id)?;
    reviewable(store, record.dataset_id)?;
    Ok(record)
}

/// A PHI configuration with the confirmed learned terms and context words added.
#[derive(Debug, Clone)]
pub struct Learned {
    pub config: PhiConfig,
    /// Confirmed allow-list terms added.
    pub allow_terms: usize,
    /// Confirmed deny-list terms added.
    pub deny_terms: usize,
}

/// `base` (the project's configuration) plus the confirmed learned terms and context words.
pub fn learned_config(store: &Store, base: PhiConfig) -> Result<Learned> {
    let mut config = base;
    let (mut allow_terms, mut deny_terms) = (0, 0);
    for t in store.terms()?.into_iter().filter(|t| t.confirmed_by.is_some()) {
        match (t.list.as_str(), t.entity.as_deref().and_then(EntityType::parse)) {
            ("allow", _) => {
                config.allow.push(t.term);
                allow_terms += 1;
            }
            ("deny", Some(entity)) => {
                config.deny.push(DenyTerm { term: t.term, entity });
                deny_terms += 1;
            }
            ("context", Some(entity)) => {
                if let Some(words) = localdx_phi::learned::normalise(&t.term) {
                    let term = ContextTerm { words, entity };
                    if !config.context.contains(&term) {
                        config.context.push(term);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Learned { config, allow_terms, deny_terms })
}

/// What a detection run put in the queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detected {
    pub notes: u64,
    /// Notes left alone because they are signed off.
    pub skipped_signed_off: u64,
    /// Spans queued (undecided) by this run.
    pub spans: u64,
    /// Spans detected per type (before the ones overlapping a decision are dropped).
    pub per_type: BTreeMap<String, u64>,
}

/// A detection as the queue keeps it: its score, and why it was found (the explanation the review
/// screen shows: detector, pattern, base score, context word, merged sources).
fn queued(d: &Detection) -> NewSpan {
    NewSpan {
        start: d.span.start,
        end: d.span.end,
        entity: d.entity.as_str().to_owned(),
        score: round3(d.score),
        explanation: json!({
            "detector": d.detector,
            "pattern": d.pattern,
            "baseScore": round3(d.base_score),
            "contextWord": d.context.as_ref().map(|c| c.word.clone()),
            "contextDelta": d.context.as_ref().map(|c| round3(c.delta)),
            "contextLearned": d.context.as_ref().is_some_and(|c| c.learned),
            "merged": d.merged,
            "alsoFoundBy": d.also_found_by,
        }),
    }
}

/// Runs `detect` over every note of `dataset` that is not signed off and queues its spans for
/// review. Inside the caller's transaction, so a cancel (or any error) leaves the queue as it was.
pub fn detect(tx: &Tx<'_>, grant: &Grant, dataset: &Dataset, detect: &dyn Fn(&str) -> Vec<Detection>, reporter: &dyn Reporter, cancel: &Cancel) -> Result<Detected> {
    let mut run = Detected::default();
    let mut meter = Meter::new("detect", "notes", Some(dataset.records), reporter);
    let mut offset = 0;
    loop {
        let records = tx.records(grant, dataset.id, offset, 500, None)?;
        if records.is_empty() {
            break;
        }
        for r in &records {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled("detection cancelled; the review queue is unchanged"));
            }
            run.notes += 1;
            if tx.note_signed_off(r.id)? {
                run.skipped_signed_off += 1;
                continue;
            }
            let spans: Vec<NewSpan> = detect(&r.text).iter().map(queued).collect();
            run.spans += tx.queue_detections(dataset.id, r.id, &spans)?;
            for s in &spans {
                *run.per_type.entry(s.entity.clone()).or_default() += 1;
            }
            meter.tick(run.notes);
        }
        offset += records.len() as u64;
    }
    meter.finish(run.notes);
    Ok(run)
}

/// A note with its spans in text order.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub record: Record,
    pub spans: Vec<ReviewSpan>,
    pub signed_off: bool,
}

/// Note `record_id` with its spans.
pub fn note(store: &Store, grant: &Grant, record_id: i64) -> Result<Note> {
    let record = record(store, grant, record_id)?;
    let spans = store.review_spans(record_id)?;
    let signed_off = store.note_signed_off(record_id)?;
    Ok(Note { record, spans, signed_off })
}

/// `open` with the notes of `least` (a note's lowest undecided score) first, lowest score first
/// (ties by id), then the others in their order.
pub fn uncertain_order(open: Vec<i64>, least: &BTreeMap<i64, f64>) -> Vec<i64> {
    let (mut scored, rest): (Vec<i64>, Vec<i64>) = open.into_iter().partition(|id| least.contains_key(id));
    scored.sort_by(|a, b| least[a].total_cmp(&least[b]).then(a.cmp(b)));
    scored.extend(rest);
    scored
}

/// Notes of a dataset still open (the queue), in id order, or with `uncertain_first` the notes
/// whose least certain undecided detection scores lowest first (detections all passed their
/// threshold, so the lowest scores are the closest calls; a tagger span scores its probability),
/// then the notes with no undecided detection, in id order.
pub fn open_notes(store: &Store, dataset_id: i64, uncertain_first: bool) -> Result<Vec<i64>> {
    reviewable(store, dataset_id)?;
    let open = store.open_notes(dataset_id)?;
    if !uncertain_first {
        return Ok(open);
    }
    let mut least: BTreeMap<i64, f64> = BTreeMap::new();
    for s in store.undecided_spans(dataset_id, None, None)?.into_iter().filter(|s| s.origin == "detected") {
        let e = least.entry(s.record_id).or_insert(f64::INFINITY);
        *e = e.min(s.score);
    }
    Ok(uncertain_order(open, &least))
}

/// Notes signed off and spans per state of a dataset under review.
pub fn counts(store: &Store, dataset_id: i64) -> Result<ReviewCounts> {
    reviewable(store, dataset_id)?;
    Ok(store.review_counts(dataset_id)?)
}

/// Span `span_id` of the queue and the record it is in.
pub fn span(store: &Store, grant: &Grant, span_id: i64) -> Result<(ReviewSpan, Record)> {
    let span = store.review_span(span_id)?.ok_or(Error::NoSpan(span_id))?;
    let record = record(store, grant, span.record_id)?;
    Ok((span, record))
}

/// A decided span, before and after the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub before: ReviewSpan,
    pub after: ReviewSpan,
}

/// Decides on `span` of `record` (refused on a signed-off note). A rejection proposes the span's
/// text for the allow-list.
pub fn decide(tx: &Tx<'_>, span: &ReviewSpan, record: &Record, decision: &Decision, actor: &str) -> Result<Decided> {
    let (before, after) = tx.decide(span.id, decision, &record.text, actor, false)?;
    if matches!(decision, Decision::Reject) {
        let term = record.text.get(before.view.start..before.view.end).unwrap_or_default().trim();
        if !term.is_empty() {
            tx.propose_term("allow", term, None, span.dataset_id, actor)?;
        }
    }
    Ok(Decided { before, after })
}

/// Adds a span the detectors missed to `record` (accepted at once) and returns it; proposes its
/// text for the deny-list and the words right before it as a context word of its type (never
/// words of this or another PHI span of the note; see `localdx_phi::learned::cue_before`).
pub fn add_span(tx: &Tx<'_>, record: &Record, at: Span, entity: EntityType, actor: &str) -> Result<ReviewSpan> {
    let span = tx.add_review_span(record.dataset_id, record.id, &record.text, at.start, at.end, entity.as_str(), actor)?;
    let term = record.text.get(at.start..at.end).unwrap_or_default().trim();
    if !term.is_empty() {
        tx.propose_term("deny", term, Some(entity.as_str()), record.dataset_id, actor)?;
    }
    let phi: Vec<Span> = tx
        .review_spans(record.id)?
        .into_iter()
        .filter(|s| s.id != span.id && s.view.state != SpanState::Rejected)
        .map(|s| Span::new(s.view.start, s.view.end))
        .collect();
    if let Some(words) = localdx_phi::learned::cue_before(&record.text, at, &phi) {
        tx.propose_term("context", &words, Some(entity.as_str()), record.dataset_id, actor)?;
    }
    Ok(span)
}

/// Undoes the newest decision in note `record_id`: the span before the undo and after it (`None`
/// when an added span was removed).
pub fn undo(tx: &Tx<'_>, record_id: i64) -> Result<(ReviewSpan, Option<ReviewSpan>)> {
    dataset_of(tx, record_id)?;
    Ok(tx.undo_review(record_id)?)
}

/// Signs note `record_id` off (refused while a span is undecided, and on a released version).
pub fn sign_off(tx: &Tx<'_>, record_id: i64, actor: &str) -> Result<()> {
    let dataset_id = dataset_of(tx, record_id)?;
    reviewable(tx, dataset_id)?;
    Ok(tx.sign_off(dataset_id, record_id, actor)?)
}

/// Reopens signed-off note `record_id`.
pub fn reopen(tx: &Tx<'_>, record_id: i64) -> Result<()> {
    dataset_of(tx, record_id)?;
    Ok(tx.reopen(record_id)?)
}

/// Confirms learned term `term_id`: the next detection run uses it.
pub fn confirm_term(tx: &Tx<'_>, term_id: i64, actor: &str) -> Result<()> {
    if !tx.confirm_term(term_id, actor)? {
        return Err(Error::NoTerm(term_id));
    }
    Ok(())
}

/// Which undecided spans a bulk accept takes, and what it does after.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulk<'a> {
    /// Only spans of this type (all types when absent).
    pub entity: Option<&'a str>,
    /// Only spans scoring at least this.
    pub min_score: Option<f64>,
    /// Then sign off every note left without undecided spans.
    pub sign_off: bool,
    /// How many accepted spans to draw for a spot check, and the seed of the draw.
    pub spot_check: usize,
    pub seed: u64,
}

/// What a bulk accept did.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOutcome {
    /// Undecided spans matching the filter (those of signed-off notes included, left alone).
    pub undecided: usize,
    /// The spans accepted, in id order.
    pub accepted: Vec<i64>,
    /// The accepted spans drawn for the steward to spot-check.
    pub spot_check: Vec<i64>,
    pub signed_off: u64,
    /// Notes still open (spans below the score, or of other types, undecided).
    pub open_notes: u64,
}

/// Accepts every undecided span of a dataset matching `bulk` as one bulk decision (spans of
/// signed-off notes stay as they are), draws the spot-check sample from the accepted ones, and
/// optionally signs off every note left without undecided spans.
pub fn accept_all(tx: &Tx<'_>, dataset_id: i64, bulk: &Bulk<'_>, actor: &str) -> Result<BulkOutcome> {
    let spans = tx.undecided_spans(dataset_id, bulk.entity, bulk.min_score)?;
    let mut accepted = Vec::with_capacity(spans.len());
    for s in &spans {
        if tx.note_signed_off(s.record_id)? {
            continue;
        }
        tx.decide(s.id, &Decision::Accept, "", actor, true)?;
        accepted.push(s.id);
    }
    let spot_check = sample(&accepted, bulk.spot_check, bulk.seed);
    let mut signed_off = 0;
    if bulk.sign_off {
        for record_id in tx.open_notes(dataset_id)? {
            match tx.sign_off(dataset_id, record_id, actor) {
                Ok(()) => signed_off += 1,
                Err(StoreError::Review(ReviewError::Undecided { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let open_notes = tx.open_notes(dataset_id)?.len() as u64;
    Ok(BulkOutcome { undecided: spans.len(), accepted, spot_check, signed_off, open_notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncertain_notes_come_first_lowest_score_first() {
        let least: BTreeMap<i64, f64> = [(3, 0.9), (5, 0.55), (7, 0.55), (9, 0.99)].into_iter().collect();
        assert_eq!(uncertain_order(vec![1, 3, 5, 7, 8, 9], &least), vec![5, 7, 3, 9, 1, 8]);
        assert_eq!(uncertain_order(vec![2, 4], &BTreeMap::new()), vec![2, 4]);
    }
}
