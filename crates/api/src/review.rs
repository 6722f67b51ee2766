//! The steward's review of detected PHI, as the API serves it: run detection on a dataset into the
//! review queue (a cancellable job with progress, in one transaction), read a note with its spans
//! and their explanations, decide on spans (accept, reject, retype, resize, add a missed one,
//! undo), sign notes off, bulk-accept with a random spot-check sample, and confirm what the
//! decisions taught (rejected terms -> allow-list, added spans -> deny-list, the words right before
//! an added span -> context words of its type). Every decision is audited with the span's state
//! before and after (offsets and types, never the note text), in the decision's transaction.
//!
//! Offsets in the DTOs are **char** offsets (with byte offsets beside them), as everywhere in the
//! API. The workflow lives in `localdx-review` (`queue`); its rules (state machine, sign-off) in
//! `localdx-store`; detection in `localdx-phi`. This module checks permissions and arguments,
//! audits and converts.

use crate::datasets::RecordDto;
use crate::Permit;
use crate::{Api, ApiError, Command, Result};
use localdx_job::{Cancel, Reporter};
use localdx_phi::{EntityType, PhiConfig};
use localdx_review::queue::{self, Bulk};
use localdx_span::CharIndex;
use localdx_store::{Decision, ReviewSpan, SpanState};
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

impl Api {
    /// Refuses to review a released version (it is redacted and immutable).
    pub(crate) fn reviewable(&self, store: &Permit<'_>, dataset_id: i64) -> Result<localdx_store::Dataset> {
        Ok(queue::reviewable(store, dataset_id)?)
    }

    /// The project's PHI configuration plus the confirmed learned terms and context words; the
    /// counts are of allow- and deny-list terms.
    pub(crate) fn learned_config(&self, store: &Permit<'_>) -> Result<(PhiConfig, usize, usize)> {
        let learned = queue::learned_config(store, self.phi_config()?)?;
        Ok((learned.config, learned.allow_terms, learned.deny_terms))
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
        let run = localdx_review::atomically(&store, |tx| -> Result<queue::Detected> {
            let run = queue::detect(tx, store.grant(), &ds, &|text| detector.detect(text), reporter, cancel)?;
            self.audit(
                "review.detect",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"notes": run.notes, "spans": run.spans, "perType": run.per_type, "allowTerms": allow_terms, "denyTerms": deny_terms, "contextTerms": context_terms, "detector": detector.dto()}),
                "",
            )?;
            Ok(run)
        })?;
        Ok(DetectSummaryDto {
            dataset_id,
            notes: run.notes,
            skipped_signed_off: run.skipped_signed_off,
            spans: run.spans,
            per_type: run.per_type,
            allow_terms,
            deny_terms,
            context_terms,
            detector: detector.dto(),
        })
    }

    /// A note with its spans (raw text: stewards and admins only).
    pub fn review_note(&self, record_id: i64) -> Result<ReviewNoteDto> {
        let store = self.permit(Command::ReadReview)?;
        let note = queue::note(&store, store.grant(), record_id)?;
        let index = CharIndex::new(&note.record.text);
        let spans: Vec<ReviewSpanDto> = note.spans.into_iter().map(|s| span_dto(&note.record.text, &index, s)).collect();
        let state = if note.signed_off { "signed_off" } else { "open" };
        let undecided = spans.iter().filter(|s| s.state == SpanState::Undecided).count();
        Ok(ReviewNoteDto { record: note.record.into(), state: state.to_owned(), spans, undecided })
    }

    /// Notes of a dataset still open (the queue), in id order, or with `uncertain_first` the least
    /// certain first (see `localdx_review::queue::open_notes`).
    pub fn review_open_notes(&self, dataset_id: i64, uncertain_first: bool) -> Result<Vec<i64>> {
        let store = self.permit(Command::ReadReview)?;
        Ok(queue::open_notes(&store, dataset_id, uncertain_first)?)
    }

    /// Notes signed off and spans per state.
    pub fn review_counts(&self, dataset_id: i64) -> Result<ReviewCountsDto> {
        let store = self.permit(Command::ReadReview)?;
        let c = queue::counts(&store, dataset_id)?;
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
        let (span, record) = queue::span(&store, store.grant(), span_id)?;
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
        let decided = localdx_review::atomically(&store, |tx| -> Result<queue::Decided> {
            let d = queue::decide(tx, &span, &record, &decision, self.actor())?;
            self.audit(action, &format!("span:{span_id}"), audit_view(&d.before), audit_view(&d.after), reason)?;
            Ok(d)
        })?;
        Ok(span_dto(&record.text, &index, decided.after))
    }

    /// Adds a span the detectors missed (char offsets), accepted at once; proposes its text for
    /// the deny-list and the words right before it as a context word of its type (never words of
    /// this or another PHI span of the note; see `localdx_phi::learned::cue_before`).
    pub fn review_add_span(&self, record_id: i64, start: usize, end: usize, type_name: &str, reason: &str) -> Result<ReviewSpanDto> {
        let store = self.permit(Command::DecideSpans)?;
        let record = queue::reviewable_record(&store, store.grant(), record_id)?;
        let entity = entity(type_name)?;
        let index = CharIndex::new(&record.text);
        let b = index.byte_span(start, end).map_err(|e| ApiError::invalid(e.to_string()))?;
        let span = localdx_review::atomically(&store, |tx| -> Result<ReviewSpan> {
            let span = queue::add_span(tx, &record, b, entity, self.actor())?;
            self.audit("review.add", &format!("span:{}", span.id), json!(null), audit_view(&span), reason)?;
            Ok(span)
        })?;
        Ok(span_dto(&record.text, &index, span))
    }

    /// Undoes the newest decision in a note.
    pub fn review_undo(&self, record_id: i64) -> Result<ReviewNoteDto> {
        let store = self.permit(Command::DecideSpans)?;
        localdx_review::atomically(&store, |tx| -> Result<()> {
            let (before, after) = queue::undo(tx, record_id)?;
            self.audit("review.undo", &format!("span:{}", before.id), audit_view(&before), after.as_ref().map_or(json!(null), audit_view), "")
        })?;
        self.review_note(record_id)
    }

    /// Signs a note off (refused while a span is undecided).
    pub fn review_sign_off(&self, record_id: i64) -> Result<()> {
        let store = self.permit(Command::DecideSpans)?;
        localdx_review::atomically(&store, |tx| -> Result<()> {
            queue::sign_off(tx, record_id, self.actor())?;
            self.audit("review.sign_off", &format!("record:{record_id}"), json!({"state": "open"}), json!({"state": "signed_off"}), "")
        })
    }

    /// Reopens a signed-off note.
    pub fn review_reopen(&self, record_id: i64, reason: &str) -> Result<()> {
        let store = self.permit(Command::DecideSpans)?;
        localdx_review::atomically(&store, |tx| -> Result<()> {
            queue::reopen(tx, record_id)?;
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
        let seed = req.seed.unwrap_or_else(localdx_review::fresh_seed);
        let bulk = Bulk { entity: type_name, min_score: req.min_score, sign_off: req.sign_off, spot_check: req.spot_check.unwrap_or(20), seed };
        localdx_review::atomically(&store, |tx| -> Result<BulkResultDto> {
            let done = queue::accept_all(tx, dataset_id, &bulk, self.actor())?;
            self.audit(
                "review.bulk_accept",
                &format!("dataset:{dataset_id}"),
                json!({"undecided": done.undecided}),
                json!({
                    "accepted": done.accepted.len(), "type": type_name, "minScore": req.min_score, "signedOff": done.signed_off,
                    "spotCheck": done.spot_check, "seed": seed,
                }),
                req.reason.as_deref().unwrap_or(""),
            )?;
            Ok(BulkResultDto {
                dataset_id,
                accepted: done.accepted.len() as u64,
                signed_off: done.signed_off,
                open_notes: done.open_notes,
                spot_check: done.spot_check,
                seed,
            })
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
        localdx_review::atomically(&store, |tx| -> Result<()> {
            queue::confirm_term(tx, term_id, self.actor())?;
            self.audit("review.confirm_term", &format!("term:{term_id}"), json!({"confirmed": false}), json!({"confirmed": true}), "")
        })
    }
}
