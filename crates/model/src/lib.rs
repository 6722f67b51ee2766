//! GGUF models for LocalDx: reading GGUF files ([`gguf`]), tokenizers built from their metadata or
//! a `tokenizer.json` beside the file ([`tokenizer`], [`spm`], [`tokenizer_json`]), llama and Gemma 3
//! forward passes for training with LoRA adapters on a frozen base ([`llama`], [`gemma3`], the parts
//! they share in [`block`], one API over both in [`decoder`], adapters in [`lora`]) and diagnosis
//! heads on pooled hidden states ([`head`]).
//!
//! This crate never touches the network and never writes model files (except the tiny synthetic
//! ones of [`synthetic`], for tests). Training loops, optimisers and checkpoints live in
//! `localdx-train`.

pub mod bf16;
pub mod block;
pub mod decoder;
pub mod error;
pub mod fused;
pub mod gemma3;
pub mod gguf;
pub mod head;
pub mod sgemm;
pub mod llama;
pub mod lora;
pub mod runtime;
pub mod spm;
pub mod synthetic;
pub mod tokenizer;
pub mod tokenizer_json;

pub use candle_core;
pub use decoder::{summarize, Decoder, Net, Summary};
pub use error::{without_backtrace, ModelError, Result};
pub use gemma3::{Gemma3, Gemma3Config};
pub use gguf::GgufFile;
pub use head::{ClassifierHead, HeadKind};
pub use block::LoadOptions;
pub use llama::{Llama, LlamaConfig};
pub use lora::{BaseStorage, LoraConfig, Target};
pub use tokenizer::{PreTokenizer, Tokenizer};

use candle_core::{Device, Tensor};
use std::path::Path;

/// A loaded model: the network and its tokenizer.
pub struct Model {
    /// The decoder network, llama or gemma3 (the field keeps the name it had when llama was the
    /// only architecture, so callers need no change).
    pub llama: Decoder,
    pub tokenizer: Tokenizer,
}

impl Model {
    /// Loads a GGUF file: architecture check (llama, gemma3), tokenizer from a
    /// `<stem>.tokenizer.json` beside it when present, else from the metadata, weights as `opts` says.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Model> {
        let mut file = GgufFile::open(path)?;
        let arch = file.architecture()?;
        if !decoder::SUPPORTED_ARCHITECTURES.contains(&arch.as_str()) {
            return Err(ModelError::UnsupportedArchitecture(arch));
        }
        let tokenizer = Tokenizer::for_model(path, &file)?;
        let llama = Decoder::load(&mut file, opts)?;
        let special_ok = |id: Option<u32>| id.is_none_or(|i| (i as usize) < llama.vocab_size());
        if tokenizer.producible_ids() > llama.vocab_size() || ![tokenizer.bos, tokenizer.eos, tokenizer.pad].into_iter().all(special_ok) {
            return Err(ModelError::Tokenizer(format!(
                "{}: vocabulary has {} tokens but the embedding only {}",
                tokenizer.source,
                tokenizer.producible_ids(),
                llama.vocab_size()
            )));
        }
        Ok(Model { llama, tokenizer })
    }

    pub fn device(&self) -> &Device {
        self.llama.device()
    }

    /// Token ids of `text`, at most `max_len`: a long text keeps its first `head` share and its
    /// end (the history and the assessment of a note are both kept). Never empty.
    pub fn encode_truncated(&self, text: &str, max_len: usize, head: f64) -> Vec<u32> {
        let ids = self.tokenizer.encode_for_model(text);
        let mut ids = truncate_head_tail(ids, max_len, head);
        if ids.is_empty() {
            ids.push(self.tokenizer.eos.or(self.tokenizer.bos).unwrap_or(0));
        }
        ids
    }

    /// Right-pads `batch` into ids `[b, t]` and a mask `[b, t]` (1 on real tokens).
    pub fn pad(&self, batch: &[&[u32]]) -> Result<(Tensor, Tensor)> {
        let t = batch.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
        let pad = self.tokenizer.pad.or(self.tokenizer.eos).unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * t);
        let mut mask = Vec::with_capacity(batch.len() * t);
        for s in batch {
            for i in 0..t {
                ids.push(s.get(i).copied().unwrap_or(pad));
                mask.push(if i < s.len() { 1f32 } else { 0.0 });
            }
        }
        let dev = self.device();
        Ok((Tensor::from_vec(ids, (batch.len(), t), dev)?, Tensor::from_vec(mask, (batch.len(), t), dev)?))
    }

    /// Mean-pooled final hidden states `[b, hidden]` of a batch of token sequences.
    pub fn pooled(&self, batch: &[&[u32]], rng: Option<&mut rand::rngs::StdRng>) -> Result<Tensor> {
        let (ids, mask) = self.pad(batch)?;
        let h = self.llama.hidden_states(&ids, rng)?;
        block::mean_pool(&h, &mask)
    }
}

/// Keeps the first `ceil(head * max_len)` and the last remaining tokens of `ids`.
pub fn truncate_head_tail(ids: Vec<u32>, max_len: usize, head: f64) -> Vec<u32> {
    if ids.len() <= max_len {
        return ids;
    }
    let h = ((max_len as f64 * head.clamp(0.0, 1.0)).ceil() as usize).min(max_len);
    let tail = max_len - h;
    let mut out = ids[..h].to_vec();
    out.extend_from_slice(&ids[ids.len() - tail..]);
    out
}
