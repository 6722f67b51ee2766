//! Tiny GGUF files written on demand, for tests here and in other crates: llama with a byte-level
//! BPE vocabulary (256 byte tokens plus a few merges), Gemma 3 with a SentencePiece vocabulary (byte
//! fallback tokens, a few scored pieces, user-defined space runs); random weights from a seed, any
//! candle-writable storage type. Never used on a real model path.

use crate::error::Result;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// The shape and storage of a tiny model.
#[derive(Debug, Clone)]
pub struct TinySpec {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    /// Storage of the projection weights (`F32`, `Q8_0`, ...). Embeddings and norms stay F32.
    pub dtype: GgmlDType,
    pub seed: u64,
    pub architecture: &'static str,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec { layers: 2, hidden: 32, heads: 4, kv_heads: 2, ffn: 64, dtype: GgmlDType::F32, seed: 7, architecture: "llama" }
    }
}

/// The merges of the tiny vocabulary, in rank order.
pub const TINY_MERGES: [&str; 6] = ["t h", "th e", "Ġ the", "a b", "Ġ a", "e r"];

/// The tiny vocabulary: GPT-2's 256 byte characters in byte order, then one token per merge.
pub fn tiny_vocab() -> Vec<String> {
    let mut tokens = Vec::new();
    let mut n = 0u32;
    for b in 0..=255u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            char::from_u32(b)
        } else {
            n += 1;
            char::from_u32(256 + n - 1)
        };
        tokens.push(c.unwrap_or('?').to_string());
    }
    for m in TINY_MERGES {
        tokens.push(m.replace(' ', ""));
    }
    tokens
}

fn random(rng: &mut StdRng, dims: &[usize], std: f32, mean: f32) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| mean + std * (rng.random::<f32>() * 2.0 - 1.0) * 1.732).collect();
    Ok(Tensor::from_vec(v, dims, &Device::Cpu)?)
}

/// Writes a tiny llama GGUF file to `path`.
pub fn write_tiny_llama(path: &Path, spec: &TinySpec) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let tokens = tiny_vocab();
    let vocab = tokens.len();
    let (d, hd) = (spec.hidden, spec.hidden / spec.heads);
    let kv = spec.kv_heads * hd;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let f32q = |t: &Tensor| QTensor::quantize(t, GgmlDType::F32);
    tensors.push(("token_embd.weight".into(), f32q(&random(&mut rng, &[vocab, d], 0.5, 0.0)?)?));
    for i in 0..spec.layers {
        for (name, out, inp) in [
            ("attn_q", d, d),
            ("attn_k", kv, d),
            ("attn_v", kv, d),
            ("attn_output", d, d),
            ("ffn_gate", spec.ffn, d),
            ("ffn_up", spec.ffn, d),
            ("ffn_down", d, spec.ffn),
        ] {
            let w = random(&mut rng, &[out, inp], 1.0 / (inp as f32).sqrt(), 0.0)?;
            tensors.push((format!("blk.{i}.{name}.weight"), QTensor::quantize(&w, spec.dtype)?));
        }
        tensors.push((format!("blk.{i}.attn_norm.weight"), f32q(&random(&mut rng, &[d], 0.1, 1.0)?)?));
        tensors.push((format!("blk.{i}.ffn_norm.weight"), f32q(&random(&mut rng, &[d], 0.1, 1.0)?)?));
    }
    tensors.push(("output_norm.weight".into(), f32q(&random(&mut rng, &[d], 0.1, 1.0)?)?));

    let u32v = |x: usize| Value::U32(x as u32);
    let arch = spec.architecture;
    let meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (format!("{arch}.block_count"), u32v(spec.layers)),
        (format!("{arch}.embedding_length"), u32v(d)),
        (format!("{arch}.feed_forward_length"), u32v(spec.ffn)),
        (format!("{arch}.attention.head_count"), u32v(spec.heads)),
        (format!("{arch}.attention.head_count_kv"), u32v(spec.kv_heads)),
        (format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (format!("{arch}.rope.freq_base"), Value::F32(10000.0)),
        (format!("{arch}.context_length"), u32v(256)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("smollm".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens.iter().map(|t| Value::String(t.clone())).collect())),
        ("tokenizer.ggml.merges".into(), Value::Array(TINY_MERGES.iter().map(|m| Value::String((*m).into())).collect())),
        ("tokenizer.ggml.token_type".into(), Value::Array((0..vocab).map(|_| Value::I32(1)).collect())),
    ];
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).map_err(|source| crate::ModelError::Io { path: path.display().to_string(), source })?;
    gguf_file::write(&mut file, &meta_refs, &tensor_refs)?;
    Ok(())
}

/// The scored pieces of the tiny SentencePiece vocabulary (after the specials and byte tokens).
pub const TINY_SPM_PIECES: [(&str, f32); 12] = [
    ("\u{2581}", -1.0),
    ("t", -2.0),
    ("h", -2.0),
    ("e", -2.0),
    ("a", -2.0),
    ("b", -2.0),
    ("th", -3.0),
    ("the", -4.0),
    ("\u{2581}the", -5.0),
    ("er", -6.0),
    ("ab", -7.0),
    ("\u{2581}a", -8.0),
];

/// The tiny SentencePiece vocabulary: `<pad> <eos> <bos> <unk>`, 256 `<0xNN>` tokens, the scored
/// pieces, then a user-defined run of two spaces. Returns (tokens, scores, token types).
pub fn tiny_spm_vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>"].iter().map(|s| s.to_string()).collect();
    let mut scores = vec![0.0; 4];
    let mut types = vec![3, 3, 3, 2];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(6);
    }
    for (p, s) in TINY_SPM_PIECES {
        tokens.push(p.to_string());
        scores.push(s);
        types.push(1);
    }
    tokens.push("  ".to_string());
    scores.push(0.0);
    types.push(4);
    (tokens, scores, types)
}

/// Writes a tiny Gemma 3 GGUF file to `path`: `spec.hidden` wide, `spec.heads` query heads of
/// dimension 16 (so `heads * 16` differs from the hidden size, as in the real model), a sliding
/// window of 3 tokens and every second layer global. Norm weights are stored as `1 + w`, as
/// llama.cpp's converter writes them.
pub fn write_tiny_gemma3(path: &Path, spec: &TinySpec) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let (tokens, scores, types) = tiny_spm_vocab();
    let vocab = tokens.len();
    let (d, hd) = (spec.hidden, 16);
    let (qd, kv) = (spec.heads * hd, spec.kv_heads * hd);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let f32q = |t: &Tensor| QTensor::quantize(t, GgmlDType::F32);
    tensors.push(("token_embd.weight".into(), f32q(&random(&mut rng, &[vocab, d], 0.1, 0.0)?)?));
    for i in 0..spec.layers {
        for (name, out, inp) in [
            ("attn_q", qd, d),
            ("attn_k", kv, d),
            ("attn_v", kv, d),
            ("attn_output", d, qd),
            ("ffn_gate", spec.ffn, d),
            ("ffn_up", spec.ffn, d),
            ("ffn_down", d, spec.ffn),
        ] {
            let w = random(&mut rng, &[out, inp], 1.0 / (inp as f32).sqrt(), 0.0)?;
            tensors.push((format!("blk.{i}.{name}.weight"), QTensor::quantize(&w, spec.dtype)?));
        }
        for (name, n) in [
            ("attn_norm", d),
            ("attn_q_norm", hd),
            ("attn_k_norm", hd),
            ("post_attention_norm", d),
            ("ffn_norm", d),
            ("post_ffw_norm", d),
        ] {
            tensors.push((format!("blk.{i}.{name}.weight"), f32q(&random(&mut rng, &[n], 0.1, 1.0)?)?));
        }
    }
    tensors.push(("output_norm.weight".into(), f32q(&random(&mut rng, &[d], 0.1, 1.0)?)?));

    let u32v = |x: usize| Value::U32(x as u32);
    let meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("gemma3".into())),
        ("gemma3.block_count".into(), u32v(spec.layers)),
        ("gemma3.embedding_length".into(), u32v(d)),
        ("gemma3.feed_forward_length".into(), u32v(spec.ffn)),
        ("gemma3.attention.head_count".into(), u32v(spec.heads)),
        ("gemma3.attention.head_count_kv".into(), u32v(spec.kv_heads)),
        ("gemma3.attention.key_length".into(), u32v(hd)),
        ("gemma3.attention.value_length".into(), u32v(hd)),
        ("gemma3.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-6)),
        ("gemma3.attention.sliding_window".into(), u32v(3)),
        ("gemma3.attention.sliding_window_pattern".into(), u32v(2)),
        ("gemma3.rope.freq_base".into(), Value::F32(1_000_000.0)),
        ("gemma3.context_length".into(), u32v(256)),
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        ("tokenizer.ggml.pre".into(), Value::String("default".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens.iter().map(|t| Value::String(t.clone())).collect())),
        ("tokenizer.ggml.scores".into(), Value::Array(scores.iter().map(|s| Value::F32(*s)).collect())),
        ("tokenizer.ggml.token_type".into(), Value::Array(types.iter().map(|t| Value::I32(*t)).collect())),
        ("tokenizer.ggml.bos_token_id".into(), u32v(2)),
        ("tokenizer.ggml.eos_token_id".into(), u32v(1)),
        ("tokenizer.ggml.unknown_token_id".into(), u32v(3)),
        ("tokenizer.ggml.padding_token_id".into(), u32v(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.ggml.add_space_prefix".into(), Value::Bool(false)),
    ];
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).map_err(|source| crate::ModelError::Io { path: path.display().to_string(), source })?;
    gguf_file::write(&mut file, &meta_refs, &tensor_refs)?;
    Ok(())
}
