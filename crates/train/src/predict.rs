//! Scoring notes with a finished run (its best adapters and head) or with the untouched base model
//! and a zero-shot head built from the label texts; the scoring itself is [`crate::score`].

use crate::checkpoint::{self, RunFiles, Vault};
use crate::error::{Result, TrainError};
use crate::config::TrainConfig;
use crate::score::{load_model, score, zero_shot_head};
use localdx_model::{ClassifierHead, LoadOptions, Model};
use std::path::Path;

/// A model and head ready to score notes.
pub struct Predictor {
    pub model: Model,
    pub head: ClassifierHead,
    pub labels: Vec<String>,
    pub config: TrainConfig,
}

/// One label with its probability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scored {
    pub label: String,
    pub probability: f32,
}

impl Predictor {
    /// The best epoch of the run in `run_dir` (its files read through `vault`).
    pub fn from_run(run_dir: &Path, vault: &Vault) -> Result<Predictor> {
        let files = RunFiles::open(run_dir, vault)?;
        let cfg = files.meta.config.clone();
        let best = files.best_path();
        if !best.exists() {
            return Err(TrainError::Invalid(format!("run {} has no validated epoch yet (resume it first)", run_dir.display())));
        }
        let model = load_model(&files.meta.model_path, &cfg)?;
        let weights = checkpoint::load_weights_from(vault, &best)?;
        let shown = best.display().to_string();
        checkpoint::set_vars(&weights, &model.llama.lora_vars(), &shown)?;
        let head = checkpoint::head_from(&weights, cfg.head_kind, cfg.head_scale, &shown)?;
        Ok(Predictor { model, head, labels: files.meta.labels.clone(), config: cfg })
    }

    /// The base model with a head initialised from `label_texts`, centred on the unlabelled
    /// `notes` (e.g. the training notes, labels unused): the zero-shot baseline.
    pub fn zero_shot(model_path: &Path, labels: Vec<String>, label_texts: &[String], notes: &[&str], config: TrainConfig) -> Result<Predictor> {
        let opts = LoadOptions { lora: None, storage: config.storage, ..LoadOptions::default() };
        let model = Model::load(model_path, &opts)?;
        let ids: Vec<Vec<u32>> = notes.iter().map(|t| model.encode_truncated(t, config.max_len, config.head_share)).collect();
        let head = zero_shot_head(&model, label_texts, &ids, config.head_kind, config.head_scale)?;
        Ok(Predictor { model, head, labels, config })
    }

    /// Label probabilities of each text, highest first.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Vec<Scored>>> {
        let ids: Vec<Vec<u32>> =
            texts.iter().map(|t| self.model.encode_truncated(t, self.config.max_len, self.config.head_share)).collect();
        let probs = score(&self.model, &self.head, &ids, self.config.eval_batch)?;
        Ok(probs
            .into_iter()
            .map(|p| {
                let mut row: Vec<Scored> =
                    self.labels.iter().zip(p).map(|(l, probability)| Scored { label: l.clone(), probability }).collect();
                row.sort_by(|a, b| b.probability.total_cmp(&a.probability));
                row
            })
            .collect())
    }
}
