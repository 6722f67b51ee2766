//! One type over every decoder architecture the engine trains (llama and gemma3), so the trainer
//! and the predictor use a single API: embeddings, a cacheable frozen prefix, the trainable suffix,
//! adapter variables with PEFT names. This module only dispatches; the networks live in
//! [`crate::llama`] and [`crate::gemma3`], built from the parts they share in [`crate::block`].

use crate::block::{BaseStorage, LoadOptions};
use crate::error::{ModelError, Result};
use crate::gemma3::Gemma3;
use crate::gguf::GgufFile;
use crate::llama::Llama;
use crate::lora::{LoraConfig, Target};
use candle_core::{Device, Tensor, Var};
use rand::rngs::StdRng;

/// The architectures this engine runs (`general.architecture`).
pub const SUPPORTED_ARCHITECTURES: [&str; 2] = ["llama", "gemma3"];

/// The network behind a [`Decoder`].
pub enum Net {
    Llama(Llama),
    Gemma3(Gemma3),
}

/// A loaded decoder network of any supported architecture.
pub struct Decoder {
    /// `general.architecture` of the file.
    pub architecture: String,
    pub storage: BaseStorage,
    /// Why `storage` was chosen.
    pub storage_reason: String,
    pub lora: Option<LoraConfig>,
    pub net: Net,
}

macro_rules! dispatch {
    ($self:expr, $n:ident => $e:expr) => {
        match &$self.net {
            Net::Llama($n) => $e,
            Net::Gemma3($n) => $e,
        }
    };
}

impl Decoder {
    /// Loads the network of a GGUF file; an architecture other than llama and gemma3 is an error.
    pub fn load(file: &mut GgufFile, opts: &LoadOptions) -> Result<Decoder> {
        let arch = file.architecture()?;
        let net = match arch.as_str() {
            "llama" => Net::Llama(Llama::load(file, opts)?),
            "gemma3" => Net::Gemma3(Gemma3::load(file, opts)?),
            _ => return Err(ModelError::UnsupportedArchitecture(arch)),
        };
        let (storage, storage_reason, lora) = match &net {
            Net::Llama(m) => (m.storage, m.storage_reason.clone(), m.lora.clone()),
            Net::Gemma3(m) => (m.storage, m.storage_reason.clone(), m.lora.clone()),
        };
        Ok(Decoder { architecture: arch, storage, storage_reason, lora, net })
    }

    /// Chooses the fused CPU kernels (the default on CPU) or the reference ops composed from candle
    /// primitives (the default elsewhere); tests run both and compare. Refused where the fused
    /// kernels cannot run.
    pub fn set_fused(&mut self, fused: bool) -> Result<()> {
        if fused && !crate::fused::supported(self.device(), candle_core::DType::F32) {
            return Err(ModelError::Tensor { name: "kernels".into(), message: "the fused kernels run on CPU only".into() });
        }
        match &mut self.net {
            Net::Llama(m) => m.fused = fused,
            Net::Gemma3(m) => m.fused = fused,
        }
        Ok(())
    }

    pub fn vocab_size(&self) -> usize {
        dispatch!(self, m => m.cfg.vocab_size)
    }

    pub fn hidden_size(&self) -> usize {
        dispatch!(self, m => m.cfg.hidden)
    }

    pub fn layers(&self) -> usize {
        dispatch!(self, m => m.cfg.layers)
    }

    pub fn context_length(&self) -> usize {
        dispatch!(self, m => m.cfg.context_length)
    }

    pub fn device(&self) -> &Device {
        dispatch!(self, m => m.device())
    }

    /// Final (normed) hidden states `[b, t, hidden]` for right-padded token ids `[b, t]`; `rng`
    /// is given in training (adapter dropout).
    pub fn hidden_states(&self, ids: &Tensor, rng: Option<&mut StdRng>) -> Result<Tensor> {
        dispatch!(self, m => m.hidden_states(ids, rng))
    }

    /// Token embeddings `[b, t, hidden]` as the first layer sees them.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        dispatch!(self, m => m.embed(ids))
    }

    /// The first layer with an adapter (`layers` when none has).
    pub fn first_adapted_layer(&self) -> usize {
        dispatch!(self, m => m.first_adapted_layer())
    }

    /// The residual stream after the first `upto` layers, without gradients.
    pub fn prefix(&self, ids: &Tensor, upto: usize) -> Result<Tensor> {
        dispatch!(self, m => m.prefix(ids, upto))
    }

    /// Layers `from..` and the final norm on the residual stream `x`.
    pub fn suffix(&self, x: &Tensor, from: usize, rng: Option<&mut StdRng>) -> Result<Tensor> {
        dispatch!(self, m => m.suffix(x, from, rng))
    }

    /// Adapter variables with their PEFT names, in a fixed order.
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        dispatch!(self, m => m.lora_vars())
    }

    /// The frozen base weights of one projection, dense.
    pub fn base_weight(&self, layer: usize, target: Target) -> Option<Tensor> {
        dispatch!(self, m => m.base_weight(layer, target))
    }
}

/// The shape of a model file, for listings and import checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub architecture: String,
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub context_length: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} layers, hidden {}, {} heads / {} kv of {}, vocab {}",
            self.architecture, self.layers, self.hidden, self.heads, self.kv_heads, self.head_dim, self.vocab_size
        )
    }
}

/// Checks that this engine can train the model at `path` (architecture, shape metadata and
/// tokenizer, from a `tokenizer.json` beside it when present) without reading its weights.
pub fn summarize(path: &std::path::Path, file: &GgufFile) -> Result<Summary> {
    let architecture = file.architecture()?;
    let s = match architecture.as_str() {
        "llama" => {
            let c = crate::llama::LlamaConfig::from_gguf(file)?;
            Summary { architecture, layers: c.layers, hidden: c.hidden, heads: c.heads, kv_heads: c.kv_heads, head_dim: c.head_dim, vocab_size: c.vocab_size, context_length: c.context_length }
        }
        "gemma3" => {
            let c = crate::gemma3::Gemma3Config::from_gguf(file)?;
            Summary { architecture, layers: c.layers, hidden: c.hidden, heads: c.heads, kv_heads: c.kv_heads, head_dim: c.head_dim, vocab_size: c.vocab_size, context_length: c.context_length }
        }
        _ => return Err(ModelError::UnsupportedArchitecture(architecture)),
    };
    let tok = crate::tokenizer::Tokenizer::for_model(path, file)?;
    if tok.producible_ids() > s.vocab_size {
        return Err(ModelError::Tokenizer(format!("{}: vocabulary has {} tokens but the embedding only {}", tok.source, tok.producible_ids(), s.vocab_size)));
    }
    Ok(s)
}
