//! Fused CPU kernels for the training forward, each a candle custom op with a hand-written
//! backward: RMS norm, rotary embeddings, causal grouped-query attention (with an optional sliding
//! window) and gated activations (SwiGLU, GeGLU).
//!
//! Why: the reference forward builds these from candle primitives, because candle's own fused
//! kernels drop gradients. That is correct but slow and memory-hungry on CPU: a softmax over
//! `[heads, t, t]` is six tensors kept for the backward pass, every one a full pass over memory.
//! Here each is one pass forward and one backward, and attention keeps only q, k, v and its output
//! for the backward (the probabilities are recomputed there, as in FlashAttention), so memory
//! grows with `t`, not `t^2`, per layer.
//!
//! Each kernel is checked against the composed reference ops (values and gradients) in
//! `tests/model/fused.rs`; the model files use them on CPU and fall back to the reference ops on
//! other devices. The ops read contiguous f32 input only (callers make it so) and never keep a
//! gradient for the frozen weights they close over (norm weights, rotary tables).

use crate::sgemm::{sgemm, Operand};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

type R<T> = candle_core::Result<T>;

fn err(message: String) -> candle_core::Error {
    candle_core::Error::Msg(message)
}

/// The contiguous f32 data of a custom op's input.
pub(crate) fn slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> R<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        return Err(err(format!("{op}: f32 input expected")));
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        return Err(err(format!("{op}: contiguous input expected")));
    };
    Ok(&data[start..end])
}

/// A tensor's values, row-major (a copy; used in the backward passes).
fn values(t: &Tensor) -> R<Vec<f32>> {
    t.contiguous()?.flatten_all()?.to_vec1::<f32>()
}

/// Runs `f` on the contiguous f32 data of CPU tensors (no copy when they are contiguous already).
pub(crate) fn with_values<T, const N: usize>(tensors: [&Tensor; N], f: impl FnOnce([&[f32]; N]) -> R<T>) -> R<T> {
    let owned = tensors.iter().map(|t| t.contiguous()).collect::<R<Vec<_>>>()?;
    let guards: Vec<_> = owned.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(N);
    for (storage, layout) in &guards {
        let candle_core::Storage::Cpu(s) = &**storage else { return Err(err("fused kernels: CPU tensors expected".into())) };
        slices.push(slice(s, layout, "fused kernel")?);
    }
    f(slices.try_into().unwrap_or_else(|_| unreachable!("one slice per tensor")))
}

/// Elements per task of the elementwise kernels on the thread pool.
const ELEMENTS: usize = 1 << 14;

/// Whether `tasks` pieces of work go to the thread pool: candle may use more than one thread and
/// there are at least two.
fn parallel(tasks: usize) -> bool {
    tasks > 1 && candle_core::utils::get_num_threads() > 1
}

/// Runs `f(index, chunk)` over `out` in chunks of `len` values (the last may be shorter), on the
/// thread pool when [`parallel`].
fn for_chunks(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if parallel(out.len() / len) {
        out.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Whether the fused kernels can run for tensors on `device` of `dtype`.
pub fn supported(device: &candle_core::Device, dtype: candle_core::DType) -> bool {
    device.is_cpu() && dtype == candle_core::DType::F32
}

// ---------------------------------------------------------------------------------------------
// RMS norm

/// `y = x / sqrt(mean(x^2) + eps) * w` over the last dimension; `w` is frozen.
struct RmsNorm {
    w: Arc<Vec<f32>>,
    eps: f32,
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "fused-rms-norm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> R<(CpuStorage, Shape)> {
        let x = slice(s, l, self.name())?;
        let d = self.w.len();
        let mut y = vec![0f32; x.len()];
        let rows = ELEMENTS.div_ceil(d);
        for_chunks(&mut y, rows * d, |c, y| {
            for (xr, yr) in x[c * rows * d..].chunks_exact(d).zip(y.chunks_exact_mut(d)) {
                let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
                let r = 1.0 / (ms + self.eps).sqrt();
                for ((yv, xv), wv) in yr.iter_mut().zip(xr).zip(self.w.iter()) {
                    *yv = xv * r * wv;
                }
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> R<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(x.apply_op2_no_bwd(&grad, &RmsNormGrad { w: self.w.clone(), eps: self.eps })?))
    }
}

/// The input gradient of [`RmsNorm`]: with `g = dy * w` and `r = 1 / sqrt(mean(x^2) + eps)`,
/// `dx = r g - x r^3 mean(g x)`.
struct RmsNormGrad {
    w: Arc<Vec<f32>>,
    eps: f32,
}

impl CustomOp2 for RmsNormGrad {
    fn name(&self) -> &'static str {
        "fused-rms-norm-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> R<(CpuStorage, Shape)> {
        let x = slice(s1, l1, self.name())?;
        let dy = slice(s2, l2, self.name())?;
        let d = self.w.len();
        let mut dx = vec![0f32; x.len()];
        let rows = ELEMENTS.div_ceil(d);
        for_chunks(&mut dx, rows * d, |c, dx| {
            let at = c * rows * d;
            for ((xr, gr), dr) in x[at..].chunks_exact(d).zip(dy[at..].chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
                let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
                let r = 1.0 / (ms + self.eps).sqrt();
                let gx = xr.iter().zip(gr).zip(self.w.iter()).map(|((x, g), w)| g * w * x).sum::<f32>() / d as f32;
                let c = r * r * r * gx;
                for (((dv, xv), gv), wv) in dr.iter_mut().zip(xr).zip(gr).zip(self.w.iter()) {
                    *dv = r * gv * wv - xv * c;
                }
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// RMS norm of `x` (any shape, last dimension `w.len()`) with the frozen weight `w`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> R<Tensor> {
    let w = Arc::new(w.to_vec1::<f32>()?);
    if x.dim(candle_core::D::Minus1)? != w.len() {
        return Err(err(format!("rms norm: last dimension {} differs from the weight's {}", x.dim(candle_core::D::Minus1)?, w.len())));
    }
    x.contiguous()?.apply_op1(RmsNorm { w, eps: eps as f32 })
}

// ---------------------------------------------------------------------------------------------
// Rotary embeddings

/// Rotary tables for positions `0..t` in transformers' half-split layout (`[t, head_dim]`, each
/// half duplicated), shared by every layer of one forward pass.
#[derive(Clone)]
pub struct Rotary {
    cos: Arc<Vec<f32>>,
    sin: Arc<Vec<f32>>,
    t: usize,
    head_dim: usize,
}

impl Rotary {
    /// From `[t, head_dim]` cos and sin tables.
    pub fn new(cos: &Tensor, sin: &Tensor) -> R<Rotary> {
        let (t, head_dim) = cos.dims2()?;
        Ok(Rotary { cos: Arc::new(values(cos)?), sin: Arc::new(values(sin)?), t, head_dim })
    }

    /// `x cos + rotate_half(x) sin` for `x` of shape `[b, t, heads, head_dim]`.
    pub fn apply(&self, x: &Tensor) -> R<Tensor> {
        let (_, t, _, hd) = x.dims4()?;
        if t > self.t || hd != self.head_dim {
            return Err(err(format!("rotary: input [_, {t}, _, {hd}] does not fit tables [{}, {}]", self.t, self.head_dim)));
        }
        x.contiguous()?.apply_op1(RotaryOp { table: self.clone(), inverse: false })
    }
}

/// The rotation by position; `inverse` rotates the other way (`sin` negated), which is also the
/// backward pass of the forward rotation.
struct RotaryOp {
    table: Rotary,
    inverse: bool,
}

impl CustomOp1 for RotaryOp {
    fn name(&self) -> &'static str {
        "fused-rotary"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> R<(CpuStorage, Shape)> {
        let x = slice(s, l, self.name())?;
        let (_, t, heads, hd) = l.shape().dims4()?;
        let half = hd / 2;
        let sign = if self.inverse { -1.0 } else { 1.0 };
        let mut y = vec![0f32; x.len()];
        let rows = ELEMENTS.div_ceil(hd);
        for_chunks(&mut y, rows * hd, |c, y| {
            let first = c * rows;
            for (row, (xr, yr)) in x[first * hd..].chunks_exact(hd).zip(y.chunks_exact_mut(hd)).enumerate() {
                let pos = ((first + row) / heads) % t;
                let cos = &self.table.cos[pos * hd..(pos + 1) * hd];
                let sin = &self.table.sin[pos * hd..(pos + 1) * hd];
                for i in 0..half {
                    let (a, b) = (xr[i], xr[i + half]);
                    yr[i] = a * cos[i] - sign * b * sin[i];
                    yr[i + half] = b * cos[i + half] + sign * a * sin[i + half];
                }
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> R<Option<Tensor>> {
        let op = RotaryOp { table: self.table.clone(), inverse: !self.inverse };
        Ok(Some(grad.contiguous()?.apply_op1(op)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Gated activations

/// The activation of a gated MLP: `act(gate) * up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// SiLU (llama's SwiGLU).
    Silu,
    /// GELU, tanh approximation (Gemma's GeGLU; candle's `gelu`).
    GeluTanh,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;

impl Gate {
    /// `(act(g), act'(g))`.
    fn eval(self, g: f32) -> (f32, f32) {
        match self {
            Gate::Silu => {
                let s = 1.0 / (1.0 + (-g).exp());
                (g * s, s * (1.0 + g * (1.0 - s)))
            }
            Gate::GeluTanh => {
                let inner = SQRT_2_OVER_PI * (g + 0.044_715 * g * g * g);
                let th = inner.tanh();
                let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044_715 * g * g);
                (0.5 * g * (1.0 + th), 0.5 * (1.0 + th) + 0.5 * g * (1.0 - th * th) * d_inner)
            }
        }
    }
}

impl CustomOp2 for Gate {
    fn name(&self) -> &'static str {
        "fused-gated-activation"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> R<(CpuStorage, Shape)> {
        let g = slice(s1, l1, self.name())?;
        let u = slice(s2, l2, self.name())?;
        if g.len() != u.len() {
            return Err(err(format!("gated activation: gate {:?} and up {:?} differ", l1.shape(), l2.shape())));
        }
        let mut y = vec![0f32; g.len()];
        for_chunks(&mut y, ELEMENTS, |c, y| {
            let at = c * ELEMENTS;
            for ((y, g), u) in y.iter_mut().zip(&g[at..]).zip(&u[at..]) {
                *y = self.eval(*g).0 * u;
            }
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(&self, g: &Tensor, u: &Tensor, _res: &Tensor, grad: &Tensor) -> R<(Option<Tensor>, Option<Tensor>)> {
        let n = g.elem_count();
        let (mut dg, mut du) = (vec![0f32; n], vec![0f32; n]);
        with_values([g, u, grad], |[gv, uv, dy]| {
            let work = |(c, (dg, du)): (usize, (&mut [f32], &mut [f32]))| {
                let at = c * ELEMENTS;
                for (i, (dg, du)) in dg.iter_mut().zip(du.iter_mut()).enumerate() {
                    let (a, da) = self.eval(gv[at + i]);
                    *dg = dy[at + i] * uv[at + i] * da;
                    *du = dy[at + i] * a;
                }
            };
            if parallel(n / ELEMENTS) {
                dg.par_chunks_mut(ELEMENTS).zip(du.par_chunks_mut(ELEMENTS)).enumerate().for_each(work);
            } else {
                dg.chunks_mut(ELEMENTS).zip(du.chunks_mut(ELEMENTS)).enumerate().for_each(work);
            }
            Ok(())
        })?;
        Ok((Some(Tensor::from_vec(dg, g.shape(), g.device())?), Some(Tensor::from_vec(du, u.shape(), u.device())?)))
    }
}

/// `act(gate) * up`, elementwise, for tensors of one shape.
pub fn gated(gate: &Tensor, up: &Tensor, act: Gate) -> R<Tensor> {
    gate.contiguous()?.apply_op2(&up.contiguous()?, act)
}

// ---------------------------------------------------------------------------------------------
// Attention

/// Causal grouped-query attention over `[b, t, heads * head_dim]` queries and
/// `[b, t, kv_heads * head_dim]` keys and values (the projections' own layout, so nothing is
/// transposed). Query head `h` reads kv head `h / (heads / kv_heads)`, as transformers'
/// `repeat_kv`. Position `i` sees positions `j <= i` (and `i - j < window` when a window is set).
#[derive(Debug, Clone, Copy)]
pub struct Attention {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Multiplies the scores (`1 / sqrt(head_dim)` for llama).
    pub scale: f32,
    pub window: Option<usize>,
}

/// Raw pointers handed to worker threads; every group of heads writes its own columns only.
#[derive(Clone, Copy)]
struct Out(*mut f32);
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the bare pointer).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `dst[m, n] (+)= scale * lhs[m, k] * rhs[k, n]`, with explicit row and column strides
/// (elements), on one thread (the callers run one group of heads per thread).
///
/// # Safety
/// Every pointer must be valid for the elements its strides and sizes reach; `dst` must not
/// overlap the inputs.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, usize, usize),
    (rhs, rhs_rs, rhs_cs): (*const f32, usize, usize),
    scale: f32,
) {
    let lhs = Operand { ptr: lhs, rs: lhs_rs as isize, cs: lhs_cs as isize };
    let rhs = Operand { ptr: rhs, rs: rhs_rs as isize, cs: rhs_cs as isize };
    unsafe { sgemm((m, n, k), lhs, rhs, dst, dst_rs, accumulate, scale, 1) }
}

/// Query rows per block of the attention kernels (a multiple of the GEMM's tile sides).
const QUERY_BLOCK: usize = 48;

impl Attention {
    fn check(&self, b: usize, t: usize, q_len: usize, kv_len: usize) -> R<()> {
        let ok = self.kv_heads > 0
            && self.heads.is_multiple_of(self.kv_heads)
            && q_len == b * t * self.heads * self.head_dim
            && kv_len == b * t * self.kv_heads * self.head_dim;
        if ok {
            Ok(())
        } else {
            Err(err(format!(
                "attention: {q_len} query / {kv_len} key values do not fit b={b} t={t} heads={} kv_heads={} head_dim={}",
                self.heads, self.kv_heads, self.head_dim
            )))
        }
    }

    /// The visible key range `lo..=i` of query position `i`.
    fn lo(&self, i: usize) -> usize {
        self.window.map_or(0, |w| (i + 1).saturating_sub(w))
    }

    /// The blocks of query rows, `(first, end, lo)`: rows `first..end` see keys `lo..end` at most.
    /// Working block by block skips (most of) the causal upper triangle and, with a window, the
    /// keys behind it: at 512 tokens the score GEMMs do 56% of the square's work.
    fn blocks(&self, t: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..t).step_by(QUERY_BLOCK).map(move |i0| (i0, (i0 + QUERY_BLOCK).min(t), self.lo(i0)))
    }

    /// `s[i, j] = scale * q_i . k_j`, then the causal (windowed) softmax of each row in place, for
    /// each block's rectangle `[first..end, lo..end]` of `s`; inside it, positions outside row `i`'s
    /// range are zero. Nothing outside the rectangles is written or read afterwards.
    ///
    /// # Safety
    /// `q` and `k` point at the first element of head `h` / kv head of batch row 0 of a
    /// `[t, stride]` matrix; `s` holds `t * t` values.
    unsafe fn probabilities(&self, t: usize, q: *const f32, q_rs: usize, k: *const f32, k_rs: usize, s: &mut [f32]) {
        let hd = self.head_dim;
        for (i0, i1, lo0) in self.blocks(t) {
            unsafe {
                matmul((i1 - i0, i1 - lo0, hd), s.as_mut_ptr().add(i0 * t + lo0), t, false, (q.add(i0 * q_rs), q_rs, 1), (k.add(lo0 * k_rs), 1, k_rs), self.scale)
            };
            for i in i0..i1 {
                let row = &mut s[i * t + lo0..i * t + i1];
                let (lo, hi) = (self.lo(i) - lo0, i - lo0);
                let max = row[lo..=hi].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for v in &mut row[lo..=hi] {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                let inv = 1.0 / sum;
                row[lo..=hi].iter_mut().for_each(|v| *v *= inv);
                row[..lo].fill(0.0);
                row[hi + 1..].fill(0.0);
            }
        }
    }

    /// Runs `f(batch, head)` for every query head, on the thread pool when candle may use more
    /// than one thread (per query head, not per kv head: SmolLM2's 3 kv heads would leave one of
    /// two threads idle a third of the time).
    fn for_heads(&self, b: usize, f: impl Fn(usize, usize) + Sync) {
        let tasks = b * self.heads;
        if parallel(tasks) {
            (0..tasks).into_par_iter().for_each(|i| f(i / self.heads, i % self.heads));
        } else {
            (0..tasks).for_each(|i| f(i / self.heads, i % self.heads));
        }
    }

    fn forward(&self, b: usize, t: usize, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f32> {
        let (hd, rep) = (self.head_dim, self.heads / self.kv_heads);
        let (q_rs, kv_rs) = (self.heads * hd, self.kv_heads * hd);
        let mut y = vec![0f32; q.len()];
        let out = Out(y.as_mut_ptr());
        self.for_heads(b, |bi, h| {
            let mut s = vec![0f32; t * t];
            // SAFETY: offsets stay inside batch row `bi`; each head writes its own columns only.
            unsafe {
                let kv_off = bi * t * kv_rs + (h / rep) * hd;
                let (kb, vb) = (k.as_ptr().add(kv_off), v.as_ptr().add(kv_off));
                let q_off = bi * t * q_rs + h * hd;
                self.probabilities(t, q.as_ptr().add(q_off), q_rs, kb, kv_rs, &mut s);
                let yb = out.get().add(q_off);
                for (i0, i1, lo0) in self.blocks(t) {
                    let ps = s.as_ptr().add(i0 * t + lo0);
                    matmul((i1 - i0, hd, i1 - lo0), yb.add(i0 * q_rs), q_rs, false, (ps, t, 1), (vb.add(lo0 * kv_rs), kv_rs, 1), 1.0);
                }
            }
        });
        y
    }

    /// Gradients of q, k and v, recomputing the probabilities. With `P` the probabilities, `dY`
    /// the output gradient and `D_i = dY_i . Y_i`: `dV = P^T dY`, `dS = P * (dY V^T - D)`,
    /// `dQ = scale dS K`, `dK = scale dS^T Q`. Each query head works alone, into its own dQ
    /// columns and its own `[t, head_dim]` partial dK and dV, summed per kv head at the end.
    #[allow(clippy::too_many_arguments)]
    fn backward(&self, b: usize, t: usize, q: &[f32], k: &[f32], v: &[f32], y: &[f32], dy: &[f32]) -> [Vec<f32>; 3] {
        let (hd, rep) = (self.head_dim, self.heads / self.kv_heads);
        let (q_rs, kv_rs) = (self.heads * hd, self.kv_heads * hd);
        let mut dq = vec![0f32; q.len()];
        let mut dk_h = vec![0f32; b * self.heads * t * hd];
        let mut dv_h = vec![0f32; b * self.heads * t * hd];
        let (dq_out, dk_out, dv_out) = (Out(dq.as_mut_ptr()), Out(dk_h.as_mut_ptr()), Out(dv_h.as_mut_ptr()));
        self.for_heads(b, |bi, h| {
            let mut p = vec![0f32; t * t];
            let mut ds = vec![0f32; t * t];
            // SAFETY: offsets stay inside batch row `bi`; a head writes its own columns of dq and
            // its own partial dk and dv.
            unsafe {
                let kv_off = bi * t * kv_rs + (h / rep) * hd;
                let (kb, vb) = (k.as_ptr().add(kv_off), v.as_ptr().add(kv_off));
                let part = (bi * self.heads + h) * t * hd;
                let (dkb, dvb) = (dk_out.get().add(part), dv_out.get().add(part));
                let q_off = bi * t * q_rs + h * hd;
                let (qb, dyb, dqb) = (q.as_ptr().add(q_off), dy.as_ptr().add(q_off), dq_out.get().add(q_off));
                self.probabilities(t, qb, q_rs, kb, kv_rs, &mut p);
                for (i0, i1, lo0) in self.blocks(t) {
                    let (rows, keys) = (i1 - i0, i1 - lo0);
                    let (pb, dsb) = (p.as_ptr().add(i0 * t + lo0), ds.as_mut_ptr().add(i0 * t + lo0));
                    let (qi, dyi) = (qb.add(i0 * q_rs), dyb.add(i0 * q_rs));
                    let (kj, vj) = (kb.add(lo0 * kv_rs), vb.add(lo0 * kv_rs));
                    // dV += P^T dY (the partials start at zero and sum over blocks)
                    matmul((keys, hd, rows), dvb.add(lo0 * hd), hd, true, (pb, 1, t), (dyi, q_rs, 1), 1.0);
                    // dP = dY V^T
                    matmul((rows, keys, hd), dsb, t, false, (dyi, q_rs, 1), (vj, 1, kv_rs), 1.0);
                    for i in i0..i1 {
                        let yi = &y[q_off + i * q_rs..q_off + i * q_rs + hd];
                        let dyi = &dy[q_off + i * q_rs..q_off + i * q_rs + hd];
                        let d: f32 = yi.iter().zip(dyi).map(|(a, b)| a * b).sum();
                        let (pr, dr) = (&p[i * t + lo0..i * t + i1], &mut ds[i * t + lo0..i * t + i1]);
                        for (dv, pv) in dr.iter_mut().zip(pr) {
                            *dv = pv * (*dv - d) * self.scale;
                        }
                    }
                    // dQ = dS K (the pointer taken again after the loop's borrow of ds)
                    let dsb = ds.as_ptr().add(i0 * t + lo0);
                    matmul((rows, hd, keys), dqb.add(i0 * q_rs), q_rs, false, (dsb, t, 1), (kj, kv_rs, 1), 1.0);
                    // dK += dS^T Q
                    matmul((keys, hd, rows), dkb.add(lo0 * hd), hd, true, (dsb, 1, t), (qi, q_rs, 1), 1.0);
                }
            }
        });
        // Sum the partials of the query heads sharing each kv head.
        let (mut dk, mut dv) = (vec![0f32; k.len()], vec![0f32; v.len()]);
        for (dst, parts) in [(&mut dk, &dk_h), (&mut dv, &dv_h)] {
            for (bi, part) in parts.chunks_exact(self.heads * t * hd).enumerate() {
                for (h, head) in part.chunks_exact(t * hd).enumerate() {
                    for (i, row) in head.chunks_exact(hd).enumerate() {
                        let at = bi * t * kv_rs + i * kv_rs + (h / rep) * hd;
                        dst[at..at + hd].iter_mut().zip(row).for_each(|(d, s)| *d += s);
                    }
                }
            }
        }
        [dq, dk, dv]
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "fused-causal-attention"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> R<(CpuStorage, Shape)> {
        let (q, k, v) = (slice(s1, l1, self.name())?, slice(s2, l2, self.name())?, slice(s3, l3, self.name())?);
        let dims = l1.shape().dims();
        let (b, t) = (dims[0], dims[1]);
        self.check(b, t, q.len(), k.len())?;
        if v.len() != k.len() {
            return Err(err(format!("attention: keys {:?} and values {:?} differ", l2.shape(), l3.shape())));
        }
        Ok((CpuStorage::F32(self.forward(b, t, q, k, v)), l1.shape().clone()))
    }

    fn bwd(&self, q: &Tensor, k: &Tensor, v: &Tensor, res: &Tensor, grad: &Tensor) -> R<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, t) = (q.dim(0)?, q.dim(1)?);
        let [dq, dk, dv] = with_values([q, k, v, res, grad], |[q, k, v, y, dy]| Ok(self.backward(b, t, q, k, v, y, dy)))?;
        let dev = q.device();
        Ok((
            Some(Tensor::from_vec(dq, q.shape(), dev)?),
            Some(Tensor::from_vec(dk, k.shape(), dev)?),
            Some(Tensor::from_vec(dv, v.shape(), dev)?),
        ))
    }
}

/// Attention output `[b, t, heads * head_dim]` (the shape of `q` flattened after `t`) for
/// queries `q` `[b, t, ...]` and keys/values `[b, t, ...]`, rotary already applied.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, cfg: Attention) -> R<Tensor> {
    let (b, t) = (q.dim(0)?, q.dim(1)?);
    let q = q.reshape((b, t, cfg.heads * cfg.head_dim))?.contiguous()?;
    let k = k.reshape((b, t, cfg.kv_heads * cfg.head_dim))?.contiguous()?;
    let v = v.reshape((b, t, cfg.kv_heads * cfg.head_dim))?.contiguous()?;
    q.apply_op3(&k, &v, cfg)
}
