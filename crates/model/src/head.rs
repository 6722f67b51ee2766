//! Diagnosis heads on pooled hidden states: multi-class (one diagnosis per note, softmax) and
//! multi-label (several codes per note, one sigmoid per label), scoring every label in one pass.
//!
//! The head is a cosine classifier initialised from the model's own pooled representation of each
//! label's text: `logit_l = scale * <unit(p - c), unit(w_l)> + b_l`, where `w_l` starts as the
//! centred representation of label `l`'s description and `c` (frozen) is the mean of the label
//! representations. The untouched model is therefore a real zero-shot baseline (nearest label
//! description), and training moves both the adapters and the label vectors.

use crate::error::{ModelError, Result};
use candle_core::{DType, Tensor, Var, D};

/// One diagnosis per note, or any number of codes per note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    MultiClass,
    MultiLabel,
}

/// A cosine classification head.
pub struct ClassifierHead {
    pub kind: HeadKind,
    /// `[labels, hidden]`, trainable.
    pub weight: Var,
    /// `[labels]`, trainable.
    pub bias: Var,
    /// `[hidden]`, frozen: subtracted from pooled states before the cosine.
    pub center: Tensor,
    pub scale: f64,
}

fn unit_rows(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.clamp(1e-12, f64::MAX)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}

impl ClassifierHead {
    /// A head whose label vectors are `label_reprs` `[labels, hidden]` (pooled states of each
    /// label's text). Multi-label heads start with bias `-scale * threshold` so that a label is
    /// predicted when its cosine passes `threshold`.
    pub fn from_label_representations(
        kind: HeadKind,
        label_reprs: &Tensor,
        note_center: Option<&Tensor>,
        scale: f64,
        threshold: f64,
    ) -> Result<Self> {
        let (n, _) = label_reprs.dims2()?;
        if n == 0 {
            return Err(ModelError::Tensor { name: "head".into(), message: "no labels".into() });
        }
        let label_center = label_reprs.mean(0)?;
        let center = match note_center {
            Some(c) => c.clone(),
            None => label_center.clone(),
        };
        let w = label_reprs.broadcast_sub(&label_center)?;
        let w = unit_rows(&w)?;
        let b0 = match kind {
            HeadKind::MultiClass => 0.0,
            HeadKind::MultiLabel => -scale * threshold,
        };
        let bias = (Tensor::ones(n, DType::F32, label_reprs.device())? * b0)?;
        Ok(ClassifierHead { kind, weight: Var::from_tensor(&w)?, bias: Var::from_tensor(&bias)?, center, scale })
    }

    /// Rebuilds a head from saved tensors.
    pub fn from_tensors(kind: HeadKind, weight: &Tensor, bias: &Tensor, center: &Tensor, scale: f64) -> Result<Self> {
        Ok(ClassifierHead {
            kind,
            weight: Var::from_tensor(weight)?,
            bias: Var::from_tensor(bias)?,
            center: center.clone(),
            scale,
        })
    }

    pub fn labels(&self) -> usize {
        self.weight.dims().first().copied().unwrap_or(0)
    }

    /// Logits `[b, labels]` for pooled states `[b, hidden]`.
    pub fn logits(&self, pooled: &Tensor) -> Result<Tensor> {
        let p = unit_rows(&pooled.broadcast_sub(&self.center)?)?;
        let w = unit_rows(self.weight.as_tensor())?;
        Ok((p.matmul(&w.t()?)? * self.scale)?.broadcast_add(self.bias.as_tensor())?)
    }

    /// Probabilities `[b, labels]`: softmax for multi-class, sigmoid for multi-label.
    pub fn probabilities(&self, logits: &Tensor) -> Result<Tensor> {
        Ok(match self.kind {
            HeadKind::MultiClass => candle_nn::ops::softmax(logits, D::Minus1)?,
            HeadKind::MultiLabel => candle_nn::ops::sigmoid(logits)?,
        })
    }

    /// The training loss for `targets` `[b, labels]` (0/1). `label_weights` `[labels]` weighs
    /// classes (multi-class: per gold class; multi-label: per positive label) against imbalance.
    pub fn loss(&self, logits: &Tensor, targets: &Tensor, label_weights: Option<&Tensor>) -> Result<Tensor> {
        match self.kind {
            HeadKind::MultiClass => {
                let logp = log_softmax(logits)?;
                let w = match label_weights {
                    Some(w) => targets.broadcast_mul(w)?,
                    None => targets.clone(),
                };
                let total = w.sum_all()?;
                Ok((logp * &w)?.sum_all()?.neg()?.div(&total)?)
            }
            HeadKind::MultiLabel => {
                // softplus(z) = relu(z) + log(1 + exp(-|z|)), stable for large |z|.
                let softplus = |z: &Tensor| -> candle_core::Result<Tensor> { z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()? };
                let pos = softplus(&logits.neg()?)?;
                let neg = softplus(logits)?;
                let pos = match label_weights {
                    Some(w) => (targets.broadcast_mul(w)? * pos)?,
                    None => (targets * pos)?,
                };
                let neg = ((targets.ones_like()? - targets)? * neg)?;
                Ok((pos + neg)?.mean_all()?)
            }
        }
    }
}

/// A differentiable log-softmax over the last dimension.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}
