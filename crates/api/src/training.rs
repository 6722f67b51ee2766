//! Training runs: start one on a dataset of the store, resume a stopped one, list runs, and score a
//! dataset split with a run (or with the base model's zero-shot head). Run folders live in a
//! `runs/` folder given by the caller (the CLI puts it beside the database) until the store has a
//! runs table; the engine work happens in `localdx-train`.
//!
//! The JSON of `train` and `predict` uses the snake_case field names fixed by the CLI's contract
//! (`run_id`, `record_id`, `gold`, `predictions`), not camelCase.

use crate::{Api, ApiError, ErrorCode, Result};
use localdx_job::Cancel;
use localdx_store::Split;
use localdx_train::checkpoint::RunFiles;
use localdx_train::dp::DpConfig;
use localdx_train::predict::{Predictor, Scored};
use localdx_train::trainer::{Example, Preset, TrainConfig, TrainData};
pub use localdx_train::trainer::TrainEvent;
use localdx_train::{Metrics, TrainError};
use localdx_ingest::Icd10Names;
use serde::Serialize;
use std::path::{Path, PathBuf};

impl From<TrainError> for ApiError {
    fn from(e: TrainError) -> Self {
        let code = match &e {
            TrainError::Cancelled { .. } => ErrorCode::Cancelled,
            TrainError::Invalid(_) => ErrorCode::InvalidInput,
            _ => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

/// What `localdx train` asks for.
#[derive(Debug, Clone, Default)]
pub struct TrainRequest {
    pub dataset_id: i64,
    /// Model name (`default` when absent).
    pub model: Option<String>,
    pub preset: Option<String>,
    pub epochs: Option<usize>,
    pub rank: Option<usize>,
    pub dp_epsilon: Option<f64>,
    pub seed: Option<u64>,
    /// Tokens kept per note (start and end of long notes).
    pub max_len: Option<usize>,
    /// Adapt only the last N layers (the frozen ones below run once per note).
    pub layers: Option<usize>,
}

/// The result of a finished run (snake_case: the CLI's `--json` contract).
#[derive(Debug, Clone, Serialize)]
pub struct TrainResultDto {
    pub run_id: String,
    pub validation_macro_f1: f64,
    pub validation_accuracy: f64,
    pub zero_shot_validation_macro_f1: f64,
    pub zero_shot_validation_accuracy: f64,
    pub best_epoch: usize,
    pub steps: u64,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
    pub seconds: f64,
    pub train_tokens_per_second: f64,
}

/// One run, as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDto {
    pub run_id: String,
    pub status: String,
    pub dataset_id: Option<String>,
    pub model: String,
    pub epochs: usize,
    pub rank: usize,
    pub dp: bool,
    pub zero_shot: Option<Metrics>,
    pub best: Option<Metrics>,
    pub epsilon: Option<f64>,
}

/// One scored record (snake_case: the CLI's `--json` contract).
#[derive(Debug, Clone, Serialize)]
pub struct PredictionDto {
    pub record_id: i64,
    pub gold: Vec<String>,
    pub predictions: Vec<Scored>,
}

fn store_records(api: &Api, dataset_id: i64) -> Result<Vec<localdx_store::Record>> {
    if api.store().dataset(dataset_id)?.is_none() {
        return Err(ApiError::not_found(format!("no dataset {dataset_id}")));
    }
    Ok(api.store().records(dataset_id, 0, u64::MAX, None)?)
}

/// The words the model reads for each label: ICD-10-CM codes get their official names from the
/// table setup puts in the models folder (so a zero-shot head starts from what the code means);
/// other labels, or every label when the table is absent, are read as written.
fn label_texts(models_dir: &Path, labels: &[String]) -> Result<Vec<String>> {
    match Icd10Names::in_models_dir(models_dir) {
        Some(names) => {
            let names = names.map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
            Ok(labels.iter().map(|l| names.label_text(l)).collect())
        }
        None => Ok(labels.to_vec()),
    }
}

/// The training data of a dataset: labels from its train and validation records.
/// `models_dir` is where the ICD-10-CM names table is looked for (`None`: labels read as written).
fn train_data(api: &Api, dataset_id: i64, models_dir: Option<&Path>) -> Result<(TrainData, bool)> {
    let records = store_records(api, dataset_id)?;
    let mut labels: Vec<String> = records
        .iter()
        .filter(|r| r.split != Split::Test)
        .flat_map(|r| r.labels.iter().cloned())
        .collect();
    labels.sort();
    labels.dedup();
    let multi_label = records.iter().any(|r| r.labels.len() > 1);
    let to_example = |r: &localdx_store::Record| Example {
        id: r.id.to_string(),
        text: r.text.clone(),
        labels: r.labels.iter().filter_map(|l| labels.binary_search(l).ok()).collect(),
    };
    let pick = |split: Split| -> Vec<Example> {
        records.iter().filter(|r| r.split == split && !r.labels.is_empty()).map(to_example).collect()
    };
    let (train, validation) = (pick(Split::Train), pick(Split::Validation));
    Ok((TrainData { label_texts: match models_dir {
            Some(dir) => label_texts(dir, &labels)?,
            None => labels.clone(),
        }, labels, train, validation }, multi_label))
}

fn next_run_id(runs_dir: &Path) -> String {
    let mut n = 1;
    while runs_dir.join(format!("run-{n}")).exists() {
        n += 1;
    }
    format!("run-{n}")
}

fn result(run_id: &str, o: &localdx_train::Outcome) -> TrainResultDto {
    TrainResultDto {
        run_id: run_id.to_owned(),
        validation_macro_f1: o.best.macro_f1,
        validation_accuracy: o.best.accuracy,
        zero_shot_validation_macro_f1: o.zero_shot.macro_f1,
        zero_shot_validation_accuracy: o.zero_shot.accuracy,
        best_epoch: o.best_epoch,
        steps: o.steps,
        epsilon: o.epsilon,
        delta: o.delta,
        seconds: o.seconds,
        train_tokens_per_second: o.train_tokens_per_second,
    }
}

/// Starts a run on `req.dataset_id` in a new folder under `runs_dir`.
pub fn train(
    api: &Api,
    runs_dir: &Path,
    models_dir: &Path,
    req: &TrainRequest,
    cancel: &Cancel,
    on_event: &dyn Fn(&str, &TrainEvent),
) -> Result<TrainResultDto> {
    api.check(crate::Command::Train)?;
    let model_name = req.model.clone().unwrap_or_else(|| "default".into());
    let model_path = crate::models::resolve(models_dir, &model_name)?;
    let preset_name = req.preset.as_deref().unwrap_or("quick");
    let preset = Preset::parse(preset_name).ok_or_else(|| ApiError::invalid(format!("unknown preset {preset_name} (quick, balanced, thorough)")))?;
    let mut cfg: TrainConfig = preset.config();
    if let Some(e) = req.epochs {
        if e == 0 {
            return Err(ApiError::invalid("--epochs must be at least 1"));
        }
        cfg.epochs = e;
    }
    if let Some(r) = req.rank {
        if r == 0 {
            return Err(ApiError::invalid("--rank must be at least 1"));
        }
        cfg.lora.rank = r;
        cfg.lora.alpha = 2.0 * r as f64;
    }
    if let Some(seed) = req.seed {
        cfg.seed = seed;
    }
    if let Some(n) = req.max_len {
        if !(16..=8192).contains(&n) {
            return Err(ApiError::invalid("--max-len must be between 16 and 8192 tokens"));
        }
        cfg.max_len = n;
    }
    if let Some(n) = req.layers {
        if n == 0 {
            return Err(ApiError::invalid("--layers must be at least 1"));
        }
        cfg.lora.last_layers = Some(n);
    }
    if let Some(eps) = req.dp_epsilon {
        if !(eps > 0.0) {
            return Err(ApiError::invalid("--dp-epsilon must be positive"));
        }
        cfg.dp = Some(DpConfig { target_epsilon: Some(eps), noise_multiplier: None, clip: 1.0, delta: None });
    }
    let (data, multi_label) = train_data(api, req.dataset_id, Some(models_dir))?;
    if multi_label {
        cfg.head_kind = localdx_model::HeadKind::MultiLabel;
    }
    let run_id = next_run_id(runs_dir);
    let dir = runs_dir.join(&run_id);
    let on = |e: &TrainEvent| on_event(&run_id, e);
    let outcome = localdx_train::train(&dir, &model_path, &data, &cfg, cancel, &on);
    // Record where the run came from, whatever its outcome.
    if let Ok(mut files) = RunFiles::open(&dir) {
        files.meta.context.insert("dataset_id".into(), req.dataset_id.to_string());
        files.meta.context.insert("model".into(), model_name.clone());
        let _ = files.write_meta();
    }
    Ok(result(&run_id, &outcome?))
}

/// Continues run `run_id` from its last checkpoint.
pub fn resume(api: &Api, runs_dir: &Path, run_id: &str, cancel: &Cancel, on_event: &dyn Fn(&str, &TrainEvent)) -> Result<TrainResultDto> {
    api.check(crate::Command::Train)?;
    let dir = run_dir(runs_dir, run_id)?;
    let files = RunFiles::open(&dir)?;
    let dataset_id: i64 = files
        .meta
        .context
        .get("dataset_id")
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| ApiError::invalid(format!("run {run_id} does not name its dataset")))?;
    // The head was initialised when the run started: the label texts of the run stand.
    let (mut data, _) = train_data(api, dataset_id, None)?;
    data.label_texts = files.meta.label_texts.clone();
    if data.labels != files.meta.labels {
        return Err(ApiError::invalid(format!("the labels of dataset {dataset_id} changed since run {run_id} started")));
    }
    let on = |e: &TrainEvent| on_event(run_id, e);
    let outcome = localdx_train::resume(&dir, &data, cancel, &on)?;
    Ok(result(run_id, &outcome))
}

fn run_dir(runs_dir: &Path, run_id: &str) -> Result<PathBuf> {
    if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
        return Err(ApiError::invalid(format!("invalid run id {run_id:?}")));
    }
    let dir = runs_dir.join(run_id);
    if !dir.join("run.json").exists() {
        return Err(ApiError::not_found(format!("no run {run_id} in {}", runs_dir.display())));
    }
    Ok(dir)
}

/// The runs under `runs_dir`, oldest first.
pub fn runs(runs_dir: &Path) -> Result<Vec<RunDto>> {
    let Ok(entries) = std::fs::read_dir(runs_dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let Ok(files) = RunFiles::open(&dir) else { continue };
        let m = &files.meta;
        let status = if m.status == "running" && files.checkpoint_path().exists() { "stopped (resumable)".into() } else { m.status.clone() };
        out.push(RunDto {
            run_id: entry.file_name().to_string_lossy().into_owned(),
            status,
            dataset_id: m.context.get("dataset_id").cloned(),
            model: m.context.get("model").cloned().unwrap_or_else(|| m.model_path.display().to_string()),
            epochs: m.config.epochs,
            rank: m.config.lora.rank,
            dp: m.config.dp.is_some(),
            zero_shot: m.outcome.as_ref().map(|o| o.zero_shot),
            best: m.outcome.as_ref().map(|o| o.best),
            epsilon: m.outcome.as_ref().and_then(|o| o.epsilon),
        });
    }
    out.sort_by_key(|r| r.run_id.trim_start_matches("run-").parse::<u64>().unwrap_or(u64::MAX));
    Ok(out)
}

/// Which model scores the notes.
pub enum Scorer<'a> {
    Run(&'a str),
    /// The base model's zero-shot head (`default` names the default model).
    Base(&'a str),
}

/// Scores the records of one split of a dataset.
pub fn predict(api: &Api, runs_dir: &Path, models_dir: &Path, scorer: Scorer, dataset_id: i64, split: &str) -> Result<Vec<PredictionDto>> {
    api.check(crate::Command::Predict)?;
    let split: Split = split.parse().map_err(|_| ApiError::invalid(format!("unknown split {split} (train, validation, test)")))?;
    let predictor = match scorer {
        Scorer::Run(run_id) => Predictor::from_run(&run_dir(runs_dir, run_id)?)?,
        Scorer::Base(name) => {
            let path = crate::models::resolve(models_dir, name)?;
            let (data, multi_label) = train_data(api, dataset_id, Some(models_dir))?;
            let mut cfg = Preset::Quick.config();
            if multi_label {
                cfg.head_kind = localdx_model::HeadKind::MultiLabel;
            }
            let notes: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
            Predictor::zero_shot(&path, data.labels.clone(), &data.label_texts, &notes, cfg)?
        }
    };
    let records: Vec<_> = store_records(api, dataset_id)?.into_iter().filter(|r| r.split == split).collect();
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    let scored = predictor.predict(&texts)?;
    Ok(records
        .into_iter()
        .zip(scored)
        .map(|(r, predictions)| PredictionDto { record_id: r.id, gold: r.labels, predictions })
        .collect())
}
