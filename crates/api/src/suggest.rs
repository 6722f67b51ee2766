//! Diagnostic suggestions for one note: ranked labels with probabilities from a run or from the base
//! model's zero-shot head, each with the words of the note that match its name
//! ([`localdx_evidence`]: affirmed, denied or a relative's), the words that most changed the top
//! suggestion (occlusion), and the clinicians' feedback on them (accept, reject, add a diagnosis),
//! stored and exportable as CSV.
//!
//! Occlusion is honest and bounded: the note's words are grouped into at most
//! [`Occlusion::max_windows`] consecutive windows, each window is removed in turn, and the note is
//! re-scored; a window's weight is how much the top label's probability dropped without it. Cost:
//! one extra scoring pass per window, batched. Only the tokens the model sees count (a long note
//! is truncated to the run's head and tail), so windows outside them show no drop.
//!
//! This module never stores a note unless the caller asks it to (feedback with `save_note`).

use crate::training::Scorer;
use crate::{Api, ApiError, Result};
use localdx_access::Command;
use localdx_ingest::Icd10Names;
use localdx_store::NewFeedback;
use localdx_train::predict::Predictor;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One ranked label.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedLabelDto {
    pub label: String,
    pub probability: f64,
    /// Whether the label has the shape of an ICD-10 code.
    pub icd10: bool,
    /// The label's ICD-10 name when the label is an ICD-10 code and a name is known.
    pub name: Option<String>,
    /// Words of the note that match the label's name (or the label itself), in note order.
    pub evidence: Vec<EvidenceDto>,
}

/// A word of the note matching a suggested label's name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceDto {
    /// Char offsets into the note.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Under a negation ("denies chest pain"): shown, but no support.
    pub negated: bool,
    /// A relative's finding (family history): shown, but no support.
    pub relative: bool,
}

/// The evidence in `text` for each of `labels`, char offsets: matched by the label itself, its
/// name and, for an ICD-10 category, the names of all its codes (what a note says of J18 may be
/// "lobar pneumonia"; on CodiEsp the codes' names find 0.300 of the gold categories, the
/// categories' own names 0.131).
fn evidence_for(text: &str, labels: &[(String, Option<String>)], names: Option<&Icd10Names>) -> Vec<Vec<EvidenceDto>> {
    let all = labels.iter().flat_map(|(label, name)| {
        let under: Vec<String> = names.map(|t| t.names_under(label).into_iter().map(str::to_owned).collect()).unwrap_or_default();
        std::iter::once(label.clone()).chain(name.clone()).chain(under).map(move |n| (label.clone(), n))
    });
    let lexicon = localdx_evidence::Lexicon::new(all);
    let found = lexicon.find(text);
    // Byte offset -> char offset, for the spans found.
    let chars = |byte: usize| text[..byte].chars().count();
    labels
        .iter()
        .map(|(label, _)| {
            let mut out: Vec<EvidenceDto> = found
                .iter()
                .filter(|e| &e.label == label)
                .flat_map(|e| {
                    e.spans.iter().map(move |&(bs, be)| EvidenceDto {
                        start: chars(bs),
                        end: chars(be),
                        text: text[bs..be].to_owned(),
                        negated: e.negated,
                        relative: e.experiencer == localdx_evidence::Experiencer::Family,
                    })
                })
                .collect();
            out.sort_by_key(|e| (e.start, e.end));
            out.dedup_by_key(|e| (e.start, e.end));
            out
        })
        .collect()
}

/// A stretch of the note whose removal lowered the top suggestion's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionDto {
    /// Char offsets into the note.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Probability of the top label with the full note minus without this stretch.
    pub drop: f64,
}

/// The suggestions of one model for one note (camelCase for the app; the CLI prints it too).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionDto {
    /// The run id, or `base:<model>`.
    pub model: String,
    pub labels: Vec<SuggestedLabelDto>,
    /// Largest drops first; empty when occlusion was not asked for.
    pub attribution: Vec<AttributionDto>,
    /// Tokens of the note the model saw (after truncation) and its token budget.
    pub tokens: usize,
    pub max_tokens: usize,
    /// Windows re-scored for the attribution (0 without it).
    pub windows: usize,
    pub score_seconds: f64,
    pub attribution_seconds: f64,
}

/// How the attribution is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occlusion {
    /// At most this many windows are re-scored (words are grouped to fit).
    pub max_windows: usize,
    /// How many stretches are returned.
    pub keep: usize,
}

impl Default for Occlusion {
    fn default() -> Self {
        Occlusion { max_windows: 32, keep: 5 }
    }
}

/// Which model suggests: a run, or a base model whose zero-shot head is built from the labels and
/// training notes of a dataset.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum ModelChoice {
    Run { run_id: String },
    Base { model: String, dataset_id: i64 },
}

impl ModelChoice {
    pub fn name(&self) -> String {
        match self {
            ModelChoice::Run { run_id } => run_id.clone(),
            ModelChoice::Base { model, .. } => format!("base:{model}"),
        }
    }
}

impl Api {
    /// Loads the model that `choice` names (seconds for a small model).
    pub fn load_model(&self, choice: &ModelChoice) -> Result<Predictor> {
        match choice {
            ModelChoice::Run { run_id } => self.predictor(Scorer::Run(run_id), 0),
            ModelChoice::Base { model, dataset_id } => self.predictor(Scorer::Base(model), *dataset_id),
        }
    }

    /// Loads the chosen model and suggests for `text` (what `localdx suggest` calls; the app keeps
    /// its models loaded in a [`Suggester`]).
    /// The suggestion is logged for monitoring (no note text: `monitor`).
    pub fn suggest(&self, choice: &ModelChoice, text: &str, top_k: usize, occlusion: Option<Occlusion>) -> Result<SuggestionDto> {
        let p = self.load_model(choice)?;
        let shown = suggest(&p, &choice.name(), text, top_k, occlusion, names_in(&self.layout.models).as_ref())?;
        self.log_shown(choice, text, &shown, None, None, None)?;
        Ok(shown)
    }
}

/// The last few loaded models, so that a clinician's next note (or the second column) does not
/// reload weights. A run is reloaded when its best adapters change (a resumed run).
pub struct Suggester {
    loaded: Vec<(String, Predictor)>,
    capacity: usize,
}

impl Suggester {
    /// Keeps at most `capacity` models loaded (each holds its base weights in memory).
    pub fn new(capacity: usize) -> Self {
        Suggester { loaded: Vec::new(), capacity: capacity.max(1) }
    }

    fn key(runs_dir: &std::path::Path, choice: &ModelChoice) -> String {
        match choice {
            ModelChoice::Run { run_id } => {
                let best = runs_dir.join(run_id).join("best.safetensors");
                let stamp = std::fs::metadata(best).and_then(|m| m.modified()).ok();
                format!("run:{run_id}:{stamp:?}")
            }
            ModelChoice::Base { model, dataset_id } => format!("base:{model}:{dataset_id}"),
        }
    }

    /// The model `choice` names, loaded now or earlier.
    pub fn get(&mut self, api: &Api, choice: &ModelChoice) -> Result<&Predictor> {
        let key = Self::key(&api.layout.runs, choice);
        match self.loaded.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                let hit = self.loaded.remove(i);
                self.loaded.push(hit);
            }
            None => {
                let p = api.load_model(choice)?;
                if self.loaded.len() >= self.capacity {
                    self.loaded.remove(0);
                }
                self.loaded.push((key, p));
            }
        }
        let (_, p) = self.loaded.last().ok_or_else(|| ApiError::new(crate::ErrorCode::Internal, "no model loaded"))?;
        Ok(p)
    }

    /// Like [`Api::suggest`], reusing a loaded model; `record_id` names the stored case the
    /// note is (its recorded labels go into the monitoring log with the suggestion).
    pub fn suggest(&mut self, api: &Api, choice: &ModelChoice, text: &str, top_k: usize, occlusion: Option<Occlusion>, record_id: Option<i64>) -> Result<SuggestionDto> {
        let p = self.get(api, choice)?;
        let shown = suggest(p, &choice.name(), text, top_k, occlusion, names_in(&api.layout.models).as_ref())?;
        api.log_shown(choice, text, &shown, record_id, None, None)?;
        Ok(shown)
    }
}

/// Whether `label` has the shape of an ICD-10 code: a capital letter, a digit, a digit or capital
/// letter, then optionally a dot and more letters or digits (`I10`, `E11.9`, `C7A`).
pub fn is_icd10_code(label: &str) -> bool {
    let b = label.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase())
        && (b.len() == 3 || (b[3] == b'.' && b.len() > 4 && b[4..].iter().all(u8::is_ascii_alphanumeric)))
}

/// The ICD-10-CM name of `label` from the table setup puts in the models folder; `None` for
/// labels that are not codes, codes not in the table, or when the table is absent.
pub fn label_name(names: Option<&Icd10Names>, label: &str) -> Option<String> {
    names?.name(label).map(str::to_owned)
}

/// The ICD-10-CM names table of `models_dir`, if setup fetched it (an unreadable table is
/// treated as absent: names are a convenience on screen, never a reason to fail a suggestion).
pub(crate) fn names_in(models_dir: &std::path::Path) -> Option<Icd10Names> {
    Icd10Names::in_models_dir(models_dir).and_then(|r| r.ok())
}

/// The words of `text` as (char start, char end, byte start, byte end).
fn words(text: &str) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut chars = 0;
    for (byte, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some((cs, bs)) = start.take() {
                out.push((cs, chars, bs, byte));
            }
        } else if start.is_none() {
            start = Some((chars, byte));
        }
        chars += 1;
    }
    if let Some((cs, bs)) = start {
        out.push((cs, chars, bs, text.len()));
    }
    out
}

/// Ranked labels (top `top_k`) for `text`, and with `occlusion` the stretches that mattered most.
pub fn suggest(p: &Predictor, model: &str, text: &str, top_k: usize, occlusion: Option<Occlusion>, names: Option<&Icd10Names>) -> Result<SuggestionDto> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("the note is empty"));
    }
    let started = Instant::now();
    let full = p.predict(&[text])?.into_iter().next().unwrap_or_default();
    let score_seconds = started.elapsed().as_secs_f64();
    let tokens = p.model.encode_truncated(text, p.config.max_len, p.config.head_share).len();
    let top: Vec<(String, Option<String>)> = full.iter().take(top_k.max(1)).map(|s| (s.label.clone(), label_name(names, &s.label))).collect();
    let evidence = evidence_for(text, &top, names);
    let labels: Vec<SuggestedLabelDto> = full
        .iter()
        .zip(top.into_iter().zip(evidence))
        .map(|(s, ((label, name), evidence))| SuggestedLabelDto { icd10: is_icd10_code(&label), label, probability: f64::from(s.probability), name, evidence })
        .collect();
    let started = Instant::now();
    let (attribution, windows) = match (occlusion, full.first()) {
        (Some(o), Some(top)) if o.max_windows > 0 => {
            let w = words(text);
            let per = w.len().div_ceil(o.max_windows).max(1);
            let spans: Vec<(usize, usize, usize, usize)> =
                w.chunks(per).map(|c| (c[0].0, c[c.len() - 1].1, c[0].2, c[c.len() - 1].3)).collect();
            let variants: Vec<String> = spans.iter().map(|&(_, _, bs, be)| format!("{}{}", &text[..bs], &text[be..])).collect();
            let refs: Vec<&str> = variants.iter().map(String::as_str).collect();
            let scored = p.predict(&refs)?;
            let mut out: Vec<AttributionDto> = spans
                .iter()
                .zip(scored)
                .map(|(&(cs, ce, bs, be), row)| {
                    let without = row.iter().find(|s| s.label == top.label).map(|s| f64::from(s.probability)).unwrap_or(0.0);
                    AttributionDto { start: cs, end: ce, text: text[bs..be].to_owned(), drop: f64::from(top.probability) - without }
                })
                .filter(|a| a.drop > 0.0)
                .collect();
            out.sort_by(|a, b| b.drop.total_cmp(&a.drop));
            out.truncate(o.keep);
            (out, spans.len())
        }
        _ => (Vec::new(), 0),
    };
    let attribution_seconds = if windows > 0 { started.elapsed().as_secs_f64() } else { 0.0 };
    Ok(SuggestionDto { model: model.to_owned(), labels, attribution, tokens, max_tokens: p.config.max_len, windows, score_seconds, attribution_seconds })
}

impl Api {
    /// The first `limit` records of the test split of a dataset: the cases the Suggestions screen
    /// offers (notes the runs never trained on).
    pub fn test_cases(&self, dataset_id: i64, limit: usize) -> Result<Vec<crate::datasets::RecordDto>> {
        // A released version's notes are redacted and any role that reads releases may see them;
        // an imported dataset's are raw text, for stewards and admins only.
        let released = self.permit(crate::Command::ReadReleased).and_then(|store| Ok(store.release_of_version(dataset_id)?.is_some()));
        let store = self.permit(if released? { crate::Command::ReadReleased } else { crate::Command::ReadRawRecords })?;
        if store.dataset(dataset_id)?.is_none() {
            return Err(ApiError::not_found(format!("no dataset {dataset_id}")));
        }
        Ok(store
            .records(dataset_id, 0, u64::MAX, None)?
            .into_iter()
            .filter(|r| r.split == localdx_store::Split::Test)
            .take(limit)
            .map(crate::datasets::RecordDto::from)
            .collect())
    }
}

/// Feedback from a clinician on one suggestion (camelCase, from the app).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackInputDto {
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    /// The typed note, stored only when `saveNote` is true.
    pub note_text: Option<String>,
    #[serde(default)]
    pub save_note: bool,
    pub model: String,
    pub label: String,
    /// `accept`, `reject` or `add`.
    pub verdict: String,
    pub probability: Option<f64>,
}

/// One stored piece of feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackDto {
    pub id: i64,
    pub created_at: String,
    pub actor: String,
    pub dataset_id: Option<i64>,
    pub record_id: Option<i64>,
    pub note_saved: bool,
    pub model: String,
    pub label: String,
    pub verdict: String,
    pub probability: Option<f64>,
}

impl From<localdx_store::Feedback> for FeedbackDto {
    fn from(f: localdx_store::Feedback) -> Self {
        FeedbackDto {
            id: f.id,
            created_at: f.created_at,
            actor: f.actor,
            dataset_id: f.dataset_id,
            record_id: f.record_id,
            note_saved: f.note_saved,
            model: f.model,
            label: f.label,
            verdict: f.verdict,
            probability: f.probability,
        }
    }
}

impl Api {
    /// Stores feedback (and logs it); a record id must exist.
    /// Stores a verdict on a suggestion as the logged-in user (those who may score notes).
    pub fn save_feedback(&self, input: &FeedbackInputDto) -> Result<FeedbackDto> {
        let store = self.permit(Command::Predict)?;
        if let Some(r) = input.record_id {
            if store.dataset_of_record(r)?.is_none() {
                return Err(ApiError::not_found(format!("no record {r}")));
            }
        }
        let actor = self.actor();
        let note_text = if input.save_note { input.note_text.as_deref() } else { None };
        let new = NewFeedback {
            actor,
            dataset_id: input.dataset_id,
            record_id: input.record_id,
            note_text,
            model: &input.model,
            label: &input.label,
            verdict: &input.verdict,
            probability: input.probability,
        };
        let id = store.add_feedback(&new).map_err(|e| match e {
            localdx_store::StoreError::Invalid(m) => ApiError::invalid(m),
            other => other.into(),
        })?;
        let stored = store.feedback()?.into_iter().find(|f| f.id == id).ok_or_else(|| ApiError::not_found(format!("feedback {id} was not stored")))?;
        Ok(stored.into())
    }

    /// All feedback, oldest first.
    pub fn feedback(&self) -> Result<Vec<FeedbackDto>> {
        let store = self.permit(Command::Evaluate)?;
        Ok(store.feedback()?.into_iter().map(FeedbackDto::from).collect())
    }

}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl Api {
    /// The feedback as CSV, one row per verdict: accepted and added diagnoses are new labels for
    /// their record, rejected ones are labels the clinician refused.
    pub fn feedback_csv(&self) -> Result<String> {
        let store = self.permit(Command::Evaluate)?;
        let mut out = String::from("feedback_id,created_at,actor,dataset_id,record_id,model,label,verdict,probability\n");
        for f in store.feedback()? {
            let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                f.id,
                csv_field(&f.created_at),
                csv_field(&f.actor),
                opt(f.dataset_id),
                opt(f.record_id),
                csv_field(&f.model),
                csv_field(&f.label),
                f.verdict,
                f.probability.map(|p| format!("{p:.4}")).unwrap_or_default()
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_have_char_and_byte_offsets() {
        let t = "  Fièvre  et toux\nsèche ";
        let w = words(t);
        let texts: Vec<&str> = w.iter().map(|&(_, _, bs, be)| &t[bs..be]).collect();
        assert_eq!(texts, ["Fièvre", "et", "toux", "sèche"]);
        let chars: Vec<char> = t.chars().collect();
        for &(cs, ce, bs, be) in &w {
            assert_eq!(chars[cs..ce].iter().collect::<String>(), &t[bs..be]);
        }
        assert!(words("   \n").is_empty());
    }

    #[test]
    fn icd10_shapes() {
        for (label, ok) in [("I10", true), ("E11.9", true), ("J45.909", true), ("C7A", true), ("flu", false), ("i10", false), ("I1", false), ("E11.", false), ("12.3", false), ("I10X", false)] {
            assert_eq!(is_icd10_code(label), ok, "{label}");
        }
    }

    #[test]
    fn feedback_round_trip_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::open(&dir.path().join("f.sqlite"), None).unwrap();
        let input = |verdict: &str, label: &str, save: bool| FeedbackInputDto {
            dataset_id: None,
            record_id: None,
            note_text: Some("typed note, with a comma".into()),
            save_note: save,
            model: "run-1".into(),
            label: label.into(),
            verdict: verdict.into(),
            probability: Some(0.25),
        };
        let saved = api.save_feedback(&input("accept", "I10", false)).unwrap();
        assert!(!saved.note_saved, "a typed note is not stored unless asked");
        assert!(api.save_feedback(&input("add", "J45, mild", true)).unwrap().note_saved);
        assert_eq!(api.save_feedback(&input("maybe", "I10", false)).unwrap_err().code, crate::ErrorCode::InvalidInput);
        let missing = FeedbackInputDto { record_id: Some(999), ..input("reject", "I10", false) };
        assert_eq!(api.save_feedback(&missing).unwrap_err().code, crate::ErrorCode::NotFound);
        let csv = api.feedback_csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines[1].ends_with(",,,run-1,I10,accept,0.2500"), "{}", lines[1]);
        assert!(lines[2].contains(",\"J45, mild\",add,"), "{}", lines[2]);
        assert_eq!(api.feedback().unwrap().len(), 2);
    }
}
