//! The llama architecture (SmolLM2, Llama 3.x and the like) read from GGUF, with LoRA on its
//! projections, written for training: the forward pass uses only differentiable candle ops
//! (`rms_norm_slow`-style norms built from primitives, `softmax` from exp/sum, rotary embeddings as
//! multiply-adds), because candle's fused kernels silently drop gradients. No KV cache here: this
//! forward scores whole sequences (classification), it does not generate.
//!
//! Reference: transformers' `modeling_llama.py`. Weight names mirror the GGUF file
//! (`blk.N.attn_q.weight`, ...). llama.cpp stores q/k rows permuted for its interleaved rotary
//! layout; they are put back in transformers' half-split order at load, so adapters line up with
//! PEFT's tensors one to one.

use crate::error::{ModelError, Result};
use crate::fused;
use crate::gguf::{check_finite, GgufFile};
use crate::lora::{FrozenWeight, LoraConfig, LoraLinear, Target};
use candle_core::{DType, Device, Tensor, Var, D};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;

/// The shape of a llama model, read from `llama.*` metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f64,
    pub rope_theta: f64,
    pub context_length: usize,
}

impl LlamaConfig {
    pub fn from_gguf(file: &GgufFile) -> Result<LlamaConfig> {
        let arch = file.architecture()?;
        if arch != "llama" {
            return Err(ModelError::UnsupportedArchitecture(arch));
        }
        let hidden = file.usize("llama.embedding_length")?;
        let heads = file.usize("llama.attention.head_count")?;
        let kv_heads = file.usize("llama.attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || hidden % heads != 0 || heads % kv_heads != 0 {
            return Err(ModelError::Metadata {
                key: "llama.attention.head_count".into(),
                message: format!("{heads} heads / {kv_heads} kv heads do not divide hidden size {hidden}"),
            });
        }
        let head_dim = hidden / heads;
        if head_dim % 2 != 0 {
            return Err(ModelError::Metadata { key: "llama.embedding_length".into(), message: "odd head dimension".into() });
        }
        let vocab_size = match file.usize("llama.vocab_size") {
            Ok(v) => v,
            Err(_) => file.strings("tokenizer.ggml.tokens")?.len(),
        };
        Ok(LlamaConfig {
            vocab_size,
            hidden,
            intermediate: file.usize("llama.feed_forward_length")?,
            layers: file.usize("llama.block_count")?,
            heads,
            kv_heads,
            head_dim,
            rms_eps: file.f64("llama.attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_theta: file.f64("llama.rope.freq_base").unwrap_or(10_000.0),
            context_length: file.usize("llama.context_length").unwrap_or(2048),
        })
    }

    /// Parameters of the projections (the weights LoRA attaches to).
    pub fn projection_params(&self) -> usize {
        let kv = self.kv_heads * self.head_dim;
        self.layers * (2 * self.hidden * self.hidden + 2 * self.hidden * kv + 3 * self.hidden * self.intermediate)
    }
}

/// How the frozen base weights are kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseStorage {
    /// Let the engine choose (see [`choose_storage`]).
    Auto,
    /// Dequantize to f32 once at load.
    Dense,
    /// Keep the quantized blocks; dequantize on the fly in the backward pass.
    Quantized,
    /// bf16 panels for the CPU's bf16 kernels (AMX or AVX512_BF16, see [`crate::bf16`]); the same
    /// bytes as dense f32, as two packings (forward and input gradient).
    Bf16,
}

/// Picks a dense base (bf16 panels where the CPU has bf16 kernels, else f32) when it fits in
/// `memory_budget` bytes, else quantized. On CPU, candle's quantized matmul is only fast when the
/// inner dimension is a multiple of 256, and even then the f32 GEMM with the backward's
/// re-dequantization avoided wins for small models, so dense is preferred whenever it fits.
/// Returns the choice and the reason, for the user.
pub fn choose_storage(cfg: &LlamaConfig, requested: BaseStorage, memory_budget: u64, device: &Device) -> (BaseStorage, String) {
    choose_storage_for(cfg.projection_params(), requested, memory_budget, device)
}

/// [`choose_storage`] for a model whose projections hold `projection_params` weights.
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

/// Options for [`Llama::load`].
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

struct Block {
    attn_norm: Tensor,
    q: LoraLinear,
    k: LoraLinear,
    v: LoraLinear,
    o: LoraLinear,
    ffn_norm: Tensor,
    gate: LoraLinear,
    up: LoraLinear,
    down: LoraLinear,
}

/// A llama model: frozen base, optional LoRA adapters, final hidden states out.
pub struct Llama {
    pub cfg: LlamaConfig,
    pub storage: BaseStorage,
    /// Why `storage` was chosen.
    pub storage_reason: String,
    pub lora: Option<LoraConfig>,
    device: Device,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    /// `[context, head_dim]` rotary tables, each half duplicated (transformers' layout).
    cos: Tensor,
    sin: Tensor,
    /// Whether the forward uses the fused kernels of [`crate::fused`] (CPU, f32; set at load) or
    /// the reference ops composed from candle primitives (other devices; tests compare the two).
    pub fused: bool,
}

/// Row order that turns llama.cpp's interleaved q/k rows into transformers' half-split rows:
/// transformers row `s * hd/2 + j` of a head is GGUF row `2 j + s`.
fn unpermute_index(heads: usize, head_dim: usize, device: &Device) -> Result<Tensor> {
    let half = head_dim / 2;
    let mut idx = Vec::with_capacity(heads * head_dim);
    for h in 0..heads {
        for r in 0..head_dim {
            let (s, j) = (r / half, r % half);
            idx.push((h * head_dim + 2 * j + s) as u32);
        }
    }
    Ok(Tensor::from_vec(idx, heads * head_dim, device)?)
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

impl Llama {
    /// Loads a llama GGUF file with the given options.
    pub fn load(file: &mut GgufFile, opts: &LoadOptions) -> Result<Llama> {
        let cfg = LlamaConfig::from_gguf(file)?;
        let (storage, storage_reason) = choose_storage(&cfg, opts.storage, opts.memory_budget, &opts.device);
        let dev = &opts.device;
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let (d, kv, ff) = (cfg.hidden, cfg.kv_heads * cfg.head_dim, cfg.intermediate);
        let embed = file.dense("token_embd.weight", &[cfg.vocab_size, d], dev)?;
        let q_perm = unpermute_index(cfg.heads, cfg.head_dim, dev)?;
        let k_perm = unpermute_index(cfg.kv_heads, cfg.head_dim, dev)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let mut proj = |name: &str, target: Target, out: usize, inp: usize, perm: Option<&Tensor>| -> Result<LoraLinear> {
                let full = format!("blk.{i}.{name}.weight");
                let (base, out_perm) = match storage {
                    BaseStorage::Quantized => {
                        let q = file.qtensor(&full, &[out, inp])?;
                        check_finite(&full, &q.dequantize(&Device::Cpu)?)?;
                        (FrozenWeight::Quantized(Arc::new(q)), perm.cloned())
                    }
                    _ => {
                        let w = file.dense(&full, &[out, inp], dev)?;
                        let w = match perm {
                            Some(p) => w.index_select(p, 0)?,
                            None => w,
                        };
                        (FrozenWeight::dense(w, storage)?, None)
                    }
                };
                let lora = opts.lora.as_ref().filter(|l| l.targets.contains(&target) && l.adapts_layer(i, cfg.layers));
                LoraLinear::new(base, out_perm, inp, out, lora, &mut rng)
            };
            let q = proj("attn_q", Target::QProj, d, d, Some(&q_perm))?;
            let k = proj("attn_k", Target::KProj, kv, d, Some(&k_perm))?;
            let v = proj("attn_v", Target::VProj, kv, d, None)?;
            let o = proj("attn_output", Target::OProj, d, d, None)?;
            let gate = proj("ffn_gate", Target::GateProj, ff, d, None)?;
            let up = proj("ffn_up", Target::UpProj, ff, d, None)?;
            let down = proj("ffn_down", Target::DownProj, d, ff, None)?;
            let attn_norm = file.dense(&format!("blk.{i}.attn_norm.weight"), &[d], dev)?;
            let ffn_norm = file.dense(&format!("blk.{i}.ffn_norm.weight"), &[d], dev)?;
            blocks.push(Block { attn_norm, q, k, v, o, ffn_norm, gate, up, down });
        }
        let norm = file.dense("output_norm.weight", &[d], dev)?;
        let (cos, sin) = rope_tables(&cfg, dev)?;
        let fused = fused::supported(dev, DType::F32);
        Ok(Llama { cfg, storage, storage_reason, lora: opts.lora.clone(), device: dev.clone(), embed, blocks, norm, cos, sin, fused })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Final (normed) hidden states `[b, t, hidden]` for token ids `[b, t]`. Sequences are
    /// right-padded: causal attention means real tokens never see the padding after them.
    /// `rng` is given in training (adapter dropout).
    pub fn hidden_states(&self, ids: &Tensor, rng: Option<&mut StdRng>) -> Result<Tensor> {
        let x = self.embed(ids)?;
        self.suffix(&x, 0, rng)
    }

    /// Token embeddings `[b, t, hidden]`.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t > self.cfg.context_length {
            return Err(ModelError::Tensor {
                name: "input".into(),
                message: format!("{t} tokens exceed the context length {}", self.cfg.context_length),
            });
        }
        Ok(self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, self.cfg.hidden))?)
    }

    /// The first layer that has an adapter (`layers` when none has): everything below it is
    /// frozen, so [`Llama::prefix`] up to it can be cached.
    pub fn first_adapted_layer(&self) -> usize {
        let adapted = |b: &Block| [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down].iter().any(|l| l.adapter.is_some());
        self.blocks.iter().position(adapted).unwrap_or(self.blocks.len())
    }

    /// The residual stream `[b, t, hidden]` after the first `upto` layers, without gradients.
    pub fn prefix(&self, ids: &Tensor, upto: usize) -> Result<Tensor> {
        let x = self.embed(ids)?;
        Ok(self.run_blocks(&x, 0, upto.min(self.blocks.len()), None)?.detach())
    }

    /// Runs layers `from..` on the residual stream `x` `[b, t, hidden]` and the final norm.
    pub fn suffix(&self, x: &Tensor, from: usize, rng: Option<&mut StdRng>) -> Result<Tensor> {
        let x = self.run_blocks(x, from, self.blocks.len(), rng)?;
        if self.fused {
            return Ok(fused::rms_norm(&x, &self.norm, self.cfg.rms_eps)?);
        }
        rms_norm(&x, &self.norm, self.cfg.rms_eps)
    }

    fn run_blocks(&self, x: &Tensor, from: usize, to: usize, mut rng: Option<&mut StdRng>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        if t > self.cfg.context_length {
            return Err(ModelError::Tensor {
                name: "input".into(),
                message: format!("{t} tokens exceed the context length {}", self.cfg.context_length),
            });
        }
        let (nh, nkv, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim);
        let rep = nh / nkv;
        let mut x = x.reshape((b * t, d))?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        if self.fused {
            let rotary = fused::Rotary::new(&cos, &sin)?;
            let attn = fused::Attention { heads: nh, kv_heads: nkv, head_dim: hd, scale: (hd as f32).powf(-0.5), window: None };
            let eps = self.cfg.rms_eps;
            for blk in &self.blocks[from.min(to)..to] {
                let h = fused::rms_norm(&x, &blk.attn_norm, eps)?;
                let q = rotary.apply(&blk.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?)?;
                let k = rotary.apply(&blk.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?)?;
                let v = blk.v.forward(&h, rng.as_deref_mut())?;
                let y = fused::attention(&q, &k, &v.reshape((b, t, nkv * hd))?, attn)?.reshape((b * t, d))?;
                x = (x + blk.o.forward(&y, rng.as_deref_mut())?)?;
                let h = fused::rms_norm(&x, &blk.ffn_norm, eps)?;
                let g = blk.gate.forward(&h, rng.as_deref_mut())?;
                let u = blk.up.forward(&h, rng.as_deref_mut())?;
                x = (x + blk.down.forward(&fused::gated(&g, &u, fused::Gate::Silu)?, rng.as_deref_mut())?)?;
            }
            return Ok(x.reshape((b, t, d))?);
        }
        // Causal mask for `rep` query heads stacked along the query axis: [rep*t, t].
        let mask: Vec<f32> =
            (0..rep * t).flat_map(|r| (0..t).map(move |c| if c <= r % t { 0.0 } else { -1e9 })).collect();
        let mask = Tensor::from_vec(mask, (rep * t, t), &self.device)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for blk in &self.blocks[from.min(to)..to] {
            let h = rms_norm(&x, &blk.attn_norm, self.cfg.rms_eps)?;
            let q = blk.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?.transpose(1, 2)?;
            let k = blk.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?.transpose(1, 2)?;
            let v = blk.v.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?.transpose(1, 2)?.contiguous()?;
            let q = rope(&q.contiguous()?, &cos, &sin)?;
            let k = rope(&k.contiguous()?, &cos, &sin)?;
            // Grouped-query attention without copying k/v: the `rep` query heads that share a kv
            // head are stacked along the query axis.
            let q = (q * scale)?.reshape((b, nkv, rep * t, hd))?;
            let att = q.matmul(&k.t()?)?.broadcast_add(&mask)?;
            let att = softmax_last(&att)?;
            let y = att.matmul(&v)?.reshape((b, nh, t, hd))?.transpose(1, 2)?.reshape((b * t, d))?;
            x = (x + blk.o.forward(&y, rng.as_deref_mut())?)?;
            let h = rms_norm(&x, &blk.ffn_norm, self.cfg.rms_eps)?;
            let g = blk.gate.forward(&h, rng.as_deref_mut())?.silu()?;
            let u = blk.up.forward(&h, rng.as_deref_mut())?;
            x = (x + blk.down.forward(&(g * u)?, rng.as_deref_mut())?)?;
        }
        Ok(x.reshape((b, t, d))?)
    }

    /// Adapter variables with their PEFT names
    /// (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...), in a fixed order.
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, blk) in self.blocks.iter().enumerate() {
            let layers = [
                (Target::QProj, &blk.q),
                (Target::KProj, &blk.k),
                (Target::VProj, &blk.v),
                (Target::OProj, &blk.o),
                (Target::GateProj, &blk.gate),
                (Target::UpProj, &blk.up),
                (Target::DownProj, &blk.down),
            ];
            for (target, layer) in layers {
                if let Some(ad) = &layer.adapter {
                    let prefix = format!("base_model.model.model.layers.{i}.{}.{}", target.parent(), target.peft_name());
                    out.push((format!("{prefix}.lora_A.weight"), ad.a.clone()));
                    out.push((format!("{prefix}.lora_B.weight"), ad.b.clone()));
                }
            }
        }
        out
    }

    /// The frozen base weights of one projection, dense, for tests that check they never change.
    pub fn base_weight(&self, layer: usize, target: Target) -> Option<Tensor> {
        let blk = self.blocks.get(layer)?;
        let l = match target {
            Target::QProj => &blk.q,
            Target::KProj => &blk.k,
            Target::VProj => &blk.v,
            Target::OProj => &blk.o,
            Target::GateProj => &blk.gate,
            Target::UpProj => &blk.up,
            Target::DownProj => &blk.down,
        };
        l.base.to_dense()
    }
}

fn rope_tables(cfg: &LlamaConfig, dev: &Device) -> Result<(Tensor, Tensor)> {
    let hd = cfg.head_dim;
    let n = cfg.context_length.min(1 << 16);
    let inv: Vec<f32> = (0..hd / 2).map(|i| (1.0 / cfg.rope_theta.powf(2.0 * i as f64 / hd as f64)) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, hd / 2), dev)?;
    let pos = Tensor::arange(0u32, n as u32, dev)?.to_dtype(DType::F32)?.reshape((n, 1))?;
    let freqs = pos.broadcast_mul(&inv)?;
    let freqs = Tensor::cat(&[&freqs, &freqs], 1)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Mean of the hidden states `[b, t, d]` over the positions where `mask` `[b, t]` is 1.
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = mask.sum_keepdim(1)?.clamp(1.0, f64::MAX)?;
    Ok(sum.broadcast_div(&count)?)
}
