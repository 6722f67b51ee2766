//! Linear layers with a frozen base weight and an optional trainable LoRA adapter
//! (`y = x W^T + (alpha / r) * dropout(x) A^T B^T`, Hu et al. 2021, https://arxiv.org/abs/2106.09685).
//!
//! The base weight is never a trainable variable, so the backward pass never computes its gradient
//! and an optimiser can never change it. It is kept either dequantized to f32 (fast on CPU) or in
//! its quantized form behind [`QuantizedMatMul`], a custom op whose backward returns only the input
//! gradient (`grad @ dequantize(W)`), because candle's own quantized matmul has no backward pass.

use crate::bf16::{Kernel, PackedB};
use crate::error::Result;
use crate::fused::{slice, with_values};
use crate::sgemm::{sgemm, written, Operand};
use candle_core::quantized::QTensor;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor, Var};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::Arc;

/// The projections LoRA can target, named as in PEFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    QProj,
    KProj,
    VProj,
    OProj,
    GateProj,
    UpProj,
    DownProj,
}

impl Target {
    pub const ALL: [Target; 7] =
        [Target::QProj, Target::KProj, Target::VProj, Target::OProj, Target::GateProj, Target::UpProj, Target::DownProj];

    /// The module name in PEFT / transformers (`q_proj`, ...).
    pub fn peft_name(self) -> &'static str {
        match self {
            Target::QProj => "q_proj",
            Target::KProj => "k_proj",
            Target::VProj => "v_proj",
            Target::OProj => "o_proj",
            Target::GateProj => "gate_proj",
            Target::UpProj => "up_proj",
            Target::DownProj => "down_proj",
        }
    }

    /// `self_attn` or `mlp`, the parent module in transformers' llama.
    pub fn parent(self) -> &'static str {
        match self {
            Target::QProj | Target::KProj | Target::VProj | Target::OProj => "self_attn",
            _ => "mlp",
        }
    }

    pub fn from_peft_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.peft_name() == name)
    }
}

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    pub dropout: f32,
    pub targets: Vec<Target>,
    /// Adapt only the last `n` layers (PEFT's `layers_to_transform`); `None`: every layer. The
    /// layers below the first adapted one are then frozen as a whole, so their outputs can be
    /// computed once per note and cached across epochs.
    #[serde(default)]
    pub last_layers: Option<usize>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig { rank: 8, alpha: 16.0, dropout: 0.0, targets: Target::ALL.to_vec(), last_layers: None }
    }
}

impl LoraConfig {
    /// Whether layer `layer` of `layers` gets adapters.
    pub fn adapts_layer(&self, layer: usize, layers: usize) -> bool {
        self.last_layers.is_none_or(|n| layer + n >= layers)
    }
}

/// How the frozen base weights are kept in memory (chosen per model at load, see
/// `block::choose_storage_for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseStorage {
    /// Let the engine choose.
    Auto,
    /// Dequantize to f32 once at load.
    Dense,
    /// Keep the quantized blocks; dequantize on the fly in the backward pass.
    Quantized,
    /// bf16 panels for the CPU's bf16 kernels (AMX or AVX512_BF16, see [`crate::bf16`]); the same
    /// bytes as dense f32, as two packings (forward and input gradient).
    Bf16,
}

/// A frozen base weight `W` of shape `[out, in]`.
#[derive(Clone)]
pub enum FrozenWeight {
    /// Dequantized once at load.
    Dense(Tensor),
    /// Kept quantized; multiplied through [`QuantizedMatMul`].
    Quantized(Arc<QTensor>),
    /// bf16 panels for the bf16 kernels (CPU), packed once at load.
    Bf16(Arc<PackedWeight>),
}

/// A frozen `W` `[out, in]` as bf16 panels for both products a LoRA step needs: `x W^T` forward
/// and `dy W` for the input gradient (each `out * in` bf16 values, so the pair takes the bytes the
/// f32 weight took).
pub struct PackedWeight {
    pub out: usize,
    pub inp: usize,
    kernel: Kernel,
    /// `W^T`, `[in, out]`.
    forward: PackedB,
    /// `W`, `[out, in]`.
    backward: PackedB,
}

impl PackedWeight {
    /// Packs an f32 `W` `[out, in]` for `kernel` (which must run on this CPU, or be
    /// [`Kernel::F32`]: the plain reference loop).
    pub fn new(w: &Tensor, kernel: Kernel) -> Result<PackedWeight> {
        let (out, inp) = w.dims2()?;
        let values = w.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(PackedWeight { out, inp, kernel, forward: PackedB::transposed(&values, out, inp), backward: PackedB::rows(&values, out, inp) })
    }

    /// `W` as stored (each value rounded to bf16), as an f32 tensor.
    pub fn to_dense(&self, device: &candle_core::Device) -> Result<Tensor> {
        let values: Vec<f32> = (0..self.out * self.inp).map(|i| self.backward.get(i / self.inp, i % self.inp)).collect();
        Ok(Tensor::from_vec(values, (self.out, self.inp), device)?)
    }
}

/// `x W^T` with a quantized `W`; backward gives `grad W` for the input and nothing for `W`.
pub struct QuantizedMatMul(pub Arc<QTensor>);

impl CustomOp1 for QuantizedMatMul {
    fn name(&self) -> &'static str {
        "quantized-matmul-input-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        CustomOp1::cpu_fwd(self.0.as_ref(), storage, layout)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let w = self.0.dequantize(grad_res.device())?;
        Ok(Some(grad_res.matmul(&w)?))
    }
}

/// `x W^T` with a frozen dense or bf16 `W` `[out, in]`; backward gives `grad W` for the input and
/// nothing for `W`. candle's own matmul backward always computes the gradient of both operands,
/// which for a frozen base is a wasted `[in, out]` GEMM (plus a zero fill and an add) per
/// projection. Both directions run on [`crate::sgemm`] (reading `W` in place) or [`crate::bf16`].
pub struct FrozenDenseMatMul(pub FrozenWeight);

/// `grad W` for [`FrozenDenseMatMul`]'s backward (no backward of its own).
struct FrozenDenseMatMulGrad(FrozenWeight);

/// `(out, in)` of a dense or bf16 frozen weight.
fn frozen_dims(w: &FrozenWeight) -> candle_core::Result<(usize, usize)> {
    match w {
        FrozenWeight::Dense(t) => t.dims2(),
        FrozenWeight::Bf16(p) => Ok((p.out, p.inp)),
        FrozenWeight::Quantized(_) => Err(candle_core::Error::Msg("frozen dense matmul: quantized weight".into())),
    }
}

/// `y = x W^T` (`transpose`, `x` `[m, in]`, `y` `[m, out]`) or `y = x W` (`x` `[m, out]`, `y`
/// `[m, in]`), added to `y` with `accumulate`, for a dense f32 or bf16 `W`.
///
/// # Safety
/// `y` must be valid for `m` rows of the product's width and `x` must hold `m` rows of its depth.
unsafe fn frozen_product(w: &FrozenWeight, x: &[f32], m: usize, transpose: bool, y: *mut f32, accumulate: bool, threads: usize) -> candle_core::Result<()> {
    let (out, inp) = frozen_dims(w)?;
    let (depth, width) = if transpose { (inp, out) } else { (out, inp) };
    debug_assert!(x.len() >= m * depth);
    let xo = Operand::rows(x.as_ptr(), depth);
    match w {
        FrozenWeight::Bf16(p) => {
            let b = if transpose { &p.forward } else { &p.backward };
            // SAFETY: the caller's sizes; the kernel was checked when the weight was packed.
            unsafe { crate::bf16::gemm(p.kernel, m, xo, b, y, width, accumulate, 1.0, threads) };
            Ok(())
        }
        FrozenWeight::Dense(t) => with_values([t], |[w]| {
            let b = if transpose { Operand::transposed(w.as_ptr(), inp) } else { Operand::rows(w.as_ptr(), inp) };
            // SAFETY: W is [out, in] row-major, read as W^T or W; the caller's sizes.
            unsafe { sgemm((m, width, depth), xo, b, y, width, accumulate, 1.0, threads) };
            Ok(())
        }),
        FrozenWeight::Quantized(_) => unreachable!("frozen_dims refused it"),
    }
}

/// `y[m, out] = x[m, inp] W^T` (`transpose`) or `y[m, out] = x[m, inp] W` for the CustomOps above.
fn dense(storage: &CpuStorage, layout: &Layout, w: &FrozenWeight, transpose: bool) -> candle_core::Result<(CpuStorage, Shape)> {
    let x = slice(storage, layout, "frozen dense matmul")?;
    let (rows, cols) = frozen_dims(w)?;
    let (inp, out) = if transpose { (cols, rows) } else { (rows, cols) };
    if !x.len().is_multiple_of(inp) {
        return Err(candle_core::Error::Msg(format!("frozen dense matmul: input {:?} does not end in {inp}", layout.shape())));
    }
    let m = x.len() / inp;
    let mut failed = None;
    // SAFETY: y is [m, out] row-major, written whole (no accumulation); x is [m, inp].
    let y = unsafe {
        written(m * out, |y| {
            if let Err(e) = frozen_product(w, x, m, transpose, y, false, candle_core::utils::get_num_threads()) {
                std::ptr::write_bytes(y, 0, m * out);
                failed = Some(e);
            }
        })
    };
    if let Some(e) = failed {
        return Err(e);
    }
    let mut dims = layout.shape().dims().to_vec();
    *dims.last_mut().expect("non-scalar input") = out;
    Ok((CpuStorage::F32(y), Shape::from(dims)))
}

impl CustomOp1 for FrozenDenseMatMul {
    fn name(&self) -> &'static str {
        "frozen-dense-matmul-input-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        dense(storage, layout, &self.0, true)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&FrozenDenseMatMulGrad(self.0.clone()))?))
    }
}

impl CustomOp1 for FrozenDenseMatMulGrad {
    fn name(&self) -> &'static str {
        "frozen-dense-matmul-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        dense(storage, layout, &self.0, false)
    }
}

impl FrozenWeight {
    /// A dense weight kept as `storage` says: bf16 panels for the kernel this process chose
    /// ([`Kernel::chosen`]) with [`BaseStorage::Bf16`], else as it is.
    pub fn dense(w: Tensor, storage: BaseStorage) -> Result<FrozenWeight> {
        Ok(match storage {
            BaseStorage::Bf16 => FrozenWeight::Bf16(Arc::new(PackedWeight::new(&w, Kernel::chosen().0)?)),
            _ => FrozenWeight::Dense(w),
        })
    }

    /// `W` as an f32 tensor on the CPU (as stored: rounded for bf16, dequantized for quantized).
    pub fn to_dense(&self) -> Option<Tensor> {
        match self {
            FrozenWeight::Dense(w) => Some(w.clone()),
            FrozenWeight::Quantized(q) => q.dequantize(&candle_core::Device::Cpu).ok(),
            FrozenWeight::Bf16(p) => p.to_dense(&candle_core::Device::Cpu).ok(),
        }
    }

    /// `x W^T` for `x` of shape `[m, in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            FrozenWeight::Dense(w) if w.device().is_cpu() && w.dtype() == DType::F32 => {
                x.contiguous()?.apply_op1(FrozenDenseMatMul(self.clone()))?
            }
            FrozenWeight::Bf16(_) => x.contiguous()?.apply_op1(FrozenDenseMatMul(self.clone()))?,
            FrozenWeight::Dense(w) => x.matmul(&w.t()?)?,
            FrozenWeight::Quantized(q) => x.contiguous()?.apply_op1(QuantizedMatMul(q.clone()))?,
        })
    }
}

/// The trainable pair of a LoRA adapter: `A` `[r, in]` and `B` `[out, r]`.
pub struct Adapter {
    pub a: Var,
    pub b: Var,
    pub scale: f64,
    pub dropout: f32,
}

/// A projection: frozen base plus optional adapter.
pub struct LoraLinear {
    pub base: FrozenWeight,
    pub adapter: Option<Adapter>,
    /// A permutation applied to the base output (rows of a quantized q/k weight in GGUF order).
    pub out_perm: Option<Tensor>,
    pub in_dim: usize,
    pub out_dim: usize,
}

impl LoraLinear {
    /// A new layer; with `lora`, `A` gets Kaiming-uniform values from `rng` and `B` zeros, as in PEFT.
    pub fn new(
        base: FrozenWeight,
        out_perm: Option<Tensor>,
        in_dim: usize,
        out_dim: usize,
        lora: Option<&LoraConfig>,
        rng: &mut StdRng,
    ) -> Result<LoraLinear> {
        let adapter = match lora {
            Some(cfg) => {
                let dev = match &base {
                    FrozenWeight::Dense(w) => w.device().clone(),
                    FrozenWeight::Quantized(_) | FrozenWeight::Bf16(_) => candle_core::Device::Cpu,
                };
                // kaiming_uniform_(a=sqrt(5)) on [r, in] gives bound 1/sqrt(in).
                let bound = 1.0 / (in_dim as f32).sqrt();
                let a: Vec<f32> = (0..cfg.rank * in_dim).map(|_| rng.random_range(-bound..bound)).collect();
                let a = Var::from_tensor(&Tensor::from_vec(a, (cfg.rank, in_dim), &dev)?)?;
                let b = Var::from_tensor(&Tensor::zeros((out_dim, cfg.rank), DType::F32, &dev)?)?;
                Some(Adapter { a, b, scale: cfg.alpha / cfg.rank as f64, dropout: cfg.dropout })
            }
            None => None,
        };
        Ok(LoraLinear { base, adapter, out_perm, in_dim, out_dim })
    }

    /// `x` is `[m, in]`; `rng` is given during training (enables dropout), `None` at inference.
    pub fn forward(&self, x: &Tensor, rng: Option<&mut StdRng>) -> Result<Tensor> {
        if let (Some(ad), None) = (&self.adapter, &self.out_perm) {
            let dropout = rng.is_some() && ad.dropout > 0.0;
            let fused = match &self.base {
                FrozenWeight::Dense(w) => crate::fused::supported(w.device(), w.dtype()),
                FrozenWeight::Bf16(_) => true,
                FrozenWeight::Quantized(_) => false,
            };
            if !dropout && fused && x.dtype() == DType::F32 && x.device().is_cpu() {
                let op = LoraMatMul { w: self.base.clone(), scale: ad.scale as f32 };
                return Ok(x.contiguous()?.apply_op3(ad.a.as_tensor(), ad.b.as_tensor(), op)?);
            }
        }
        let mut y = self.base.forward(x)?;
        if let Some(perm) = &self.out_perm {
            y = y.index_select(perm, 1)?;
        }
        if let Some(ad) = &self.adapter {
            let xin = match rng {
                Some(rng) if ad.dropout > 0.0 => {
                    let keep = 1.0 - ad.dropout;
                    let mask: Vec<f32> =
                        (0..x.elem_count()).map(|_| if rng.random::<f32>() < keep { 1.0 / keep } else { 0.0 }).collect();
                    (x * Tensor::from_vec(mask, x.shape(), x.device())?)?
                }
                _ => x.clone(),
            };
            // Scaled at rank r, not at the output's width.
            let low = (xin.matmul(&ad.a.as_tensor().t()?)? * ad.scale)?;
            y = (y + low.matmul(&ad.b.as_tensor().t()?)?)?;
        }
        Ok(y)
    }
}

/// A whole LoRA projection on CPU, `y = x W^T + s (x A^T) B^T` with `W` frozen, as one op: three
/// GEMMs forward (the rank-`r` product added in place), six backward, no temporaries but the
/// `[m, r]` products. The composed form costs a candle matmul per factor (slow at width `r`), an
/// add and their saved tensors. Without dropout only (dropout masks `x` in the low-rank branch).
struct LoraMatMul {
    w: FrozenWeight,
    scale: f32,
}

impl LoraMatMul {
    /// `(m, in, out, r)` for input `x` of `len` values, checked against `W`, `A` and `B`.
    fn dims(&self, len: usize, a: &Shape, b: &Shape) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (out, inp) = frozen_dims(&self.w)?;
        let (r, a_in) = a.dims2()?;
        let (b_out, b_r) = b.dims2()?;
        if a_in != inp || b_out != out || b_r != r || !len.is_multiple_of(inp) {
            return Err(candle_core::Error::Msg(format!(
                "lora matmul: x of {len} values, W [{out}, {inp}], A {a:?}, B {b:?} do not fit"
            )));
        }
        Ok((len / inp, inp, out, r))
    }
}

impl candle_core::CustomOp3 for LoraMatMul {
    fn name(&self) -> &'static str {
        "lora-matmul"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sa: &CpuStorage,
        la: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, a, b) = (slice(sx, lx, name)?, slice(sa, la, name)?, slice(sb, lb, name)?);
        let (m, inp, out, r) = self.dims(x.len(), la.shape(), lb.shape())?;
        let threads = candle_core::utils::get_num_threads();
        let xo = Operand::rows(x.as_ptr(), inp);
        // SAFETY (all three): row-major buffers of the sizes checked in `dims`; xa and y are
        // written whole before the last product is added to y.
        let y = unsafe {
            let xa = written(m * r, |xa| sgemm((m, r, inp), xo, Operand::transposed(a.as_ptr(), inp), xa, r, false, 1.0, threads));
            let mut failed = Ok(());
            let y = written(m * out, |y| {
                failed = frozen_product(&self.w, x, m, true, y, false, threads);
                if failed.is_err() {
                    std::ptr::write_bytes(y, 0, m * out);
                }
            });
            failed?;
            let mut y = y;
            sgemm((m, out, r), Operand::rows(xa.as_ptr(), r), Operand::transposed(b.as_ptr(), r), y.as_mut_ptr(), out, true, self.scale, threads);
            y
        };
        let mut dims = lx.shape().dims().to_vec();
        *dims.last_mut().expect("non-scalar input") = out;
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (m, inp, out, r) = self.dims(x.elem_count(), a.shape(), b.shape())?;
        let threads = candle_core::utils::get_num_threads();
        let s = self.scale;
        let (dx, da, db) = with_values([x, a, b, dy], |[x, a, b, dy]| {
            let (xo, dyo) = (Operand::rows(x.as_ptr(), inp), Operand::rows(dy.as_ptr(), out));
            // SAFETY: row-major buffers of the sizes checked in `dims`, each written whole by its
            // first product before anything reads or adds to it.
            unsafe {
                // xa = x A^T, dyb = dy B
                let xa = written(m * r, |xa| sgemm((m, r, inp), xo, Operand::transposed(a.as_ptr(), inp), xa, r, false, 1.0, threads));
                let dyb = written(m * r, |dyb| sgemm((m, r, out), dyo, Operand::rows(b.as_ptr(), r), dyb, r, false, 1.0, threads));
                // dx = dy W + s dyb A
                let mut failed = Ok(());
                let mut dx = written(m * inp, |dx| {
                    failed = frozen_product(&self.w, dy, m, false, dx, false, threads);
                    if failed.is_err() {
                        std::ptr::write_bytes(dx, 0, m * inp);
                    }
                });
                failed?;
                sgemm((m, inp, r), Operand::rows(dyb.as_ptr(), r), Operand::rows(a.as_ptr(), inp), dx.as_mut_ptr(), inp, true, s, threads);
                // dA = s dyb^T x, dB = s dy^T xa
                let da = written(r * inp, |da| sgemm((r, inp, m), Operand::transposed(dyb.as_ptr(), r), xo, da, inp, false, s, threads));
                // dB^T = s xa^T dy ([r, out]: dy read by rows, not gathered by columns), then
                // transposed (out * r values).
                let dbt = written(r * out, |dbt| sgemm((r, out, m), Operand::transposed(xa.as_ptr(), r), dyo, dbt, out, false, s, threads));
                let db = written(out * r, |db| {
                    for (i, row) in dbt.chunks_exact(out).enumerate() {
                        for (j, v) in row.iter().enumerate() {
                            *db.add(j * r + i) = *v;
                        }
                    }
                });
                Ok((dx, da, db))
            }
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(da, a.shape(), dev)?),
            Some(Tensor::from_vec(db, b.shape(), dev)?),
        ))
    }
}
