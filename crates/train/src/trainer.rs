//! The LoRA training loop: a zero-shot head from the label texts, AdamW with warm-up and cosine
//! decay, gradient accumulation, optional DP-SGD, validation each epoch, early stopping, and
//! checkpoints that make `resume` continue exactly where a killed run stopped.
//!
//! Determinism: everything random is derived from the run's seed and the position in the run
//! (epoch order from `(seed, epoch)`, dropout and DP noise from `(seed, step)`), so a resumed run
//! draws the same numbers as an uninterrupted one. This module never reads the wall clock except
//! for the tokens/s and ETA of progress events.

use crate::checkpoint::{self, RunFiles, State, Vault};
use crate::dp::{self, DpConfig};
use crate::error::{Result, TrainError};
use crate::metrics::{self, Metrics};
use crate::optim::{AdamW, AdamWConfig, Schedule};
use candle_core::{Tensor, Var};
use localdx_job::Cancel;
use localdx_model::{BaseStorage, ClassifierHead, HeadKind, LoadOptions, LoraConfig, Model};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// One labelled note. `labels` are indices into [`TrainData::labels`].
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: String,
    pub text: String,
    pub labels: Vec<usize>,
}

/// What a run trains on.
#[derive(Debug, Clone)]
pub struct TrainData {
    pub labels: Vec<String>,
    /// The text whose representation initialises each label (the label itself, or an ICD-10 name).
    pub label_texts: Vec<String>,
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
}

/// Named bundles of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Short notes, few epochs: minutes on a laptop CPU.
    Quick,
    Balanced,
    Thorough,
}

impl Preset {
    pub fn parse(name: &str) -> Option<Preset> {
        match name {
            "quick" => Some(Preset::Quick),
            "balanced" => Some(Preset::Balanced),
            "thorough" => Some(Preset::Thorough),
            _ => None,
        }
    }

    pub fn config(self) -> TrainConfig {
        let base = TrainConfig::default();
        match self {
            // Adapters on the last 8 of SmolLM2's 30 layers: the 22 frozen layers below run once
            // per note (cached), which makes an epoch about 3.5x cheaper on a CPU.
            Preset::Quick => TrainConfig { epochs: 3, max_len: 64, lora: LoraConfig { last_layers: Some(8), ..LoraConfig::default() }, ..base },
            Preset::Balanced => TrainConfig { epochs: 5, max_len: 256, ..base },
            Preset::Thorough => TrainConfig { epochs: 10, max_len: 512, patience: 3, ..base },
        }
    }
}

/// Examples per DP-SGD update: one noise draw is shared by the whole batch, so its share per
/// example falls as the batch grows (see [`TrainConfig::private`]).
pub const DP_BATCH: usize = 64;
/// At least this many epochs under DP-SGD: a batch of 64 makes few updates per epoch.
pub const DP_MIN_EPOCHS: usize = 10;
/// The AdamW learning rate under DP-SGD.
pub const DP_LR: f64 = 1e-2;
/// Epochs without validation improvement before a DP-SGD run stops: its validation score is noisy.
pub const DP_PATIENCE: usize = 3;

impl TrainConfig {
    /// This configuration with DP-SGD at `epsilon` (clip 1, delta 1/N), and the settings DP-SGD
    /// needs to learn anything: batches of [`DP_BATCH`], at least [`DP_MIN_EPOCHS`] epochs, a
    /// learning rate of [`DP_LR`], a patience of [`DP_PATIENCE`] epochs. With the non-private
    /// defaults (batches of 8, 3 epochs) the noise of each update, `sigma * clip / 8` per
    /// coordinate, swamped the clipped signal: on Symptom2Disease at epsilon 8 the model reached
    /// 0.23 test accuracy against 0.95 without DP (docs/training.md has the runs behind these
    /// values).
    pub fn private(mut self, epsilon: f64) -> TrainConfig {
        self.dp = Some(DpConfig { target_epsilon: Some(epsilon), noise_multiplier: None, clip: 1.0, delta: None });
        self.batch_size = DP_BATCH;
        self.grad_accum = 1;
        self.epochs = self.epochs.max(DP_MIN_EPOCHS);
        self.optimizer.lr = DP_LR;
        self.patience = self.patience.max(DP_PATIENCE);
        self
    }
}

/// Every setting of a run; saved in the run folder so `resume` needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub lora: LoraConfig,
    pub head_kind: HeadKind,
    /// Tokens kept per note (head and tail).
    pub max_len: usize,
    /// Share of `max_len` taken from the start of a long note; the rest from its end.
    pub head_share: f64,
    pub batch_size: usize,
    pub grad_accum: usize,
    pub epochs: usize,
    pub optimizer: AdamWConfig,
    /// Warm-up as a share of all updates.
    pub warmup_share: f64,
    /// Final learning rate as a share of the peak.
    pub lr_floor: f64,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    pub seed: u64,
    pub eval_batch: usize,
    /// Updates between checkpoints (one is also written at every epoch end and on cancel).
    pub checkpoint_every: u64,
    /// Weigh classes by inverse frequency.
    pub class_weights: bool,
    pub head_scale: f64,
    pub storage: BaseStorage,
    pub dp: Option<DpConfig>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lora: LoraConfig::default(),
            head_kind: HeadKind::MultiClass,
            max_len: 128,
            head_share: 0.5,
            batch_size: 8,
            grad_accum: 1,
            epochs: 3,
            optimizer: AdamWConfig { lr: 2e-3, ..AdamWConfig::default() },
            warmup_share: 0.1,
            lr_floor: 0.05,
            patience: 1,
            seed: 42,
            eval_batch: 16,
            checkpoint_every: 50,
            class_weights: true,
            head_scale: 20.0,
            storage: BaseStorage::Auto,
            dp: None,
        }
    }
}

/// What the loop reports while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    Started { storage: String, steps_total: u64, train: usize, validation: usize, noise_multiplier: Option<f64> },
    ZeroShot { metrics: Metrics },
    Step { step: u64, steps_total: u64, loss: f64, lr: f64, tokens_per_second: f64, eta_seconds: f64 },
    Validation { epoch: usize, metrics: Metrics, improved: bool },
    Checkpoint { step: u64 },
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub zero_shot: Metrics,
    pub best: Metrics,
    pub best_epoch: usize,
    pub steps: u64,
    pub epsilon: Option<f64>,
    pub delta: Option<f64>,
    pub noise_multiplier: Option<f64>,
    pub seconds: f64,
    pub train_tokens_per_second: f64,
}

struct Session<'a> {
    model: Model,
    head: ClassifierHead,
    names: Vec<String>,
    vars: Vec<Var>,
    opt: AdamW,
    cfg: TrainConfig,
    data: &'a TrainData,
    train_ids: Vec<Vec<u32>>,
    val_ids: Vec<Vec<u32>>,
    label_weights: Option<Tensor>,
    sigma: Option<f64>,
    /// Per-note residual streams `[t_i, hidden]` after the frozen lower layers, computed once.
    train_cache: Option<Vec<Tensor>>,
    val_cache: Option<Vec<Tensor>>,
    /// The first adapted layer (0: no caching possible).
    cut: usize,
}

/// The frozen lower layers' output for each sequence, unpadded, computed in length-sorted batches.
pub fn prefix_cache(model: &Model, ids: &[Vec<u32>], upto: usize, batch: usize) -> Result<Vec<Tensor>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut out: Vec<Option<Tensor>> = vec![None; ids.len()];
    for chunk in order.chunks(batch.max(1)) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        let (tokens, _) = model.pad(&seqs)?;
        let x = model.llama.prefix(&tokens, upto)?;
        for (k, &i) in chunk.iter().enumerate() {
            out[i] = Some(x.get(k)?.narrow(0, 0, ids[i].len())?.contiguous()?);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Mean-pooled final states of cached prefixes (`idx` into `cache`), running only the adapted layers.
fn pooled_from_cache(model: &Model, cache: &[Tensor], idx: &[usize], cut: usize, rng: Option<&mut StdRng>) -> Result<Tensor> {
    let t = idx.iter().map(|&i| cache[i].dim(0)).collect::<candle_core::Result<Vec<_>>>()?.into_iter().max().unwrap_or(1);
    let dev = model.device();
    let mut rows = Vec::with_capacity(idx.len());
    let mut mask = Vec::with_capacity(idx.len() * t);
    for &i in idx {
        let x = &cache[i];
        let (len, d) = x.dims2()?;
        rows.push(if len < t { Tensor::cat(&[x, &Tensor::zeros((t - len, d), x.dtype(), dev)?], 0)? } else { x.clone() });
        mask.extend((0..t).map(|k| if k < len { 1f32 } else { 0.0 }));
    }
    let x = Tensor::stack(&rows, 0)?;
    let mask = Tensor::from_vec(mask, (idx.len(), t), dev)?;
    let h = model.llama.suffix(&x, cut, rng)?;
    Ok(localdx_model::llama::mean_pool(&h, &mask)?)
}

fn load_model(model_path: &Path, cfg: &TrainConfig) -> Result<Model> {
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

fn evaluate(s: &Session, ids: &[Vec<u32>], examples: &[Example]) -> Result<Metrics> {
    let probs = match &s.val_cache {
        Some(cache) => {
            let mut order: Vec<usize> = (0..cache.len()).collect();
            order.sort_by_key(|&i| ids[i].len());
            let mut rows: Vec<Vec<f32>> = vec![Vec::new(); cache.len()];
            for chunk in order.chunks(s.cfg.eval_batch.max(1)) {
                let pooled = pooled_from_cache(&s.model, cache, chunk, s.cut, None)?;
                let p = s.head.probabilities(&s.head.logits(&pooled)?)?.to_vec2::<f32>()?;
                for (k, &i) in chunk.iter().enumerate() {
                    rows[i] = p[k].clone();
                }
            }
            rows
        }
        None => score(&s.model, &s.head, ids, s.cfg.eval_batch)?,
    };
    let gold: Vec<Vec<usize>> = examples.iter().map(|e| e.labels.clone()).collect();
    Ok(metrics::evaluate(&probs, &gold, s.data.labels.len(), s.cfg.head_kind == HeadKind::MultiLabel, 0.5))
}

/// Primary validation metric: macro-F1 (the one early stopping watches).
fn primary(m: &Metrics) -> f64 {
    m.macro_f1
}

fn steps_per_epoch(cfg: &TrainConfig, n: usize) -> u64 {
    let batches = n.div_ceil(cfg.batch_size.max(1));
    batches.div_ceil(cfg.grad_accum.max(1)) as u64
}

fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)));
    order
}

fn step_rng(seed: u64, step: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xBF58_476D_1CE4_E5B9))
}

fn targets(s: &Session, idx: &[usize]) -> Result<Tensor> {
    let l = s.data.labels.len();
    let mut t = vec![0f32; idx.len() * l];
    for (r, &i) in idx.iter().enumerate() {
        for &lab in &s.data.train[i].labels {
            if lab < l {
                t[r * l + lab] = 1.0;
            }
        }
    }
    Ok(Tensor::from_vec(t, (idx.len(), l), s.model.device())?)
}

/// Loss and gradients (in `s.vars` order) of the examples `idx`.
fn loss_and_grads(s: &Session, idx: &[usize], rng: &mut StdRng) -> Result<(f64, Vec<Tensor>)> {
    let pooled = match &s.train_cache {
        Some(cache) => pooled_from_cache(&s.model, cache, idx, s.cut, Some(rng))?,
        None => {
            let seqs: Vec<&[u32]> = idx.iter().map(|&i| s.train_ids[i].as_slice()).collect();
            s.model.pooled(&seqs, Some(rng))?
        }
    };
    let logits = s.head.logits(&pooled)?;
    let loss = s.head.loss(&logits, &targets(s, idx)?, s.label_weights.as_ref())?;
    let value = loss.to_scalar::<f32>()? as f64;
    let grads = loss.backward()?;
    // Detached: a gradient computed from a variable by candle's ops records them, and so keeps the
    // example's whole graph (its activations) alive for as long as the gradient lives. Summed
    // over a DP batch of per-example gradients, that held 64 graphs at once (6.7 GB).
    let out = s
        .vars
        .iter()
        .map(|v| match grads.get(v.as_tensor()) {
            Some(g) => Ok(g.detach()),
            None => v.as_tensor().zeros_like(),
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok((value, out))
}

fn add_into(acc: &mut Option<Vec<Tensor>>, grads: Vec<Tensor>, factor: f64) -> Result<()> {
    match acc {
        None => *acc = Some(grads.into_iter().map(|g| g * factor).collect::<candle_core::Result<Vec<_>>>()?),
        Some(a) => {
            for (x, g) in a.iter_mut().zip(grads) {
                *x = (&*x + (g * factor)?)?;
            }
        }
    }
    Ok(())
}

fn global_norm(grads: &[Tensor]) -> Result<f64> {
    let mut sum = 0f64;
    for g in grads {
        sum += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    Ok(sum.sqrt())
}

/// One optimiser update over `group` (a list of micro-batches). Returns the mean loss.
fn update(s: &mut Session, group: &[&[usize]], step: u64, lr: f64) -> Result<f64> {
    let n: usize = group.iter().map(|b| b.len()).sum();
    let mut rng = step_rng(s.cfg.seed, step, 1);
    let mut acc: Option<Vec<Tensor>> = None;
    let mut loss_sum = 0.0;
    match (&s.cfg.dp, s.sigma) {
        (Some(dp), Some(sigma)) => {
            // DP-SGD: per-example gradients, clipped, summed, noised, averaged.
            for &i in group.iter().flat_map(|b| b.iter()) {
                let (loss, grads) = loss_and_grads(s, &[i], &mut rng)?;
                loss_sum += loss;
                let norm = global_norm(&grads)?;
                let factor = (dp.clip / (norm + 1e-12)).min(1.0);
                add_into(&mut acc, grads, factor)?;
            }
            let mut noise_rng = step_rng(s.cfg.seed, step, 2);
            if let Some(acc) = acc.as_mut() {
                for g in acc.iter_mut() {
                    let z = dp::gaussian(&mut noise_rng, g.elem_count());
                    let z = (Tensor::from_vec(z, g.shape(), g.device())? * (sigma * dp.clip))?;
                    *g = ((&*g + z)? / n as f64)?;
                }
            }
        }
        _ => {
            for b in group {
                let (loss, grads) = loss_and_grads(s, b, &mut rng)?;
                let share = b.len() as f64 / n as f64;
                loss_sum += loss * b.len() as f64;
                add_into(&mut acc, grads, share)?;
            }
        }
    }
    if let Some(grads) = acc {
        s.opt.step(&grads, lr)?;
    }
    Ok(loss_sum / n.max(1) as f64)
}

fn tokens(model: &Model, examples: &[Example], cfg: &TrainConfig) -> Vec<Vec<u32>> {
    examples.iter().map(|e| model.encode_truncated(&e.text, cfg.max_len, cfg.head_share)).collect()
}

/// Per-label loss weights against imbalance, from the label counts of the training examples.
///
/// Multi-class: the weight of a gold class is `n / (labels * count)` (scikit-learn's "balanced"),
/// so every class carries the same total weight. Multi-label: each label is its own binary
/// problem, so the weight of a positive is the label's negative-to-positive ratio
/// `(n - count) / count` (PyTorch's `pos_weight` of `BCEWithLogitsLoss`): a rare code's few
/// positives weigh as much as its many negatives. Never below 1 there (a positive never counts
/// less than a negative), and both are clamped to at most 10 so one example cannot dominate.
/// Labels without training examples get weight 1.
pub fn class_weights(train: &[Example], labels: usize, kind: HeadKind) -> Vec<f32> {
    let n = train.len() as f64;
    let mut counts = vec![0usize; labels];
    for e in train {
        for &x in &e.labels {
            if x < labels {
                counts[x] += 1;
            }
        }
    }
    counts
        .iter()
        .map(|&c| {
            let c = c as f64;
            let w = match kind {
                _ if c == 0.0 => 1.0,
                HeadKind::MultiClass => (n / (labels as f64 * c)).clamp(0.1, 10.0),
                HeadKind::MultiLabel => ((n - c) / c).clamp(1.0, 10.0),
            };
            w as f32
        })
        .collect()
}

fn validate_data(data: &TrainData, kind: HeadKind) -> Result<()> {
    if data.labels.is_empty() || data.labels.len() != data.label_texts.len() {
        return Err(TrainError::Invalid("the dataset has no labels".into()));
    }
    if data.train.is_empty() {
        return Err(TrainError::Invalid("the dataset has no training records with labels".into()));
    }
    if data.validation.is_empty() {
        return Err(TrainError::Invalid("the dataset has no validation records with labels: give it a validation split".into()));
    }
    for (split, examples) in [("training", &data.train), ("validation", &data.validation)] {
        for e in examples.iter() {
            if let Some(&bad) = e.labels.iter().find(|&&l| l >= data.labels.len()) {
                return Err(TrainError::Invalid(format!(
                    "{split} record {} has label index {bad}, but the run has {} labels",
                    e.id,
                    data.labels.len()
                )));
            }
            if kind == HeadKind::MultiClass && e.labels.len() != 1 {
                return Err(TrainError::Invalid(format!(
                    "{split} record {} has {} labels, but a multi-class run needs exactly one per record (train a multi-label run instead)",
                    e.id,
                    e.labels.len()
                )));
            }
        }
    }
    Ok(())
}

/// Starts a new run in `run_dir` (created; must not hold a run), its files written plain.
pub fn train(
    run_dir: &Path,
    model_path: &Path,
    data: &TrainData,
    cfg: &TrainConfig,
    cancel: &Cancel,
    on_event: &dyn Fn(&TrainEvent),
) -> Result<Outcome> {
    train_with_context(run_dir, &Vault::Plain, model_path, data, cfg, HashMap::new(), cancel, on_event)
}

/// [`train`], with every file of the run written through `vault` (sealed in an encrypted
/// workspace) and the caller's `context` (dataset id, model name) written into `run.json` when
/// the run folder is created, before the first step: a run killed at any point still says where
/// its data comes from, which `resume` needs.
#[allow(clippy::too_many_arguments)]
pub fn train_with_context(
    run_dir: &Path,
    vault: &Vault,
    model_path: &Path,
    data: &TrainData,
    cfg: &TrainConfig,
    context: HashMap<String, String>,
    cancel: &Cancel,
    on_event: &dyn Fn(&TrainEvent),
) -> Result<Outcome> {
    validate_data(data, cfg.head_kind)?;
    let mut files = RunFiles::create(run_dir, model_path, cfg, data, vault)?;
    if !context.is_empty() {
        files.meta.context = context;
        files.write_meta()?;
    }
    run(files, data, cancel, on_event, None)
}

/// Continues the run in `run_dir` (its files read and written through `vault`) from its last
/// checkpoint.
pub fn resume(run_dir: &Path, vault: &Vault, data: &TrainData, cancel: &Cancel, on_event: &dyn Fn(&TrainEvent)) -> Result<Outcome> {
    let files = RunFiles::open(run_dir, vault)?;
    validate_data(data, files.meta.config.head_kind)?;
    let ckpt = checkpoint::load_checkpoint(&files)?;
    run(files, data, cancel, on_event, ckpt)
}

fn run(
    files: RunFiles,
    data: &TrainData,
    cancel: &Cancel,
    on_event: &dyn Fn(&TrainEvent),
    ckpt: Option<checkpoint::Checkpoint>,
) -> Result<Outcome> {
    let started = Instant::now();
    let cfg = files.meta.config.clone();
    let model = load_model(&files.meta.model_path, &cfg)?;
    let train_ids = tokens(&model, &data.train, &cfg);
    let val_ids = tokens(&model, &data.validation, &cfg);
    let n = data.train.len();
    let spe = steps_per_epoch(&cfg, n);
    let total = spe * cfg.epochs as u64;

    let (delta, sigma) = match &cfg.dp {
        Some(dp) => {
            let delta = dp.delta.unwrap_or(1.0 / n as f64);
            let q = (cfg.batch_size * cfg.grad_accum).min(n) as f64 / n as f64;
            let sigma = match (dp.noise_multiplier, dp.target_epsilon) {
                (Some(s), _) => s,
                (None, Some(eps)) => dp::noise_for_epsilon(eps, q, total, delta)
                    .ok_or_else(|| TrainError::Invalid(format!("no noise level reaches epsilon {eps}")))?,
                (None, None) => return Err(TrainError::Invalid("DP needs a target epsilon or a noise multiplier".into())),
            };
            (Some(delta), Some(sigma))
        }
        None => (None, None),
    };

    let head = match &ckpt {
        Some(c) => c.head(cfg.head_kind, cfg.head_scale)?,
        None => zero_shot_head(&model, &data.label_texts, &train_ids, cfg.head_kind, cfg.head_scale)?,
    };
    let mut names = Vec::new();
    let mut vars = Vec::new();
    for (name, var) in model.llama.lora_vars() {
        names.push(name);
        vars.push(var);
    }
    names.push("head.weight".into());
    vars.push(head.weight.clone());
    names.push("head.bias".into());
    vars.push(head.bias.clone());
    let opt = AdamW::new(vars.clone(), cfg.optimizer.clone())?;

    let label_weights = if cfg.class_weights {
        let w = class_weights(&data.train, data.labels.len(), cfg.head_kind);
        Some(Tensor::from_vec(w, data.labels.len(), model.device())?)
    } else {
        None
    };

    let cut = model.llama.first_adapted_layer();
    let (train_cache, val_cache) = if cut > 0 {
        (Some(prefix_cache(&model, &train_ids, cut, cfg.eval_batch)?), Some(prefix_cache(&model, &val_ids, cut, cfg.eval_batch)?))
    } else {
        (None, None)
    };
    let mut s = Session {
        model,
        head,
        names,
        vars,
        opt,
        cfg: cfg.clone(),
        data,
        train_ids,
        val_ids,
        label_weights,
        sigma,
        train_cache,
        val_cache,
        cut,
    };
    let mut state = match ckpt {
        Some(c) => {
            c.restore(&mut s.opt, &s.names)?;
            c.state
        }
        None => {
            let zs = evaluate(&s, &s.val_ids, &data.validation)?;
            on_event(&TrainEvent::ZeroShot { metrics: zs });
            State::new(zs)
        }
    };
    on_event(&TrainEvent::Started {
        storage: s.model.llama.storage_reason.clone(),
        steps_total: total,
        train: n,
        validation: data.validation.len(),
        noise_multiplier: sigma,
    });
    let schedule = Schedule {
        peak: cfg.optimizer.lr,
        warmup: ((total as f64 * cfg.warmup_share).round() as u64).max(1),
        total,
        floor: cfg.lr_floor,
    };

    let clock = Instant::now();
    let steps_at_start = state.step;
    let mut tokens_this_session = 0u64;
    while state.epoch < cfg.epochs && !state.stopped {
        let order = epoch_order(n, cfg.seed, state.epoch);
        let batches: Vec<&[usize]> = order.chunks(cfg.batch_size.max(1)).collect();
        while state.batch < batches.len() {
            let end = (state.batch + cfg.grad_accum.max(1)).min(batches.len());
            let group = &batches[state.batch..end];
            let lr = schedule.lr(state.step);
            let loss = update(&mut s, group, state.step, lr)?;
            tokens_this_session += group.iter().flat_map(|b| b.iter()).map(|&i| s.train_ids[i].len() as u64).sum::<u64>();
            state.batch = end;
            state.step += 1;
            let secs = clock.elapsed().as_secs_f64().max(1e-9);
            let done_here = state.step - steps_at_start;
            on_event(&TrainEvent::Step {
                step: state.step,
                steps_total: total,
                loss,
                lr,
                tokens_per_second: tokens_this_session as f64 / secs,
                eta_seconds: secs / done_here as f64 * total.saturating_sub(state.step) as f64,
            });
            if cancel.is_cancelled() {
                checkpoint::save_checkpoint(&files, &s.names, &s.vars, &s.opt, &s.head, &state)?;
                return Err(TrainError::Cancelled { step: state.step });
            }
            if cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0 {
                checkpoint::save_checkpoint(&files, &s.names, &s.vars, &s.opt, &s.head, &state)?;
                on_event(&TrainEvent::Checkpoint { step: state.step });
            }
        }
        let m = evaluate(&s, &s.val_ids, &data.validation)?;
        let improved = state.best.is_none_or(|b| primary(&m) > primary(&b));
        if improved {
            state.best = Some(m);
            state.best_epoch = state.epoch;
            state.since_best = 0;
            checkpoint::save_weights(&files.vault, &files.best_path(), &s.names, &s.vars, &s.head)?;
        } else {
            state.since_best += 1;
            if state.since_best >= cfg.patience.max(1) {
                state.stopped = true;
            }
        }
        on_event(&TrainEvent::Validation { epoch: state.epoch, metrics: m, improved });
        state.history.push(m);
        state.epoch += 1;
        state.batch = 0;
        checkpoint::save_checkpoint(&files, &s.names, &s.vars, &s.opt, &s.head, &state)?;
    }
    let epsilon = match (&cfg.dp, sigma, delta) {
        (Some(_), Some(sigma), Some(delta)) => {
            let q = (cfg.batch_size * cfg.grad_accum).min(n) as f64 / n as f64;
            Some(dp::epsilon(q, sigma, state.step, delta))
        }
        _ => None,
    };
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    let outcome = Outcome {
        zero_shot: state.zero_shot,
        best: state.best.unwrap_or(state.zero_shot),
        best_epoch: state.best_epoch,
        steps: state.step,
        epsilon,
        delta,
        noise_multiplier: sigma,
        seconds: started.elapsed().as_secs_f64(),
        train_tokens_per_second: tokens_this_session as f64 / secs,
    };
    files.finish(&outcome)?;
    Ok(outcome)
}
