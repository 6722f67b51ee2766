//! Gradients: every LoRA parameter gets one, they match finite differences, the frozen base gets
//! none, and the quantized-base custom op gives the same input gradient as the dense base.

use crate::{lora_opts, tiny_file, tiny_model};
use candle_core::quantized::GgmlDType;
use candle_core::{Tensor, Var};
use localdx_model::synthetic::TinySpec;
use localdx_model::{BaseStorage, ClassifierHead, HeadKind, LoadOptions, Model};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) const TEXTS: [&str; 3] = ["the fever", "abba 12 the", "cough and rash"];

/// Gives every B matrix small random values: with B = 0 (PEFT's init) A's gradient is exactly zero.
pub(crate) fn randomize_b(model: &Model, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (name, var) in model.llama.lora_vars() {
        if name.contains("lora_B") {
            let v: Vec<f32> = (0..var.elem_count()).map(|_| rng.random_range(-0.2..0.2)).collect();
            var.set(&Tensor::from_vec(v, var.shape(), var.device()).unwrap()).unwrap();
        }
    }
}

pub(crate) fn head(model: &Model) -> ClassifierHead {
    let labels: Vec<Vec<u32>> = ["rash", "fever", "cough"].iter().map(|l| model.encode_truncated(l, 16, 0.5)).collect();
    let refs: Vec<&[u32]> = labels.iter().map(Vec::as_slice).collect();
    let reprs = model.pooled(&refs, None).unwrap().detach();
    ClassifierHead::from_label_representations(HeadKind::MultiClass, &reprs, None, 10.0, 0.0).unwrap()
}

pub(crate) fn loss(model: &Model, head: &ClassifierHead) -> Tensor {
    let seqs: Vec<Vec<u32>> = TEXTS.iter().map(|t| model.encode_truncated(t, 32, 0.5)).collect();
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let pooled = model.pooled(&refs, None).unwrap();
    let logits = head.logits(&pooled).unwrap();
    let targets = Tensor::new(&[[1f32, 0., 0.], [0., 1., 0.], [0., 0., 1.]], model.device()).unwrap();
    head.loss(&logits, &targets, None).unwrap()
}

#[test]
fn every_lora_parameter_gets_a_nonzero_gradient_and_the_base_none() {
    let model = tiny_model(&TinySpec::default(), &lora_opts());
    randomize_b(&model, 1);
    let head = head(&model);
    let grads = loss(&model, &head).backward().unwrap();
    let vars = model.llama.lora_vars();
    assert_eq!(vars.len(), 28);
    for (name, var) in &vars {
        let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(norm > 0.0 && norm.is_finite(), "{name}: gradient norm {norm}");
    }
    for var in [&head.weight, &head.bias] {
        assert!(grads.get(var.as_tensor()).is_some());
    }
    for layer in 0..2 {
        for t in localdx_model::Target::ALL {
            let w = model.llama.base_weight(layer, t).unwrap();
            assert!(grads.get(&w).is_none(), "frozen base {t:?} got a gradient");
        }
    }
}

/// Central finite differences on a few coordinates of each kind of parameter.
pub(crate) fn check_finite_differences(model: &Model, head: &ClassifierHead, vars: &[(String, Var)]) {
    let grads = loss(model, head).backward().unwrap();
    let eps = 1e-2f32;
    let mut rng = StdRng::seed_from_u64(5);
    for (name, var) in vars {
        let g = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for _ in 0..2 {
            let i = rng.random_range(0..base.len());
            let at = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), var.device()).unwrap()).unwrap();
                loss(model, head).to_scalar::<f32>().unwrap()
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(base.clone(), var.shape(), var.device()).unwrap()).unwrap();
            let tol = 2e-3 + 0.05 * fd.abs().max(g[i].abs());
            assert!((fd - g[i]).abs() <= tol, "{name}[{i}]: analytic {} vs finite difference {fd}", g[i]);
        }
    }
}

/// Finite differences run on dense bases only: candle's quantized matmul also quantizes the
/// activations to 8 bits, which makes the quantized forward a step function at the scale of a
/// finite-difference probe. The quantized path is checked against the dense one instead (below).
#[test]
fn gradients_match_finite_differences() {
    for (dtype, storage) in [(GgmlDType::F32, BaseStorage::Dense), (GgmlDType::Q8_0, BaseStorage::Dense)] {
        let spec = TinySpec { dtype, ..TinySpec::default() };
        let model = tiny_model(&spec, &LoadOptions { storage, ..lora_opts() });
        randomize_b(&model, 2);
        let head = head(&model);
        let all = model.llama.lora_vars();
        // First and last layer, one attention and one MLP projection, A and B.
        let mut vars: Vec<(String, Var)> = all
            .into_iter()
            .filter(|(n, _)| n.contains("layers.0.self_attn.q_proj") || n.contains("layers.1.mlp.down_proj") || n.contains("layers.1.self_attn.k_proj"))
            .collect();
        vars.push(("head.weight".into(), head.weight.clone()));
        assert_eq!(vars.len(), 7);
        check_finite_differences(&model, &head, &vars);
    }
}

#[test]
fn quantized_and_dense_bases_agree_on_outputs_and_input_gradients() {
    let spec = TinySpec { dtype: GgmlDType::Q8_0, ..TinySpec::default() };
    let (_d, path) = tiny_file(&spec);
    let load = |storage| Model::load(&path, &LoadOptions { storage, ..lora_opts() }).unwrap();
    let (dense, quant) = (load(BaseStorage::Dense), load(BaseStorage::Quantized));
    randomize_b(&dense, 9);
    randomize_b(&quant, 9);
    let hd = head(&dense);
    let hq = head(&quant);
    let (ld, lq) = (loss(&dense, &hd), loss(&quant, &hq));
    let (a, b) = (ld.to_scalar::<f32>().unwrap(), lq.to_scalar::<f32>().unwrap());
    // candle quantizes the activations to Q8 in the quantized matmul: agreement to ~1e-2.
    assert!((a - b).abs() < 2e-2 * a.abs().max(1.0), "dense loss {a} vs quantized {b}");
    let (gd, gq) = (ld.backward().unwrap(), lq.backward().unwrap());
    let name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    let pick = |m: &Model, g: &candle_core::backprop::GradStore| {
        let v = m.llama.lora_vars().into_iter().find(|(n, _)| n == name).unwrap().1;
        g.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let (x, y) = (pick(&dense, &gd), pick(&quant, &gq));
    let dot: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let nx: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
    let ny: f32 = y.iter().map(|a| a * a).sum::<f32>().sqrt();
    assert!(dot / (nx * ny) > 0.98, "cosine of gradients {}", dot / (nx * ny));
}

#[test]
fn cached_prefix_plus_suffix_equals_the_full_forward() {
    let opts = LoadOptions { lora: Some(localdx_model::LoraConfig { last_layers: Some(1), ..localdx_model::LoraConfig::default() }), ..lora_opts() };
    let model = tiny_model(&TinySpec { layers: 3, ..TinySpec::default() }, &opts);
    randomize_b(&model, 4);
    assert_eq!(model.llama.first_adapted_layer(), 2);
    assert_eq!(model.llama.lora_vars().len(), 7 * 2, "adapters on the last layer only");
    let seqs: Vec<Vec<u32>> = TEXTS.iter().map(|t| model.encode_truncated(t, 32, 0.5)).collect();
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let (ids, _) = model.pad(&refs).unwrap();
    let full = model.llama.hidden_states(&ids, None).unwrap();
    let split = model.llama.suffix(&model.llama.prefix(&ids, 2).unwrap(), 2, None).unwrap();
    let diff = (full - split).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5, "{diff}");
}
