//! Scoring notes with a model and a head: pooled representations of token sequences, label
//! probabilities, and the zero-shot head built from the label texts. Prediction owns this; the
//! training loop calls it for its zero-shot head and for validation without a prefix cache.

use crate::config::TrainConfig;
use crate::error::Result;
use candle_core::Tensor;
use localdx_model::{ClassifierHead, HeadKind, LoadOptions, Model};
use std::path::Path;

/// The model a run trains: its base with the adapters `cfg` describes (`cfg.seed` gives their
/// initial values). A finished run's predictor loads it the same way, then sets the adapters from
/// the run's best weights.
pub fn load_model(model_path: &Path, cfg: &TrainConfig) -> Result<Model> {
    let opts = LoadOptions { lora: Some(cfg.lora.clone()), storage: cfg.storage, seed: cfg.seed, ..LoadOptions::default() };
    Ok(Model::load(model_path, &opts)?)
}

/// Pooled representations `[n, hidden]` of `texts`, batched, without gradients.
pub fn represent(model: &Model, ids: &[Vec<u32>], batch: usize) -> Result<Tensor> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut rows: Vec<Option<Tensor>> = vec![None; ids.len()];
    for chunk in order.chunks(batch.max(1)) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        let pooled = model.pooled(&seqs, None)?.detach();
        for (k, &i) in chunk.iter().enumerate() {
            rows[i] = Some(pooled.get(k)?);
        }
    }
    let rows: Vec<Tensor> = rows.into_iter().flatten().collect();
    Ok(Tensor::stack(&rows, 0)?)
}

/// Label probabilities for each sequence.
pub fn score(model: &Model, head: &ClassifierHead, ids: &[Vec<u32>], batch: usize) -> Result<Vec<Vec<f32>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let pooled = represent(model, ids, batch)?;
    let probs = head.probabilities(&head.logits(&pooled)?)?;
    Ok(probs.to_vec2::<f32>()?)
}

/// Unlabelled notes used to centre pooled representations (labels are never looked at).
pub const CENTER_SAMPLE: usize = 64;

/// A head initialised from the model's representation of each label text: the zero-shot model.
/// `notes` (token ids of unlabelled notes, at most [`CENTER_SAMPLE`] used) give the centre of
/// note representations.
pub fn zero_shot_head(model: &Model, label_texts: &[String], notes: &[Vec<u32>], kind: HeadKind, scale: f64) -> Result<ClassifierHead> {
    let ids: Vec<Vec<u32>> = label_texts.iter().map(|t| model.encode_truncated(t, 64, 1.0)).collect();
    let reprs = represent(model, &ids, 16)?;
    let center = if notes.is_empty() {
        None
    } else {
        // An evenly spaced sample, so the choice does not depend on the data's order only at the start.
        let step = notes.len().div_ceil(CENTER_SAMPLE).max(1);
        let sample: Vec<Vec<u32>> = notes.iter().step_by(step).take(CENTER_SAMPLE).cloned().collect();
        Some(represent(model, &sample, 16)?.mean(0)?)
    };
    Ok(ClassifierHead::from_label_representations(kind, &reprs, center.as_ref(), scale, 0.5)?)
}
