//! The LoRA training loop: a zero-shot head from the label texts, AdamW with warm-up and cosine
//! decay, gradient accumulation, optional DP-SGD, validation each epoch, early stopping, and
//! checkpoints that make `resume` continue exactly where a killed run stopped.
//!
//! Determinism: everything random is derived from the run's seed and the position in the run
//! (epoch order from `(seed, epoch)`, dropout and DP noise from `(seed, step)`), so a resumed run
//! draws the same numbers as an uninterrupted one. This module never reads the wall clock except
//! for the tokens/s and ETA of progress events.

use crate::checkpoint::{self, Checkpoint, RunFiles, State, Vault};
use crate::dp;
use crate::error::{Result, TrainError};
use crate::metrics::{self, Metrics};
use crate::optim::{AdamW, Schedule};
use crate::score::load_model;
use candle_core::{Tensor, Var};
use localdx_job::Cancel;
use localdx_model::{ClassifierHead, HeadKind, Model};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

// The run's inputs, settings and result, and the scoring the zero-shot head and validation share
// with prediction, at the paths callers have always used.
pub use crate::config::{Example, Outcome, Preset, TrainConfig, TrainData, DP_BATCH, DP_LR, DP_MIN_EPOCHS, DP_PATIENCE};
pub use crate::score::{represent, score, zero_shot_head, CENTER_SAMPLE};

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

/// Everything one run's updates and validations work on.
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

impl<'a> Session<'a> {
    /// Tokenizes the notes, takes the head from the checkpoint (else builds the zero-shot head),
    /// collects the trainable variables (adapters, then the head) for AdamW, and runs the frozen
    /// lower layers once over every note when only the upper layers have adapters.
    fn open(model: Model, data: &'a TrainData, cfg: TrainConfig, sigma: Option<f64>, ckpt: Option<&Checkpoint>) -> Result<Session<'a>> {
        let train_ids = tokens(&model, &data.train, &cfg);
        let val_ids = tokens(&model, &data.validation, &cfg);
        let head = match ckpt {
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
        Ok(Session { model, head, names, vars, opt, cfg, data, train_ids, val_ids, label_weights, sigma, train_cache, val_cache, cut })
    }

    /// Writes weights, optimizer moments and the loop position into the run's checkpoint.
    fn save_checkpoint(&self, files: &RunFiles, state: &State) -> Result<()> {
        checkpoint::save_checkpoint(files, &self.names, &self.vars, &self.opt, &self.head, state)
    }
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

fn run(files: RunFiles, data: &TrainData, cancel: &Cancel, on_event: &dyn Fn(&TrainEvent), ckpt: Option<Checkpoint>) -> Result<Outcome> {
    let started = Instant::now();
    let cfg = files.meta.config.clone();
    let model = load_model(&files.meta.model_path, &cfg)?;
    let n = data.train.len();
    let total = steps_per_epoch(&cfg, n) * cfg.epochs as u64;
    let (delta, sigma) = dp_noise(&cfg, n, total)?;
    let mut s = Session::open(model, data, cfg.clone(), sigma, ckpt.as_ref())?;
    let mut state = start_state(&mut s, ckpt, on_event)?;
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
    let mut pace = Pace { clock: Instant::now(), steps_at_start: state.step, tokens: 0, total };
    while state.epoch < cfg.epochs && !state.stopped {
        train_epoch(&mut s, &files, &mut state, &schedule, &mut pace, cancel, on_event)?;
        end_epoch(&s, &files, &mut state, on_event)?;
    }
    let epsilon = match (&cfg.dp, sigma, delta) {
        (Some(_), Some(sigma), Some(delta)) => Some(dp::epsilon(sampling_rate(&cfg, n), sigma, state.step, delta)),
        _ => None,
    };
    let outcome = Outcome {
        zero_shot: state.zero_shot,
        best: state.best.unwrap_or(state.zero_shot),
        best_epoch: state.best_epoch,
        steps: state.step,
        epsilon,
        delta,
        noise_multiplier: sigma,
        seconds: started.elapsed().as_secs_f64(),
        train_tokens_per_second: pace.tokens_per_second(),
    };
    files.finish(&outcome)?;
    Ok(outcome)
}

/// The share of the training examples one DP-SGD update draws.
fn sampling_rate(cfg: &TrainConfig, n: usize) -> f64 {
    (cfg.batch_size * cfg.grad_accum).min(n) as f64 / n as f64
}

/// DP-SGD's `(delta, noise multiplier)` for `total` updates over `n` examples: the configured
/// multiplier, else the smallest that keeps the run at its target epsilon. `(None, None)` without DP.
fn dp_noise(cfg: &TrainConfig, n: usize, total: u64) -> Result<(Option<f64>, Option<f64>)> {
    let Some(dp) = &cfg.dp else { return Ok((None, None)) };
    let delta = dp.delta.unwrap_or(1.0 / n as f64);
    let sigma = match (dp.noise_multiplier, dp.target_epsilon) {
        (Some(s), _) => s,
        (None, Some(eps)) => dp::noise_for_epsilon(eps, sampling_rate(cfg, n), total, delta)
            .ok_or_else(|| TrainError::Invalid(format!("no noise level reaches epsilon {eps}")))?,
        (None, None) => return Err(TrainError::Invalid("DP needs a target epsilon or a noise multiplier".into())),
    };
    Ok((Some(delta), Some(sigma)))
}

/// Where the loop starts: the checkpoint's state (its optimizer moments restored into `s`), or,
/// for a new run, a fresh state after validating the zero-shot head.
fn start_state(s: &mut Session, ckpt: Option<Checkpoint>, on_event: &dyn Fn(&TrainEvent)) -> Result<State> {
    match ckpt {
        Some(c) => {
            c.restore(&mut s.opt, &s.names)?;
            Ok(c.state)
        }
        None => {
            let zs = evaluate(s, &s.val_ids, &s.data.validation)?;
            on_event(&TrainEvent::ZeroShot { metrics: zs });
            Ok(State::new(zs))
        }
    }
}

/// Tokens/s and ETA of this process's part of the run (a resumed run counts from where it resumed).
struct Pace {
    clock: Instant,
    steps_at_start: u64,
    /// Training tokens seen since `clock` started.
    tokens: u64,
    total: u64,
}

impl Pace {
    fn step_event(&self, step: u64, loss: f64, lr: f64) -> TrainEvent {
        let secs = self.clock.elapsed().as_secs_f64().max(1e-9);
        let done_here = step - self.steps_at_start;
        TrainEvent::Step {
            step,
            steps_total: self.total,
            loss,
            lr,
            tokens_per_second: self.tokens as f64 / secs,
            eta_seconds: secs / done_here as f64 * self.total.saturating_sub(step) as f64,
        }
    }

    fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.clock.elapsed().as_secs_f64().max(1e-9)
    }
}

/// The updates of the epoch `state` is in, from its next micro-batch on: a checkpoint every
/// `checkpoint_every` updates, and one before returning [`TrainError::Cancelled`] on cancel.
fn train_epoch(
    s: &mut Session,
    files: &RunFiles,
    state: &mut State,
    schedule: &Schedule,
    pace: &mut Pace,
    cancel: &Cancel,
    on_event: &dyn Fn(&TrainEvent),
) -> Result<()> {
    let order = epoch_order(s.data.train.len(), s.cfg.seed, state.epoch);
    let batches: Vec<&[usize]> = order.chunks(s.cfg.batch_size.max(1)).collect();
    while state.batch < batches.len() {
        let end = (state.batch + s.cfg.grad_accum.max(1)).min(batches.len());
        let group = &batches[state.batch..end];
        let lr = schedule.lr(state.step);
        let loss = update(s, group, state.step, lr)?;
        pace.tokens += group.iter().flat_map(|b| b.iter()).map(|&i| s.train_ids[i].len() as u64).sum::<u64>();
        state.batch = end;
        state.step += 1;
        on_event(&pace.step_event(state.step, loss, lr));
        if cancel.is_cancelled() {
            s.save_checkpoint(files, state)?;
            return Err(TrainError::Cancelled { step: state.step });
        }
        if s.cfg.checkpoint_every > 0 && state.step % s.cfg.checkpoint_every == 0 {
            s.save_checkpoint(files, state)?;
            on_event(&TrainEvent::Checkpoint { step: state.step });
        }
    }
    Ok(())
}

/// Validation at the end of an epoch: the best weights saved when it improved, early stopping
/// after `patience` epochs without, then a checkpoint at the start of the next epoch.
fn end_epoch(s: &Session, files: &RunFiles, state: &mut State, on_event: &dyn Fn(&TrainEvent)) -> Result<()> {
    let m = evaluate(s, &s.val_ids, &s.data.validation)?;
    let improved = state.best.is_none_or(|b| primary(&m) > primary(&b));
    if improved {
        state.best = Some(m);
        state.best_epoch = state.epoch;
        state.since_best = 0;
        checkpoint::save_weights(&files.vault, &files.best_path(), &s.names, &s.vars, &s.head)?;
    } else {
        state.since_best += 1;
        if state.since_best >= s.cfg.patience.max(1) {
            state.stopped = true;
        }
    }
    on_event(&TrainEvent::Validation { epoch: state.epoch, metrics: m, improved });
    state.history.push(m);
    state.epoch += 1;
    state.batch = 0;
    s.save_checkpoint(files, state)
}
