//! Evaluation against gold annotations, the same way for every corpus: type-agnostic token-level
//! recall, precision and F2 (a gold token counts as found when any detection overlaps it), span-level
//! recall and precision with any overlap, recall per gold type, precision per detected type, and the
//! misses and false alarms with their context. [`Scorer`] holds the conventions: [`evaluate`] feeds
//! it fresh detections, the review's detector-quality report feeds it the stored original
//! proposals, so both measure the same way. Readers turn each corpus into [`GoldNote`]s with byte spans; the PhysioNet reader takes
//! offsets as they are (ASCII), the Presidio reader converts code-point offsets to bytes.
//!
//! Never writes anything; timing is measured with a caller-supplied clock function.

use crate::{Detection, Doc, PhiError};
use localdx_job::{Meter, Reporter};
use localdx_span::{CharIndex, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One gold-annotated note.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldNote {
    pub id: String,
    pub patient: String,
    pub text: String,
    pub spans: Vec<GoldSpan>,
}

/// One gold PHI span, in bytes, with the corpus's own label.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldSpan {
    pub span: Span,
    pub label: String,
}

/// The gold formats the evaluator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoldFormat {
    /// PhysioNet deid JSONL: `{patient_id, note_id, text, phi:[{start,end,type}]}` (char offsets).
    DeidJsonl,
    /// Presidio-research JSON array: `{full_text, spans:[{entity_type, start_position, end_position}]}`
    /// with Unicode code-point offsets.
    PresidioJson,
}

impl GoldFormat {
    pub fn parse(s: &str) -> Option<GoldFormat> {
        match s {
            "deid-jsonl" => Some(GoldFormat::DeidJsonl),
            "presidio-json" => Some(GoldFormat::PresidioJson),
            _ => None,
        }
    }

    /// Gold labels that are not Safe Harbor identifiers the engine is meant to find, with why.
    /// Their tokens count neither for recall nor against precision.
    pub fn out_of_scope(self) -> &'static [(&'static str, &'static str)] {
        match self {
            GoldFormat::DeidJsonl => &[],
            GoldFormat::PresidioJson => &[
                ("TITLE", "honorifics and job titles are not identifiers"),
                ("NRP", "nationality, religion, politics are not Safe Harbor identifiers"),
                ("AGE", "Safe Harbor removes only ages over 89; these are mostly younger"),
                ("GPE", "mostly countries and states, which Safe Harbor keeps"),
                ("ORGANIZATION", "employers and companies are not Safe Harbor identifiers"),
            ],
        }
    }
}

#[derive(Deserialize)]
struct DeidRow {
    patient_id: serde_json::Value,
    note_id: serde_json::Value,
    text: String,
    #[serde(default)]
    phi: Vec<DeidSpan>,
}

#[derive(Deserialize)]
struct DeidSpan {
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    label: String,
}

#[derive(Deserialize)]
struct PresidioRow {
    full_text: String,
    #[serde(default)]
    template_id: Option<u64>,
    #[serde(default)]
    spans: Vec<PresidioSpan>,
}

#[derive(Deserialize)]
struct PresidioSpan {
    entity_type: String,
    start_position: usize,
    end_position: usize,
}

fn id_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a gold file of the given format.
pub fn read_gold(path: &Path, format: GoldFormat) -> Result<Vec<GoldNote>, PhiError> {
    let data = std::fs::read_to_string(path).map_err(|source| PhiError::Io { path: path.to_path_buf(), source })?;
    let bad = |line: usize, message: String| PhiError::Gold { path: path.to_path_buf(), line, message };
    let mut notes = Vec::new();
    match format {
        GoldFormat::DeidJsonl => {
            for (i, line) in data.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let row: DeidRow = serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
                let index = CharIndex::new(&row.text);
                let mut spans = Vec::new();
                for s in row.phi {
                    let span = index.byte_span(s.start, s.end).map_err(|e| bad(i + 1, e.to_string()))?;
                    spans.push(GoldSpan { span, label: s.label });
                }
                let patient = id_text(&row.patient_id);
                notes.push(GoldNote { id: format!("{}-{}", patient, id_text(&row.note_id)), patient, text: row.text, spans });
            }
        }
        GoldFormat::PresidioJson => {
            let rows: Vec<PresidioRow> = serde_json::from_str(&data).map_err(|e| bad(e.line(), e.to_string()))?;
            for (i, row) in rows.into_iter().enumerate() {
                let index = CharIndex::new(&row.full_text);
                let mut spans = Vec::new();
                for s in row.spans {
                    let span = index.byte_span(s.start_position, s.end_position).map_err(|e| bad(0, format!("sentence {i}: {e}")))?;
                    spans.push(GoldSpan { span, label: s.entity_type });
                }
                // the template plays the patient's part: sentences of one template share a group,
                // so a split by group never puts a template on both sides (see [`Part`])
                let patient = match row.template_id {
                    Some(t) => format!("{TEMPLATE_PREFIX}{t}"),
                    None => i.to_string(),
                };
                notes.push(GoldNote { id: i.to_string(), patient, text: row.full_text, spans });
            }
        }
    }
    Ok(notes)
}

/// Reads one column of a CSV file with a header row (RFC 4180 quoting: `"` around fields, `""`
/// inside them, line breaks inside quotes; tab-separated when the name ends in `.tsv`): the texts
/// of PHI-free corpora such as Symptom2Disease (column `text`) or ICD-10-CM code names
/// (`description`).
pub fn read_csv_column(path: &Path, column: &str) -> Result<Vec<String>, PhiError> {
    let data = std::fs::read_to_string(path).map_err(|source| PhiError::Io { path: path.to_path_buf(), source })?;
    let tsv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let rows = if tsv { data.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect() } else { parse_csv(&data) };
    let bad = |message: String| PhiError::Gold { path: path.to_path_buf(), line: 1, message };
    let header = rows.first().ok_or_else(|| bad("empty file".into()))?;
    let at = header.iter().position(|h| h.trim() == column).ok_or_else(|| bad(format!("no column {column:?} in the header")))?;
    Ok(rows.iter().skip(1).filter(|r| !(r.len() == 1 && r[0].is_empty())).map(|r| r.get(at).cloned().unwrap_or_default()).collect())
}

fn parse_csv(data: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, data.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// How often PHI-free texts get a detection: every one is a false alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhiFreeReport {
    pub texts: usize,
    /// Texts with at least one detection.
    pub flagged: usize,
    /// `flagged / texts`.
    pub share: f64,
    /// Detections per `type detector/pattern`, most frequent first (ties by name).
    pub by_pattern: Vec<(String, usize)>,
    /// The first flagged texts' detections, with context.
    pub examples: Vec<Finding>,
}

/// Runs `detect` on texts known to hold no PHI and counts the ones that get any detection.
pub fn phi_free_share(detect: &dyn Fn(&str) -> Vec<Detection>, texts: &[String], max_examples: usize) -> PhiFreeReport {
    let mut flagged = 0;
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let mut examples = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let dets = detect(t);
        if dets.is_empty() {
            continue;
        }
        flagged += 1;
        let note = GoldNote { id: i.to_string(), patient: String::new(), text: t.clone(), spans: Vec::new() };
        for d in &dets {
            *by.entry(format!("{} {}/{}", d.entity.as_str(), d.detector, d.pattern)).or_default() += 1;
            if examples.len() < max_examples {
                examples.push(Finding::new(&note, d.span, d.entity.as_str(), format!("{}/{}", d.detector, d.pattern), d.score));
            }
        }
    }
    let mut by_pattern: Vec<(String, usize)> = by.into_iter().collect();
    by_pattern.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    PhiFreeReport { texts: texts.len(), flagged, share: if texts.is_empty() { 0.0 } else { flagged as f64 / texts.len() as f64 }, by_pattern, examples }
}

/// How a Presidio sentence's template id is written in [`GoldNote::patient`] (`template-87`).
pub const TEMPLATE_PREFIX: &str = "template-";

/// Which notes of a gold file to score: the fixed, documented split that keeps a part of the
/// development data for measuring only.
///
/// - PhysioNet deid (`deid-jsonl`): a note is **held-out** when its numeric patient id `p`
///   satisfies `((p - 1) / 2) % 3 == 2` (integer division). The dev file holds the odd patients
///   1, 3, 5 ...; the held-out ones are 5, 11, 17, ... (27 patients, 421 of 1,450 notes, 282 of the
///   999 gold spans). Every note of a patient is on the same side.
/// - Presidio synthetic sentences (`presidio-json`): **held-out** when `template_id % 3 == 2`, so
///   no held-out template is ever seen in tuning.
///
/// Everything else is **tuning**. Notes whose patient (or template) id is not a number are tuning.
/// Rules, word lists and thresholds may be written from the tuning part only; the held-out part
/// is for measuring, never for reading misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    #[default]
    All,
    Tuning,
    HeldOut,
}

impl Part {
    /// `all`, `tuning` or `held-out`.
    pub fn parse(s: &str) -> Option<Part> {
        match s {
            "all" => Some(Part::All),
            "tuning" => Some(Part::Tuning),
            "held-out" | "heldout" | "held_out" => Some(Part::HeldOut),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Part::All => "all",
            Part::Tuning => "tuning",
            Part::HeldOut => "held-out",
        }
    }

    /// Whether `note` (read from a file of `format`) lies in the held-out part.
    pub fn is_held_out(format: GoldFormat, note: &GoldNote) -> bool {
        match format {
            GoldFormat::DeidJsonl => note.patient.trim().parse::<u64>().is_ok_and(|p| p >= 1 && ((p - 1) / 2) % 3 == 2),
            GoldFormat::PresidioJson => {
                note.patient.strip_prefix(TEMPLATE_PREFIX).and_then(|t| t.parse::<u64>().ok()).is_some_and(|t| t % 3 == 2)
            }
        }
    }

    /// Whether `note` belongs to this part.
    pub fn contains(self, format: GoldFormat, note: &GoldNote) -> bool {
        match self {
            Part::All => true,
            Part::Tuning => !Part::is_held_out(format, note),
            Part::HeldOut => Part::is_held_out(format, note),
        }
    }

    /// The notes of this part, in file order.
    pub fn select(self, format: GoldFormat, notes: Vec<GoldNote>) -> Vec<GoldNote> {
        notes.into_iter().filter(|n| self.contains(format, n)).collect()
    }
}

/// Recall of one gold label.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeRecall {
    pub gold_spans: usize,
    pub found_spans: usize,
    pub span_recall: f64,
    pub gold_tokens: usize,
    pub found_tokens: usize,
    pub token_recall: f64,
    /// False when the label is out of scope (see [`GoldFormat::out_of_scope`]).
    pub in_scope: bool,
}

/// A missed gold span or a false alarm, with some text around it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub note: String,
    pub label: String,
    pub text: String,
    pub context: String,
    /// Where in the note (bytes).
    pub span: Span,
    /// For false alarms: the detector and pattern that fired.
    pub pattern: String,
    pub score: f32,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub notes: usize,
    pub gold_tokens: usize,
    pub predicted_tokens: usize,
    pub true_positive_tokens: usize,
    pub token_recall: f64,
    pub token_precision: f64,
    pub f2: f64,
    pub gold_spans: usize,
    pub span_recall: f64,
    /// Detections that count for precision (not only on out-of-scope gold).
    pub predicted_spans: usize,
    /// Detections overlapping some gold span, over `predicted_spans`.
    pub span_precision: f64,
    /// Recall per gold label.
    pub per_type: BTreeMap<String, TypeRecall>,
    /// Precision per detected type.
    pub per_detected_type: BTreeMap<String, TypePrecision>,
    pub out_of_scope: Vec<String>,
    pub notes_per_second: f64,
    pub seconds: f64,
    pub misses: Vec<Finding>,
    /// Detected tokens outside every gold span, one per token.
    pub false_alarms: Vec<Finding>,
    /// Detections overlapping no gold span, one per detection.
    pub false_detections: Vec<Finding>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// F-beta with beta = 2 (recall weighs four times as much as precision).
pub fn f2(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 { 0.0 } else { 5.0 * precision * recall / (4.0 * precision + recall) }
}

impl Finding {
    fn new(note: &GoldNote, span: Span, label: &str, pattern: String, score: f32) -> Finding {
        Finding {
            note: note.id.clone(),
            label: label.to_string(),
            text: span.slice(&note.text).to_string(),
            context: context(&note.text, span),
            span,
            pattern,
            score,
        }
    }
}

fn context(text: &str, span: Span) -> String {
    let mut s = span.start.saturating_sub(40);
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    let mut e = (span.end + 40).min(text.len());
    while !text.is_char_boundary(e) {
        e += 1;
    }
    format!("{}[[{}]]{}", &text[s..span.start], span.slice(text), &text[span.end..e]).replace('\n', " ")
}

/// One detection as the scorer sees it: where, of which type, and why (for the false alarms).
/// Built from a fresh [`Detection`] by [`evaluate`], or from stored detections by a caller that
/// scores detections made earlier (the review queue's original proposals).
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    pub span: Span,
    /// The detected type (`name`, `date` ...).
    pub entity: String,
    /// `detector/pattern`.
    pub pattern: String,
    pub score: f32,
}

impl From<&Detection> for Predicted {
    fn from(d: &Detection) -> Self {
        Predicted { span: d.span, entity: d.entity.as_str().to_string(), pattern: format!("{}/{}", d.detector, d.pattern), score: d.score }
    }
}

/// Precision of one detected type: of the spans and tokens detected as this type, how many
/// cover gold PHI (of any label: the matching is type-agnostic, as for recall).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypePrecision {
    pub predicted_spans: usize,
    pub true_spans: usize,
    pub span_precision: f64,
    pub predicted_tokens: usize,
    pub true_tokens: usize,
    pub token_precision: f64,
}

/// Scores detections note by note and sums up, with this module's conventions: a gold token is
/// found when any detection overlaps it; a detected token is a true positive when it lies in an
/// in-scope gold span and is not counted when it lies only in out-of-scope ones; a gold span is
/// found when any detection overlaps it; a detection is a false alarm when it overlaps no gold
/// span. [`evaluate`] feeds it fresh detections; callers holding stored ones feed it those.
pub struct Scorer {
    scope_out: Vec<String>,
    notes: usize,
    per_type: BTreeMap<String, TypeRecall>,
    per_detected_type: BTreeMap<String, TypePrecision>,
    gold_tokens: usize,
    predicted: usize,
    tp: usize,
    gold_spans: usize,
    found_spans: usize,
    predicted_spans: usize,
    true_spans: usize,
    misses: Vec<Finding>,
    false_alarms: Vec<Finding>,
    false_detections: Vec<Finding>,
}

impl Scorer {
    /// A scorer that leaves the gold labels `out_of_scope` out of recall and precision.
    pub fn new(out_of_scope: &[&str]) -> Scorer {
        Scorer {
            scope_out: out_of_scope.iter().map(|s| s.to_string()).collect(),
            notes: 0,
            per_type: BTreeMap::new(),
            per_detected_type: BTreeMap::new(),
            gold_tokens: 0,
            predicted: 0,
            tp: 0,
            gold_spans: 0,
            found_spans: 0,
            predicted_spans: 0,
            true_spans: 0,
            misses: Vec::new(),
            false_alarms: Vec::new(),
            false_detections: Vec::new(),
        }
    }

    /// A scorer with the out-of-scope labels of a gold format.
    pub fn for_format(format: GoldFormat) -> Scorer {
        let labels: Vec<&str> = format.out_of_scope().iter().map(|(l, _)| *l).collect();
        Scorer::new(&labels)
    }

    fn in_scope(&self, label: &str) -> bool {
        !self.scope_out.iter().any(|l| l == label)
    }

    /// Adds one note and the detections made in it.
    pub fn add(&mut self, note: &GoldNote, dets: &[Predicted]) {
        self.notes += 1;
        let doc = Doc::new(&note.text);
        let hit = |s: Span| dets.iter().any(|d| d.span.overlaps(&s));
        for g in &note.spans {
            let scoped = self.in_scope(&g.label);
            let e = self.per_type.entry(g.label.clone()).or_insert_with(|| TypeRecall { in_scope: scoped, ..Default::default() });
            e.gold_spans += 1;
            if hit(g.span) {
                e.found_spans += 1;
            } else if scoped {
                self.misses.push(Finding::new(note, g.span, &g.label, String::new(), 0.0));
            }
            if scoped {
                self.gold_spans += 1;
                if hit(g.span) {
                    self.found_spans += 1;
                }
            }
        }
        for d in dets {
            let gold: Vec<&GoldSpan> = note.spans.iter().filter(|g| g.span.overlaps(&d.span)).collect();
            let scoped = gold.iter().any(|g| self.in_scope(&g.label));
            if !gold.is_empty() && !scoped {
                continue;
            }
            let e = self.per_detected_type.entry(d.entity.clone()).or_default();
            e.predicted_spans += 1;
            self.predicted_spans += 1;
            if scoped {
                e.true_spans += 1;
                self.true_spans += 1;
            } else {
                self.false_detections.push(Finding::new(note, d.span, &d.entity, d.pattern.clone(), d.score));
            }
        }
        for t in &doc.tokens {
            let gold: Vec<&GoldSpan> = note.spans.iter().filter(|g| g.span.overlaps(&t.span)).collect();
            let scoped = gold.iter().any(|g| self.in_scope(&g.label));
            let out_only = !gold.is_empty() && !scoped;
            let det = dets.iter().find(|d| d.span.overlaps(&t.span));
            if scoped {
                self.gold_tokens += 1;
                if det.is_some() {
                    self.tp += 1;
                }
            }
            for g in gold.iter() {
                let e = self.per_type.entry(g.label.clone()).or_default();
                e.gold_tokens += 1;
                if det.is_some() {
                    e.found_tokens += 1;
                }
            }
            if let Some(d) = det {
                if !out_only {
                    self.predicted += 1;
                    let e = self.per_detected_type.entry(d.entity.clone()).or_default();
                    e.predicted_tokens += 1;
                    if scoped {
                        e.true_tokens += 1;
                    }
                }
                if gold.is_empty() {
                    self.false_alarms.push(Finding::new(note, t.span, &d.entity, d.pattern.clone(), d.score));
                }
            }
        }
    }

    /// The report; `seconds` is the detection time the caller measured (0 when not timed).
    pub fn finish(self, seconds: f64) -> EvalReport {
        let mut per_type = self.per_type;
        for t in per_type.values_mut() {
            t.span_recall = ratio(t.found_spans, t.gold_spans);
            t.token_recall = ratio(t.found_tokens, t.gold_tokens);
        }
        let mut per_detected_type = self.per_detected_type;
        for t in per_detected_type.values_mut() {
            t.span_precision = ratio(t.true_spans, t.predicted_spans);
            t.token_precision = ratio(t.true_tokens, t.predicted_tokens);
        }
        let token_recall = ratio(self.tp, self.gold_tokens);
        let token_precision = ratio(self.tp, self.predicted);
        EvalReport {
            notes: self.notes,
            gold_tokens: self.gold_tokens,
            predicted_tokens: self.predicted,
            true_positive_tokens: self.tp,
            token_recall,
            token_precision,
            f2: f2(token_precision, token_recall),
            gold_spans: self.gold_spans,
            span_recall: ratio(self.found_spans, self.gold_spans),
            predicted_spans: self.predicted_spans,
            span_precision: ratio(self.true_spans, self.predicted_spans),
            per_type,
            per_detected_type,
            out_of_scope: self.scope_out,
            notes_per_second: if seconds > 0.0 { self.notes as f64 / seconds } else { 0.0 },
            seconds,
            misses: self.misses,
            false_alarms: self.false_alarms,
            false_detections: self.false_detections,
        }
    }
}

/// Runs `detect` on every note and scores it with a [`Scorer`]. `detect` is any detector: the
/// rules (`&|t| engine.detect(t)`), a learned tagger, or their union. `now` returns seconds from
/// any fixed origin (the caller's clock); only detection is timed. Progress goes to `reporter`.
pub fn evaluate(detect: &dyn Fn(&str) -> Vec<Detection>, notes: &[GoldNote], format: GoldFormat, now: &dyn Fn() -> f64, reporter: &dyn Reporter) -> EvalReport {
    let mut meter = Meter::new("evaluate", "notes", Some(notes.len() as u64), reporter);
    let mut scorer = Scorer::for_format(format);
    let mut seconds = 0.0;
    for (n, note) in notes.iter().enumerate() {
        let t0 = now();
        let dets: Vec<Detection> = detect(&note.text);
        seconds += now() - t0;
        let predicted: Vec<Predicted> = dets.iter().map(Predicted::from).collect();
        scorer.add(note, &predicted);
        meter.tick(n as u64 + 1);
    }
    meter.finish(notes.len() as u64);
    scorer.finish(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str, spans: &[(usize, usize, &str)]) -> GoldNote {
        GoldNote {
            id: "n".into(),
            patient: "p".into(),
            text: text.into(),
            spans: spans.iter().map(|&(s, e, l)| GoldSpan { span: Span::new(s, e), label: l.into() }).collect(),
        }
    }

    fn rules(text: &str) -> Vec<Detection> {
        crate::Engine::default().detect(text)
    }

    #[test]
    fn metrics_count_tokens_and_spans() {
        // "Dr. Marder" found, "Rockvillle" (misspelt, unknown) missed, "2/6" is no PHI and not flagged
        let n = note("Dr. Marder saw pt in Rockvillle, 2/6 murmur on 10/18/2003", &[(4, 10, "HCPName"), (21, 31, "Location"), (47, 57, "Date")]);
        let r = evaluate(&rules, &[n], GoldFormat::DeidJsonl, &|| 0.0, &|_: &localdx_job::Progress| {});
        assert_eq!((r.gold_tokens, r.true_positive_tokens), (5, 4), "{r:#?}");
        assert_eq!(r.span_recall, 2.0 / 3.0);
        assert_eq!(r.per_type["Location"].found_spans, 0);
        assert_eq!(r.misses.len(), 1);
        assert!((r.f2 - f2(r.token_precision, r.token_recall)).abs() < 1e-12);
        // negative row: no gold, no detections -> perfect by convention, nothing listed
        let r = evaluate(&rules, &[note("stable overnight", &[])], GoldFormat::DeidJsonl, &|| 0.0, &|_: &localdx_job::Progress| {});
        assert_eq!((r.token_recall, r.token_precision, r.misses.len(), r.false_alarms.len()), (1.0, 1.0, 0, 0));
    }

    fn pred(s: usize, e: usize, entity: &str) -> Predicted {
        Predicted { span: Span::new(s, e), entity: entity.into(), pattern: "test/p".into(), score: 0.9 }
    }

    #[test]
    fn scorer_counts_stored_detections_by_hand() {
        // tokens: Dr Marder saw pt in Rockvillle on 10 18 2003
        let text = "Dr. Marder saw pt in Rockvillle on 10/18/2003";
        let n = note(text, &[(0, 2, "TITLE"), (4, 10, "name"), (21, 31, "location"), (35, 45, "date")]);
        // "Dr" lies only on out-of-scope gold (not counted), "saw" is a false alarm, the place is missed
        let preds = [pred(0, 2, "name"), pred(4, 10, "name"), pred(11, 14, "name"), pred(35, 45, "date")];
        let mut scorer = Scorer::new(&["TITLE"]);
        scorer.add(&n, &preds);
        let r = scorer.finish(0.0);
        // gold tokens Marder, Rockvillle, 10, 18, 2003 = 5, found 4; detected tokens Marder, saw, 10, 18, 2003 = 5, true 4
        assert_eq!((r.gold_tokens, r.true_positive_tokens, r.predicted_tokens), (5, 4, 5));
        assert_eq!((r.token_recall, r.token_precision), (0.8, 0.8));
        assert_eq!((r.gold_spans, r.span_recall, r.predicted_spans, r.span_precision), (3, 2.0 / 3.0, 3, 2.0 / 3.0));
        let name = &r.per_detected_type["name"];
        assert_eq!((name.predicted_spans, name.true_spans, name.predicted_tokens, name.true_tokens, name.token_precision), (2, 1, 2, 1, 0.5));
        assert_eq!(r.per_detected_type["date"].token_precision, 1.0);
        assert_eq!((r.per_type["location"].span_recall, r.per_type["date"].found_tokens, r.per_type["TITLE"].in_scope), (0.0, 3, false));
        let misses: Vec<(&str, &str, Span)> = r.misses.iter().map(|f| (f.label.as_str(), f.text.as_str(), f.span)).collect();
        assert_eq!(misses, vec![("location", "Rockvillle", Span::new(21, 31))]);
        let fps: Vec<(&str, &str)> = r.false_detections.iter().map(|f| (f.label.as_str(), f.text.as_str())).collect();
        assert_eq!(fps, vec![("name", "saw")]);
        assert_eq!(r.false_alarms.len(), 1);
        // negative row: nothing detected, nothing gold -> perfect by convention, nothing listed
        let mut empty = Scorer::new(&[]);
        empty.add(&note("stable overnight", &[]), &[]);
        let r = empty.finish(0.0);
        assert_eq!((r.span_precision, r.span_recall, r.misses.len(), r.false_detections.len()), (1.0, 1.0, 0, 0));
    }

    #[test]
    fn parts_split_by_patient_and_template() {
        let of = |patient: &str| GoldNote { patient: patient.into(), ..note("x", &[]) };
        let held = |format, patient: &str| Part::is_held_out(format, &of(patient));
        // PhysioNet: odd patients 1, 3, 5 ... -> groups 0, 1, 2, 0, 1, 2 ...; group 2 is held out
        let physionet: Vec<u64> = (1..=40).step_by(2).filter(|p| held(GoldFormat::DeidJsonl, &p.to_string())).collect();
        assert_eq!(physionet, vec![5, 11, 17, 23, 29, 35]);
        // Presidio: template ids 2, 5, 8 ... are held out
        assert!(held(GoldFormat::PresidioJson, "template-2") && held(GoldFormat::PresidioJson, "template-86"));
        // negative rows: tuning patients and templates, ids that are no numbers, the other format's ids
        for (format, p) in [(GoldFormat::DeidJsonl, "1"), (GoldFormat::DeidJsonl, "7"), (GoldFormat::DeidJsonl, "abc"), (GoldFormat::DeidJsonl, "0"), (GoldFormat::PresidioJson, "template-87"), (GoldFormat::PresidioJson, "5"), (GoldFormat::DeidJsonl, "template-2")] {
            assert!(!held(format, p), "{p}");
        }
        let notes = vec![of("1"), of("5"), of("7"), of("11")];
        let ids = |part: Part| part.select(GoldFormat::DeidJsonl, notes.clone()).iter().map(|n| n.patient.clone()).collect::<Vec<_>>();
        assert_eq!((ids(Part::HeldOut), ids(Part::Tuning), ids(Part::All).len()), (vec!["5".to_string(), "11".into()], vec!["1".to_string(), "7".into()], 4));
        for s in ["all", "tuning", "held-out"] {
            assert_eq!(Part::parse(s).map(Part::as_str), Some(s));
        }
        assert_eq!(Part::parse("test"), None);
    }

    #[test]
    fn csv_columns_and_phi_free_share() {
        let rows = parse_csv("index,label,text\n0,A,\"plain, with comma\"\r\n1,B,\"two\nlines and \"\"quotes\"\"\"\n2,C,last");
        let texts: Vec<&str> = rows.iter().skip(1).map(|r| r[2].as_str()).collect();
        assert_eq!(texts, vec!["plain, with comma", "two\nlines and \"quotes\"", "last"]);
        let texts: Vec<String> = ["I have had a cough for two weeks.", "Seen by Dr. Marder on 10/18/2003.", "My skin itches."].map(String::from).to_vec();
        let r = phi_free_share(&rules, &texts, 5);
        assert_eq!((r.texts, r.flagged, r.examples.len()), (3, 1, 2));
        assert!((r.share - 1.0 / 3.0).abs() < 1e-12);
        // negative row: nothing to read, nothing flagged
        assert_eq!(phi_free_share(&rules, &[], 5).share, 0.0);
    }

    #[test]
    fn f2_weighs_recall() {
        assert!((f2(0.8, 0.98) - 0.9375).abs() < 1e-3);
        assert_eq!(f2(0.0, 0.0), 0.0);
    }
}
