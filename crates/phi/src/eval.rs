//! Evaluation against gold annotations, the same way for every corpus: type-agnostic token-level
//! recall, precision and F2 (a gold token counts as found when any detection overlaps it), span-level
//! recall with any overlap, recall per gold type, and the misses and false alarms with their
//! context. Readers turn each corpus into [`GoldNote`]s with byte spans; the PhysioNet reader takes
//! offsets as they are (ASCII), the Presidio reader converts code-point offsets to bytes.
//!
//! Never writes anything; timing is measured with a caller-supplied clock function.

use crate::{Detection, Doc, Engine, PhiError};
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
                notes.push(GoldNote { id: i.to_string(), patient: i.to_string(), text: row.full_text, spans });
            }
        }
    }
    Ok(notes)
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
    pub per_type: BTreeMap<String, TypeRecall>,
    pub out_of_scope: Vec<String>,
    pub notes_per_second: f64,
    pub seconds: f64,
    pub misses: Vec<Finding>,
    pub false_alarms: Vec<Finding>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// F-beta with beta = 2 (recall weighs four times as much as precision).
pub fn f2(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 { 0.0 } else { 5.0 * precision * recall / (4.0 * precision + recall) }
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

/// Runs `engine` on every note and scores it. `now` returns seconds from any fixed origin (the
/// caller's clock); only detection is timed. Progress goes to `reporter`.
pub fn evaluate(engine: &Engine, notes: &[GoldNote], format: GoldFormat, now: &dyn Fn() -> f64, reporter: &dyn Reporter) -> EvalReport {
    let scope_out: Vec<&str> = format.out_of_scope().iter().map(|(l, _)| *l).collect();
    let in_scope = |label: &str| !scope_out.contains(&label);
    let mut meter = Meter::new("evaluate", "notes", Some(notes.len() as u64), reporter);
    let mut per_type: BTreeMap<String, TypeRecall> = BTreeMap::new();
    let (mut gold_tokens, mut predicted, mut tp, mut gold_spans, mut found_spans) = (0, 0, 0, 0, 0);
    let (mut misses, mut false_alarms) = (Vec::new(), Vec::new());
    let mut seconds = 0.0;
    for (n, note) in notes.iter().enumerate() {
        let t0 = now();
        let dets: Vec<Detection> = engine.detect(&note.text);
        seconds += now() - t0;
        let doc = Doc::new(&note.text);
        let hit = |s: Span| dets.iter().any(|d| d.span.overlaps(&s));
        for g in &note.spans {
            let e = per_type.entry(g.label.clone()).or_insert_with(|| TypeRecall { in_scope: in_scope(&g.label), ..Default::default() });
            e.gold_spans += 1;
            if hit(g.span) {
                e.found_spans += 1;
            } else if in_scope(&g.label) {
                misses.push(Finding { note: note.id.clone(), label: g.label.clone(), text: g.span.slice(&note.text).to_string(), context: context(&note.text, g.span), pattern: String::new(), score: 0.0 });
            }
            if in_scope(&g.label) {
                gold_spans += 1;
                if hit(g.span) {
                    found_spans += 1;
                }
            }
        }
        for t in &doc.tokens {
            let gold: Vec<&GoldSpan> = note.spans.iter().filter(|g| g.span.overlaps(&t.span)).collect();
            let scoped = gold.iter().any(|g| in_scope(&g.label));
            let out_only = !gold.is_empty() && !scoped;
            let det = dets.iter().find(|d| d.span.overlaps(&t.span));
            if scoped {
                gold_tokens += 1;
                if det.is_some() {
                    tp += 1;
                }
            }
            for g in gold.iter() {
                let e = per_type.entry(g.label.clone()).or_default();
                e.gold_tokens += 1;
                if det.is_some() {
                    e.found_tokens += 1;
                }
            }
            if let Some(d) = det {
                if !out_only {
                    predicted += 1;
                }
                if gold.is_empty() {
                    false_alarms.push(Finding {
                        note: note.id.clone(),
                        label: d.entity.as_str().to_string(),
                        text: t.span.slice(&note.text).to_string(),
                        context: context(&note.text, t.span),
                        pattern: format!("{}/{}", d.detector, d.pattern),
                        score: d.score,
                    });
                }
            }
        }
        meter.tick(n as u64 + 1);
    }
    meter.finish(notes.len() as u64);
    for t in per_type.values_mut() {
        t.span_recall = ratio(t.found_spans, t.gold_spans);
        t.token_recall = ratio(t.found_tokens, t.gold_tokens);
    }
    let token_recall = ratio(tp, gold_tokens);
    let token_precision = ratio(tp, predicted);
    EvalReport {
        notes: notes.len(),
        gold_tokens,
        predicted_tokens: predicted,
        true_positive_tokens: tp,
        token_recall,
        token_precision,
        f2: f2(token_precision, token_recall),
        gold_spans,
        span_recall: ratio(found_spans, gold_spans),
        per_type,
        out_of_scope: scope_out.iter().map(|s| s.to_string()).collect(),
        notes_per_second: if seconds > 0.0 { notes.len() as f64 / seconds } else { 0.0 },
        seconds,
        misses,
        false_alarms,
    }
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

    #[test]
    fn metrics_count_tokens_and_spans() {
        // "Dr. Marder" found, "Rockvillle" (misspelt, unknown) missed, "2/6" is no PHI and not flagged
        let n = note("Dr. Marder saw pt in Rockvillle, 2/6 murmur on 10/18/2003", &[(4, 10, "HCPName"), (21, 31, "Location"), (47, 57, "Date")]);
        let r = evaluate(&Engine::default(), &[n], GoldFormat::DeidJsonl, &|| 0.0, &|_: &localdx_job::Progress| {});
        assert_eq!((r.gold_tokens, r.true_positive_tokens), (5, 4), "{r:#?}");
        assert_eq!(r.span_recall, 2.0 / 3.0);
        assert_eq!(r.per_type["Location"].found_spans, 0);
        assert_eq!(r.misses.len(), 1);
        assert!((r.f2 - f2(r.token_precision, r.token_recall)).abs() < 1e-12);
        // negative row: no gold, no detections -> perfect by convention, nothing listed
        let r = evaluate(&Engine::default(), &[note("stable overnight", &[])], GoldFormat::DeidJsonl, &|| 0.0, &|_: &localdx_job::Progress| {});
        assert_eq!((r.token_recall, r.token_precision, r.misses.len(), r.false_alarms.len()), (1.0, 1.0, 0, 0));
    }

    #[test]
    fn f2_weighs_recall() {
        assert!((f2(0.8, 0.98) - 0.9375).abs() < 1e-3);
        assert_eq!(f2(0.0, 0.0), 0.0);
    }
}
