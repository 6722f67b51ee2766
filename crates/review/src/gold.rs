//! Detector quality measured on gold notes. A steward draws a seeded random sample of a dataset's
//! notes as gold ([`draw`]) and reviews them as usual; once signed off, their accepted and added
//! spans are the gold. A gold file in a format `localdx phi eval` reads can also be imported for
//! the notes it matches ([`read_import`], [`store_import`]). [`quality`] then compares the
//! detectors' original proposals (as queued, before any decision: the review queue keeps their
//! type, bounds and score) with the gold through `localdx_phi::eval::Scorer`, the same conventions
//! as `localdx phi eval`: recall and precision overall and per type, the misses and the false
//! positives in context.

use crate::{queue, round3, sample, Error, Result, Tx};
use localdx_access::Grant;
use localdx_phi::eval::{self, GoldFormat, GoldNote, GoldSpan, Predicted, Scorer};
use localdx_span::{CharIndex, Span};
use localdx_store::{GoldSpanRow, Record, ReviewSpan, Store};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// At most this many misses and false positives are listed (all are counted).
pub const MAX_FINDINGS: usize = 1000;

/// Chars of note text shown on each side of a finding.
const CONTEXT_CHARS: usize = 40;

/// The gold format named `name` (`deid-jsonl`, `presidio-json`).
pub fn format(name: &str) -> Result<GoldFormat> {
    GoldFormat::parse(name).ok_or_else(|| Error::UnknownGoldFormat(name.to_owned()))
}

/// A drawn gold sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub sample_id: i64,
    /// The notes drawn (fewer than asked when fewer were left).
    pub record_ids: Vec<i64>,
}

/// Draws `size` notes of a dataset not yet gold, at random with `seed`, and stores them as a gold
/// sample drawn by `actor`.
pub fn draw(tx: &Tx<'_>, dataset_id: i64, size: usize, seed: u64, actor: &str) -> Result<Drawn> {
    let candidates = tx.gold_candidates(dataset_id)?;
    if candidates.is_empty() {
        return Err(Error::NoGoldCandidates(dataset_id));
    }
    let record_ids = sample(&candidates, size, seed);
    let sample_id = tx.add_gold_sample(dataset_id, seed, &record_ids, actor)?;
    Ok(Drawn { sample_id, record_ids })
}

/// The notes of a gold file matched to records of a dataset, not stored yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Matched records and the file's spans for each.
    pub notes: Vec<(i64, Vec<GoldSpanRow>)>,
    pub spans: usize,
    /// Notes of the file with no record of that id in the dataset.
    pub unmatched: usize,
    /// The first few unmatched note ids.
    pub unmatched_ids: Vec<String>,
}

/// Matches the notes of a gold file (`path`, read as `notes`) to `records` of dataset
/// `dataset_id`: a file note matches the record whose id is the note's id, or whose patient and id
/// make it (`PATIENT-NOTE`, as PhysioNet's ids are read). A matched note whose text differs from
/// the record's is refused (the offsets would point elsewhere), and so is a file matching nothing.
pub fn match_notes(records: &[Record], notes: &[GoldNote], path: &Path, dataset_id: i64) -> Result<Import> {
    let mut by_id: HashMap<String, &Record> = HashMap::new();
    for r in records {
        if let Some(x) = &r.external_id {
            if let Some(p) = &r.patient_id {
                by_id.entry(format!("{p}-{x}")).or_insert(r);
            }
            by_id.entry(x.clone()).or_insert(r);
        }
    }
    let mut matched: Vec<(i64, Vec<GoldSpanRow>)> = Vec::new();
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
            return Err(Error::GoldTextDiffers { path: path.to_path_buf(), note: n.id.clone(), position: i + 1, record: r.id, dataset: dataset_id });
        }
        matched.push((r.id, n.spans.iter().map(|g| GoldSpanRow { start: g.span.start, end: g.span.end, label: g.label.clone() }).collect()));
    }
    if matched.is_empty() {
        return Err(Error::GoldUnmatched { path: path.to_path_buf(), dataset: dataset_id });
    }
    let spans = matched.iter().map(|(_, s)| s.len()).sum();
    Ok(Import { notes: matched, spans, unmatched, unmatched_ids })
}

/// Reads the gold file at `path` in `format` and matches it to dataset `dataset_id` (see
/// [`match_notes`]).
pub fn read_import(store: &Store, grant: &Grant, dataset_id: i64, path: &Path, format: GoldFormat) -> Result<Import> {
    let notes = eval::read_gold(path, format)?;
    let records = store.records(grant, dataset_id, 0, u64::MAX, None)?;
    match_notes(&records, &notes, path, dataset_id)
}

/// Stores the matched notes of `import` as imported gold of `format` (its name), by `actor`.
pub fn store_import(tx: &Tx<'_>, dataset_id: i64, import: &Import, format: &str, actor: &str) -> Result<()> {
    for (record_id, spans) in &import.notes {
        tx.set_imported_gold(dataset_id, *record_id, format, spans, actor)?;
    }
    Ok(())
}

/// The gold of a gold note: for a sample note, the spans the steward kept or added in `review`
/// (its review spans), with their final bounds and types; for an imported note, the file's
/// stored spans.
pub fn gold_spans(store: &Store, g: &localdx_store::GoldNote, review: &[ReviewSpan]) -> Result<Vec<GoldSpan>> {
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

/// Whether a gold note counts yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoldStatus {
    /// Signed off (a sample note) or detected (an imported one): measured.
    Measured,
    /// A sample note not signed off yet.
    Open,
    /// An imported note detection has not run on.
    Undetected,
}

impl GoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GoldStatus::Measured => "measured",
            GoldStatus::Open => "open",
            GoldStatus::Undetected => "undetected",
        }
    }
}

/// A gold note and whether it counts yet.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldNoteStatus {
    pub record_id: i64,
    pub external_id: Option<String>,
    /// `sample` or `import`.
    pub source: String,
    pub status: GoldStatus,
}

/// Quality of one type: recall of gold spans of this type (`support` of them), precision of the
/// detections of this type (`detected` of them). A gold label the detectors do not produce (an
/// imported file's own labels) has no precision, a type with no gold no recall.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeQuality {
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
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub record_id: i64,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Gold notes measured.
    pub measured: usize,
    /// Every gold note with its status.
    pub notes: Vec<GoldNoteStatus>,
    pub gold_spans: usize,
    pub gold_tokens: usize,
    pub detected_spans: usize,
    pub span_recall: f64,
    pub span_precision: f64,
    pub token_recall: f64,
    pub token_precision: f64,
    pub f2: f64,
    /// Most gold first, then most detected, then by name.
    pub per_type: Vec<TypeQuality>,
    pub out_of_scope: Vec<String>,
    pub misses_total: usize,
    /// The first [`MAX_FINDINGS`] misses.
    pub misses: Vec<Finding>,
    pub false_positives_total: usize,
    /// The first [`MAX_FINDINGS`] detections that overlap no gold span (in a sample: the ones the
    /// steward rejected).
    pub false_positives: Vec<Finding>,
}

/// The chars of `text` up to `n` before byte `at` (or after, when `forward`), on one line.
pub fn excerpt(text: &str, at: usize, n: usize, forward: bool) -> String {
    let s: String = if forward {
        text[at..].chars().take(n).collect()
    } else {
        let mut v: Vec<char> = text[..at].chars().rev().take(n).collect();
        v.reverse();
        v.into_iter().collect()
    };
    s.replace(['\n', '\r', '\t'], " ")
}

/// A scorer's finding in a note of `records` (by record id), with char offsets and the text
/// around it; `None` when the note is not one of them.
fn finding(records: &HashMap<i64, &Record>, f: eval::Finding) -> Option<Finding> {
    let record_id: i64 = f.note.parse().ok()?;
    let text = &records.get(&record_id)?.text;
    let (start, end) = CharIndex::new(text).char_span(f.span);
    Some(Finding {
        record_id,
        entity: f.label,
        text: f.text,
        before: excerpt(text, f.span.start, CONTEXT_CHARS, false),
        after: excerpt(text, f.span.end, CONTEXT_CHARS, true),
        start,
        end,
        pattern: f.pattern,
        score: round3(f.score),
    })
}

/// Detector quality on the dataset's gold notes: signed-off sample notes (gold = the spans the
/// steward kept or added, with their final bounds and types) and imported notes that detection
/// has run on (gold = the file's spans), against the original detections of each note.
pub fn quality(store: &Store, grant: &Grant, dataset_id: i64) -> Result<Quality> {
    queue::reviewable(store, dataset_id)?;
    let gold_notes = store.gold_notes(dataset_id)?;
    let mut out_of_scope: BTreeSet<&str> = BTreeSet::new();
    for g in &gold_notes {
        if let Some(f) = g.format.as_deref() {
            out_of_scope.extend(format(f)?.out_of_scope().iter().map(|(l, _)| *l));
        }
    }
    let mut scorer = Scorer::new(&out_of_scope.iter().copied().collect::<Vec<_>>());
    let mut notes = Vec::with_capacity(gold_notes.len());
    let mut records: Vec<Record> = Vec::new();
    let mut measured = 0;
    for g in &gold_notes {
        let record = queue::record(store, grant, g.record_id)?;
        let status = if g.source == "sample" {
            if store.note_signed_off(g.record_id)? { GoldStatus::Measured } else { GoldStatus::Open }
        } else if store.note_in_review(g.record_id)? {
            GoldStatus::Measured
        } else {
            GoldStatus::Undetected
        };
        notes.push(GoldNoteStatus { record_id: g.record_id, external_id: record.external_id.clone(), source: g.source.clone(), status });
        if status != GoldStatus::Measured {
            continue;
        }
        let spans = store.review_spans(g.record_id)?;
        let predicted: Vec<Predicted> = spans
            .iter()
            .filter(|s| s.origin == "detected")
            .map(|s| Predicted {
                span: Span::new(s.start, s.end),
                entity: s.entity.clone(),
                pattern: format!("{}/{}", s.explanation["detector"].as_str().unwrap_or("?"), s.explanation["pattern"].as_str().unwrap_or("?")),
                score: s.score as f32,
            })
            .collect();
        let gold = gold_spans(store, g, &spans)?;
        let note = GoldNote { id: g.record_id.to_string(), patient: record.patient_id.clone().unwrap_or_default(), text: record.text.clone(), spans: gold };
        scorer.add(&note, &predicted);
        measured += 1;
        records.push(record);
    }
    let r = scorer.finish(0.0);
    let by_id: HashMap<i64, &Record> = records.iter().map(|r| (r.id, r)).collect();
    let keys: BTreeSet<&String> = r.per_type.keys().chain(r.per_detected_type.keys()).collect();
    let mut per_type: Vec<TypeQuality> = keys
        .into_iter()
        .map(|k| {
            let recall = r.per_type.get(k);
            let precision = r.per_detected_type.get(k);
            TypeQuality {
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
    Ok(Quality {
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

#[cfg(test)]
mod tests {
    use super::*;
    use localdx_store::Split;

    #[test]
    fn excerpts_are_whole_chars_on_one_line() {
        let text = "Seen by\nDr. Núñez\ton 10/18/2003.";
        let at = text.find("Núñez").unwrap();
        assert_eq!(excerpt(text, at, 40, false), "Seen by Dr. ");
        assert_eq!(excerpt(text, at, 4, false), "Dr. ");
        assert_eq!(excerpt(text, at, 5, false), " Dr. ", "the line break reads as a space");
        assert_eq!(excerpt(text, at, 3, true), "Núñ");
        assert_eq!(excerpt(text, at + "Núñez".len(), 40, true), " on 10/18/2003.");
        assert_eq!(excerpt(text, 0, 40, false), "");
        assert_eq!(excerpt(text, text.len(), 40, true), "");
    }

    #[test]
    fn findings_carry_char_offsets_and_context() {
        let text = "Dr. Núñez saw the patient on 10/18/2003 at noon.";
        let r = Record { id: 7, dataset_id: 1, external_id: None, patient_id: None, text: text.into(), labels: vec![], split: Split::Train, source_line: 0 };
        let records: HashMap<i64, &Record> = [(7, &r)].into_iter().collect();
        let at = text.find("10/18/2003").unwrap();
        let f = eval::Finding {
            note: "7".into(),
            label: "date".into(),
            text: "10/18/2003".into(),
            context: String::new(),
            span: Span::new(at, at + 10),
            pattern: "date/mdy".into(),
            score: 0.8499999,
        };
        let got = finding(&records, f.clone()).unwrap();
        assert_eq!((got.start, got.end, got.score), (29, 39, 0.85), "char offsets: \"Núñez\" is 5 chars, 7 bytes");
        assert_eq!((got.before.as_str(), got.after.as_str()), ("Dr. Núñez saw the patient on ", " at noon."));
        assert!(finding(&records, eval::Finding { note: "8".into(), ..f.clone() }).is_none(), "not a measured note");
        assert!(finding(&records, eval::Finding { note: "x".into(), ..f }).is_none());
    }

    fn record(id: i64, external: &str, patient: Option<&str>, text: &str) -> Record {
        Record {
            id,
            dataset_id: 3,
            external_id: Some(external.into()),
            patient_id: patient.map(str::to_owned),
            text: text.into(),
            labels: vec![],
            split: Split::Train,
            source_line: 0,
        }
    }

    fn gold(id: &str, text: &str, spans: &[(usize, usize, &str)]) -> GoldNote {
        GoldNote {
            id: id.into(),
            patient: String::new(),
            text: text.into(),
            spans: spans.iter().map(|&(s, e, l)| GoldSpan { span: Span::new(s, e), label: l.into() }).collect(),
        }
    }

    #[test]
    fn gold_notes_match_by_id_or_patient_and_id() {
        let records = [record(1, "n1", None, "Seen by Dr. Marder."), record(2, "7", Some("12"), "Call 617-555-0134.")];
        let notes = [gold("n1", "Seen by Dr. Marder.", &[(12, 18, "name")]), gold("12-7", "Call 617-555-0134.", &[(5, 17, "phone")]), gold("zz", "other", &[])];
        let got = match_notes(&records, &notes, Path::new("gold.jsonl"), 3).unwrap();
        assert_eq!(got.notes.iter().map(|(id, s)| (*id, s.len())).collect::<Vec<_>>(), vec![(1, 1), (2, 1)]);
        assert_eq!((got.spans, got.unmatched, got.unmatched_ids.clone()), (2, 1, vec!["zz".to_string()]));

        let differs = match_notes(&records, &[gold("n1", "Seen by Dr. Marder!", &[])], Path::new("gold.jsonl"), 3).unwrap_err();
        assert!(matches!(differs, Error::GoldTextDiffers { record: 1, position: 1, .. }), "{differs}");
        let nothing = match_notes(&records, &notes[2..], Path::new("gold.jsonl"), 3).unwrap_err();
        assert_eq!(nothing.to_string(), "gold.jsonl: no note of the file matches a record id of dataset 3");
    }
}
