//! The fused CPU kernels against the reference ops composed from candle primitives: the same
//! values and the same input gradients, op by op (odd sizes, grouped-query heads, a sliding
//! window) and through whole tiny llama and gemma3 models (every adapter gradient).

use crate::grad::{head, loss, randomize_b};
use crate::{lora_opts, tiny_file};
use candle_core::{Device, Tensor, Var, D};
use localdx_model::fused::{self, Attention, Gate, Rotary};
use localdx_model::llama::{rms_norm, rope, softmax_last};
use localdx_model::synthetic::{write_tiny_gemma3, TinySpec};
use localdx_model::lora::{Adapter, FrozenWeight, LoraLinear};
use localdx_model::Model;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(shape: &[usize], seed: u64) -> Var {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// Runs `fused` and `reference` on the same inputs; checks outputs and the gradients of every
/// input of `sum(out * weights)` (random weights, so no gradient is trivially uniform).
fn check(inputs: &[Var], fused: impl Fn(&[Tensor]) -> Tensor, reference: impl Fn(&[Tensor]) -> Tensor, tol: f32) {
    let xs: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let (yf, yr) = (fused(&xs), reference(&xs));
    assert!(max_diff(&yf, &yr) < tol, "outputs differ by {}", max_diff(&yf, &yr));
    let w = random(yf.dims(), 99);
    let gf = (yf * w.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    let gr = (yr * w.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    for (i, x) in xs.iter().enumerate() {
        let (a, b) = (gf.get(x).expect("fused gradient"), gr.get(x).expect("reference gradient"));
        assert!(max_diff(a, b) < tol, "gradient of input {i} differs by {}", max_diff(a, b));
    }
}

#[test]
fn rms_norm_matches_the_reference_with_its_gradient() {
    let w = random(&[7], 1).as_tensor().detach();
    let x = random(&[2, 5, 7], 2);
    check(&[x], |x| fused::rms_norm(&x[0], &w, 1e-5).unwrap(), |x| rms_norm(&x[0], &w, 1e-5).unwrap(), 1e-5);
}

#[test]
fn rotary_matches_the_reference_with_its_gradient() {
    let (t, hd) = (6, 8);
    let pos: Vec<f32> = (0..t * hd).map(|i| ((i / hd) as f32) * (0.3 + (i % (hd / 2)) as f32 * 0.1)).collect();
    let freqs = Tensor::from_vec(pos, (t, hd), &Device::Cpu).unwrap();
    let (cos, sin) = (freqs.cos().unwrap(), freqs.sin().unwrap());
    let rotary = Rotary::new(&cos, &sin).unwrap();
    let x = random(&[2, t, 3, hd], 3);
    check(
        &[x],
        |x| rotary.apply(&x[0]).unwrap(),
        // The reference works on [b, heads, t, hd].
        |x| rope(&x[0].transpose(1, 2).unwrap().contiguous().unwrap(), &cos, &sin).unwrap().transpose(1, 2).unwrap(),
        1e-5,
    );
}

#[test]
fn gated_activations_match_the_reference_with_their_gradients() {
    let (g, u) = (random(&[4, 9], 4), random(&[4, 9], 5));
    let inputs = [g, u];
    check(&inputs, |x| fused::gated(&x[0], &x[1], Gate::Silu).unwrap(), |x| (x[0].silu().unwrap() * &x[1]).unwrap(), 1e-5);
    check(&inputs, |x| fused::gated(&x[0], &x[1], Gate::GeluTanh).unwrap(), |x| (x[0].gelu().unwrap() * &x[1]).unwrap(), 1e-5);
}

/// Sizes of several thread-pool tasks each (the elementwise kernels split work in chunks of 2^14
/// values when candle may use more than one thread, as on any multi-core machine).
#[test]
fn elementwise_kernels_match_the_reference_at_thread_pool_sizes() {
    let w = random(&[300], 11).as_tensor().detach();
    check(&[random(&[3, 101, 300], 12)], |x| fused::rms_norm(&x[0], &w, 1e-5).unwrap(), |x| rms_norm(&x[0], &w, 1e-5).unwrap(), 1e-5);
    let (g, u) = (random(&[203, 301], 13), random(&[203, 301], 14));
    check(&[g, u], |x| fused::gated(&x[0], &x[1], Gate::Silu).unwrap(), |x| (x[0].silu().unwrap() * &x[1]).unwrap(), 1e-5);
    let (t, hd) = (130, 64);
    let pos: Vec<f32> = (0..t * hd).map(|i| ((i / hd) as f32) * (0.01 + (i % (hd / 2)) as f32 * 0.001)).collect();
    let freqs = Tensor::from_vec(pos, (t, hd), &Device::Cpu).unwrap();
    let (cos, sin) = (freqs.cos().unwrap(), freqs.sin().unwrap());
    let rotary = Rotary::new(&cos, &sin).unwrap();
    check(
        &[random(&[2, t, 3, hd], 15)],
        |x| rotary.apply(&x[0]).unwrap(),
        |x| rope(&x[0].transpose(1, 2).unwrap().contiguous().unwrap(), &cos, &sin).unwrap().transpose(1, 2).unwrap(),
        1e-5,
    );
}

#[test]
fn lora_projection_matches_the_composed_form_with_its_gradients() {
    // Odd sizes: edge tiles of the GEMM everywhere; 3-d input as the models pass it.
    let (inp, out, r) = (37, 23, 5);
    let w = random(&[out, inp], 6).as_tensor().detach();
    let (x, a, b) = (random(&[2, 9, inp], 7), random(&[r, inp], 8), random(&[out, r], 9));
    let scale = 1.75;
    let layer = |a: &Tensor, b: &Tensor| LoraLinear {
        base: FrozenWeight::Dense(w.clone()),
        adapter: Some(Adapter { a: Var::from_tensor(a).unwrap(), b: Var::from_tensor(b).unwrap(), scale, dropout: 0.0 }),
        out_perm: None,
        in_dim: inp,
        out_dim: out,
    };
    check(
        &[x, a, b],
        // Var::from_tensor keeps the tensor's id, so the gradients land on the inputs.
        |x| layer(&x[1], &x[2]).forward(&x[0], None).unwrap(),
        |x| {
            let flat = x[0].reshape((18, inp)).unwrap();
            let base = flat.matmul(&w.t().unwrap()).unwrap();
            let low = (flat.matmul(&x[1].t().unwrap()).unwrap() * scale).unwrap().matmul(&x[2].t().unwrap()).unwrap();
            (base + low).unwrap().reshape((2, 9, out)).unwrap()
        },
        1e-4,
    );
}

/// Grouped-query causal attention composed from primitives, on `[b, t, heads, hd]` inputs.
fn reference_attention(q: &Tensor, k: &Tensor, v: &Tensor, cfg: &Attention) -> Tensor {
    let (b, t, nh, hd) = q.dims4().unwrap();
    let rep = nh / cfg.kv_heads;
    let heads = |x: &Tensor| x.transpose(1, 2).unwrap().contiguous().unwrap();
    let repeat = |x: &Tensor| {
        let x = heads(x);
        let parts: Vec<Tensor> = (0..cfg.kv_heads)
            .flat_map(|h| std::iter::repeat_n(x.narrow(1, h, 1).unwrap(), rep))
            .collect();
        Tensor::cat(&parts, 1).unwrap()
    };
    let (q, k, v) = (heads(q), repeat(k), repeat(v));
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i && cfg.window.is_none_or(|w| i - j < w) { 0.0 } else { -1e9 }))
        .collect();
    let mask = Tensor::from_vec(mask, (t, t), &Device::Cpu).unwrap();
    let s = q.matmul(&k.t().unwrap()).unwrap().affine(cfg.scale as f64, 0.0).unwrap().broadcast_add(&mask).unwrap();
    let y = softmax_last(&s).unwrap().matmul(&v).unwrap();
    y.transpose(1, 2).unwrap().reshape((b, t, nh * hd)).unwrap()
}

#[test]
fn attention_matches_the_reference_with_its_gradients() {
    // t = 110 spans three blocks of query rows (48, 48, 14); windows inside one block and across.
    let cases = [(7, 4, 2, None), (7, 3, 3, None), (7, 6, 2, Some(3)), (7, 2, 1, Some(1)), (110, 4, 2, None), (110, 2, 1, Some(5)), (110, 3, 1, Some(60))];
    for (t, heads, kv_heads, window) in cases {
        let (b, hd) = (2, 5);
        let cfg = Attention { heads, kv_heads, head_dim: hd, scale: 0.37, window };
        let q = random(&[b, t, heads, hd], 6);
        let k = random(&[b, t, kv_heads, hd], 7);
        let v = random(&[b, t, kv_heads, hd], 8);
        check(
            &[q, k, v],
            |x| fused::attention(&x[0], &x[1], &x[2], cfg).unwrap(),
            |x| reference_attention(&x[0], &x[1], &x[2], &cfg),
            2e-5,
        );
    }
}

/// Loss and every adapter gradient of a whole model, fused against reference kernels.
fn compare_models(mut model: Model) {
    randomize_b(&model, 5);
    let head = head(&model);
    let run = |model: &Model| {
        let l = loss(model, &head);
        let grads = l.backward().unwrap();
        let g: Vec<Tensor> = model.llama.lora_vars().iter().map(|(_, v)| grads.get(v.as_tensor()).unwrap().clone()).collect();
        (l.to_scalar::<f32>().unwrap(), g)
    };
    model.llama.set_fused(true).unwrap();
    let (lf, gf) = run(&model);
    model.llama.set_fused(false).unwrap();
    let (lr, gr) = run(&model);
    assert!((lf - lr).abs() < 1e-4, "loss {lf} vs {lr}");
    for ((name, _), (a, b)) in model.llama.lora_vars().iter().zip(gf.iter().zip(&gr)) {
        let scale = b.abs().unwrap().flatten_all().unwrap().max(D::Minus1).unwrap().to_scalar::<f32>().unwrap().max(1e-3);
        assert!(max_diff(a, b) / scale < 1e-3, "{name}: gradients differ by {} (scale {scale})", max_diff(a, b));
    }
}

#[test]
fn fused_llama_gives_the_reference_loss_and_adapter_gradients() {
    let (_dir, path) = tiny_file(&TinySpec::default());
    compare_models(Model::load(&path, &lora_opts()).unwrap());
}

#[test]
fn fused_gemma3_gives_the_reference_loss_and_adapter_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-gemma3.gguf");
    write_tiny_gemma3(&path, &TinySpec::default()).unwrap();
    compare_models(Model::load(&path, &lora_opts()).unwrap());
}
