//! Linear layers with a frozen base weight and an optional trainable LoRA adapter
//! (`y = x W^T + (alpha / r) * dropout(x) A^T B^T`, Hu et al. 2021, https://arxiv.org/abs/2106.09685).
//!
//! The base weight is never a trainable variable, so the backward pass never computes its gradient
//! and an optimiser can never change it. It is kept either dequantized to f32 (fast on CPU) or in
//! its quantized form behind [`QuantizedMatMul`], a custom op whose backward returns only the input
//! gradient (`grad @ dequantize(W)`), because candle's own quantized matmul has no backward pass.

use crate::error::Result;
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

/// A frozen base weight `W` of shape `[out, in]`.
#[derive(Clone)]
pub enum FrozenWeight {
    /// Dequantized once at load.
    Dense(Tensor),
    /// Kept quantized; multiplied through [`QuantizedMatMul`].
    Quantized(Arc<QTensor>),
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

/// `x W^T` with a frozen dense `W` `[out, in]`; backward gives `grad W` for the input and nothing
/// for `W`. candle's own matmul backward always computes the gradient of both operands, which
/// for a frozen base is a wasted `[in, out]` GEMM (plus a zero fill and an add) per projection.
pub struct FrozenDenseMatMul(pub Tensor);

impl CustomOp1 for FrozenDenseMatMul {
    fn name(&self) -> &'static str {
        "frozen-dense-matmul-input-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let msg = |m: &str| candle_core::Error::Msg(format!("frozen dense matmul: {m}"));
        let CpuStorage::F32(data) = storage else { return Err(msg("f32 input expected")) };
        let Some((start, end)) = layout.contiguous_offsets() else { return Err(msg("contiguous input expected")) };
        let (out, inp) = self.0.dims2()?;
        let x = &data[start..end];
        if x.len() % inp != 0 {
            return Err(msg(&format!("input {:?} does not end in {inp}", layout.shape())));
        }
        let m = x.len() / inp;
        let (w_storage, w_layout) = self.0.storage_and_layout();
        let candle_core::Storage::Cpu(CpuStorage::F32(w)) = &*w_storage else { return Err(msg("f32 CPU weight expected")) };
        let Some((ws, we)) = w_layout.contiguous_offsets() else { return Err(msg("contiguous weight expected")) };
        let w = &w[ws..we];
        let mut y = vec![0f32; m * out];
        let threads = candle_core::utils::get_num_threads();
        let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
        // SAFETY: y is [m, out] row-major, x is [m, inp] row-major, W is [out, inp] row-major and
        // read as W^T ([inp, out], row stride 1, column stride inp); all sizes checked above.
        unsafe {
            gemm::gemm(
                m, out, inp, y.as_mut_ptr(), 1, out as isize, false, x.as_ptr(), 1, inp as isize, w.as_ptr(), inp as isize, 1,
                0.0, 1.0, false, false, false, parallelism,
            );
        }
        let mut dims = layout.shape().dims().to_vec();
        *dims.last_mut().expect("non-scalar input") = out;
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.0)?))
    }
}

impl FrozenWeight {
    /// `x W^T` for `x` of shape `[m, in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            FrozenWeight::Dense(w) if w.device().is_cpu() && w.dtype() == DType::F32 => {
                x.contiguous()?.apply_op1(FrozenDenseMatMul(w.clone()))?
            }
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
                    FrozenWeight::Quantized(_) => candle_core::Device::Cpu,
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
