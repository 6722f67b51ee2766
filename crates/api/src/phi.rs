//! PHI detection, redaction and evaluation for the CLI and the desktop shell: the per-project
//! configuration (stored as JSON under the `phi.config` setting) and surrogate secret (`phi.secret`),
//! detection of one text or a dataset, redaction of a text or a dataset into a derived dataset, and
//! evaluation against gold files. All the work happens in `localdx-phi`; this module converts to
//! and from the JSON DTOs.
//!
//! Span offsets in every DTO here are **char** offsets (`start`, `end`), with the byte offsets
//! beside them; nothing here touches the network.

use crate::{Api, ApiError, ErrorCode, Result};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::eval::{self, EvalReport, GoldFormat, Part};
use localdx_phi::{redact, Detection, Engine, PhiError, Strategy};

pub use localdx_phi::PhiConfig;
use localdx_store::NewDataset;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The setting key of the per-project PHI configuration (JSON).
pub const CONFIG_KEY: &str = "phi.config";
/// The setting key of the per-project surrogate secret (hex).
pub const SECRET_KEY: &str = "phi.secret";

impl From<PhiError> for ApiError {
    fn from(e: PhiError) -> Self {
        let code = match e {
            PhiError::Io { .. } => ErrorCode::NotFound,
            PhiError::Random(_) => ErrorCode::Internal,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

/// One detected span with its explanation. `start`/`end` are char offsets; `type` and `score`
/// are the fields the issue fixes for CLI JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanDto {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub entity: String,
    pub score: f64,
    pub byte_start: usize,
    pub byte_end: usize,
    pub text: String,
    pub base_score: f64,
    pub detector: String,
    pub pattern: String,
    pub context_word: Option<String>,
    pub context_delta: Option<f64>,
    pub merged: u32,
    /// The other detectors whose detections were merged into this one (e.g. `tagger` beside a
    /// rule); empty when only `detector` found it.
    pub also_found_by: Vec<String>,
}

impl SpanDto {
    fn new(text: &str, d: &Detection) -> SpanDto {
        SpanDto {
            start: d.char_start,
            end: d.char_end,
            entity: d.entity.as_str().to_string(),
            score: round3(d.score),
            byte_start: d.span.start,
            byte_end: d.span.end,
            text: d.span.slice(text).to_string(),
            base_score: round3(d.base_score),
            detector: d.detector.to_string(),
            pattern: d.pattern.to_string(),
            context_word: d.context.as_ref().map(|c| c.word.clone()),
            context_delta: d.context.as_ref().map(|c| round3(c.delta)),
            merged: d.merged,
            also_found_by: d.also_found_by.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A score printed as people read it (0.95, not 0.949999988).
fn round3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

/// The detections of one dataset record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSpansDto {
    pub record_id: i64,
    pub external_id: Option<String>,
    pub patient_id: Option<String>,
    pub spans: Vec<SpanDto>,
}

/// How to redact: `tag`, `mask` or `surrogate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyDto {
    Tag,
    Mask,
    Surrogate,
}

impl std::str::FromStr for StrategyDto {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tag" => Ok(StrategyDto::Tag),
            "mask" => Ok(StrategyDto::Mask),
            "surrogate" => Ok(StrategyDto::Surrogate),
            other => Err(ApiError::invalid(format!("unknown redaction strategy {other:?} (tag, mask, surrogate)"))),
        }
    }
}

/// The outcome of redacting a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactReportDto {
    pub source_dataset_id: i64,
    pub dataset_id: i64,
    pub records: u64,
    pub spans: u64,
    pub per_type: BTreeMap<String, u64>,
}

/// Recall of one gold label (snake_case, as the issue names the eval JSON fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeRecallDto {
    pub gold_spans: usize,
    pub found_spans: usize,
    pub span_recall: f64,
    pub gold_tokens: usize,
    pub found_tokens: usize,
    pub token_recall: f64,
    pub in_scope: bool,
}

/// A miss or false alarm with its context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingDto {
    pub note: String,
    pub label: String,
    pub text: String,
    pub context: String,
    pub pattern: String,
    pub score: f32,
}

/// The evaluation report; field names fixed by the issue (snake_case).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReportDto {
    /// Which detector was scored: `rules`, `tagger` (the model alone at its card's threshold) or
    /// `union` (the two through `Engine::detect_with`, as review and release run them).
    pub source: String,
    /// Which notes were scored: `all`, `tuning` or `held-out` (see `localdx_phi::eval::Part`).
    pub part: String,
    pub notes: usize,
    pub gold_tokens: usize,
    pub predicted_tokens: usize,
    pub token_recall: f64,
    pub token_precision: f64,
    pub f2: f64,
    pub gold_spans: usize,
    pub span_recall: f64,
    pub per_type: BTreeMap<String, TypeRecallDto>,
    pub out_of_scope: Vec<String>,
    pub notes_per_second: f64,
    pub seconds: f64,
    pub misses: Vec<FindingDto>,
    pub false_alarms: Vec<FindingDto>,
}

impl EvalReportDto {
    fn new(r: EvalReport, source: Source, part: Part, max_findings: usize) -> Self {
        let finding = |f: eval::Finding| FindingDto { note: f.note, label: f.label, text: f.text, context: f.context, pattern: f.pattern, score: f.score };
        EvalReportDto {
            source: source.as_str().to_string(),
            part: part.as_str().to_string(),
            notes: r.notes,
            gold_tokens: r.gold_tokens,
            predicted_tokens: r.predicted_tokens,
            token_recall: r.token_recall,
            token_precision: r.token_precision,
            f2: r.f2,
            gold_spans: r.gold_spans,
            span_recall: r.span_recall,
            per_type: r
                .per_type
                .into_iter()
                .map(|(k, t)| {
                    let dto = TypeRecallDto {
                        gold_spans: t.gold_spans,
                        found_spans: t.found_spans,
                        span_recall: t.span_recall,
                        gold_tokens: t.gold_tokens,
                        found_tokens: t.found_tokens,
                        token_recall: t.token_recall,
                        in_scope: t.in_scope,
                    };
                    (k, dto)
                })
                .collect(),
            out_of_scope: r.out_of_scope,
            notes_per_second: r.notes_per_second,
            seconds: r.seconds,
            misses: r.misses.into_iter().take(max_findings).map(finding).collect(),
            false_alarms: r.false_alarms.into_iter().take(max_findings).map(finding).collect(),
        }
    }
}

/// Detects PHI in one text with a configuration (no database needed): the rules and, when its
/// encoder is in `models`, the tagger. For many texts, build a [`TextDetector`] once instead.
pub fn detect_text(config: &PhiConfig, models: &Path, text: &str) -> Vec<SpanDto> {
    TextDetector::new(config, models).detect(text)
}

/// A configured detector for many texts (compiles the patterns and loads the tagger once).
pub struct TextDetector(Scan);

enum Scan {
    Union(crate::detector::Detector),
    Tagger(std::sync::Arc<localdx_tagger::Tagger>),
}

impl TextDetector {
    /// The union (the rules alone, with a warning, when the tagger does not load).
    pub fn new(config: &PhiConfig, models: &Path) -> Self {
        TextDetector(Scan::Union(crate::detector::Detector::new(config.clone(), models)))
    }

    /// The union of a workspace (`Api::detector`: its retrained head when one is kept).
    pub fn from_detector(detector: crate::detector::Detector) -> Self {
        TextDetector(Scan::Union(detector))
    }

    /// One source on its own, as `phi eval --source` scores it: `Rules` ignores the tagger,
    /// `Tagger` is refused when the tagger does not load (naming why).
    pub fn for_source(config: &PhiConfig, models: &Path, source: Source) -> Result<Self> {
        Ok(TextDetector(match source {
            Source::Union => Scan::Union(crate::detector::Detector::new(config.clone(), models)),
            Source::Rules => Scan::Union(crate::detector::Detector::rules_only(config.clone())),
            Source::Tagger => match &*crate::detector::tagger(models) {
                Ok(t) => Scan::Tagger(t.clone()),
                Err(e) => return Err(ApiError::invalid(format!("the tagger cannot run: {e}"))),
            },
        }))
    }

    pub fn detect(&self, text: &str) -> Vec<SpanDto> {
        let found = match &self.0 {
            Scan::Union(d) => d.detect(text),
            Scan::Tagger(t) => t.detect(text).unwrap_or_default(),
        };
        found.iter().map(|d| SpanDto::new(text, d)).collect()
    }

    /// Which sources ran, and why one did not.
    pub fn detector(&self) -> crate::detector::DetectorDto {
        match &self.0 {
            Scan::Union(d) => d.dto(),
            Scan::Tagger(_) => crate::detector::DetectorDto { sources: vec!["tagger".into()], version: None, warning: None },
        }
    }
}

/// Detects and redacts one text (no database needed). `secret` keys the surrogates.
pub fn redact_text(config: &PhiConfig, models: &Path, text: &str, strategy: StrategyDto, patient: &str, secret: &[u8]) -> String {
    let dets = crate::detector::Detector::new(config.clone(), models).detect(text);
    redact(text, &dets, &to_strategy(strategy, secret), patient).text
}

fn to_strategy(s: StrategyDto, secret: &[u8]) -> Strategy {
    match s {
        StrategyDto::Tag => Strategy::Tag,
        StrategyDto::Mask => Strategy::Mask('*'),
        StrategyDto::Surrogate => Strategy::Surrogate { secret: secret.to_vec() },
    }
}

/// A detector `localdx phi eval` can score on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rules,
    Tagger,
    Union,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Rules, Source::Tagger, Source::Union];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rules => "rules",
            Source::Tagger => "tagger",
            Source::Union => "union",
        }
    }

    /// `rules`, `tagger`, `union`, or `all` for the three.
    pub fn parse_list(s: &str) -> Option<Vec<Source>> {
        match s {
            "all" => Some(Source::ALL.to_vec()),
            _ => Source::ALL.into_iter().find(|x| x.as_str() == s).map(|x| vec![x]),
        }
    }
}

/// The evaluation of every requested source on the same notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhiEvalDto {
    pub part: String,
    pub notes: usize,
    pub gold_tokens: usize,
    /// One report per source, in the order asked.
    pub reports: Vec<EvalReportDto>,
    /// Why the tagger could not be scored (its encoder missing or corrupt); its sources are then
    /// left out of `reports`, never scored as the rules under another name.
    pub warning: Option<String>,
}

/// Evaluates detectors against a gold file, on one part of it.
/// `format`: `deid-jsonl` or `presidio-json`; `part`: `all`, `tuning` or `held-out` (the fixed
/// split of `localdx_phi::eval::Part`); `sources`: `rules`, `tagger`, `union` or `all`, the tagger
/// loaded from `models` (a workspace's models folder). Lists at most `max_findings` misses and false
/// alarms per source.
pub fn evaluate_gold(
    config: &PhiConfig,
    models: &Path,
    path: &Path,
    format: &str,
    part: &str,
    sources: &str,
    max_findings: usize,
    reporter: &dyn Reporter,
) -> Result<PhiEvalDto> {
    let format = GoldFormat::parse(format).ok_or_else(|| ApiError::invalid(format!("unknown gold format {format:?} (deid-jsonl, presidio-json)")))?;
    let part = Part::parse(part).ok_or_else(|| ApiError::invalid(format!("unknown part {part:?} (all, tuning, held-out)")))?;
    let sources = Source::parse_list(sources).ok_or_else(|| ApiError::invalid(format!("unknown source {sources:?} (rules, tagger, union, all)")))?;
    let notes = part.select(format, eval::read_gold(path, format)?);
    let engine = &Engine::new(config.clone());
    let needs_tagger = sources.iter().any(|s| *s != Source::Rules);
    let loaded = needs_tagger.then(|| crate::detector::tagger(models));
    let tagger = loaded.as_ref().and_then(|l| l.as_ref().as_ref().ok().cloned());
    let warning = loaded.as_ref().and_then(|l| l.as_ref().as_ref().err().map(|e| format!("tagger not scored: {e}")));
    if needs_tagger && tagger.is_none() && sources.iter().all(|s| *s != Source::Rules) {
        return Err(ApiError::invalid(warning.unwrap_or_default()));
    }
    // The model's detections per note text, kept from the tagger's pass for the union's, whose
    // time then counts the model's seconds too (the union's cost is both).
    let cache: std::sync::Mutex<std::collections::HashMap<String, Vec<localdx_phi::Detection>>> = Default::default();
    let mut tagger_seconds = None;
    let mut reports = Vec::new();
    for source in sources {
        let tagged = |tg: &localdx_tagger::Tagger, t: &str| -> Option<Vec<localdx_phi::Detection>> {
            if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(t) {
                return Some(hit.clone());
            }
            let found = tg.detect(t).ok()?;
            cache.lock().unwrap_or_else(|p| p.into_inner()).insert(t.to_string(), found.clone());
            Some(found)
        };
        let detect: Box<dyn Fn(&str) -> Vec<localdx_phi::Detection> + '_> = match (source, &tagger) {
            (Source::Rules, _) => Box::new(|t: &str| engine.detect(t)),
            // a note the model fails on counts as nothing found: the figure is the model's own
            (Source::Tagger, Some(tg)) => Box::new(move |t: &str| tagged(tg, t).unwrap_or_default()),
            (Source::Union, Some(tg)) => Box::new(move |t: &str| match tagged(tg, t) {
                Some(found) => engine.detect_with(t, found),
                None => engine.detect(t),
            }),
            (_, None) => continue,
        };
        let clock = std::time::Instant::now();
        let mut report = eval::evaluate(&*detect, &notes, format, &|| clock.elapsed().as_secs_f64(), reporter);
        match source {
            Source::Tagger => tagger_seconds = Some(report.seconds),
            Source::Union => {
                if let Some(model) = tagger_seconds {
                    report.seconds += model;
                    report.notes_per_second = report.notes as f64 / report.seconds.max(1e-9);
                }
            }
            Source::Rules => {}
        }
        reports.push(EvalReportDto::new(report, source, part, max_findings));
    }
    let gold_tokens = reports.first().map(|r| r.gold_tokens).unwrap_or(0);
    Ok(PhiEvalDto { part: part.as_str().to_string(), notes: notes.len(), gold_tokens, reports, warning })
}

impl Api {
    /// The project's PHI configuration (defaults when none is stored).
    pub fn phi_config(&self) -> Result<PhiConfig> {
        let store = self.permit(crate::Command::ReadPhiConfig)?;
        match store.setting(CONFIG_KEY)? {
            Some(json) => Ok(PhiConfig::from_json(&json)?),
            None => Ok(PhiConfig::default()),
        }
    }

    /// Validates and stores the project's PHI configuration (the JSON form of [`PhiConfig`]);
    /// returns the stored, normalised configuration.
    pub fn set_phi_config(&self, json: &str) -> Result<PhiConfig> {
        let store = self.permit(crate::Command::ChangePhiConfig)?;
        let config = PhiConfig::from_json(json)?;
        let before = store.setting(CONFIG_KEY)?.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()).unwrap_or_default();
        store.atomically(|| -> Result<()> {
            store.set_setting(CONFIG_KEY, &config.to_json())?;
            self.audit("phi.config", "settings:phi.config", before, serde_json::from_str(&config.to_json()).unwrap_or_default(), "")
        })?;
        Ok(config)
    }

    /// The project's surrogate secret, created on first use.
    pub fn phi_secret(&self) -> Result<Vec<u8>> {
        let store = self.permit(crate::Command::RedactDataset)?;
        let hex = match store.setting(SECRET_KEY)? {
            Some(s) => s,
            None => {
                let s = localdx_phi::redact::new_secret()?;
                store.set_setting(SECRET_KEY, &s)?;
                s
            }
        };
        Ok(hex.into_bytes())
    }

    /// Detects PHI in every record of a dataset.
    pub fn phi_detect_dataset(&self, dataset_id: i64, reporter: &dyn Reporter, cancel: &Cancel) -> Result<Vec<RecordSpansDto>> {
        let store = self.permit(crate::Command::DetectPhi)?;
        let ds = store.dataset(dataset_id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {dataset_id}")))?;
        let detector = self.detector_for(&store, self.phi_config()?)?;
        let mut meter = Meter::new("detect", "notes", Some(ds.records), reporter);
        let mut out = Vec::new();
        let page = 500;
        let mut offset = 0;
        loop {
            let records = store.records(dataset_id, offset, page, None)?;
            if records.is_empty() {
                break;
            }
            for r in &records {
                if cancel.is_cancelled() {
                    return Err(ApiError::new(ErrorCode::Cancelled, "detection cancelled"));
                }
                let spans = detector.detect(&r.text).iter().map(|d| SpanDto::new(&r.text, d)).collect();
                out.push(RecordSpansDto { record_id: r.id, external_id: r.external_id.clone(), patient_id: r.patient_id.clone(), spans });
                meter.tick(out.len() as u64);
            }
            offset += records.len() as u64;
        }
        meter.finish(out.len() as u64);
        Ok(out)
    }

    /// Writes a redacted copy of a dataset as a new dataset derived from it, in one transaction:
    /// each note redacted by the spans the detector finds in it, through the same function as a
    /// release (`localdx_review::redact`). Records keep their ids, patients, labels and splits;
    /// surrogates are keyed by the record's patient (or the record itself when it has none).
    pub fn phi_redact_dataset(&self, dataset_id: i64, strategy: StrategyDto, name: Option<&str>, reporter: &dyn Reporter, cancel: &Cancel) -> Result<RedactReportDto> {
        let store = self.permit(crate::Command::RedactDataset)?;
        let ds = store.dataset(dataset_id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {dataset_id}")))?;
        let config = self.phi_config()?;
        let secret = self.phi_secret()?;
        let engine = self.detector_for(&store, config.clone())?;
        let strategy_value = to_strategy(strategy, &secret);
        let strategy_name = serde_json::to_value(strategy).unwrap_or(serde_json::Value::Null);
        let new = NewDataset {
            name: name.map(str::to_string).unwrap_or_else(|| format!("{} (redacted)", ds.name)),
            source_path: None,
            format: "derived".to_string(),
            column_mapping: ds.column_mapping.clone(),
            source_sha256: None,
            parent_id: Some(dataset_id),
            seed: ds.seed,
            options: serde_json::json!({ "derivation": "phi-redaction", "strategy": strategy_name, "phiConfig": serde_json::from_str::<serde_json::Value>(&config.to_json()).unwrap_or_default() }),
            created_by: self.actor().to_owned(),
        };
        let copy = localdx_review::redact::copy(&store, store.grant(), &ds, &new, &|text| engine.detect(text), &strategy_value, reporter, cancel)?;
        let detail = serde_json::json!({ "records": copy.records, "spans": copy.spans, "perType": copy.per_type, "strategy": strategy_name });
        copy.writer().log_event(self.actor(), "phi.redact", Some(&dataset_id.to_string()), &detail)?;
        // An unreviewed redacted copy (no steward decided its spans): recorded in the audit trail,
        // in the same transaction, so it is never mistaken for a release.
        copy.writer().audit(&localdx_store::AuditEntry {
            actor: self.actor(),
            action: "phi.redact",
            subject: &format!("dataset:{dataset_id}"),
            before: serde_json::Value::Null,
            after: detail,
            reason: "unreviewed redacted copy (not a release)",
        })?;
        let (records, spans, per_type) = (copy.records, copy.spans, copy.per_type.clone());
        let new_id = copy.commit()?;
        Ok(RedactReportDto { source_dataset_id: dataset_id, dataset_id: new_id, records, spans, per_type })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_text_reports_char_offsets() {
        let spans = detect_text(&PhiConfig::default(), Path::new("/nonexistent-models"), "Núñez: seen by Dr. Marder on 10/18/2003");
        let got: Vec<(usize, usize, &str)> = spans.iter().map(|s| (s.start, s.end, s.entity.as_str())).collect();
        // "Núñez:" opens the note as a speaker label, a name too
        assert_eq!(got, vec![(0, 5, "name"), (19, 25, "name"), (29, 39, "date")]);
        assert_eq!(spans[1].byte_start, 21);
        // negative row
        assert!(detect_text(&PhiConfig::default(), Path::new("/nonexistent-models"), "BP 120/80, stable.").is_empty());
    }

    #[test]
    fn strategies_parse() {
        assert_eq!("tag".parse::<StrategyDto>().ok(), Some(StrategyDto::Tag));
        assert!("blur".parse::<StrategyDto>().is_err());
    }
}
