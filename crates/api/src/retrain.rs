//! Retraining the PHI tagger on the steward's own decisions (`localdx review retrain-detector`,
//! the Review screen's "Retrain detector" button).
//!
//! - **Training examples**: the dataset's signed-off notes that are not gold notes, with the spans
//!   the steward kept, added, re-typed or resized (their final bounds and types). Rejected spans are
//!   what the note's text between the kept ones is: `O`.
//! - **Measuring**: the dataset's gold notes (a signed-off gold sample, or an imported gold file),
//!   never trained on. The union of the rules and the tagger is scored on them with the head in use
//!   and with the new head, through the same `localdx_phi::eval::Scorer` as `phi eval`.
//! - **Keeping**: the new head is kept only when the union's token recall on the gold notes does not
//!   drop. Every version, kept or not, is stored with its figures (`detector_versions`; sealed
//!   with the rest of an encrypted database) and audited; the newest kept one is what detection runs.
//!
//! The job reads every note first, then encodes and trains while holding the workspace (minutes
//! for a few hundred notes); it reports progress in two stages (`encode`, `retrain`) and stops
//! between steps when cancelled, storing nothing.

use crate::detector::Detector;
use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::eval::{GoldNote, GoldSpan, Predicted, Scorer};
use localdx_phi::PhiConfig;
use localdx_span::Span;
use localdx_store::NewDetectorVersion;
use localdx_tagger::train::{self, Example, Options};
use localdx_tagger::{labels, HeadCard, TaggerError};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Optimiser steps a retraining takes at least, whatever the number of notes.
pub const MIN_STEPS: usize = 150;
/// Most epochs a retraining runs (a few short notes would otherwise be seen hundreds of times).
pub const MAX_EPOCHS: usize = 30;

/// Settings of a retraining run on `pieces` labelled pieces: small batches from the head in use,
/// enough epochs for [`MIN_STEPS`] steps (at least 4, at most [`MAX_EPOCHS`]).
pub fn retrain_options(pieces: usize) -> Options {
    let batch = 64;
    let steps_per_epoch = pieces.div_ceil(batch).max(1);
    let epochs = MIN_STEPS.div_ceil(steps_per_epoch).clamp(4, MAX_EPOCHS);
    Options { epochs, batch, ..Options::default() }
}

/// Token figures of the union on the gold notes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoldFiguresDto {
    pub token_recall: f64,
    pub token_precision: f64,
}

/// What a retraining did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetrainDto {
    pub dataset_id: i64,
    /// The stored version (kept or not).
    pub version_id: i64,
    /// The version the run started from (None: the shipped head).
    pub started_from: Option<i64>,
    /// Whether detection now runs the new head.
    pub kept: bool,
    /// Why it was kept or not, in a sentence.
    pub verdict: String,
    /// Signed-off notes trained on, and their spans.
    pub examples: usize,
    pub example_spans: usize,
    /// Signed-off notes held back from training to choose the new head's threshold (every fifth,
    /// when there are at least five; none otherwise, and the head keeps the threshold it started with).
    pub held_back: usize,
    /// The new head's threshold.
    pub threshold: f32,
    /// Gold notes measured on.
    pub gold_notes: usize,
    pub before: GoldFiguresDto,
    pub after: GoldFiguresDto,
    pub epochs: Vec<train::Epoch>,
    pub seconds: f64,
}

/// A stored version, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectorVersionDto {
    pub id: i64,
    pub dataset_id: i64,
    pub examples: u64,
    pub gold_notes: u64,
    pub recall_before: f64,
    pub recall_after: f64,
    pub kept: bool,
    /// Whether detection runs this version now.
    pub active: bool,
    pub created_by: String,
    pub created_at: String,
}

impl From<TaggerError> for ApiError {
    fn from(e: TaggerError) -> Self {
        match e {
            TaggerError::Cancelled => ApiError::new(ErrorCode::Cancelled, "retraining cancelled; nothing was stored"),
            TaggerError::Missing { .. } | TaggerError::Corrupt { .. } => ApiError::new(ErrorCode::Blocked, e.to_string()),
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

impl Api {
    /// Fine-tunes the tagger on the dataset's signed-off notes and keeps it if gold recall holds.
    pub fn review_retrain_detector(&self, dataset_id: i64, reporter: &dyn Reporter, cancel: &Cancel) -> Result<RetrainDto> {
        let store = self.permit(Command::RetrainDetector)?;
        self.reviewable(&store, dataset_id)?;
        let clock = std::time::Instant::now();
        let Some((current, started_from)) = self.active_tagger(&store)? else {
            let why = match &*crate::detector::tagger(&self.layout.models) {
                Err(e) => e.clone(),
                Ok(_) => "the tagger did not load".to_string(),
            };
            return Err(ApiError::new(ErrorCode::Blocked, format!("cannot retrain the PHI tagger: {why}")));
        };

        let gold_notes = store.gold_notes(dataset_id)?;
        let gold_ids: BTreeSet<i64> = gold_notes.iter().map(|g| g.record_id).collect();
        let mut gold = Vec::new();
        for g in &gold_notes {
            let record = store.record(g.record_id)?.ok_or_else(|| ApiError::not_found(format!("no record {}", g.record_id)))?;
            if g.source == "sample" && !store.note_signed_off(g.record_id)? {
                continue;
            }
            let spans = self.gold_spans_of(&store, g, &store.review_spans(g.record_id)?)?;
            gold.push(GoldNote { id: g.record_id.to_string(), patient: record.patient_id.clone().unwrap_or_default(), text: record.text, spans });
        }
        if gold.is_empty() {
            return Err(ApiError::new(
                ErrorCode::Blocked,
                format!("dataset {dataset_id} has no measured gold notes: draw a gold sample (localdx review gold-sample) and sign its notes off, or import a gold file, so that recall can be compared before and after"),
            ));
        }

        // Every fifth signed-off note (by id) is held back to choose the new head's threshold, when
        // there are at least five: the shipped threshold was chosen for the shipped head.
        let signed_off: Vec<i64> = store.signed_off_notes(dataset_id)?.into_iter().filter(|id| !gold_ids.contains(id)).collect();
        let hold_back = signed_off.len() >= 5;
        let (mut examples, mut held) = (Vec::new(), Vec::new());
        for (i, record_id) in signed_off.into_iter().enumerate() {
            let record = store.record(record_id)?.ok_or_else(|| ApiError::not_found(format!("no record {record_id}")))?;
            let kept: Vec<_> = store.review_spans(record_id)?.into_iter().filter(|s| s.view.state.redacts()).collect();
            if hold_back && i % 5 == 4 {
                let spans = kept.iter().map(|s| GoldSpan { span: Span::new(s.view.start, s.view.end), label: s.view.entity.clone() }).collect();
                held.push(GoldNote { id: record_id.to_string(), patient: record.patient_id.clone().unwrap_or_default(), text: record.text, spans });
                continue;
            }
            let spans = kept.iter().map(|s| (Span::new(s.view.start, s.view.end), labels::target(&s.view.entity))).collect();
            examples.push(Example { text: record.text, spans });
        }
        if examples.is_empty() {
            return Err(ApiError::new(
                ErrorCode::Blocked,
                format!("dataset {dataset_id} has no signed-off notes outside its gold notes to learn from: review and sign off notes first"),
            ));
        }
        let example_spans = examples.iter().map(|e| e.spans.len()).sum();

        let mut meter = Meter::new("encode", "notes", Some(examples.len() as u64), reporter);
        let cancelled = || cancel.is_cancelled();
        let mut prepared = Vec::with_capacity(examples.len());
        for (n, ex) in examples.iter().enumerate() {
            if cancelled() {
                return Err(TaggerError::Cancelled.into());
            }
            prepared.extend(train::prepare(current.encoder(), std::slice::from_ref(ex), &|_, _| {})?);
            meter.tick(n as u64 + 1);
        }
        meter.finish(examples.len() as u64);

        let options = retrain_options(prepared.iter().map(|p| p.len()).sum());
        let start = current.head().to_trainable()?;
        let mut meter = Meter::new("retrain", "epochs", Some(options.epochs as u64), reporter);
        meter.finish(0);
        let (head, epochs) = train::train_from(start, &prepared, &[], &options, &|e| reporter.report(&meter.progress(e.epoch as u64)), &cancelled)?;

        let config = self.learned_config(&store)?.0;
        let before = score(&Detector::with_tagger(config.clone(), current.clone(), started_from), &gold);
        let head_bytes = head.to_bytes()?;
        let mut card: HeadCard = current.card().clone();
        card.provenance = json!({
            "retrained_from": started_from.map_or(json!("shipped"), |v| json!(v)),
            "dataset_id": dataset_id,
            "examples": examples.len(),
            "example_spans": example_spans,
            "gold_notes": gold.len(),
            "options": options,
            "epochs": epochs,
            "shipped": current.card().provenance.get("training_files").cloned().unwrap_or_default(),
        });
        let mut new_tagger = Arc::new(localdx_tagger::Tagger::with_encoder(current.encoder_arc(), &head_bytes, card.clone())?);
        if !held.is_empty() {
            let current_union = score(&Detector::with_tagger(config.clone(), current.clone(), started_from), &held);
            let (threshold, search) = choose_new_threshold(&config, &new_tagger, &held, current_union.token_recall)?;
            card.threshold = threshold;
            card.provenance["threshold_search"] = search;
            new_tagger = Arc::new(localdx_tagger::Tagger::with_encoder(current.encoder_arc(), &head_bytes, card.clone())?);
        }
        let after = score(&Detector::with_tagger(config, new_tagger, None), &gold);
        let kept = after.token_recall >= before.token_recall;
        let verdict = if kept {
            format!("kept: gold token recall {:.4} -> {:.4} on {} notes", before.token_recall, after.token_recall, gold.len())
        } else {
            format!("not kept: gold token recall would drop {:.4} -> {:.4} on {} notes; detection keeps the head in use", before.token_recall, after.token_recall, gold.len())
        };
        if cancelled() {
            return Err(TaggerError::Cancelled.into());
        }
        let version = NewDetectorVersion {
            dataset_id,
            head: head_bytes,
            card: serde_json::to_string(&card).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
            examples: examples.len() as u64,
            gold_notes: gold.len() as u64,
            recall_before: before.token_recall,
            recall_after: after.token_recall,
            kept,
            created_by: self.actor().to_string(),
        };
        let version_id = store.atomically(|| -> Result<i64> {
            let id = store.add_detector_version(&version)?;
            self.audit(
                "review.retrain_detector",
                &format!("dataset:{dataset_id}"),
                json!({"version": started_from, "goldRecall": before.token_recall, "goldPrecision": before.token_precision}),
                json!({"version": id, "kept": kept, "examples": examples.len(), "goldNotes": gold.len(), "goldRecall": after.token_recall, "goldPrecision": after.token_precision}),
                "",
            )?;
            Ok(id)
        })?;
        Ok(RetrainDto {
            dataset_id,
            version_id,
            started_from,
            kept,
            verdict,
            examples: examples.len(),
            example_spans,
            held_back: held.len(),
            threshold: card.threshold,
            gold_notes: gold.len(),
            before,
            after,
            epochs,
            seconds: clock.elapsed().as_secs_f64(),
        })
    }

    /// Every retrained version, newest first, and which one detection runs.
    pub fn detector_versions(&self) -> Result<Vec<DetectorVersionDto>> {
        let store = self.permit(Command::ReadQuality)?;
        let active = store.active_detector()?.map(|(v, _)| v.id);
        Ok(store
            .detector_versions()?
            .into_iter()
            .map(|v| DetectorVersionDto {
                id: v.id,
                dataset_id: v.dataset_id,
                examples: v.examples,
                gold_notes: v.gold_notes,
                recall_before: v.recall_before,
                recall_after: v.recall_after,
                kept: v.kept,
                active: Some(v.id) == active,
                created_by: v.created_by,
                created_at: v.created_at,
            })
            .collect())
    }
}

/// The union's token recall and precision on gold notes.
/// The threshold of a retrained head, chosen on the held-back signed-off notes by the rule the
/// shipped head's threshold was chosen by ([`train::choose_threshold`]): the highest threshold at
/// which the union's token recall reaches `goal` (the head in use's recall on the same notes)
/// while keeping 80% of the rules' precision, else the best F2. Each note is encoded once; the
/// grid only re-decodes its probabilities. Returns the threshold and the search, for the card.
fn choose_new_threshold(config: &PhiConfig, tagger: &localdx_tagger::Tagger, held: &[GoldNote], goal: f64) -> Result<(f32, serde_json::Value)> {
    let engine = localdx_phi::Engine::new(config.clone());
    let mut grid: Vec<f32> = (1..=19).rev().map(|step| step as f32 * 0.05).collect();
    grid.splice(0..0, [0.99, 0.97]);
    let mut scorers: Vec<Scorer> = grid.iter().map(|_| Scorer::new(&[])).collect();
    let mut rules = Scorer::new(&[]);
    for note in held {
        let (pieces, probs) = tagger.probabilities(&note.text)?;
        rules.add(note, &engine.detect(&note.text).iter().map(Predicted::from).collect::<Vec<_>>());
        for (scorer, &t) in scorers.iter_mut().zip(&grid) {
            let found = localdx_tagger::decode::decode(&note.text, &pieces, &probs, t);
            scorer.add(note, &engine.detect_with(&note.text, found).iter().map(Predicted::from).collect::<Vec<_>>());
        }
    }
    let rules = rules.finish(0.0);
    let rows: Vec<train::ThresholdRow> = scorers
        .into_iter()
        .zip(&grid)
        .map(|(scorer, &threshold)| {
            let r = scorer.finish(0.0);
            train::ThresholdRow { threshold, union: vec![(r.token_recall, r.token_precision)] }
        })
        .collect();
    let (threshold, rule) = train::choose_threshold(&rows, &[(rules.token_recall, rules.token_precision)], &[goal])
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the threshold grid is empty"))?;
    let search = json!({
        "held_back_notes": held.len(),
        "goal_recall": goal,
        "rules": {"token_recall": rules.token_recall, "token_precision": rules.token_precision},
        "rule": rule,
        "chosen": threshold,
        "grid": rows.iter().map(|r| json!({"threshold": r.threshold, "token_recall": r.union[0].0, "token_precision": r.union[0].1})).collect::<Vec<_>>(),
    });
    Ok((threshold, search))
}

fn score(detector: &Detector, gold: &[GoldNote]) -> GoldFiguresDto {
    let mut scorer = Scorer::new(&[]);
    for note in gold {
        let predicted: Vec<Predicted> = detector.detect(&note.text).iter().map(Predicted::from).collect();
        scorer.add(note, &predicted);
    }
    let r = scorer.finish(0.0);
    GoldFiguresDto { token_recall: r.token_recall, token_precision: r.token_precision }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_notes_get_more_epochs_many_notes_at_least_four() {
        assert_eq!(retrain_options(64 * 10).epochs, 15);
        assert_eq!(retrain_options(10).epochs, MAX_EPOCHS);
        assert_eq!(retrain_options(64 * 1000).epochs, 4);
        assert_eq!(retrain_options(0).epochs, MAX_EPOCHS);
    }
}
