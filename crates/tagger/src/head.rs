//! The tagger's trained part: per-piece features over the frozen encoder's states, and a small
//! MLP that maps them to BIO classes.
//!
//! Features of piece `i`: the encoder state of `i` and of its two neighbours (so a class can see
//! where a span starts and ends), and eight shape bits the uncased encoder cannot see (capitals,
//! digits, punctuation, a line break before the word, whether the whole note is in capitals).
//! The MLP is built from differentiable candle ops only (`linear`, `relu`, `log_softmax`), so its
//! gradients are exact; a test checks them against finite differences.

use crate::encoder::{Pieces, HIDDEN};
use crate::error::{Result, TaggerError};
use crate::decode::word;
use crate::labels::CLASSES;
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::Linear;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Shape bits per piece.
pub const SHAPE: usize = 8;
/// Feature width: three encoder states and the shape bits.
pub const FEATURES: usize = 3 * HIDDEN + SHAPE;
/// The MLP's hidden width.
pub const WIDTH: usize = 256;

/// The shape bits of every piece of a note, `[pieces.len() * SHAPE]`.
pub fn shapes(text: &str, pieces: &Pieces) -> Vec<f32> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
    let upper = text.chars().filter(|c| c.is_uppercase()).count();
    let note_caps = (upper as f32 / letters as f32 > 0.7) as u8 as f32;
    let mut out = Vec::with_capacity(pieces.len() * SHAPE);
    for (i, &(s, e)) in pieces.spans.iter().enumerate() {
        let glued = i > 0 && pieces.spans[i - 1].1 == s;
        let (ws, we) = word(text, s, e);
        let w = &text[ws..we];
        let mut chars = w.chars();
        let first_upper = chars.next().is_some_and(|c| c.is_uppercase());
        let rest_lower = chars.all(|c| !c.is_uppercase());
        let letters_in = w.chars().filter(|c| c.is_alphabetic()).count();
        let all_upper = letters_in >= 2 && w.chars().all(|c| !c.is_lowercase());
        let digit = w.chars().any(|c| c.is_ascii_digit());
        let all_digit = !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        let punct = text[s..e].chars().all(|c| !c.is_alphanumeric());
        let line_before = text[..ws].trim_end_matches([' ', '\t']).ends_with('\n') || ws == 0;
        out.extend_from_slice(&[
            glued as u8 as f32,
            (first_upper && rest_lower) as u8 as f32,
            all_upper as u8 as f32,
            digit as u8 as f32,
            all_digit as u8 as f32,
            punct as u8 as f32,
            line_before as u8 as f32,
            note_caps,
        ]);
    }
    out
}

/// Features of pieces `rows` of a note, `[rows.len(), FEATURES]`, from its states and shape bits.
pub fn features(states: &[f32], shapes: &[f32], rows: std::ops::Range<usize>, out: &mut Vec<f32>) {
    let n = states.len() / HIDDEN;
    let zeros = [0f32; HIDDEN];
    for i in rows {
        out.extend_from_slice(&states[i * HIDDEN..(i + 1) * HIDDEN]);
        out.extend_from_slice(if i > 0 { &states[(i - 1) * HIDDEN..i * HIDDEN] } else { &zeros });
        out.extend_from_slice(if i + 1 < n { &states[(i + 1) * HIDDEN..(i + 2) * HIDDEN] } else { &zeros });
        out.extend_from_slice(&shapes[i * SHAPE..(i + 1) * SHAPE]);
    }
}

/// The MLP: `FEATURES -> WIDTH (relu) -> CLASSES`.
pub struct Head {
    fc1: Linear,
    fc2: Linear,
    /// The variables, when the head was built for training.
    vars: Vec<Var>,
}

const NAMES: [&str; 4] = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"];

impl Head {
    /// A freshly initialised head to train: weights uniform in `±1/sqrt(fan_in)` (PyTorch's
    /// `nn.Linear` default) from a seeded generator, so a training run is reproducible.
    pub fn new(seed: u64, device: &Device) -> Result<Head> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut var = |dims: &[usize], fan_in: usize| -> Result<Var> {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let n: usize = dims.iter().product();
            let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
            Ok(Var::from_tensor(&Tensor::from_vec(values, dims, device)?)?)
        };
        let vars = vec![var(&[WIDTH, FEATURES], FEATURES)?, var(&[WIDTH], FEATURES)?, var(&[CLASSES, WIDTH], WIDTH)?, var(&[CLASSES], WIDTH)?];
        let t = |i: usize| vars[i].as_tensor().clone();
        Ok(Head { fc1: Linear::new(t(0), Some(t(1))), fc2: Linear::new(t(2), Some(t(3))), vars })
    }

    /// A head from safetensors bytes, checking every tensor's shape.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Head> {
        let tensors = candle_core::safetensors::load_buffer(bytes, device)
            .map_err(|e| TaggerError::Mismatch(format!("the head is not a readable safetensors file: {e}")))?;
        let want = [(NAMES[0], vec![WIDTH, FEATURES]), (NAMES[1], vec![WIDTH]), (NAMES[2], vec![CLASSES, WIDTH]), (NAMES[3], vec![CLASSES])];
        for (name, dims) in &want {
            let t = tensors.get(*name).ok_or_else(|| TaggerError::Mismatch(format!("the head has no tensor {name}")))?;
            if t.dims() != dims.as_slice() || t.dtype() != DType::F32 {
                return Err(TaggerError::Mismatch(format!("{name} is {:?} {:?}, expected F32 {dims:?}", t.dtype(), t.dims())));
            }
        }
        let get = |n: &str| tensors[n].clone();
        Ok(Head {
            fc1: Linear::new(get(NAMES[0]), Some(get(NAMES[1]))),
            fc2: Linear::new(get(NAMES[2]), Some(get(NAMES[3]))),
            vars: Vec::new(),
        })
    }

    /// A trainable copy of this head (its weights as fresh variables): where a retraining starts.
    pub fn to_trainable(&self) -> Result<Head> {
        let tensors = [self.fc1.weight(), self.fc1.bias().expect("biased"), self.fc2.weight(), self.fc2.bias().expect("biased")];
        let vars = tensors.iter().map(|t| Var::from_tensor(&t.copy()?)).collect::<candle_core::Result<Vec<Var>>>()?;
        let t = |i: usize| vars[i].as_tensor().clone();
        Ok(Head { fc1: Linear::new(t(0), Some(t(1))), fc2: Linear::new(t(2), Some(t(3))), vars })
    }

    /// The head as safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        map.insert(NAMES[0].into(), self.fc1.weight().clone());
        map.insert(NAMES[1].into(), self.fc1.bias().expect("biased").clone());
        map.insert(NAMES[2].into(), self.fc2.weight().clone());
        map.insert(NAMES[3].into(), self.fc2.bias().expect("biased").clone());
        safetensors::serialize(map.iter().map(|(k, v)| (k.as_str(), v)), None)
            .map_err(|e| TaggerError::Mismatch(format!("cannot serialise the head: {e}")))
    }

    /// Logits `[rows, CLASSES]` for features `[rows, FEATURES]`; `dropout` only while training.
    pub fn logits(&self, x: &Tensor, dropout: f32) -> Result<Tensor> {
        let x = if dropout > 0.0 { candle_nn::ops::dropout(x, dropout)? } else { x.clone() };
        let h = self.fc1.forward(&x)?.relu()?;
        Ok(self.fc2.forward(&h)?)
    }

    /// Class probabilities `[rows][CLASSES]` (inference).
    pub fn probabilities(&self, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        let logits = self.logits(x, 0.0)?;
        Ok(candle_nn::ops::softmax_last_dim(&logits)?.to_vec2()?)
    }

    /// The trainable variables (empty for a loaded head).
    pub fn trainable(&self) -> Vec<Var> {
        self.vars.clone()
    }
}

/// Weighted mean cross-entropy over rows whose target is not `ignore`.
/// `targets[r]` is a class index or `u32::MAX` (left out); `weights[c]` weighs class `c`.
pub fn loss(logits: &Tensor, targets: &[u32], weights: &[f32]) -> Result<Tensor> {
    let device = logits.device();
    let rows = targets.len();
    let mut onehot = vec![0f32; rows * CLASSES];
    let mut total = 0f32;
    for (r, &t) in targets.iter().enumerate() {
        if t != u32::MAX {
            let w = weights[t as usize];
            onehot[r * CLASSES + t as usize] = w;
            total += w;
        }
    }
    let onehot = Tensor::from_vec(onehot, (rows, CLASSES), device)?;
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    Ok(((logp * onehot)?.sum_all()? * (-1.0 / total.max(1e-6) as f64))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every trained parameter's gradient against central finite differences (f64 on the loss
    /// evaluated in f32, so the tolerance is loose but a dropped or wrong gradient is far outside it).
    #[test]
    fn head_gradients_match_finite_differences() {
        let device = Device::Cpu;
        let head = Head::new(7, &device).unwrap();
        let rows = 5;
        let x: Vec<f32> = (0..rows * FEATURES).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let x = Tensor::from_vec(x, (rows, FEATURES), &device).unwrap();
        let targets = [0u32, 3, u32::MAX, 1, 14];
        let weights: Vec<f32> = (0..CLASSES).map(|c| if c == 0 { 1.0 } else { 2.0 }).collect();
        let l = loss(&head.logits(&x, 0.0).unwrap(), &targets, &weights).unwrap();
        let grads = l.backward().unwrap();
        for var in head.trainable() {
            let g: Vec<f32> = grads.get(var.as_tensor()).expect("every parameter has a gradient").flatten_all().unwrap().to_vec1().unwrap();
            let base: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let n = base.len();
            // probe a spread of entries, including the largest-gradient one
            let top = (0..n).max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs())).unwrap();
            for &j in &[0, n / 3, n / 2, n - 1, top] {
                let eps = 1e-2f32;
                let eval = |delta: f32| {
                    let mut p = base.clone();
                    p[j] += delta;
                    var.set(&Tensor::from_vec(p, var.as_tensor().shape(), &device).unwrap()).unwrap();
                    let v = loss(&head.logits(&x, 0.0).unwrap(), &targets, &weights).unwrap().to_scalar::<f32>().unwrap() as f64;
                    v
                };
                let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
                var.set(&Tensor::from_vec(base.clone(), var.as_tensor().shape(), &device).unwrap()).unwrap();
                let analytic = g[j] as f64;
                assert!((numeric - analytic).abs() <= 2e-3 + 2e-2 * analytic.abs(), "entry {j}: numeric {numeric}, analytic {analytic}");
            }
        }
    }

    #[test]
    fn head_round_trips_through_bytes_and_refuses_wrong_shapes() {
        let device = Device::Cpu;
        let head = Head::new(7, &device).unwrap();
        let bytes = head.to_bytes().unwrap();
        let back = Head::from_bytes(&bytes, &device).unwrap();
        let x = Tensor::ones((2, FEATURES), DType::F32, &device).unwrap();
        assert_eq!(head.probabilities(&x).unwrap(), back.probabilities(&x).unwrap());
        assert!(matches!(Head::from_bytes(&bytes[..bytes.len() / 2], &device), Err(TaggerError::Mismatch(_))));
        assert!(matches!(Head::from_bytes(b"not a head", &device), Err(TaggerError::Mismatch(_))));
    }

    #[test]
    fn a_loaded_head_trains_on_from_its_own_weights() {
        let device = Device::Cpu;
        let loaded = Head::from_bytes(&Head::new(7, &device).unwrap().to_bytes().unwrap(), &device).unwrap();
        assert!(loaded.trainable().is_empty());
        let copy = loaded.to_trainable().unwrap();
        assert_eq!(copy.trainable().len(), 4);
        let x = Tensor::ones((3, FEATURES), DType::F32, &device).unwrap();
        assert_eq!(copy.probabilities(&x).unwrap(), loaded.probabilities(&x).unwrap());
        // a step on the copy leaves the loaded head as it was
        let loss = loss(&copy.logits(&x, 0.0).unwrap(), &[1, 0, 2], &[1.0; CLASSES]).unwrap();
        let grads = loss.backward().unwrap();
        let w = &copy.trainable()[0];
        w.set(&(w.as_tensor() - grads.get(w.as_tensor()).unwrap()).unwrap()).unwrap();
        assert_ne!(copy.probabilities(&x).unwrap(), loaded.probabilities(&x).unwrap());
        let again = Head::from_bytes(&Head::new(7, &device).unwrap().to_bytes().unwrap(), &device).unwrap();
        assert_eq!(again.probabilities(&x).unwrap(), loaded.probabilities(&x).unwrap());
    }

    #[test]
    fn shape_bits_follow_the_text() {
        let text = "Seen by Dr. SMITH at 10:30\nJo";
        let pieces = Pieces { ids: vec![0; 6], spans: vec![(0, 4), (8, 10), (10, 11), (12, 17), (21, 23), (27, 29)] };
        let s = shapes(text, &pieces);
        let row = |i: usize| &s[i * SHAPE..(i + 1) * SHAPE];
        assert_eq!(row(0)[1], 1.0); // "Seen" title case
        assert_eq!(row(2)[0], 1.0); // "." glued to "Dr"
        assert_eq!(row(2)[5], 1.0); // punctuation
        assert_eq!(row(3)[2], 1.0); // "SMITH" in capitals
        assert_eq!(row(3)[1], 0.0);
        assert_eq!(row(4)[3], 1.0); // "10" has digits
        assert_eq!(row(4)[4], 1.0);
        assert_eq!(row(5)[6], 1.0); // "Jo" after a line break
        assert_eq!(row(0)[7], 0.0); // the note is not in capitals
    }
}
