//! Detector quality measured in the app. A steward draws a seeded random sample of a dataset's notes
//! as gold and reviews them as usual; once signed off, their accepted and added spans are the gold.
//! A gold file in a format `localdx phi eval` reads can also be imported for the notes it matches.
//! [`Api::review_quality`] then compares the detectors' original proposals (as queued, before any
//! decision: the review queue keeps their type, bounds and score) with the gold through
//! `localdx_phi::eval::Scorer`, the same conventions as `localdx phi eval`: recall and precision
//! overall and per type, the misses and the false positives in context.
//!
//! Gold spans are raw PHI: stored in the database only, shown to stewards and admins only
//! (`ManageGold`, `ReadQuality`), never exported; the audit trail records counts and ids, never text.

use crate::Permit;
use crate::review::{fresh_seed, sample};
use crate::{Api, ApiError, Command, Result};
use localdx_phi::eval::{self, GoldFormat, GoldNote, GoldSpan, Predicted, Scorer};
use localdx_span::{CharIndex, Span};
use localdx_store::{GoldSpanRow, Record};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// At most this many misses and false positives are listed (all are counted).
pub const MAX_FINDINGS: usize = 1000;

/// Chars of note text shown on each side of a finding.
const CONTEXT_CHARS: usize = 40;

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

fn format_of(name: &str) -> Result<GoldFormat> {
    GoldFormat::parse(name).ok_or_else(|| ApiError::invalid(format!("unknown gold format {name:?} (deid-jsonl, presidio-json)")))
}

/// The chars of `text` up to `n` before byte `at` (or after, when `forward`), on one line.
fn excerpt(text: &str, at: usize, n: usize, forward: bool) -> String {
    let s: String = if forward {
        text[at..].chars().take(n).collect()
    } else {
        let mut v: Vec<char> = text[..at].chars().rev().take(n).collect();
        v.reverse();
        v.into_iter().collect()
    };
    s.replace(['\n', '\r', '\t'], " ")
}

fn finding(records: &HashMap<i64, &Record>, f: eval::Finding) -> Option<QualityFindingDto> {
    let record_id: i64 = f.note.parse().ok()?;
    let text = &records.get(&record_id)?.text;
    let (start, end) = CharIndex::new(text).char_span(f.span);
    Some(QualityFindingDto {
        record_id,
        entity: f.label,
        text: f.text,
        before: excerpt(text, f.span.start, CONTEXT_CHARS, false),
        after: excerpt(text, f.span.end, CONTEXT_CHARS, true),
        start,
        end,
        pattern: f.pattern,
        score: (f.score as f64 * 1000.0).round() / 1000.0,
    })
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
        let seed = seed.unwrap_or_else(|| fresh_seed() & ((1 << 53) - 1));
        store.atomically(|| -> Result<GoldSampleDto> {
            let candidates = store.gold_candidates(dataset_id)?;
            if candidates.is_empty() {
                return Err(ApiError::invalid(format!("every note of dataset {dataset_id} is already a gold note")));
            }
            let record_ids = sample(&candidates, size, seed);
            let sample_id = store.add_gold_sample(dataset_id, seed, &record_ids, self.actor())?;
            self.audit(
                "gold.sample",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"sample": sample_id, "asked": size, "drawn": record_ids.len(), "seed": seed, "records": record_ids}),
                "",
            )?;
            Ok(GoldSampleDto { sample_id, dataset_id, seed, record_ids })
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
        let gold_format = format_of(format)?;
        let notes = eval::read_gold(path, gold_format)?;
        let records = store.records(dataset_id, 0, u64::MAX, None)?;
        let mut by_id: HashMap<String, &Record> = HashMap::new();
        for r in &records {
            if let Some(x) = &r.external_id {
                if let Some(p) = &r.patient_id {
                    by_id.entry(format!("{p}-{x}")).or_insert(r);
                }
                by_id.entry(x.clone()).or_insert(r);
            }
        }
        let mut matched: Vec<(&Record, Vec<GoldSpanRow>)> = Vec::new();
        let mut unmatched_ids = Vec::new();
        let mut unmatched = 0;
        for (i, n) in notes.iter().enumerate() {
            let Some(&r) = by_id.get(&n.id) else {
                unmatched += 1;
                if unmatched_ids.len() < 10 {
                    unmatched_ids.push(n.id.clone());
                }
                continue;
            };
            if r.text != n.text {
                return Err(ApiError::invalid(format!(
                    "{}: gold note {} (note {} of the file) has another text than record {} of dataset {dataset_id}; import the gold file's own notes",
                    path.display(),
                    n.id,
                    i + 1,
                    r.id
                )));
            }
            matched.push((r, n.spans.iter().map(|g| GoldSpanRow { start: g.span.start, end: g.span.end, label: g.label.clone() }).collect()));
        }
        if matched.is_empty() {
            return Err(ApiError::invalid(format!("{}: no note of the file matches a record id of dataset {dataset_id}", path.display())));
        }
        let spans: usize = matched.iter().map(|(_, s)| s.len()).sum();
        store.atomically(|| -> Result<()> {
            for (r, s) in &matched {
                store.set_imported_gold(dataset_id, r.id, format, s, self.actor())?;
            }
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            self.audit(
                "gold.import",
                &format!("dataset:{dataset_id}"),
                json!(null),
                json!({"file": file, "format": format, "notes": matched.len(), "spans": spans, "unmatched": unmatched}),
                "",
            )
        })?;
        Ok(GoldImportDto { dataset_id, format: format.to_owned(), notes: matched.len(), spans, unmatched, unmatched_ids })
    }

    /// The gold of a gold note: for a sample note, the spans the steward kept or added in
    /// `review` (its review spans), with their final bounds and types; for an imported note, the
    /// file's stored spans.
    pub(crate) fn gold_spans_of(&self, store: &Permit<'_>, g: &localdx_store::GoldNote, review: &[localdx_store::ReviewSpan]) -> Result<Vec<GoldSpan>> {
        Ok(if g.source == "sample" {
            review
                .iter()
                .filter(|s| s.view.state.redacts())
                .map(|s| GoldSpan { span: Span::new(s.view.start, s.view.end), label: s.view.entity.clone() })
                .collect()
        } else {
            store.gold_spans(g.record_id)?.into_iter().map(|s| GoldSpan { span: Span::new(s.start, s.end), label: s.label }).collect()
        })
    }

    /// Detector quality on the dataset's gold notes: signed-off sample notes (gold = the spans the
    /// steward kept or added, with their final bounds and types) and imported notes that detection
    /// has run on (gold = the file's spans), against the original detections of each note.
    pub fn review_quality(&self, dataset_id: i64) -> Result<QualityDto> {
        let store = self.permit(Command::ReadQuality)?;
        self.reviewable(&store, dataset_id)?;
        let gold_notes = store.gold_notes(dataset_id)?;
        let mut out_of_scope: BTreeSet<&str> = BTreeSet::new();
        for g in &gold_notes {
            if let Some(f) = g.format.as_deref() {
                out_of_scope.extend(format_of(f)?.out_of_scope().iter().map(|(l, _)| *l));
            }
        }
        let mut scorer = Scorer::new(&out_of_scope.iter().copied().collect::<Vec<_>>());
        let mut notes = Vec::with_capacity(gold_notes.len());
        let mut records: Vec<Record> = Vec::new();
        let mut measured = 0;
        for g in &gold_notes {
            let record = store.record(g.record_id)?.ok_or_else(|| ApiError::not_found(format!("no record {}", g.record_id)))?;
            let status = if g.source == "sample" {
                if store.note_signed_off(g.record_id)? { "measured" } else { "open" }
            } else if store.note_in_review(g.record_id)? {
                "measured"
            } else {
                "undetected"
            };
            notes.push(GoldNoteDto { record_id: g.record_id, external_id: record.external_id.clone(), source: g.source.clone(), status: status.to_owned() });
            if status != "measured" {
                continue;
            }
            let spans = store.review_spans(g.record_id)?;
            let predicted: Vec<Predicted> = spans
                .iter()
                .filter(|s| s.origin == "detected")
                .map(|s| Predicted {
                    span: Span::new(s.start, s.end),
                    entity: s.entity.clone(),
                    pattern: format!(
                        "{}/{}",
                        s.explanation["detector"].as_str().unwrap_or("?"),
                        s.explanation["pattern"].as_str().unwrap_or("?")
                    ),
                    score: s.score as f32,
                })
                .collect();
            let gold = self.gold_spans_of(&store, g, &spans)?;
            let note = GoldNote { id: g.record_id.to_string(), patient: record.patient_id.clone().unwrap_or_default(), text: record.text.clone(), spans: gold };
            scorer.add(&note, &predicted);
            measured += 1;
            records.push(record);
        }
        let r = scorer.finish(0.0);
        let by_id: HashMap<i64, &Record> = records.iter().map(|r| (r.id, r)).collect();
        let keys: BTreeSet<&String> = r.per_type.keys().chain(r.per_detected_type.keys()).collect();
        let mut per_type: Vec<TypeQualityDto> = keys
            .into_iter()
            .map(|k| {
                let recall = r.per_type.get(k);
                let precision = r.per_detected_type.get(k);
                TypeQualityDto {
                    entity: k.clone(),
                    support: recall.map_or(0, |t| t.gold_spans),
                    found: recall.map_or(0, |t| t.found_spans),
                    span_recall: recall.map(|t| t.span_recall),
                    token_recall: recall.map(|t| t.token_recall),
                    detected: precision.map_or(0, |t| t.predicted_spans),
                    span_precision: precision.map(|t| t.span_precision),
                    token_precision: precision.map(|t| t.token_precision),
                    in_scope: recall.is_none_or(|t| t.in_scope),
                }
            })
            .collect();
        per_type.sort_by(|a, b| b.support.cmp(&a.support).then(b.detected.cmp(&a.detected)).then(a.entity.cmp(&b.entity)));
        let (misses_total, false_positives_total) = (r.misses.len(), r.false_detections.len());
        Ok(QualityDto {
            dataset_id,
            measured,
            notes,
            gold_spans: r.gold_spans,
            gold_tokens: r.gold_tokens,
            detected_spans: r.predicted_spans,
            span_recall: r.span_recall,
            span_precision: r.span_precision,
            token_recall: r.token_recall,
            token_precision: r.token_precision,
            f2: r.f2,
            per_type,
            out_of_scope: r.out_of_scope,
            misses_total,
            misses: r.misses.into_iter().take(MAX_FINDINGS).filter_map(|f| finding(&by_id, f)).collect(),
            false_positives_total,
            false_positives: r.false_detections.into_iter().take(MAX_FINDINGS).filter_map(|f| finding(&by_id, f)).collect(),
        })
    }
}
