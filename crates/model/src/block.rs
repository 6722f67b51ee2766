//! The parts every decoder architecture of this engine is built from, so that `llama` and `gemma3`
//! keep only what differs between them: load options and the choice of how the frozen base is
//! stored, the seven LoRA projections of a block (loaded from `blk.N.*` in a fixed order, their
//! adapter variables under PEFT's names), token embeddings, the final norm, and the reference ops
//! of the forward pass (differentiable norms, softmax, rotary embeddings, masked grouped-query
//! attention, the gated MLP) that tests compare the fused kernels against.
//!
//! `decoder` dispatches over the architectures built from these; this module knows none of them.

use crate::error::{ModelError, Result};
use crate::fused;
use crate::gguf::{check_finite, GgufFile};
pub use crate::lora::BaseStorage;
use crate::lora::{FrozenWeight, LoraConfig, LoraLinear, Target};
use candle_core::{DType, Device, Tensor, Var, D};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;

/// Picks a dense base (bf16 panels where the CPU has bf16 kernels, else f32) when it fits in
/// `memory_budget` bytes, else quantized, for a model whose projections hold `projection_params`
/// weights. On CPU, candle's quantized matmul is only fast when the inner dimension is a multiple
/// of 256, and even then the f32 GEMM with the backward's re-dequantization avoided wins for small
/// models, so dense is preferred whenever it fits. Returns the choice and the reason, for the user.
pub fn choose_storage_for(projection_params: usize, requested: BaseStorage, memory_budget: u64, device: &Device) -> (BaseStorage, String) {
    let dense_bytes = projection_params as u64 * 4;
    let (kernel, why) = crate::bf16::Kernel::chosen();
    let bf16 = kernel.packs_bf16() && device.is_cpu();
    let packed = || format!("bf16 base, {why}");
    match requested {
        BaseStorage::Dense => (BaseStorage::Dense, "dense f32 base (requested)".into()),
        BaseStorage::Quantized => (BaseStorage::Quantized, "quantized base (requested)".into()),
        BaseStorage::Bf16 if bf16 => (BaseStorage::Bf16, format!("{} (requested)", packed())),
        BaseStorage::Bf16 => (BaseStorage::Dense, format!("dense f32 base: bf16 was requested but {why}")),
        BaseStorage::Auto if dense_bytes <= memory_budget && bf16 => {
            (BaseStorage::Bf16, format!("{}; {} MiB fits the {} MiB budget", packed(), dense_bytes >> 20, memory_budget >> 20))
        }
        BaseStorage::Auto if dense_bytes <= memory_budget => (
            BaseStorage::Dense,
            format!(
                "dense f32 base: {} MiB fits the {} MiB budget and f32 GEMM is faster than quantized matmul here",
                dense_bytes >> 20,
                memory_budget >> 20
            ),
        ),
        BaseStorage::Auto => (
            BaseStorage::Quantized,
            format!("quantized base: dense f32 would need {} MiB, over the {} MiB budget", dense_bytes >> 20, memory_budget >> 20),
        ),
    }
}

/// Options for loading a model (`Llama::load`, `Gemma3::load`, `Model::load`).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: Device,
    pub storage: BaseStorage,
    /// Bytes the dense base may take when `storage` is `Auto`.
    pub memory_budget: u64,
    /// LoRA adapters to attach (`None`: the bare base model).
    pub lora: Option<LoraConfig>,
    /// Seed of the adapters' initial values.
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { device: Device::Cpu, storage: BaseStorage::Auto, memory_budget: 8 << 30, lora: None, seed: 0 }
    }
}

/// The output and input sizes of a block's projections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub hidden: usize,
    /// Query heads times head dimension (the attention output's width; `hidden` for llama).
    pub q: usize,
    /// Key/value heads times head dimension.
    pub kv: usize,
    pub intermediate: usize,
}

/// Checks the sizes a configuration read from the metadata against the file's tensor table, before
/// anything is allocated or multiplied from them: an edited or damaged header (`key`, the block
/// count's key, is named in the error) cannot ask for more layers than the file has tensors, or for
/// more weights than the table declares (the projections of every layer and the embedding table).
pub(crate) fn check_declared(file: &GgufFile, key: &str, layers: usize, vocab: usize, s: &Sizes) -> Result<()> {
    let bad = |message: String| Err(ModelError::Metadata { key: key.to_owned(), message });
    if [layers, vocab, s.hidden, s.q, s.kv, s.intermediate].contains(&0) {
        return bad(format!("a size of zero ({layers} layers, vocabulary {vocab}, hidden {}, feed-forward {})", s.hidden, s.intermediate));
    }
    let (tensors, elements) = file.declared();
    if layers > tensors {
        return bad(format!("{layers} layers declared, but the file holds {tensors} tensors"));
    }
    let h = s.hidden as u64;
    let weights = (|| {
        let layer = h.checked_mul(s.q as u64)?.checked_mul(2)?.checked_add(h.checked_mul(s.kv as u64)?.checked_mul(2)?)?.checked_add(h.checked_mul(s.intermediate as u64)?.checked_mul(3)?)?;
        layer.checked_mul(layers as u64)?.checked_add((vocab as u64).checked_mul(h)?)
    })();
    match weights {
        Some(w) if w <= elements => Ok(()),
        _ => bad(format!(
            "{layers} layers of hidden size {}, feed-forward {} and vocabulary {vocab} need more weights than the file's {elements}",
            s.hidden, s.intermediate
        )),
    }
}

/// The seven projections of a decoder block, each a frozen base weight with an optional adapter.
pub(crate) struct Projections {
    pub q: LoraLinear,
    pub k: LoraLinear,
    pub v: LoraLinear,
    pub o: LoraLinear,
    pub gate: LoraLinear,
    pub up: LoraLinear,
    pub down: LoraLinear,
}

impl Projections {
    /// Every projection with its target, in PEFT's (and the load's) order.
    pub fn all(&self) -> [(Target, &LoraLinear); 7] {
        [
            (Target::QProj, &self.q),
            (Target::KProj, &self.k),
            (Target::VProj, &self.v),
            (Target::OProj, &self.o),
            (Target::GateProj, &self.gate),
            (Target::UpProj, &self.up),
            (Target::DownProj, &self.down),
        ]
    }

    pub fn get(&self, target: Target) -> &LoraLinear {
        match target {
            Target::QProj => &self.q,
            Target::KProj => &self.k,
            Target::VProj => &self.v,
            Target::OProj => &self.o,
            Target::GateProj => &self.gate,
            Target::UpProj => &self.up,
            Target::DownProj => &self.down,
        }
    }

    pub fn adapted(&self) -> bool {
        self.all().iter().any(|(_, l)| l.adapter.is_some())
    }

    /// The gated MLP `down(act(gate(h)) * up(h))` on normed states `h` `[n, hidden]`, fused or from
    /// candle primitives (candle's `silu`, and its `gelu`, which is the tanh approximation).
    pub fn mlp(&self, h: &Tensor, act: fused::Gate, fused: bool, mut rng: Option<&mut StdRng>) -> Result<Tensor> {
        let g = self.gate.forward(h, rng.as_deref_mut())?;
        let u = self.up.forward(h, rng.as_deref_mut())?;
        let gated = match (fused, act) {
            (true, _) => fused::gated(&g, &u, act)?,
            (false, fused::Gate::Silu) => (g.silu()? * u)?,
            (false, fused::Gate::GeluTanh) => (g.gelu()? * u)?,
        };
        self.down.forward(&gated, rng)
    }
}

/// Reads a block stack's weights from a GGUF file: projections in the chosen storage with the
/// adapters the options ask for, everything else (embeddings, norms) dense on the device.
pub(crate) struct Loader<'a> {
    file: &'a mut GgufFile,
    lora: Option<&'a LoraConfig>,
    storage: BaseStorage,
    device: &'a Device,
    layers: usize,
    /// The adapters' initial values, drawn in load order (layer by layer, projections in
    /// [`Projections::all`] order), so a seed always gives the same adapters.
    rng: StdRng,
}

impl<'a> Loader<'a> {
    pub fn new(file: &'a mut GgufFile, opts: &'a LoadOptions, storage: BaseStorage, layers: usize) -> Loader<'a> {
        Loader { file, lora: opts.lora.as_ref(), storage, device: &opts.device, layers, rng: StdRng::seed_from_u64(opts.seed) }
    }

    /// A dense tensor of the file (embeddings, norms).
    pub fn dense(&mut self, name: &str, dims: &[usize]) -> Result<Tensor> {
        self.file.dense(name, dims, self.device)
    }

    /// The projections of block `layer`. `perm` gives the row orders of q and k when the file
    /// stores them permuted (llama.cpp's rotary layout for llama): dense rows are put back at load,
    /// quantized ones on the fly by the projection.
    pub fn projections(&mut self, layer: usize, s: Sizes, perm: Option<(&Tensor, &Tensor)>) -> Result<Projections> {
        let (q_perm, k_perm) = perm.unzip();
        let (d, qd, kv, ff) = (s.hidden, s.q, s.kv, s.intermediate);
        Ok(Projections {
            q: self.projection(layer, "attn_q", Target::QProj, qd, d, q_perm)?,
            k: self.projection(layer, "attn_k", Target::KProj, kv, d, k_perm)?,
            v: self.projection(layer, "attn_v", Target::VProj, kv, d, None)?,
            o: self.projection(layer, "attn_output", Target::OProj, d, qd, None)?,
            gate: self.projection(layer, "ffn_gate", Target::GateProj, ff, d, None)?,
            up: self.projection(layer, "ffn_up", Target::UpProj, ff, d, None)?,
            down: self.projection(layer, "ffn_down", Target::DownProj, d, ff, None)?,
        })
    }

    fn projection(&mut self, layer: usize, name: &str, target: Target, out: usize, inp: usize, perm: Option<&Tensor>) -> Result<LoraLinear> {
        let full = format!("blk.{layer}.{name}.weight");
        let (base, out_perm) = match self.storage {
            BaseStorage::Quantized => {
                let q = self.file.qtensor(&full, &[out, inp])?;
                check_finite(&full, &q.dequantize(&Device::Cpu)?)?;
                (FrozenWeight::Quantized(Arc::new(q)), perm.cloned())
            }
            _ => {
                let w = self.file.dense(&full, &[out, inp], self.device)?;
                let w = match perm {
                    Some(p) => w.index_select(p, 0)?,
                    None => w,
                };
                (FrozenWeight::dense(w, self.storage)?, None)
            }
        };
        let lora = self.lora.filter(|l| l.targets.contains(&target) && l.adapts_layer(layer, self.layers));
        LoraLinear::new(base, out_perm, inp, out, lora, &mut self.rng)
    }
}

/// The first block with an adapter (the number of blocks when none has): everything below it is
/// frozen, so the stack's output up to it can be cached.
pub(crate) fn first_adapted<'b>(blocks: impl ExactSizeIterator<Item = &'b Projections>) -> usize {
    let n = blocks.len();
    blocks.into_iter().position(Projections::adapted).unwrap_or(n)
}

/// Adapter variables with their PEFT names
/// (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...), in a fixed order.
pub(crate) fn lora_vars<'b>(blocks: impl Iterator<Item = &'b Projections>) -> Vec<(String, Var)> {
    let mut out = Vec::new();
    for (i, p) in blocks.enumerate() {
        for (target, layer) in p.all() {
            if let Some(ad) = &layer.adapter {
                let prefix = format!("base_model.model.model.layers.{i}.{}.{}", target.parent(), target.peft_name());
                out.push((format!("{prefix}.lora_A.weight"), ad.a.clone()));
                out.push((format!("{prefix}.lora_B.weight"), ad.b.clone()));
            }
        }
    }
    out
}

/// Refuses a sequence longer than the model's context.
pub(crate) fn check_length(t: usize, context_length: usize) -> Result<()> {
    if t > context_length {
        return Err(ModelError::Tensor { name: "input".into(), message: format!("{t} tokens exceed the context length {context_length}") });
    }
    Ok(())
}

/// Rows of the embedding table `[vocab, hidden]` for token ids `[b, t]`: `[b, t, hidden]`.
pub(crate) fn embed(table: &Tensor, ids: &Tensor, context_length: usize) -> Result<Tensor> {
    let (b, t) = ids.dims2()?;
    check_length(t, context_length)?;
    Ok(table.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, table.dim(1)?))?)
}

/// The final RMS norm over the stack's output, fused or from primitives.
pub(crate) fn final_norm(x: &Tensor, w: &Tensor, eps: f64, fused: bool) -> Result<Tensor> {
    if fused {
        return Ok(fused::rms_norm(x, w, eps)?);
    }
    rms_norm(x, w, eps)
}

/// A differentiable RMS norm: `x / sqrt(mean(x^2) + eps) * w`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    Ok(x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)?)
}

/// A differentiable softmax over the last dimension.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

/// Rotary embedding in transformers' half-split layout: `x cos + rotate_half(x) sin`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let hd = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, hd / 2)?;
    let x2 = x.narrow(D::Minus1, hd / 2, hd / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    Ok((x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?)?)
}

/// `[n, head_dim]` rotary tables (half-split layout, each half duplicated) for positions `0..n`,
/// frequencies `theta^(-2i/head_dim) / scale` (linear scaling; 1 for none).
pub(crate) fn rope_tables(n: usize, head_dim: usize, theta: f64, scale: f64, dev: &Device) -> Result<(Tensor, Tensor)> {
    let inv: Vec<f32> =
        (0..head_dim / 2).map(|i| (1.0 / theta.powf(2.0 * i as f64 / head_dim as f64) / scale) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, head_dim / 2), dev)?;
    let pos = Tensor::arange(0u32, n as u32, dev)?.to_dtype(DType::F32)?.reshape((n, 1))?;
    let freqs = pos.broadcast_mul(&inv)?;
    let freqs = Tensor::cat(&[&freqs, &freqs], 1)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Additive mask `[rep * t, t]` for `rep` query heads stacked along the query axis: causal, and
/// within `window` positions when given.
pub(crate) fn attention_mask(rep: usize, t: usize, window: Option<usize>, dev: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..rep * t)
        .flat_map(|r| {
            let q = r % t;
            (0..t).map(move |c| if c <= q && window.is_none_or(|w| q - c < w) { 0.0 } else { -1e9 })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (rep * t, t), dev)?)
}

/// Grouped-query attention from candle primitives on rotated `q` `[b, heads, t, hd]` and `k`, `v`
/// `[b, kv_heads, t, hd]`, without copying k/v: the `heads / kv_heads` query heads that share a kv
/// head are stacked along the query axis, which `mask` ([`attention_mask`]) expects. Scores are
/// soft-capped (`cap * tanh(s / cap)`) when `softcap` is given. Returns `[b * t, heads * hd]`.
pub(crate) fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64, softcap: Option<f64>) -> Result<Tensor> {
    let (b, nh, t, hd) = q.dims4()?;
    let rep = nh / k.dim(1)?;
    let q = (q * scale)?.reshape((b, nh / rep, rep * t, hd))?;
    let mut att = q.matmul(&k.t()?)?;
    if let Some(cap) = softcap {
        att = ((att / cap)?.tanh()? * cap)?;
    }
    let att = softmax_last(&att.broadcast_add(mask)?)?;
    Ok(att.matmul(v)?.reshape((b, nh, t, hd))?.transpose(1, 2)?.reshape((b * t, nh * hd))?)
}

/// Mean of the hidden states `[b, t, d]` over the positions where `mask` `[b, t]` is 1.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?;
    Ok(sum.broadcast_div(&count)?)
}
