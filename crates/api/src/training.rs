//! Training runs: start one on the released version of a dataset (never on raw notes: see
//! [`Api::training_datasets`]), resume a stopped one, list runs, and score a dataset split with a run
//! (or with the base model's zero-shot head). Run folders live in the workspace's `runs/` folder
//! and models in its `models/` folder ([`crate::workspace::Layout`]): no method here takes a path;
//! the engine work happens in `localdx-train`.
//!
//! Every file of a run is read and written through the workspace's vault ([`Api::vault`]):
//! sealed in an encrypted workspace, plain in a plain one.
//!
//! The JSON of `train` and `predict` uses the snake_case field names fixed by the CLI's contract
//! (`run_id`, `record_id`, `gold`, `predictions`), not camelCase.

use crate::{Api, ApiError, ErrorCode, Result};
use localdx_job::Cancel;
use localdx_store::Split;
use localdx_train::checkpoint::{RunFiles, Vault};
use localdx_train::predict::{Predictor, Scored};
use localdx_train::trainer::{Example, Preset, TrainConfig, TrainData};
pub use localdx_train::trainer::TrainEvent;
use localdx_ingest::Icd10Names;
pub use localdx_train::Metrics;
use localdx_train::TrainError;
use serde::Serialize;
use std::path::{Path, PathBuf};

impl From<TrainError> for ApiError {
    fn from(e: TrainError) -> Self {
        let code = match &e {
            TrainError::Cancelled { .. } => ErrorCode::Cancelled,
            TrainError::Invalid(_) => ErrorCode::InvalidInput,
            TrainError::Sealed(localdx_sealed::SealError::Sealed { .. }) => ErrorCode::Unauthorized,
            TrainError::Sealed(_) => ErrorCode::Store,
            _ => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

/// What `localdx train` and the app's Training screen ask for (camelCase on the wire); absent
/// fields take the preset's value.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainRequest {
    pub dataset_id: i64,
    /// Model name (`default` when absent).
    pub model: Option<String>,
    pub preset: Option<String>,
    pub epochs: Option<usize>,
    pub rank: Option<usize>,
    pub dp_epsilon: Option<f64>,
    pub seed: Option<u64>,
    /// Tokens kept per note (the preset's when absent).
    pub max_len: Option<usize>,
    /// Adapt only the last N layers (the preset's choice when absent).
    pub last_layers: Option<usize>,
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

pub(crate) fn store_records(store: &crate::Permit<'_>, dataset_id: i64) -> Result<Vec<localdx_store::Record>> {
    if store.dataset(dataset_id)?.is_none() {
        return Err(ApiError::not_found(format!("no dataset {dataset_id}")));
    }
    Ok(store.records(dataset_id, 0, u64::MAX, None)?)
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
fn train_data(store: &crate::Permit<'_>, dataset_id: i64, models_dir: Option<&Path>) -> Result<(TrainData, bool)> {
    train_data_of(&store_records(store, dataset_id)?, models_dir)
}

/// [`train_data`] of records the caller gathered (a run and its successor's new notes).
pub(crate) fn train_data_of(records: &[localdx_store::Record], models_dir: Option<&Path>) -> Result<(TrainData, bool)> {
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

/// The first free `run-N` name in `runs_dir`.
pub(crate) fn next_run_id(runs_dir: &Path) -> String {
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

/// A run whose data is read and settings checked: executing it needs no database, so a shell can
/// release the store while the run trains for minutes.
pub struct PreparedRun {
    pub run_id: String,
    dir: PathBuf,
    model_path: PathBuf,
    model_name: String,
    dataset_id: i64,
    data: TrainData,
    cfg: TrainConfig,
    resume: bool,
    /// How the run's files are stored (sealed in an encrypted workspace).
    vault: Vault,
}

impl PreparedRun {
    /// A new run in `dir` (of `runs/`) with data and settings the caller chose: a successor
    /// trained on its predecessor's release plus new notes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_run(run_id: String, dir: PathBuf, model_path: PathBuf, model_name: String, dataset_id: i64, data: TrainData, cfg: TrainConfig, vault: Vault) -> PreparedRun {
        PreparedRun { run_id, dir, model_path, model_name, dataset_id, data, cfg, resume: false, vault }
    }

    /// The settings the run will train with (preset, DP-SGD's own settings, then the options).
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }
}

impl Api {
    /// Checks `req` and reads the training data of a new run in a new folder of `runs/`.
    pub fn prepare_train(&self, req: &TrainRequest) -> Result<PreparedRun> {
        let store = self.permit(crate::Command::Train)?;
        let model_name = req.model.clone().unwrap_or_else(|| "default".into());
        let model_path = crate::models::resolve(&self.layout.models, &model_name)?;
        let preset_name = req.preset.as_deref().unwrap_or("quick");
        let preset = Preset::parse(preset_name).ok_or_else(|| ApiError::invalid(format!("unknown preset {preset_name} (quick, balanced, thorough)")))?;
        let mut cfg: TrainConfig = preset.config();
        // DP-SGD first: it sets its own batch, epochs and learning rate, which the options below may
        // still override.
        if let Some(eps) = req.dp_epsilon {
            if !(eps > 0.0) {
                return Err(ApiError::invalid("--dp-epsilon must be positive"));
            }
            cfg = cfg.private(eps);
        }
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
        if let Some(m) = req.max_len {
            if m < 8 {
                return Err(ApiError::invalid("the maximum length must be at least 8 tokens"));
            }
            cfg.max_len = m;
        }
        if let Some(n) = req.last_layers {
            if n == 0 {
                return Err(ApiError::invalid("adapt at least the last layer"));
            }
            cfg.lora.last_layers = Some(n);
        }
        if let Some(seed) = req.seed {
            cfg.seed = seed;
        }
        let dataset_id = trainable_version(self, req.dataset_id)?;
        let (data, multi_label) = train_data(&store, dataset_id, Some(&self.layout.models))?;
        if multi_label {
            cfg.head_kind = localdx_model::HeadKind::MultiLabel;
        }
        let run_id = next_run_id(&self.layout.runs);
        let dir = self.layout.runs.join(&run_id);
        let settings = serde_json::json!({
            "released_version": dataset_id,
            "model": model_name,
            "preset": preset_name,
            "epochs": cfg.epochs,
            "rank": cfg.lora.rank,
            "max_len": cfg.max_len,
            "last_layers": cfg.lora.last_layers,
            "dp_epsilon": req.dp_epsilon,
            "seed": cfg.seed,
        });
        self.audit("training.start", &format!("run:{run_id}"), serde_json::Value::Null, settings, "")?;
        Ok(PreparedRun { run_id, dir, model_path, model_name, dataset_id, data, cfg, resume: false, vault: self.vault() })
    }

    /// Reads the data of stopped run `run_id` to continue it from its last checkpoint.
    pub fn prepare_resume(&self, run_id: &str) -> Result<PreparedRun> {
        let store = self.permit(crate::Command::Train)?;
        let dir = self.run_dir(run_id)?;
        let vault = self.vault();
        let files = RunFiles::open(&dir, &vault)?;
        let dataset_id: i64 = files
            .meta
            .context
            .get("dataset_id")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| ApiError::invalid(format!("run {run_id} does not name its dataset")))?;
        // The head was initialised when the run started: the label texts of the run stand.
        let (mut data, _) = train_data(&store, dataset_id, None)?;
        data.label_texts = files.meta.label_texts.clone();
        if data.labels != files.meta.labels {
            return Err(ApiError::invalid(format!("the labels of dataset {dataset_id} changed since run {run_id} started")));
        }
        let model_name = files.meta.context.get("model").cloned().unwrap_or_default();
        let (model_path, cfg) = (files.meta.model_path.clone(), files.meta.config.clone());
        self.audit("training.resume", &format!("run:{run_id}"), serde_json::Value::Null, serde_json::json!({"released_version": dataset_id}), "")?;
        Ok(PreparedRun { run_id: run_id.to_owned(), dir, model_path, model_name, dataset_id, data, cfg, resume: true, vault })
    }

    /// Starts a run on `req.dataset_id` in a new folder of `runs/`.
    pub fn train(&self, req: &TrainRequest, cancel: &Cancel, on_event: &dyn Fn(&str, &TrainEvent)) -> Result<TrainResultDto> {
        execute(self.prepare_train(req)?, cancel, on_event)
    }

    /// Continues run `run_id` from its last checkpoint.
    pub fn resume(&self, run_id: &str, cancel: &Cancel, on_event: &dyn Fn(&str, &TrainEvent)) -> Result<TrainResultDto> {
        execute(self.prepare_resume(run_id)?, cancel, on_event)
    }

    /// The folder of run `run_id` in `runs/`; refuses ids that would leave it, and runs that do not exist.
    pub(crate) fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        let runs_dir = &self.layout.runs;
        if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
            return Err(ApiError::invalid(format!("invalid run id {run_id:?}")));
        }
        let dir = runs_dir.join(run_id);
        if !dir.join("run.json").exists() {
            return Err(ApiError::not_found(format!("no run {run_id} in {}", runs_dir.display())));
        }
        Ok(dir)
    }

    /// The runs of `runs/`, oldest first. A folder whose `run.json` does not open (not a run, or a
    /// damaged or altered sealed file) is left out.
    pub fn runs(&self) -> Result<Vec<RunDto>> {
        self.check(crate::Command::ListRuns)?;
        let vault = self.vault();
        let Ok(entries) = std::fs::read_dir(&self.layout.runs) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let dir = entry.path();
            let Ok(files) = RunFiles::open(&dir, &vault) else { continue };
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
}

/// Trains a prepared run to its end (or until `cancel`); needs no database.
pub fn execute(p: PreparedRun, cancel: &Cancel, on_event: &dyn Fn(&str, &TrainEvent)) -> Result<TrainResultDto> {
    let on = |e: &TrainEvent| on_event(&p.run_id, e);
    if p.resume {
        let outcome = localdx_train::resume(&p.dir, &p.vault, &p.data, cancel, &on)?;
        return Ok(result(&p.run_id, &outcome));
    }
    // Record where the run comes from before its first step: a killed run must still resume.
    let context = std::collections::HashMap::from([
        ("dataset_id".to_owned(), p.dataset_id.to_string()),
        ("model".to_owned(), p.model_name.clone()),
    ]);
    let outcome = localdx_train::train_with_context(&p.dir, &p.vault, &p.model_path, &p.data, &p.cfg, context, cancel, &on);
    Ok(result(&p.run_id, &outcome?))
}

/// Which model scores the notes.
pub enum Scorer<'a> {
    Run(&'a str),
    /// The base model's zero-shot head (`default` names the default model), reading notes as the
    /// quick preset does.
    Base(&'a str),
    /// The base model's zero-shot head reading notes as run `.1` does (tokens kept, start/end
    /// share): the fair baseline when the two are compared on the same notes.
    BaseLike(&'a str, &'a str),
}

impl Api {
    /// Loads the model that `scorer` names: a run's best adapters and head, or a base model with a
    /// zero-shot head from the labels and training notes of `dataset_id` (unused for a run).
    pub fn predictor(&self, scorer: Scorer, dataset_id: i64) -> Result<Predictor> {
        let models_dir = &self.layout.models;
        let store = self.permit(crate::Command::Predict)?;
        Ok(match scorer {
            Scorer::Run(run_id) => Predictor::from_run(&self.run_dir(run_id)?, &self.vault())?,
            Scorer::Base(name) | Scorer::BaseLike(name, _) => {
                let path = crate::models::resolve(models_dir, name)?;
                let (data, multi_label) = train_data(&store, dataset_id, Some(models_dir))?;
                let mut cfg = Preset::Quick.config();
                if let Scorer::BaseLike(_, run_id) = scorer {
                    let run = RunFiles::open(&self.run_dir(run_id)?, &self.vault())?.meta.config;
                    cfg.max_len = run.max_len;
                    cfg.head_share = run.head_share;
                }
                if multi_label {
                    cfg.head_kind = localdx_model::HeadKind::MultiLabel;
                }
                let notes: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
                Predictor::zero_shot(&path, data.labels.clone(), &data.label_texts, &notes, cfg)?
            }
        })
    }

    /// Scores the records of one split of a dataset.
    pub fn predict(&self, scorer: Scorer, dataset_id: i64, split: &str) -> Result<Vec<PredictionDto>> {
        let split: Split = split.parse().map_err(|_| ApiError::invalid(format!("unknown split {split} (train, validation, test)")))?;
        let store = self.permit(crate::Command::Predict)?;
        let predictor = self.predictor(scorer, dataset_id)?;
        let records: Vec<_> = store_records(&store, dataset_id)?.into_iter().filter(|r| r.split == split).collect();
        let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
        let scored = predictor.predict(&texts)?;
        Ok(records
            .into_iter()
            .zip(scored)
            .map(|(r, predictions)| PredictionDto { record_id: r.id, gold: r.labels, predictions })
            .collect())
    }

    // ---------------------------------------------------------------------------------------------
    // What the desktop app's Training screen needs: the datasets one may train on, the models with
    // their memory needs, time estimates from this machine's measured speed, and progress events in
    // the UI's camelCase.

    /// The datasets a run may use: released versions only, so that nothing a steward has not
    /// reviewed and released ever reaches a model. This is the one place that decides it.
    pub fn training_datasets(&self) -> Result<Vec<crate::datasets::DatasetDto>> {
        let released: std::collections::HashSet<i64> = self.releases(None)?.iter().map(|r| r.version_id).collect();
        Ok(self.datasets()?.into_iter().filter(|d| released.contains(&d.id) && d.records > 0).collect())
    }

}

/// The released version a run on `dataset_id` reads: the dataset itself when it is a released
/// version, else its newest release. A dataset that was never released is refused (`blocked`),
/// whoever asks and however (app, CLI, API).
fn trainable_version(api: &Api, dataset_id: i64) -> Result<i64> {
    Ok(api.training_version(dataset_id)?.version_id)
}

/// A training progress event for the window (camelCase; fields that do not apply are null).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainProgressDto {
    pub run_id: String,
    /// `started`, `zero_shot`, `step`, `validation` or `checkpoint`.
    pub event: String,
    pub step: Option<u64>,
    pub steps_total: Option<u64>,
    pub loss: Option<f64>,
    pub tokens_per_second: Option<f64>,
    pub eta_seconds: Option<f64>,
    /// 1-based epoch of a validation event.
    pub epoch: Option<usize>,
    pub validation_macro_f1: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub improved: Option<bool>,
    /// The storage choice of the base weights (`started` only).
    pub detail: Option<String>,
}

impl TrainProgressDto {
    pub fn from_event(run_id: &str, e: &TrainEvent) -> TrainProgressDto {
        let mut d = TrainProgressDto {
            run_id: run_id.to_owned(),
            event: String::new(),
            step: None,
            steps_total: None,
            loss: None,
            tokens_per_second: None,
            eta_seconds: None,
            epoch: None,
            validation_macro_f1: None,
            validation_accuracy: None,
            improved: None,
            detail: None,
        };
        match e {
            TrainEvent::Started { storage, steps_total, .. } => {
                d.event = "started".into();
                d.steps_total = Some(*steps_total);
                d.detail = Some(storage.clone());
            }
            TrainEvent::ZeroShot { metrics } => {
                d.event = "zero_shot".into();
                d.validation_macro_f1 = Some(metrics.macro_f1);
                d.validation_accuracy = Some(metrics.accuracy);
            }
            TrainEvent::Step { step, steps_total, loss, tokens_per_second, eta_seconds, .. } => {
                d.event = "step".into();
                d.step = Some(*step);
                d.steps_total = Some(*steps_total);
                d.loss = Some(*loss);
                d.tokens_per_second = Some(*tokens_per_second);
                d.eta_seconds = Some(*eta_seconds);
            }
            TrainEvent::Validation { epoch, metrics, improved } => {
                d.event = "validation".into();
                d.epoch = Some(epoch + 1);
                d.validation_macro_f1 = Some(metrics.macro_f1);
                d.validation_accuracy = Some(metrics.accuracy);
                d.improved = Some(*improved);
            }
            TrainEvent::Checkpoint { step } => {
                d.event = "checkpoint".into();
                d.step = Some(*step);
            }
        }
        d
    }
}

/// How a run started from the app ended: its result, or the error that stopped it (`cancelled`
/// when the user stopped it; the run can then be resumed).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainDoneDto {
    pub run_id: String,
    pub ok: bool,
    pub error: Option<ApiError>,
}

/// A base model as the Training screen shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoiceDto {
    pub name: String,
    pub bytes: u64,
    pub supported: bool,
    pub detail: String,
    pub is_default: bool,
    /// The licence named in the file's metadata (`general.license`), if any.
    pub license: Option<String>,
    /// Parameters counted from the model's shape.
    pub parameters: Option<u64>,
    /// Estimated memory of a run: an f32 copy of every weight plus the file and working memory.
    pub ram_estimate_bytes: Option<u64>,
}

/// The time a preset would take on a dataset, from measured speed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetEstimateDto {
    pub preset: String,
    pub epochs: usize,
    pub max_len: usize,
    pub rank: usize,
    /// Adapters on the last N layers only (null: every layer).
    pub last_layers: Option<usize>,
    /// Tokens the run will process (train notes, truncated, times epochs), estimated at four
    /// characters per token.
    pub train_tokens: u64,
    /// Seconds, or null when this machine has no measured speed for such a run yet.
    pub seconds: Option<f64>,
    /// Where the speed comes from, in words.
    pub basis: String,
}

/// What the Training screen offers for one dataset and model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainPlanDto {
    pub models: Vec<ModelChoiceDto>,
    pub presets: Vec<PresetEstimateDto>,
    pub train_notes: usize,
    pub validation_notes: usize,
    pub labels: usize,
    /// Memory of this machine (`/proc/meminfo`), when it can be read.
    pub total_memory_bytes: Option<u64>,
    pub available_memory_bytes: Option<u64>,
}

fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn model_choice(m: crate::models::ModelDto) -> ModelChoiceDto {
    let file = localdx_model::GgufFile::open(Path::new(&m.path)).ok();
    let license = file.as_ref().and_then(|f| f.string("general.license").ok().map(str::to_owned));
    let parameters = file.as_ref().and_then(|f| localdx_model::LlamaConfig::from_gguf(f).ok()).map(|c| {
        let kv = (c.kv_heads * c.head_dim) as u64;
        let (h, i) = (c.hidden as u64, c.intermediate as u64);
        let layer = h * (c.heads * c.head_dim) as u64 * 2 + h * kv * 2 + 3 * h * i + 2 * h;
        c.layers as u64 * layer + c.vocab_size as u64 * h + h
    });
    // f32 weights + the file read at load + 512 MiB of activations, tokenizer and head.
    let ram_estimate_bytes = parameters.map(|p| p * 4 + m.bytes + 512 * 1024 * 1024);
    ModelChoiceDto { name: m.name, bytes: m.bytes, supported: m.supported, detail: m.detail, is_default: m.is_default, license, parameters, ram_estimate_bytes }
}

/// The measured tokens/s of finished runs: (run id, config, tokens/s), newest first.
fn measured_speeds(runs_dir: &Path, vault: &Vault) -> Vec<(String, TrainConfig, f64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(runs_dir) else { return out };
    for entry in entries.flatten() {
        let Ok(files) = RunFiles::open(&entry.path(), vault) else { continue };
        if let Some(o) = &files.meta.outcome {
            if o.train_tokens_per_second > 0.0 {
                out.push((entry.file_name().to_string_lossy().into_owned(), files.meta.config.clone(), o.train_tokens_per_second));
            }
        }
    }
    out.sort_by_key(|(id, _, _)| std::cmp::Reverse(id.trim_start_matches("run-").parse::<u64>().unwrap_or(0)));
    out
}

impl Api {
    /// Models, presets with time estimates and machine memory for training on `dataset_id`.
    pub fn train_plan(&self, dataset_id: i64) -> Result<TrainPlanDto> {
        let store = self.permit(crate::Command::Train)?;
        let dataset_id = trainable_version(self, dataset_id)?;
        let (data, _) = train_data(&store, dataset_id, None)?;
        let models = crate::models::list(&self.layout.models)?.into_iter().map(model_choice).collect();
        let speeds = measured_speeds(&self.layout.runs, &self.vault());
        let presets = [Preset::Quick, Preset::Balanced, Preset::Thorough]
            .into_iter()
            .map(|p| {
                let cfg = p.config();
                let per_epoch: u64 = data.train.iter().map(|e| ((e.text.chars().count() / 4).max(1)).min(cfg.max_len) as u64).sum();
                let train_tokens = per_epoch * cfg.epochs as u64;
                let same = speeds.iter().find(|(_, c, _)| c.max_len == cfg.max_len && c.lora.last_layers == cfg.lora.last_layers && c.dp.is_none());
                let (seconds, basis) = match same {
                    Some((id, _, tps)) => (Some(train_tokens as f64 / tps), format!("{tps:.0} tokens/s measured by {id} with the same settings")),
                    None => (None, "no run with these settings on this machine yet: the estimate appears after the first one".into()),
                };
                let name = serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                PresetEstimateDto { preset: name, epochs: cfg.epochs, max_len: cfg.max_len, rank: cfg.lora.rank, last_layers: cfg.lora.last_layers, train_tokens, seconds, basis }
            })
            .collect();
        Ok(TrainPlanDto {
            models,
            presets,
            train_notes: data.train.len(),
            validation_notes: data.validation.len(),
            labels: data.labels.len(),
            total_memory_bytes: meminfo("MemTotal:"),
            available_memory_bytes: meminfo("MemAvailable:"),
        })
    }
}
