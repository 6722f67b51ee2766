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

use crate::block::{self, attention_mask, final_norm, rope_tables, Loader, Projections, Sizes};
use crate::error::{ModelError, Result};
use crate::fused;
use crate::gguf::GgufFile;
use crate::lora::{LoraConfig, Target};
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;

// Shared with gemma3 (see [`crate::block`]); kept at these paths for callers.
pub use crate::block::{choose_storage_for, mean_pool, rms_norm, rope, softmax_last, LoadOptions};
pub use crate::lora::BaseStorage;

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
        let (intermediate, layers) = (file.usize("llama.feed_forward_length")?, file.usize("llama.block_count")?);
        let sizes = Sizes { hidden, q: hidden, kv: kv_heads * head_dim, intermediate };
        block::check_declared(file, "llama.block_count", layers, vocab_size, &sizes)?;
        Ok(LlamaConfig {
            vocab_size,
            hidden,
            intermediate,
            layers,
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

/// [`choose_storage_for`] a llama model.
pub fn choose_storage(cfg: &LlamaConfig, requested: BaseStorage, memory_budget: u64, device: &Device) -> (BaseStorage, String) {
    choose_storage_for(cfg.projection_params(), requested, memory_budget, device)
}

struct Block {
    attn_norm: Tensor,
    ffn_norm: Tensor,
    proj: Projections,
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

impl Llama {
    /// Loads a llama GGUF file with the given options.
    pub fn load(file: &mut GgufFile, opts: &LoadOptions) -> Result<Llama> {
        let cfg = LlamaConfig::from_gguf(file)?;
        let (storage, storage_reason) = choose_storage(&cfg, opts.storage, opts.memory_budget, &opts.device);
        let dev = &opts.device;
        let d = cfg.hidden;
        let shape = Sizes { hidden: d, q: d, kv: cfg.kv_heads * cfg.head_dim, intermediate: cfg.intermediate };
        let q_perm = unpermute_index(cfg.heads, cfg.head_dim, dev)?;
        let k_perm = unpermute_index(cfg.kv_heads, cfg.head_dim, dev)?;
        let mut load = Loader::new(file, opts, storage, cfg.layers);
        let embed = load.dense("token_embd.weight", &[cfg.vocab_size, d])?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let proj = load.projections(i, shape, Some((&q_perm, &k_perm)))?;
            let attn_norm = load.dense(&format!("blk.{i}.attn_norm.weight"), &[d])?;
            let ffn_norm = load.dense(&format!("blk.{i}.ffn_norm.weight"), &[d])?;
            blocks.push(Block { attn_norm, ffn_norm, proj });
        }
        let norm = load.dense("output_norm.weight", &[d])?;
        let (cos, sin) = rope_tables(cfg.context_length.min(1 << 16), cfg.head_dim, cfg.rope_theta, 1.0, dev)?;
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
        block::embed(&self.embed, ids, self.cfg.context_length)
    }

    /// The first layer that has an adapter (`layers` when none has): everything below it is
    /// frozen, so [`Llama::prefix`] up to it can be cached.
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
        let (nh, nkv, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim);
        let eps = self.cfg.rms_eps;
        let mut x = x.reshape((b * t, d))?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        if self.fused {
            let rotary = fused::Rotary::new(&cos, &sin)?;
            let attn = fused::Attention { heads: nh, kv_heads: nkv, head_dim: hd, scale: (hd as f32).powf(-0.5), window: None };
            for blk in &self.blocks[from.min(to)..to] {
                let p = &blk.proj;
                let h = fused::rms_norm(&x, &blk.attn_norm, eps)?;
                let q = rotary.apply(&p.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?)?;
                let k = rotary.apply(&p.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?)?;
                let v = p.v.forward(&h, rng.as_deref_mut())?;
                let y = fused::attention(&q, &k, &v.reshape((b, t, nkv * hd))?, attn)?.reshape((b * t, d))?;
                x = (x + p.o.forward(&y, rng.as_deref_mut())?)?;
                let h = fused::rms_norm(&x, &blk.ffn_norm, eps)?;
                x = (x + p.mlp(&h, fused::Gate::Silu, true, rng.as_deref_mut())?)?;
            }
            return Ok(x.reshape((b, t, d))?);
        }
        let mask = attention_mask(nh / nkv, t, None, &self.device)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for blk in &self.blocks[from.min(to)..to] {
            let p = &blk.proj;
            let h = rms_norm(&x, &blk.attn_norm, eps)?;
            let q = p.q.forward(&h, rng.as_deref_mut())?.reshape((b, t, nh, hd))?.transpose(1, 2)?;
            let k = p.k.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?.transpose(1, 2)?;
            let v = p.v.forward(&h, rng.as_deref_mut())?.reshape((b, t, nkv, hd))?.transpose(1, 2)?.contiguous()?;
            let q = rope(&q.contiguous()?, &cos, &sin)?;
            let k = rope(&k.contiguous()?, &cos, &sin)?;
            let y = block::attention(&q, &k, &v, &mask, scale, None)?;
            x = (x + p.o.forward(&y, rng.as_deref_mut())?)?;
            let h = rms_norm(&x, &blk.ffn_norm, eps)?;
            x = (x + p.mlp(&h, fused::Gate::Silu, false, rng.as_deref_mut())?)?;
        }
        Ok(x.reshape((b, t, d))?)
    }

    /// Adapter variables with their PEFT names
    /// (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...), in a fixed order.
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        block::lora_vars(self.blocks.iter().map(|b| &b.proj))
    }

    /// The frozen base weights of one projection, dense, for tests that check they never change.
    pub fn base_weight(&self, layer: usize, target: Target) -> Option<Tensor> {
        self.blocks.get(layer)?.proj.get(target).base.to_dense()
    }
}
