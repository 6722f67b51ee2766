//! Detector quality measured in the app. A steward draws a seeded random sample of a dataset's notes
//! as gold and reviews them as usual; once signed off, their accepted and added spans are the gold.
//! A gold file in a format `localdx phi eval` reads can also be imported for the notes it matches.
//! [`Api::review_quality`] then compares the detectors' original proposals (as queued, before any
//! decision: the review queue keeps their type, bounds and score) with the gold through
//! `localdx_phi::eval::Scorer`, the same conventions as `localdx phi eval`: recall and precision
//! overall and per type, the misses and the false positives in context.
//!
//! The measuring lives in `localdx_review::gold`; this module checks permissions and arguments,
//! audits and converts.
//!
//! Gold spans are raw PHI: stored in the database only, shown to stewards and admins only
//! (`ManageGold`, `ReadQuality`), never exported; the audit trail records counts and ids, never text.

use crate::Permit;
use crate::{Api, ApiError, Command, Result};
use localdx_phi::eval::GoldSpan;
use localdx_review::gold::{self, Finding, GoldNoteStatus, Quality, TypeQuality};
use serde::Serialize;
use serde_json::json;
use std::path::Path;

/// At most this many misses and false positives are listed (all are counted).
pub use localdx_review::gold::MAX_FINDINGS;

/// A drawn gold sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoldSampleDto {
    pub sample_id: i64,
    pub dataset_id: i64,
    /// The seed of the draw (below 2^53, so it survives JSON numbers).
    pub seed: u64,
    /// The notes drawn (fewer than asked when fewer were left).
    pub record_ids: Vec<i64>,
}

/// What a gold import stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoldImportDto {
    pub dataset_id: i64,
    pub format: String,
    /// Gold notes matched to records of the dataset and stored.
    pub notes: usize,
    pub spans: usize,
    /// Gold notes of the file with no record of that id in the dataset.
    pub unmatched: usize,
    /// The first few unmatched note ids.
    pub unmatched_ids: Vec<String>,
}

/// A gold note and whether it counts yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoldNoteDto {
    pub record_id: i64,
    pub external_id: Option<String>,
    /// `sample` or `import`.
    pub source: String,
    /// `measured`; `open` (a sample note not signed off yet); `undetected` (detection has not run
    /// on it).
    pub status: String,
}

/// Quality of one type: recall of gold spans of this type (`support` of them), precision of the
/// detections of this type (`detected` of them). A gold label the detectors do not produce (an
/// imported file's own labels) has no precision, a type with no gold no recall.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeQualityDto {
    #[serde(rename = "type")]
    pub entity: String,
    pub support: usize,
    pub found: usize,
    pub span_recall: Option<f64>,
    pub token_recall: Option<f64>,
    pub detected: usize,
    pub span_precision: Option<f64>,
    pub token_precision: Option<f64>,
    /// False for labels the format leaves out of the measure.
    pub in_scope: bool,
}

/// A missed gold span or a false positive, with the note text around it (char offsets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityFindingDto {
    pub record_id: i64,
    #[serde(rename = "type")]
    pub entity: String,
    pub text: String,
    pub before: String,
    pub after: String,
    pub start: usize,
    pub end: usize,
    /// For false positives: the detector and pattern, and the score.
    pub pattern: String,
    pub score: f64,
}

/// Detector quality on a dataset's gold notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityDto {
    pub dataset_id: i64,
    /// Gold notes measured.
    pub measured: usize,
    /// Every gold note with its status.
    pub notes: Vec<GoldNoteDto>,
    pub gold_spans: usize,
    pub gold_tokens: usize,
    pub detected_spans: usize,
    pub span_recall: f64,
    pub span_precision: f64,
    pub token_recall: f64,
    pub token_precision: f64,
    pub f2: f64,
    pub per_type: Vec<TypeQualityDto>,
    pub out_of_scope: Vec<String>,
    pub misses_total: usize,
    pub misses: Vec<QualityFindingDto>,
    pub false_positives_total: usize,
    /// Detections that overlap no gold span (in a sample: the ones the steward rejected).
    pub false_positives: Vec<QualityFindingDto>,
}

impl From<GoldNoteStatus> for GoldNoteDto {
    fn from(n: GoldNoteStatus) -> Self {
        GoldNoteDto { record_id: n.record_id, external_id: n.external_id, source: n.source, status: n.status.as_str().to_owned() }
    }
}

impl From<TypeQuality> for TypeQualityDto {
    fn from(t: TypeQuality) -> Self {
        TypeQualityDto {
            entity: t.entity,
            support: t.support,
            found: t.found,
            span_recall: t.span_recall,
            token_recall: t.token_recall,
            detected: t.detected,
            span_precision: t.span_precision,
            token_precision: t.token_precision,
            in_scope: t.in_scope,
        }
    }
}

impl From<Finding> for QualityFindingDto {
    fn from(f: Finding) -> Self {
        QualityFindingDto {
            record_id: f.record_id,
            entity: f.entity,
            text: f.text,
            before: f.before,
            after: f.after,
            start: f.start,
            end: f.end,
            pattern: f.pattern,
            score: f.score,
        }
    }
}

impl QualityDto {
    fn new(dataset_id: i64, q: Quality) -> Self {
        QualityDto {
            dataset_id,
            measured: q.measured,
            notes: q.notes.into_iter().map(GoldNoteDto::from).collect(),
            gold_spans: q.gold_spans,
            gold_tokens: q.gold_tokens,
            detected_spans: q.detected_spans,
            span_recall: q.span_recall,
            span_precision: q.span_precision,
            token_recall: q.token_recall,
            token_precision: q.token_precision,
            f2: q.f2,
            per_type: q.per_type.into_iter().map(TypeQualityDto::from).collect(),
            out_of_scope: q.out_of_scope,
            misses_total: q.misses_total,
            misses: q.misses.into_iter().map(QualityFindingDto::from).collect(),
            false_positives_total: q.false_positives_total,
            false_positives: q.false_positives.into_iter().map(QualityFindingDto::from).collect(),
        }
    }
}

impl Api {
    /// Draws `size` notes of a dataset not yet gold, at random with `seed` (fresh when absent), as
    /// a gold sample for the steward to review. Stored and audited with the seed and the ids.
    pub fn gold_sample(&self, dataset_id: i64, size: usize, seed: Option<u64>) -> Result<GoldSampleDto> {
        let store = self.permit(Command::ManageGold)?;
        self.reviewable(&store, dataset_id)?;
        if size == 0 {
            return Err(ApiError::invalid("a gold sample needs at least 1 note (--size)"));
        }
        // below 2^53, so the seed survives JSON numbers
        let seed = seed.unwrap_or_else(|| localdx_review::fresh_seed() & ((1 << 53) - 1));
        localdx_review::atomically(&store, |tx| -> Result<GoldSampleDto> {
            let drawn = gold::draw(tx, dataset_id, size, seed, self.actor())?;
            self.audit(
                "gold.sample",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"sample": drawn.sample_id, "asked": size, "drawn": drawn.record_ids.len(), "seed": seed, "records": drawn.record_ids}),
                "",
            )?;
            Ok(GoldSampleDto { sample_id: drawn.sample_id, dataset_id, seed, record_ids: drawn.record_ids })
        })
    }

    /// Imports a gold file (`deid-jsonl` or `presidio-json`, as `localdx phi eval --gold` reads)
    /// as the gold of the dataset's notes it names: a file note matches the record whose id is the
    /// note's id, or whose patient and id make it (`PATIENT-NOTE`, as PhysioNet's ids are read).
    /// A matched note whose text differs from the record's is refused (the offsets would point
    /// elsewhere). One transaction, audited with counts.
    pub fn gold_import(&self, dataset_id: i64, path: &Path, format: &str) -> Result<GoldImportDto> {
        let store = self.permit(Command::ManageGold)?;
        self.reviewable(&store, dataset_id)?;
        let gold_format = gold::format(format)?;
        let import = gold::read_import(&store, store.grant(), dataset_id, path, gold_format)?;
        localdx_review::atomically(&store, |tx| -> Result<()> {
            gold::store_import(tx, dataset_id, &import, format, self.actor())?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            self.audit(
                "gold.import",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"file": file, "format": format, "notes": import.notes.len(), "spans": import.spans, "unmatched": import.unmatched}),
                "",
            )
        })?;
        Ok(GoldImportDto {
            dataset_id,
            format: format.to_owned(),
            notes: import.notes.len(),
            spans: import.spans,
            unmatched: import.unmatched,
            unmatched_ids: import.unmatched_ids,
        })
    }

    /// The gold of a gold note: for a sample note, the spans the steward kept or added in
    /// `review` (its review spans), with their final bounds and types; for an imported note, the
    /// file's stored spans.
    pub(crate) fn gold_spans_of(&self, store: &Permit<'_>, g: &localdx_store::GoldNote, review: &[localdx_store::ReviewSpan]) -> Result<Vec<GoldSpan>> {
        Ok(gold::gold_spans(store, g, review)?)
    }

    /// Detector quality on the dataset's gold notes: signed-off sample notes (gold = the spans the
    /// steward kept or added, with their final bounds and types) and imported notes that detection
    /// has run on (gold = the file's spans), against the original detections of each note.
    pub fn review_quality(&self, dataset_id: i64) -> Result<QualityDto> {
        let store = self.permit(Command::ReadQuality)?;
        Ok(QualityDto::new(dataset_id, gold::quality(&store, store.grant(), dataset_id)?))
    }
}
