//! The encoder's inference forward on LocalDx's own GEMM (`localdx_model::sgemm`, packed AVX2 +
//! FMA, the `gemm` crate elsewhere) over plain `f32` buffers: one window at a time, no padding and
//! no mask, the QKV projections as one GEMM, attention per head on strided views of it, and the
//! layer norms, softmax and GELU in place. Inference only (the encoder is frozen).
//!
//! It computes what `candle-transformers`' `BertModel` computes for one sequence (post-norm BERT,
//! exact erf GELU, layer-norm epsilon from the config); a test checks the two agree on a real
//! window. candle's CPU path spends about half of a window in the `gemm` crate's kernel and much of
//! the rest allocating and mapping tensors; this path reuses one set of buffers per window.

use crate::error::{Result, TaggerError};
use candle_core::Tensor;
use localdx_model::bf16::{gemm as gemm16, Kernel, PackedB};
use localdx_model::sgemm::{sgemm, Operand};
use std::collections::HashMap;

/// Width of the hidden state.
const H: usize = crate::encoder::HIDDEN;

/// A projection's weight `W` `[out, k]`: f32, or `W^T` as bf16 panels for a bf16 kernel
/// (`localdx_model::bf16`, the same kernels as the frozen base of the language models).
enum Weight {
    F32(Vec<f32>),
    Bf16(PackedB, Kernel),
}

impl Weight {
    fn new(w: Vec<f32>, out: usize, k: usize, kernel: Kernel) -> Weight {
        if kernel.packs_bf16() {
            Weight::Bf16(PackedB::transposed(&w, out, k), kernel)
        } else {
            Weight::F32(w)
        }
    }
}

struct Layer {
    /// query, key and value weights stacked: `[3H, H]`, and their biases `[3H]`.
    wqkv: Weight,
    bqkv: Vec<f32>,
    wo: Weight,
    bo: Vec<f32>,
    ln1: (Vec<f32>, Vec<f32>),
    w1: Weight,
    b1: Vec<f32>,
    w2: Weight,
    b2: Vec<f32>,
    ln2: (Vec<f32>, Vec<f32>),
}

/// The frozen encoder's weights, ready for [`FastBert::forward`].
pub struct FastBert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    heads: usize,
    intermediate: usize,
    eps: f32,
    max_positions: usize,
}

impl FastBert {
    /// From the checkpoint's tensors (HF BERT names, with or without a `bert.` prefix), with the
    /// projections on `kernel` (bf16 panels for a bf16 kernel; embeddings, norms, attention and
    /// biases stay f32).
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, layers: usize, heads: usize, eps: f64, kernel: Kernel) -> Result<FastBert> {
        let get = |name: &str, dims: &[usize]| -> Result<Vec<f32>> {
            let t = tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")))
                .ok_or_else(|| TaggerError::Mismatch(format!("the encoder has no tensor {name}")))?;
            if t.dims() != dims {
                return Err(TaggerError::Mismatch(format!("{name} is {:?}, expected {dims:?}", t.dims())));
            }
            Ok(t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        };
        let word = tensors.get("embeddings.word_embeddings.weight").or_else(|| tensors.get("bert.embeddings.word_embeddings.weight"));
        let vocab = word.map(|t| t.dims()[0]).ok_or_else(|| TaggerError::Mismatch("the encoder has no word embeddings".into()))?;
        let position = tensors.get("embeddings.position_embeddings.weight").or_else(|| tensors.get("bert.embeddings.position_embeddings.weight"));
        let max_positions = position.map(|t| t.dims()[0]).ok_or_else(|| TaggerError::Mismatch("the encoder has no position embeddings".into()))?;
        let intermediate = tensors
            .get("encoder.layer.0.intermediate.dense.weight")
            .or_else(|| tensors.get("bert.encoder.layer.0.intermediate.dense.weight"))
            .map(|t| t.dims()[0])
            .ok_or_else(|| TaggerError::Mismatch("the encoder has no layer 0".into()))?;
        let ln = |p: &str| -> Result<(Vec<f32>, Vec<f32>)> { Ok((get(&format!("{p}.weight"), &[H])?, get(&format!("{p}.bias"), &[H])?)) };
        let mut out = Vec::with_capacity(layers);
        for i in 0..layers {
            let p = format!("encoder.layer.{i}");
            let mut wqkv = Vec::with_capacity(3 * H * H);
            let mut bqkv = Vec::with_capacity(3 * H);
            for part in ["query", "key", "value"] {
                wqkv.extend(get(&format!("{p}.attention.self.{part}.weight"), &[H, H])?);
                bqkv.extend(get(&format!("{p}.attention.self.{part}.bias"), &[H])?);
            }
            out.push(Layer {
                wqkv: Weight::new(wqkv, 3 * H, H, kernel),
                bqkv,
                wo: Weight::new(get(&format!("{p}.attention.output.dense.weight"), &[H, H])?, H, H, kernel),
                bo: get(&format!("{p}.attention.output.dense.bias"), &[H])?,
                ln1: ln(&format!("{p}.attention.output.LayerNorm"))?,
                w1: Weight::new(get(&format!("{p}.intermediate.dense.weight"), &[intermediate, H])?, intermediate, H, kernel),
                b1: get(&format!("{p}.intermediate.dense.bias"), &[intermediate])?,
                w2: Weight::new(get(&format!("{p}.output.dense.weight"), &[H, intermediate])?, H, intermediate, kernel),
                b2: get(&format!("{p}.output.dense.bias"), &[H])?,
                ln2: ln(&format!("{p}.output.LayerNorm"))?,
            });
        }
        if H % heads != 0 {
            return Err(TaggerError::Mismatch(format!("{heads} heads do not divide the hidden size {H}")));
        }
        Ok(FastBert {
            word: get("embeddings.word_embeddings.weight", &[vocab, H])?,
            position: get("embeddings.position_embeddings.weight", &[max_positions, H])?,
            token_type: get("embeddings.token_type_embeddings.weight", &[2, H])?[..H].to_vec(),
            embed_ln: ln("embeddings.LayerNorm")?,
            layers: out,
            heads,
            intermediate,
            eps: eps as f32,
            max_positions,
        })
    }

    /// The last hidden state `[ids.len(), H]` of one sequence (special tokens included), with
    /// `threads` threads for the projections.
    pub fn forward(&self, ids: &[u32], threads: usize) -> Result<Vec<f32>> {
        let l = ids.len();
        if l > self.max_positions {
            return Err(TaggerError::Mismatch(format!("a window of {l} pieces is longer than the encoder's {} positions", self.max_positions)));
        }
        let vocab = self.word.len() / H;
        let mut x = vec![0f32; l * H];
        for (t, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id >= vocab {
                return Err(TaggerError::Mismatch(format!("piece id {id} outside the vocabulary of {vocab}")));
            }
            let row = &mut x[t * H..(t + 1) * H];
            let (w, p) = (&self.word[id * H..(id + 1) * H], &self.position[t * H..(t + 1) * H]);
            for j in 0..H {
                row[j] = w[j] + p[j] + self.token_type[j];
            }
        }
        layer_norm(&mut x, &self.embed_ln, self.eps);
        let dh = H / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let mut qkv = vec![0f32; l * 3 * H];
        let mut scores = vec![0f32; l * l];
        let mut ctx = vec![0f32; l * H];
        let mut proj = vec![0f32; l * H];
        let mut mid = vec![0f32; l * self.intermediate];
        for layer in &self.layers {
            linear(&x, l, H, &layer.wqkv, &layer.bqkv, &mut qkv, threads);
            for h in 0..self.heads {
                // SAFETY: every operand stays inside `qkv` (rows of 3H, the head's dh columns of the
                // query, key or value third), `scores` is [l, l] and `ctx`'s head columns [l, dh]
                // in rows of H; outputs do not overlap inputs.
                unsafe {
                    let q = Operand { ptr: qkv.as_ptr().add(h * dh), rs: (3 * H) as isize, cs: 1 };
                    let kt = Operand { ptr: qkv.as_ptr().add(H + h * dh), rs: 1, cs: (3 * H) as isize };
                    sgemm((l, l, dh), q, kt, scores.as_mut_ptr(), l, false, scale, 1);
                }
                for row in scores.chunks_exact_mut(l) {
                    softmax(row);
                }
                unsafe {
                    let p = Operand::rows(scores.as_ptr(), l);
                    let v = Operand { ptr: qkv.as_ptr().add(2 * H + h * dh), rs: (3 * H) as isize, cs: 1 };
                    sgemm((l, dh, l), p, v, ctx.as_mut_ptr().add(h * dh), H, false, 1.0, 1);
                }
            }
            linear(&ctx, l, H, &layer.wo, &layer.bo, &mut proj, threads);
            add_norm(&mut x, &proj, &layer.ln1, self.eps);
            linear(&x, l, H, &layer.w1, &layer.b1, &mut mid, threads);
            for v in mid.iter_mut() {
                *v = gelu(*v);
            }
            linear(&mid, l, self.intermediate, &layer.w2, &layer.b2, &mut proj, threads);
            add_norm(&mut x, &proj, &layer.ln2, self.eps);
        }
        Ok(x)
    }
}

/// `y[rows, out] = x[rows, k] W^T + b` with `W` `[out, k]`.
fn linear(x: &[f32], rows: usize, k: usize, w: &Weight, b: &[f32], y: &mut [f32], threads: usize) {
    let out = b.len();
    debug_assert!(x.len() >= rows * k && y.len() >= rows * out);
    match w {
        Weight::F32(w) => {
            assert_eq!(w.len(), out * k, "weight of {} values is not [{out}, {k}]", w.len());
            // SAFETY: the sizes above bound every element read or written; `y` is its own buffer.
            unsafe { sgemm((rows, out, k), Operand::rows(x.as_ptr(), k), Operand::transposed(w.as_ptr(), k), y.as_mut_ptr(), out, false, 1.0, threads) };
        }
        Weight::Bf16(w, kernel) => {
            assert!(w.k() == k && w.n() == out, "panels [{}, {}] for a [{k}, {out}] product", w.k(), w.n());
            // SAFETY: as above; the kernel was chosen as one this CPU runs.
            unsafe { gemm16(*kernel, rows, Operand::rows(x.as_ptr(), k), w, y.as_mut_ptr(), out, false, 1.0, threads) };
        }
    }
    for row in y[..rows * out].chunks_exact_mut(out) {
        for (v, bias) in row.iter_mut().zip(b) {
            *v += bias;
        }
    }
}

/// `x = LayerNorm(x + r)` row by row.
fn add_norm(x: &mut [f32], r: &[f32], ln: &(Vec<f32>, Vec<f32>), eps: f32) {
    for (a, b) in x.iter_mut().zip(r) {
        *a += b;
    }
    layer_norm(x, ln, eps);
}

fn layer_norm(x: &mut [f32], (w, b): &(Vec<f32>, Vec<f32>), eps: f32) {
    for row in x.chunks_exact_mut(H) {
        let mean = row.iter().sum::<f32>() / H as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / H as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(w).zip(b) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// GELU with the exact erf, as BERT's `hidden_act: "gelu"`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf to about 1e-7 absolute: Numerical Recipes' Chebyshev fit of erfc (fractional error below
/// 1.2e-7 everywhere), evaluated in `f64`.
fn erf(x: f32) -> f32 {
    let x = x as f64;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06 + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    (if x >= 0.0 { 1.0 - y } else { y - 1.0 }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [(0.0f32, 0.0f32), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (-1.0, -0.842_700_8), (2.0, 0.995_322_3), (-3.5, -0.999_999_26)] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {} not {want}", erf(x));
        }
    }

    #[test]
    fn softmax_and_layer_norm_are_what_they_say() {
        let mut r = vec![1.0, 2.0, 3.0];
        softmax(&mut r);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6 && r[2] > r[1] && r[1] > r[0]);
        let mut x: Vec<f32> = (0..H).map(|i| i as f32).collect();
        layer_norm(&mut x, &(vec![1.0; H], vec![0.0; H]), 1e-12);
        let mean = x.iter().sum::<f32>() / H as f32;
        let var = x.iter().map(|v| v * v).sum::<f32>() / H as f32;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "{mean} {var}");
    }
}
