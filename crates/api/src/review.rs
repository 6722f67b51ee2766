//! The steward's review of detected PHI: run detection on a dataset into the review queue (a
//! cancellable job with progress, in one transaction), read a note with its spans and their
//! explanations, decide on spans (accept, reject, retype, resize, add a missed one, undo), sign
//! notes off, bulk-accept with a random spot-check sample, and confirm what the decisions taught
//! (rejected terms -> allow-list, added spans -> deny-list, the words right before an added span ->
//! context words of its type). Every decision is audited with the
//! span's state before and after (offsets and types, never the note text).
//!
//! Offsets in the DTOs are **char** offsets (with byte offsets beside them), as everywhere in the
//! API. The rules (state machine, sign-off) live in `localdx-store`; detection in `localdx-phi`.

use crate::Permit;
use crate::datasets::RecordDto;
use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::{ContextTerm, DenyTerm, EntityType, PhiConfig};
use localdx_span::CharIndex;
use localdx_store::{Decision, NewSpan, Record, ReviewSpan, SpanState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// What a detection run put in the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectSummaryDto {
    pub dataset_id: i64,
    pub notes: u64,
    /// Notes left alone because they are signed off.
    pub skipped_signed_off: u64,
    /// Spans queued (undecided) by this run.
    pub spans: u64,
    pub per_type: BTreeMap<String, u64>,
    /// Learned terms the run used (confirmed allow- and deny-list entries).
    pub allow_terms: usize,
    pub deny_terms: usize,
    /// Context words the run used (learned and confirmed, or in the configuration).
    pub context_terms: usize,
    /// Which detectors ran (rules, and the tagger when its encoder is installed), and why one did not.
    pub detector: crate::detector::DetectorDto,
}

/// One span in review. `start`/`end` are char offsets of the span as it stands (after a resize);
/// `type` is its type as it stands (after a retype).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewSpanDto {
    pub id: i64,
    pub record_id: i64,
    /// `detected` or `added`.
    pub origin: String,
    pub state: SpanState,
    pub start: usize,
    pub end: usize,
    pub byte_start: usize,
    pub byte_end: usize,
    #[serde(rename = "type")]
    pub entity: String,
    pub detected_type: String,
    pub score: f64,
    pub text: String,
    /// Detector, pattern, base score, context word: why it was found.
    pub explanation: serde_json::Value,
    pub decided_by: Option<String>,
}

/// A note with its spans, for the review screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewNoteDto {
    pub record: RecordDto,
    /// `open` or `signed_off`.
    pub state: String,
    pub spans: Vec<ReviewSpanDto>,
    pub undecided: usize,
}

/// A decision as the UI and the CLI send it; offsets of `resize` are char offsets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DecisionDto {
    Accept,
    Reject,
    Retype {
        #[serde(rename = "type")]
        entity: String,
    },
    Resize {
        start: usize,
        end: usize,
    },
}

/// Review progress of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewCountsDto {
    pub dataset_id: i64,
    pub notes: u64,
    pub signed_off: u64,
    pub spans: BTreeMap<String, u64>,
}

/// A bulk accept: every undecided span (of one type, at least a score) in a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BulkAcceptDto {
    /// Only spans of this type (all types when absent).
    #[serde(rename = "type")]
    pub entity: Option<String>,
    /// Only spans scoring at least this.
    pub min_score: Option<f64>,
    /// Then sign off every note left without undecided spans.
    pub sign_off: bool,
    /// How many accepted spans to draw at random for a spot check (default 20).
    pub spot_check: Option<usize>,
    /// Seed of the draw (default: fresh randomness); recorded in the audit trail either way.
    pub seed: Option<u64>,
    pub reason: Option<String>,
}

/// What a bulk accept did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkResultDto {
    pub dataset_id: i64,
    pub accepted: u64,
    pub signed_off: u64,
    /// Notes still open (spans below the score, or of other types, undecided).
    pub open_notes: u64,
    /// Span ids drawn for the steward to spot-check.
    pub spot_check: Vec<i64>,
    pub seed: u64,
}

/// A learned term.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TermDto {
    pub id: i64,
    /// `allow` (rejected as not PHI), `deny` (added as missed PHI) or `context` (the words right
    /// before an added span; `type` is the span's type).
    pub list: String,
    pub term: String,
    #[serde(rename = "type")]
    pub entity: Option<String>,
    pub dataset_id: Option<i64>,
    pub proposed_by: String,
    pub confirmed: bool,
}

fn span_dto(text: &str, index: &CharIndex, s: ReviewSpan) -> ReviewSpanDto {
    let (start, end) = index.char_span(localdx_span::Span::new(s.view.start, s.view.end));
    ReviewSpanDto {
        id: s.id,
        record_id: s.record_id,
        origin: s.origin,
        state: s.view.state,
        start,
        end,
        byte_start: s.view.start,
        byte_end: s.view.end,
        entity: s.view.entity,
        detected_type: s.entity,
        score: s.score,
        text: text.get(s.view.start..s.view.end).unwrap_or_default().to_owned(),
        explanation: s.explanation,
        decided_by: s.decided_by,
    }
}

/// The span as audited: offsets and types, never the text.
fn audit_view(s: &ReviewSpan) -> serde_json::Value {
    json!({"state": s.view.state, "start": s.view.start, "end": s.view.end, "type": s.view.entity, "record": s.record_id})
}

fn entity(name: &str) -> Result<EntityType> {
    EntityType::parse(name).ok_or_else(|| ApiError::invalid(format!("unknown PHI type {name:?}")))
}

/// A seed from the operating system's randomly keyed hasher.
pub(crate) fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

/// `k` distinct items of `items` drawn uniformly with `seed` (partial Fisher-Yates over SplitMix64).
/// `open` with the notes of `least` (a note's lowest undecided score) first, lowest score first
/// (ties by id), then the others in their order.
pub fn uncertain_order(open: Vec<i64>, least: &BTreeMap<i64, f64>) -> Vec<i64> {
    let (mut scored, rest): (Vec<i64>, Vec<i64>) = open.into_iter().partition(|id| least.contains_key(id));
    scored.sort_by(|a, b| least[a].total_cmp(&least[b]).then(a.cmp(b)));
    scored.extend(rest);
    scored
}

pub fn sample(items: &[i64], k: usize, seed: u64) -> Vec<i64> {
    let mut pool = items.to_vec();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let k = k.min(pool.len());
    for i in 0..k {
        let j = i + (next() % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort_unstable();
    pool
}

impl Api {
    fn record_or_404(&self, store: &Permit<'_>, record_id: i64) -> Result<Record> {
        store.record(record_id)?.ok_or_else(|| ApiError::not_found(format!("no record {record_id}")))
    }

    /// Refuses to review a released version (it is redacted and immutable).
    pub(crate) fn reviewable(&self, store: &Permit<'_>, dataset_id: i64) -> Result<localdx_store::Dataset> {
        let ds = store.dataset(dataset_id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {dataset_id}")))?;
        if store.release_of_version(dataset_id)?.is_some() {
            return Err(ApiError::invalid(format!("dataset {dataset_id} is a released version; review its source dataset")));
        }
        Ok(ds)
    }

    /// The project's PHI configuration plus the confirmed learned terms and context words; the
    /// counts are of allow- and deny-list terms.
    pub(crate) fn learned_config(&self, store: &Permit<'_>) -> Result<(PhiConfig, usize, usize)> {
        let mut config = self.phi_config()?;
        let (mut allow, mut deny) = (0, 0);
        for t in store.terms()?.into_iter().filter(|t| t.confirmed_by.is_some()) {
            match (t.list.as_str(), t.entity.as_deref().and_then(EntityType::parse)) {
                ("allow", _) => {
                    config.allow.push(t.term);
                    allow += 1;
                }
                ("deny", Some(entity)) => {
                    config.deny.push(DenyTerm { term: t.term, entity });
                    deny += 1;
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
        Ok((config, allow, deny))
    }

    /// Runs detection over every note of a dataset that is not signed off and queues the spans
    /// for review (replacing undecided detections of an earlier run; decisions stand). One
    /// transaction: a cancel leaves the queue as it was.
    pub fn review_detect(&self, dataset_id: i64, reporter: &dyn Reporter, cancel: &Cancel) -> Result<DetectSummaryDto> {
        let store = self.permit(Command::DetectPhi)?;
        self.check(Command::DecideSpans)?;
        let ds = self.reviewable(&store, dataset_id)?;
        let (config, allow_terms, deny_terms) = self.learned_config(&store)?;
        let context_terms = config.context.len();
        let detector = self.detector_for(&store, config)?;
        let mut summary = DetectSummaryDto {
            dataset_id,
            notes: 0,
            skipped_signed_off: 0,
            spans: 0,
            per_type: BTreeMap::new(),
            allow_terms,
            deny_terms,
            context_terms,
            detector: detector.dto(),
        };
        store.atomically(|| -> Result<()> {
            let mut meter = Meter::new("detect", "notes", Some(ds.records), reporter);
            let mut offset = 0;
            loop {
                let records = store.records(dataset_id, offset, 500, None)?;
                if records.is_empty() {
                    break;
                }
                for r in &records {
                    if cancel.is_cancelled() {
                        return Err(ApiError::new(ErrorCode::Cancelled, "detection cancelled; the review queue is unchanged"));
                    }
                    summary.notes += 1;
                    if store.note_signed_off(r.id)? {
                        summary.skipped_signed_off += 1;
                        continue;
                    }
                    let spans: Vec<NewSpan> = detector
                        .detect(&r.text)
                        .iter()
                        .map(|d| NewSpan {
                            start: d.span.start,
                            end: d.span.end,
                            entity: d.entity.as_str().to_owned(),
                            score: (d.score as f64 * 1000.0).round() / 1000.0,
                            explanation: json!({
                                "detector": d.detector,
                                "pattern": d.pattern,
                                "baseScore": (d.base_score as f64 * 1000.0).round() / 1000.0,
                                "contextWord": d.context.as_ref().map(|c| c.word.clone()),
                                "contextDelta": d.context.as_ref().map(|c| (c.delta as f64 * 1000.0).round() / 1000.0),
                                "contextLearned": d.context.as_ref().is_some_and(|c| c.learned),
                                "merged": d.merged,
                                "alsoFoundBy": d.also_found_by,
                            }),
                        })
                        .collect();
                    let queued = store.queue_detections(dataset_id, r.id, &spans)?;
                    summary.spans += queued;
                    for s in &spans {
                        *summary.per_type.entry(s.entity.clone()).or_default() += 1;
                    }
                    meter.tick(summary.notes);
                }
                offset += records.len() as u64;
            }
            meter.finish(summary.notes);
            summary.detector = detector.dto();
            self.audit(
                "review.detect",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"notes": summary.notes, "spans": summary.spans, "perType": summary.per_type, "allowTerms": allow_terms, "denyTerms": deny_terms, "contextTerms": context_terms, "detector": summary.detector}),
                "",
            )
        })?;
        Ok(summary)
    }

    /// A note with its spans (raw text: stewards and admins only).
    pub fn review_note(&self, record_id: i64) -> Result<ReviewNoteDto> {
        let store = self.permit(Command::ReadReview)?;
        let record = self.record_or_404(&store, record_id)?;
        let index = CharIndex::new(&record.text);
        let spans: Vec<ReviewSpanDto> = store.review_spans(record_id)?.into_iter().map(|s| span_dto(&record.text, &index, s)).collect();
        let state = if store.note_signed_off(record_id)? { "signed_off" } else { "open" };
        let undecided = spans.iter().filter(|s| s.state == SpanState::Undecided).count();
        Ok(ReviewNoteDto { record: record.into(), state: state.to_owned(), spans, undecided })
    }

    /// Notes of a dataset still open (the queue), in id order, or with `uncertain_first` the notes
    /// whose least certain undecided detection scores lowest first (detections all passed their
    /// threshold, so the lowest scores are the closest calls; a tagger span scores its probability),
    /// then the notes with no undecided detection, in id order.
    pub fn review_open_notes(&self, dataset_id: i64, uncertain_first: bool) -> Result<Vec<i64>> {
        let store = self.permit(Command::ReadReview)?;
        self.reviewable(&store, dataset_id)?;
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

    /// Notes signed off and spans per state.
    pub fn review_counts(&self, dataset_id: i64) -> Result<ReviewCountsDto> {
        let store = self.permit(Command::ReadReview)?;
        self.reviewable(&store, dataset_id)?;
        let c = store.review_counts(dataset_id)?;
        Ok(ReviewCountsDto {
            dataset_id,
            notes: c.notes,
            signed_off: c.signed_off,
            spans: c.spans.into_iter().map(|(s, n)| (s.as_str().to_owned(), n)).collect(),
        })
    }

    /// Decides on one span. A rejection proposes the span's text for the allow-list.
    pub fn review_decide(&self, span_id: i64, decision: &DecisionDto, reason: &str) -> Result<ReviewSpanDto> {
        let store = self.permit(Command::DecideSpans)?;
        let span = store.review_span(span_id)?.ok_or_else(|| ApiError::not_found(format!("no span {span_id} in review")))?;
        let record = self.record_or_404(&store, span.record_id)?;
        let index = CharIndex::new(&record.text);
        let (decision, action) = match decision {
            DecisionDto::Accept => (Decision::Accept, "review.accept"),
            DecisionDto::Reject => (Decision::Reject, "review.reject"),
            DecisionDto::Retype { entity: e } => (Decision::Retype { entity: entity(e)?.as_str().to_owned() }, "review.retype"),
            DecisionDto::Resize { start, end } => {
                let b = index.byte_span(*start, *end).map_err(|e| ApiError::invalid(e.to_string()))?;
                (Decision::Resize { start: b.start, end: b.end }, "review.resize")
            }
        };
        let after = store.atomically(|| -> Result<ReviewSpan> {
            let (before, after) = store.decide(span_id, &decision, &record.text, self.actor(), false)?;
            self.audit(action, &format!("span:{span_id}"), audit_view(&before), audit_view(&after), reason)?;
            if matches!(decision, Decision::Reject) {
                let term = record.text.get(before.view.start..before.view.end).unwrap_or_default().trim();
                if !term.is_empty() {
                    store.propose_term("allow", term, None, span.dataset_id, self.actor())?;
                }
            }
            Ok(after)
        })?;
        Ok(span_dto(&record.text, &index, after))
    }

    /// Adds a span the detectors missed (char offsets), accepted at once; proposes its text for
    /// the deny-list and the words right before it as a context word of its type (never words of
    /// this or another PHI span of the note; see `localdx_phi::learned::cue_before`).
    pub fn review_add_span(&self, record_id: i64, start: usize, end: usize, type_name: &str, reason: &str) -> Result<ReviewSpanDto> {
        let store = self.permit(Command::DecideSpans)?;
        let record = self.record_or_404(&store, record_id)?;
        self.reviewable(&store, record.dataset_id)?;
        let entity = entity(type_name)?;
        let index = CharIndex::new(&record.text);
        let b = index.byte_span(start, end).map_err(|e| ApiError::invalid(e.to_string()))?;
        let span = store.atomically(|| -> Result<ReviewSpan> {
            let span = store.add_review_span(record.dataset_id, record_id, &record.text, b.start, b.end, entity.as_str(), self.actor())?;
            self.audit("review.add", &format!("span:{}", span.id), json!(null), audit_view(&span), reason)?;
            let term = record.text.get(b.start..b.end).unwrap_or_default().trim();
            if !term.is_empty() {
                store.propose_term("deny", term, Some(entity.as_str()), record.dataset_id, self.actor())?;
            }
            let phi: Vec<localdx_span::Span> = store
                .review_spans(record_id)?
                .into_iter()
                .filter(|s| s.id != span.id && s.view.state != SpanState::Rejected)
                .map(|s| localdx_span::Span::new(s.view.start, s.view.end))
                .collect();
            if let Some(words) = localdx_phi::learned::cue_before(&record.text, b, &phi) {
                store.propose_term("context", &words, Some(entity.as_str()), record.dataset_id, self.actor())?;
            }
            Ok(span)
        })?;
        Ok(span_dto(&record.text, &index, span))
    }

    /// Undoes the newest decision in a note.
    pub fn review_undo(&self, record_id: i64) -> Result<ReviewNoteDto> {
        let store = self.permit(Command::DecideSpans)?;
        self.record_or_404(&store, record_id)?;
        store.atomically(|| -> Result<()> {
            let (before, after) = store.undo_review(record_id)?;
            self.audit("review.undo", &format!("span:{}", before.id), audit_view(&before), after.as_ref().map_or(json!(null), audit_view), "")
        })?;
        self.review_note(record_id)
    }

    /// Signs a note off (refused while a span is undecided).
    pub fn review_sign_off(&self, record_id: i64) -> Result<()> {
        let store = self.permit(Command::DecideSpans)?;
        let record = self.record_or_404(&store, record_id)?;
        self.reviewable(&store, record.dataset_id)?;
        store.atomically(|| -> Result<()> {
            store.sign_off(record.dataset_id, record_id, self.actor())?;
            self.audit("review.sign_off", &format!("record:{record_id}"), json!({"state": "open"}), json!({"state": "signed_off"}), "")
        })
    }

    /// Reopens a signed-off note.
    pub fn review_reopen(&self, record_id: i64, reason: &str) -> Result<()> {
        let store = self.permit(Command::DecideSpans)?;
        self.record_or_404(&store, record_id)?;
        store.atomically(|| -> Result<()> {
            store.reopen(record_id)?;
            self.audit("review.reopen", &format!("record:{record_id}"), json!({"state": "signed_off"}), json!({"state": "open"}), reason)
        })
    }

    /// Accepts every undecided span of a dataset matching the filter as one bulk decision, audited
    /// once with the count, the filter and a random spot-check sample of the accepted spans;
    /// optionally signs off every note left without undecided spans. One transaction.
    pub fn review_accept_all(&self, dataset_id: i64, req: &BulkAcceptDto) -> Result<BulkResultDto> {
        let store = self.permit(Command::DecideSpans)?;
        self.reviewable(&store, dataset_id)?;
        let type_name = req.entity.as_deref().map(entity).transpose()?.map(|e| e.as_str());
        if let Some(s) = req.min_score {
            if !(0.0..=1.0).contains(&s) {
                return Err(ApiError::invalid("--min-score must be between 0 and 1"));
            }
        }
        let seed = req.seed.unwrap_or_else(fresh_seed);
        store.atomically(|| -> Result<BulkResultDto> {
            let spans = store.undecided_spans(dataset_id, type_name, req.min_score)?;
            let mut ids = Vec::with_capacity(spans.len());
            for s in &spans {
                if store.note_signed_off(s.record_id)? {
                    continue;
                }
                store.decide(s.id, &Decision::Accept, "", self.actor(), true)?;
                ids.push(s.id);
            }
            let spot_check = sample(&ids, req.spot_check.unwrap_or(20), seed);
            let mut signed_off = 0;
            if req.sign_off {
                for record_id in store.open_notes(dataset_id)? {
                    match store.sign_off(dataset_id, record_id, self.actor()) {
                        Ok(()) => signed_off += 1,
                        Err(localdx_store::StoreError::Review(localdx_store::ReviewError::Undecided { .. })) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let open_notes = store.open_notes(dataset_id)?.len() as u64;
            self.audit(
                "review.bulk_accept",
                &format!("dataset:{dataset_id}"),
                json!({"undecided": spans.len()}),
                json!({
                    "accepted": ids.len(), "type": type_name, "minScore": req.min_score, "signedOff": signed_off,
                    "spotCheck": spot_check, "seed": seed,
                }),
                req.reason.as_deref().unwrap_or(""),
            )?;
            Ok(BulkResultDto { dataset_id, accepted: ids.len() as u64, signed_off, open_notes, spot_check, seed })
        })
    }

    /// Learned terms, oldest first.
    pub fn review_terms(&self) -> Result<Vec<TermDto>> {
        let store = self.permit(Command::ReadReview)?;
        Ok(store
            .terms()?
            .into_iter()
            .map(|t| TermDto {
                id: t.id,
                list: t.list,
                term: t.term,
                entity: t.entity,
                dataset_id: t.dataset_id,
                proposed_by: t.proposed_by,
                confirmed: t.confirmed_by.is_some(),
            })
            .collect())
    }

    /// Confirms a learned term or context word: the next detection run uses it.
    pub fn review_confirm_term(&self, term_id: i64) -> Result<()> {
        let store = self.permit(Command::ConfirmTerms)?;
        store.atomically(|| -> Result<()> {
            if !store.confirm_term(term_id, self.actor())? {
                return Err(ApiError::not_found(format!("no learned term {term_id}")));
            }
            self.audit("review.confirm_term", &format!("term:{term_id}"), json!({"confirmed": false}), json!({"confirmed": true}), "")
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn uncertain_notes_come_first_lowest_score_first() {
        let least: BTreeMap<i64, f64> = [(3, 0.9), (5, 0.55), (7, 0.55), (9, 0.99)].into_iter().collect();
        assert_eq!(uncertain_order(vec![1, 3, 5, 7, 8, 9], &least), vec![5, 7, 3, 9, 1, 8]);
        assert_eq!(uncertain_order(vec![2, 4], &BTreeMap::new()), vec![2, 4]);
    }
    use super::*;

    #[test]
    fn spot_check_samples_are_distinct_seeded_and_bounded() {
        let ids: Vec<i64> = (1..=100).collect();
        let a = sample(&ids, 10, 7);
        assert_eq!(a.len(), 10);
        assert_eq!(a, sample(&ids, 10, 7), "same seed, same sample");
        assert_ne!(a, sample(&ids, 10, 8), "another seed, another sample");
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert!(a.iter().all(|x| ids.contains(x)));
        assert_eq!(sample(&ids[..3], 10, 1), vec![1, 2, 3], "never more than there is");
        assert!(sample(&[], 5, 1).is_empty());
    }
}
