//! The Gemma 3 architecture (text decoder, e.g. Gemma 3 270M) read from GGUF, with LoRA on the
//! same seven projections as llama, written for training: only differentiable candle ops (norms,
//! softmax and rotary embeddings built from primitives, `gelu` with its tanh approximation). No KV
//! cache: it scores whole sequences, it does not generate.
//!
//! Reference: transformers' `modeling_gemma3.py` (`Gemma3TextModel`). Per layer: RMS norm, attention
//! with RMS-normed queries and keys, rotary embeddings (theta 10,000 on local layers, the file's
//! `rope.freq_base` on global ones), a sliding-window causal mask on local layers (every
//! `sliding_window_pattern`-th layer, 6 by default, is global), a post-attention norm before the
//! residual add; then pre- and post-feed-forward norms around a GeGLU MLP. Embeddings are scaled by
//! `sqrt(hidden)`. GGUF stores Gemma's norm weights already as `1 + w` (llama.cpp's converter adds
//! the one), so they multiply directly. Weight names mirror the GGUF file; q/k rows are stored in
//! the half-split rotary layout already (no un-permuting as for llama).

use crate::block::{self, attention_mask, choose_storage_for, final_norm, rms_norm, rope, rope_tables, BaseStorage, LoadOptions, Loader, Projections, Sizes};
use crate::error::{ModelError, Result};
use crate::fused;
use crate::gguf::GgufFile;
use crate::lora::{LoraConfig, Target};
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;

/// The shape of a Gemma 3 model, read from `gemma3.*` metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gemma3Config {
    pub vocab_size: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f64,
    /// Rotary base of the global layers.
    pub rope_theta: f64,
    /// Rotary base of the local (sliding-window) layers.
    pub rope_local_theta: f64,
    /// Linear rotary scaling of the global layers (1 when absent).
    pub rope_scale: f64,
    pub sliding_window: usize,
    /// Every `sliding_window_pattern`-th layer attends globally.
    pub sliding_window_pattern: usize,
    /// Queries are scaled by `query_scale` (`query_pre_attn_scalar^-1/2`, i.e. `head_dim^-1/2`).
    pub query_scale: f64,
    pub attn_softcap: Option<f64>,
    pub final_softcap: Option<f64>,
    pub context_length: usize,
}

impl Gemma3Config {
    pub fn from_gguf(file: &GgufFile) -> Result<Gemma3Config> {
        let arch = file.architecture()?;
        if arch != "gemma3" {
            return Err(ModelError::UnsupportedArchitecture(arch));
        }
        let k = |s: &str| format!("gemma3.{s}");
        let hidden = file.usize(&k("embedding_length"))?;
        let heads = file.usize(&k("attention.head_count"))?;
        let kv_heads = file.usize(&k("attention.head_count_kv")).unwrap_or(heads);
        let head_dim = file.usize(&k("attention.key_length")).unwrap_or(hidden.checked_div(heads).unwrap_or(0));
        let value_dim = file.usize(&k("attention.value_length")).unwrap_or(head_dim);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) || head_dim == 0 || !head_dim.is_multiple_of(2) || value_dim != head_dim {
            return Err(ModelError::Metadata {
                key: k("attention.head_count"),
                message: format!("{heads} heads / {kv_heads} kv heads of dimension {head_dim} (values {value_dim}) are not a valid layout"),
            });
        }
        let vocab_size = match file.usize(&k("vocab_size")) {
            Ok(v) => v,
            Err(_) => file.strings("tokenizer.ggml.tokens")?.len(),
        };
        let positive = |key: &str| file.f64(key).ok().filter(|x| *x > 0.0);
        let rope_scale = match file.string(&k("rope.scaling.type")) {
            Ok("linear") => positive(&k("rope.scaling.factor")).unwrap_or(1.0),
            Ok("none") | Err(_) => 1.0,
            Ok(other) => {
                return Err(ModelError::Metadata { key: k("rope.scaling.type"), message: format!("`{other}` is not supported (linear)") })
            }
        };
        let pattern = file.usize(&k("attention.sliding_window_pattern")).unwrap_or(6);
        let (intermediate, layers) = (file.usize(&k("feed_forward_length"))?, file.usize(&k("block_count"))?);
        let q_kv = heads.checked_mul(head_dim).zip(kv_heads.checked_mul(head_dim));
        let Some((q, kv)) = q_kv else {
            return Err(ModelError::Metadata { key: k("attention.head_count"), message: format!("{heads} heads of dimension {head_dim} overflow") });
        };
        block::check_declared(file, &k("block_count"), layers, vocab_size, &Sizes { hidden, q, kv, intermediate })?;
        Ok(Gemma3Config {
            vocab_size,
            hidden,
            intermediate,
            layers,
            heads,
            kv_heads,
            head_dim,
            rms_eps: file.f64(&k("attention.layer_norm_rms_epsilon")).unwrap_or(1e-6),
            rope_theta: file.f64(&k("rope.freq_base")).unwrap_or(1_000_000.0),
            rope_local_theta: file.f64(&k("rope.local_freq_base")).unwrap_or(10_000.0),
            rope_scale,
            sliding_window: file.usize(&k("attention.sliding_window")).unwrap_or(usize::MAX).max(1),
            sliding_window_pattern: pattern.max(1),
            query_scale: 1.0 / (head_dim as f64).sqrt(),
            attn_softcap: positive(&k("attn_logit_softcapping")),
            final_softcap: positive(&k("final_logit_softcapping")),
            context_length: file.usize(&k("context_length")).unwrap_or(8192),
        })
    }

    /// Whether layer `i` attends to the whole sequence (else within the sliding window).
    pub fn is_global(&self, layer: usize) -> bool {
        (layer + 1).is_multiple_of(self.sliding_window_pattern)
    }

    /// Parameters of the projections (the weights LoRA attaches to).
    pub fn projection_params(&self) -> usize {
        let (q, kv) = (self.heads * self.head_dim, self.kv_heads * self.head_dim);
        self.layers * (2 * self.hidden * q + 2 * self.hidden * kv + 3 * self.hidden * self.intermediate)
    }
}

struct Block {
    attn_norm: Tensor,
    q_norm: Tensor,
    k_norm: Tensor,
    post_attn_norm: Tensor,
    ffn_norm: Tensor,
    post_ffn_norm: Tensor,
    proj: Projections,
}

/// A Gemma 3 model: frozen base, optional LoRA adapters, final hidden states out.
pub struct Gemma3 {
    pub cfg: Gemma3Config,
    pub storage: BaseStorage,
    /// Why `storage` was chosen.
    pub storage_reason: String,
    pub lora: Option<LoraConfig>,
    device: Device,
    /// `[vocab, hidden]`, unscaled (also the tied output projection).
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    /// Whether the forward uses the fused kernels of [`crate::fused`] (CPU, f32; set at load) or
    /// the reference ops composed from candle primitives (tests compare the two).
    pub fused: bool,
}

impl Gemma3 {
    /// Loads a Gemma 3 GGUF file with the given options.
    pub fn load(file: &mut GgufFile, opts: &LoadOptions) -> Result<Gemma3> {
        let cfg = Gemma3Config::from_gguf(file)?;
        let (storage, storage_reason) = choose_storage_for(cfg.projection_params(), opts.storage, opts.memory_budget, &opts.device);
        let dev = &opts.device;
        let (d, hd) = (cfg.hidden, cfg.head_dim);
        let shape = Sizes { hidden: d, q: cfg.heads * hd, kv: cfg.kv_heads * hd, intermediate: cfg.intermediate };
        let mut load = Loader::new(file, opts, storage, cfg.layers);
        let embed = load.dense("token_embd.weight", &[cfg.vocab_size, d])?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let proj = load.projections(i, shape, None)?;
            let mut norm = |name: &str, n: usize| load.dense(&format!("blk.{i}.{name}.weight"), &[n]);
            blocks.push(Block {
                attn_norm: norm("attn_norm", d)?,
                q_norm: norm("attn_q_norm", hd)?,
                k_norm: norm("attn_k_norm", hd)?,
                post_attn_norm: norm("post_attention_norm", d)?,
                ffn_norm: norm("ffn_norm", d)?,
                post_ffn_norm: norm("post_ffw_norm", d)?,
                proj,
            });
        }
        let norm = load.dense("output_norm.weight", &[d])?;
        let fused = fused::supported(dev, DType::F32);
        Ok(Gemma3 { cfg, storage, storage_reason, lora: opts.lora.clone(), device: dev.clone(), embed, blocks, norm, fused })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token embeddings `[b, t, hidden]`, scaled by `sqrt(hidden)`.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let x = block::embed(&self.embed, ids, self.cfg.context_length)?;
        Ok((x * (self.cfg.hidden as f64).sqrt())?)
    }

    /// Final (normed) hidden states `[b, t, hidden]` for right-padded token ids `[b, t]`.
    pub fn hidden_states(&self, ids: &Tensor, rng: Option<&mut StdRng>) -> Result<Tensor> {
        let x = self.embed(ids)?;
        self.suffix(&x, 0, rng)
    }

    /// Next-token logits `[n, vocab]` of final hidden states `[n, hidden]` (tied output
    /// projection, soft-capped when the file says so). For checks against a reference; training
    /// uses the pooled hidden states.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let logits = hidden.matmul(&self.embed.t()?)?;
        Ok(match self.cfg.final_softcap {
            Some(cap) => ((logits / cap)?.tanh()? * cap)?,
            None => logits,
        })
    }

    /// The first layer that has an adapter (`layers` when none has).
    pub fn first_adapted_layer(&self) -> usize {
        block::first_adapted(self.blocks.iter().map(|b| &b.proj))
    }

    /// The residual stream `[b, t, hidden]` after the first `upto` layers, without gradients.
    pub fn prefix(&self, ids: &Tensor, upto: usize) -> Result<Tensor> {
        let x = self.embed(ids)?;
        Ok(self.run_blocks(&x, 0, upto.min(self.blocks.len()), None)?.detach())
    }

    /// Runs layers `from..` on the residual stream `x` `[b, t, hidden]` and the final norm.
    pub fn suffix(&self, x: &Tensor, from: usize, rng: Option<&mut StdRng>) -> Result<Tensor> {
        let x = self.run_blocks(x, from, self.blocks.len(), rng)?;
        final_norm(&x, &self.norm, self.cfg.rms_eps, self.fused)
    }

    fn run_blocks(&self, x: &Tensor, from: usize, to: usize, mut rng: Option<&mut StdRng>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        block::check_length(t, self.cfg.context_length)?;
        let c = &self.cfg;
        let (nh, nkv, hd) = (c.heads, c.kv_heads, c.head_dim);
        let rep = nh / nkv;
        let eps = c.rms_eps;
        let dev = &self.device;
        let local = rope_tables(t, hd, c.rope_local_theta, 1.0, dev)?;
        let global = rope_tables(t, hd, c.rope_theta, c.rope_scale, dev)?;
        let window = (c.sliding_window < t).then_some(c.sliding_window);
        let local_mask = attention_mask(rep, t, window, dev)?;
        let global_mask = if window.is_some() { attention_mask(rep, t, None, dev)? } else { local_mask.clone() };
        let mut x = x.reshape((b * t, d))?;
        if self.fused && c.attn_softcap.is_none() {
            let (rot_local, rot_global) = (fused::Rotary::new(&local.0, &local.1)?, fused::Rotary::new(&global.0, &global.1)?);
            let attn = fused::Attention { heads: nh, kv_heads: nkv, head_dim: hd, scale: c.query_scale as f32, window: None };
            for (i, blk) in self.blocks.iter().enumerate().take(to).skip(from) {
                let (rotary, attn) = if c.is_global(i) { (&rot_global, attn) } else { (&rot_local, fused::Attention { window, ..attn }) };
                let p = &blk.proj;
                let h = fused::rms_norm(&x, &blk.attn_norm, eps)?;
                let q = p.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?;
                let k = p.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?;
                let v = p.v.forward(&h, rng.as_deref_mut())?;
                let q = rotary.apply(&fused::rms_norm(&q, &blk.q_norm, eps)?)?;
                let k = rotary.apply(&fused::rms_norm(&k, &blk.k_norm, eps)?)?;
                let y = fused::attention(&q, &k, &v.reshape((b, t, nkv * hd))?, attn)?.reshape((b * t, nh * hd))?;
                x = (x + fused::rms_norm(&p.o.forward(&y, rng.as_deref_mut())?, &blk.post_attn_norm, eps)?)?;
                let h = fused::rms_norm(&x, &blk.ffn_norm, eps)?;
                let y = p.mlp(&h, fused::Gate::GeluTanh, true, rng.as_deref_mut())?;
                x = (x + fused::rms_norm(&y, &blk.post_ffn_norm, eps)?)?;
            }
            return Ok(x.reshape((b, t, d))?);
        }
        for (i, blk) in self.blocks.iter().enumerate().take(to).skip(from) {
            let ((cos, sin), mask) = if c.is_global(i) { (&global, &global_mask) } else { (&local, &local_mask) };
            let p = &blk.proj;
            let h = rms_norm(&x, &blk.attn_norm, eps)?;
            let q = p.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?;
            let k = p.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?;
            let v = p.v.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?.transpose(1, 2)?.contiguous()?;
            let q = rms_norm(&q, &blk.q_norm, eps)?.transpose(1, 2)?.contiguous()?;
            let k = rms_norm(&k, &blk.k_norm, eps)?.transpose(1, 2)?.contiguous()?;
            let q = rope(&q, cos, sin)?;
            let k = rope(&k, cos, sin)?;
            let y = block::attention(&q, &k, &v, mask, c.query_scale, c.attn_softcap)?;
            x = (x + rms_norm(&p.o.forward(&y, rng.as_deref_mut())?, &blk.post_attn_norm, eps)?)?;
            let h = rms_norm(&x, &blk.ffn_norm, eps)?;
            let y = p.mlp(&h, fused::Gate::GeluTanh, false, rng.as_deref_mut())?;
            x = (x + rms_norm(&y, &blk.post_ffn_norm, eps)?)?;
        }
        Ok(x.reshape((b, t, d))?)
    }

    /// Adapter variables with their PEFT names (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...).
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        block::lora_vars(self.blocks.iter().map(|b| &b.proj))
    }

    /// The frozen base weights of one projection, dense, for tests that check they never change.
    pub fn base_weight(&self, layer: usize, target: Target) -> Option<Tensor> {
        self.blocks.get(layer)?.proj.get(target).base.to_dense()
    }
}
