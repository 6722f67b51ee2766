//! Gemma 3: the tiny model written by the tests (SentencePiece vocabulary, sliding window of 3,
//! every second layer global) for gradients and masks, and the real Gemma 3 270M against
//! transformers' forward pass (reference numbers in gemma3_forward.txt, written by
//! scripts/model/gemma3_reference.py). Both sides dequantize the same blocks to f32, so the
//! agreement is at float32 rounding level (top-5 logits within 6e-5 when measured), not at Q4 noise;
//! the 753-token text fails when the 512-token sliding window is left out (checked by hand).

use crate::grad::{check_finite_differences, head, loss, randomize_b};
use crate::lora_opts;
use candle_core::{Tensor, Var, D};
use localdx_model::synthetic::{write_tiny_gemma3, TinySpec};
use localdx_model::{BaseStorage, Gemma3Config, GgufFile, LoadOptions, Model, Net};

fn tiny_gemma(spec: &TinySpec, opts: &LoadOptions) -> Model {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-gemma3.gguf");
    write_tiny_gemma3(&path, spec).unwrap();
    Model::load(&path, opts).expect("load tiny gemma3")
}

#[test]
fn tiny_gemma3_loads_with_its_sentencepiece_tokenizer_and_layer_pattern() {
    let model = tiny_gemma(&TinySpec::default(), &lora_opts());
    assert_eq!(model.llama.architecture, "gemma3");
    let Net::Gemma3(g) = &model.llama.net else { panic!("not gemma3") };
    assert_eq!((g.cfg.head_dim, g.cfg.sliding_window, g.cfg.sliding_window_pattern), (16, 3, 2));
    assert_eq!((g.cfg.is_global(0), g.cfg.is_global(1)), (false, true));
    let tok = &model.tokenizer;
    assert!(tok.is_sentencepiece());
    let ids = model.encode_truncated("the  abba", 32, 0.5);
    let pieces: Vec<&str> = ids.iter().map(|&i| tok.token(i).unwrap()).collect();
    // BOS first, the scored pieces merged best first, the user-defined double space whole
    assert_eq!(pieces, ["<bos>", "the", "\u{2581}\u{2581}", "ab", "b", "a"]);
    // a character outside the vocabulary falls back to its UTF-8 bytes
    let ids = tok.encode("é");
    assert_eq!(ids.iter().map(|&i| tok.token(i).unwrap()).collect::<Vec<_>>(), ["<0xC3>", "<0xA9>"]);
    assert_eq!(tok.decode(&tok.encode("the é  ab\n")), "the é  ab\n");
    assert_eq!(model.llama.lora_vars().len(), 2 * 7 * 2);
}

#[test]
fn every_gemma3_lora_parameter_gets_a_gradient_matching_finite_differences() {
    let model = tiny_gemma(&TinySpec::default(), &LoadOptions { storage: BaseStorage::Dense, ..lora_opts() });
    randomize_b(&model, 11);
    let head = head(&model);
    let grads = loss(&model, &head).backward().unwrap();
    let vars = model.llama.lora_vars();
    assert_eq!(vars.len(), 28);
    for (name, var) in &vars {
        let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(norm > 0.0 && norm.is_finite(), "{name}: gradient norm {norm}");
    }
    for layer in 0..2 {
        for t in localdx_model::Target::ALL {
            let w = model.llama.base_weight(layer, t).unwrap();
            assert!(grads.get(&w).is_none(), "frozen base {t:?} got a gradient");
        }
    }
    // Every LoRA matrix of both layers (local and global), plus the head, against central
    // finite differences.
    let mut all: Vec<(String, Var)> = vars;
    all.push(("head.weight".into(), head.weight.clone()));
    check_finite_differences(&model, &head, &all);
}

#[test]
fn local_layers_see_only_the_sliding_window() {
    // One layer, local (window 3): position p sees p-2..=p only.
    let model = tiny_gemma(&TinySpec { layers: 1, ..TinySpec::default() }, &LoadOptions::default());
    let a: Vec<u32> = model.tokenizer.encode_for_model("the abba the abba");
    assert!(a.len() >= 6, "{a:?}");
    let mut b = a.clone();
    b[1] = model.tokenizer.id("e").unwrap();
    let run = |ids: &[u32]| {
        let t = Tensor::from_vec(ids.to_vec(), (1, ids.len()), model.device()).unwrap();
        model.llama.hidden_states(&t, None).unwrap().squeeze(0).unwrap()
    };
    let diff = (run(&a) - run(&b)).unwrap().abs().unwrap().max(D::Minus1).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(diff[0], 0.0, "causal: position 0 never sees position 1");
    assert!(diff[1] > 0.0 && diff[2] > 0.0 && diff[3] > 0.0, "inside the window: {diff:?}");
    assert!(diff[4..].iter().all(|&d| d == 0.0), "outside the window of 3: {diff:?}");
    // With a global second layer, the change reaches every later position.
    let model = tiny_gemma(&TinySpec { layers: 2, ..TinySpec::default() }, &LoadOptions::default());
    let run = |ids: &[u32]| {
        let t = Tensor::from_vec(ids.to_vec(), (1, ids.len()), model.device()).unwrap();
        model.llama.hidden_states(&t, None).unwrap().squeeze(0).unwrap()
    };
    let diff = (run(&a) - run(&b)).unwrap().abs().unwrap().max(D::Minus1).unwrap().to_vec1::<f32>().unwrap();
    assert!(diff[1..].iter().all(|&d| d > 0.0), "global layer: {diff:?}");
}

#[test]
fn gemma3_cached_prefix_plus_suffix_equals_the_full_forward_and_quantized_agrees() {
    let spec = TinySpec { layers: 3, dtype: candle_core::quantized::GgmlDType::Q8_0, ..TinySpec::default() };
    let opts = LoadOptions { lora: Some(localdx_model::LoraConfig { last_layers: Some(1), ..Default::default() }), ..lora_opts() };
    let dense = tiny_gemma(&spec, &LoadOptions { storage: BaseStorage::Dense, ..opts.clone() });
    let quant = tiny_gemma(&spec, &LoadOptions { storage: BaseStorage::Quantized, ..opts });
    assert_eq!(dense.llama.first_adapted_layer(), 2);
    let ids = dense.encode_truncated("the abba the other", 32, 0.5);
    let ids = Tensor::from_vec(ids.clone(), (1, ids.len()), dense.device()).unwrap();
    let full = dense.llama.hidden_states(&ids, None).unwrap();
    let split = dense.llama.suffix(&dense.llama.prefix(&ids, 2).unwrap(), 2, None).unwrap();
    let diff = (&full - split).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5, "{diff}");
    let q = quant.llama.hidden_states(&ids, None).unwrap();
    let rel = ((&full - q).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()
        / full.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap())
    .sqrt();
    // candle's quantized matmul also quantizes the activations to 8 bits: agreement to a few percent.
    assert!(rel < 5e-2, "quantized vs dense relative difference {rel}");
}

/// One text of the reference file with its expected numbers.
struct Reference {
    what: String,
    text: String,
    tokens: usize,
    pooled8: Vec<f32>,
    pooled_norm: f32,
    last8: Vec<f32>,
    top5: Vec<(u32, f32)>,
}

fn references() -> Vec<Reference> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");
    let floats = |s: &str| s.split(' ').map(|x| x.parse::<f32>().unwrap()).collect::<Vec<_>>();
    let mut out: Vec<Reference> = Vec::new();
    for line in include_str!("gemma3_forward.txt").lines().filter(|l| !l.starts_with('#')) {
        let (key, rest) = line.split_once(' ').unwrap();
        match key {
            "text" => {
                let text = match rest.split_once(' ').unwrap() {
                    ("literal", json) => serde_json::from_str::<String>(json).unwrap(),
                    (_, span) => {
                        let f: Vec<&str> = span.split(' ').collect();
                        let (off, len) = (f[1].parse::<usize>().unwrap(), f[2].parse::<usize>().unwrap());
                        let bytes = std::fs::read(format!("{data}/{}", f[0])).unwrap();
                        String::from_utf8(bytes[off..off + len].to_vec()).unwrap()
                    }
                };
                out.push(Reference { what: rest.to_owned(), text, tokens: 0, pooled8: vec![], pooled_norm: 0.0, last8: vec![], top5: vec![] });
            }
            _ => {
                let r = out.last_mut().unwrap();
                match key {
                    "tokens" => r.tokens = rest.parse().unwrap(),
                    "pooled8" => r.pooled8 = floats(rest),
                    "pooled_norm" => r.pooled_norm = rest.parse().unwrap(),
                    "last8" => r.last8 = floats(rest),
                    "top5" => {
                        r.top5 = rest
                            .split(' ')
                            .map(|p| {
                                let (i, v) = p.split_once(':').unwrap();
                                (i.parse().unwrap(), v.parse().unwrap())
                            })
                            .collect()
                    }
                    _ => panic!("unknown line {line}"),
                }
            }
        }
    }
    out
}

fn close(what: &str, got: &[f32], want: &[f32], scale: f32, tol: f32) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}[{i}]: {g} vs reference {w} (scale {scale})");
    }
}

#[test]
fn real_gemma3_config_and_forward_match_transformers() {
    let Some(path) = crate::gemma_model_path() else { return };
    let data = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if !data.is_dir() {
        return localdx_testkit::skip(&format!("{} is absent: the reference texts are spans of the shared data sets beside the checkout", data.display()));
    }
    let file = GgufFile::open(&path).unwrap();
    let summary = localdx_model::summarize(&path, &file).unwrap();
    assert_eq!(summary.to_string(), "gemma3: 18 layers, hidden 640, 4 heads / 1 kv of 256, vocab 262144");
    let cfg = Gemma3Config::from_gguf(&file).unwrap();
    assert_eq!((cfg.layers, cfg.hidden, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.intermediate), (18, 640, 4, 1, 256, 2048));
    assert_eq!((cfg.sliding_window, cfg.rope_theta, cfg.rope_local_theta), (512, 1_000_000.0, 10_000.0));
    let global: Vec<usize> = (0..18).filter(|&i| cfg.is_global(i)).collect();
    assert_eq!(global, [5, 11, 17]);
    assert_eq!((cfg.attn_softcap, cfg.final_softcap), (None, None));

    let model = Model::load(&path, &LoadOptions { storage: BaseStorage::Dense, ..LoadOptions::default() }).unwrap();
    let Net::Gemma3(g) = &model.llama.net else { panic!("not gemma3") };
    let refs = references();
    assert_eq!(refs.len(), 5);
    assert!(refs.iter().any(|r| r.tokens > 512), "one text runs past the sliding window");
    for r in refs {
        let ids = model.tokenizer.encode_for_model(&r.text);
        assert_eq!(ids.len(), r.tokens, "{}: token count", r.what);
        let t = Tensor::from_vec(ids.clone(), (1, ids.len()), model.device()).unwrap();
        let h = model.llama.hidden_states(&t, None).unwrap().squeeze(0).unwrap();
        let pooled = h.mean(0).unwrap();
        let norm = pooled.sqr().unwrap().sum_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
        assert!((norm - r.pooled_norm).abs() <= 1e-4 * r.pooled_norm, "{}: pooled norm {norm} vs {}", r.what, r.pooled_norm);
        let pooled8 = pooled.narrow(0, 0, 8).unwrap().to_vec1::<f32>().unwrap();
        close(&format!("{} pooled", r.what), &pooled8, &r.pooled8, r.pooled_norm / (640f32).sqrt(), 1e-3);
        let last = h.get(ids.len() - 1).unwrap();
        let last_norm = last.sqr().unwrap().sum_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
        close(&format!("{} last", r.what), &last.narrow(0, 0, 8).unwrap().to_vec1::<f32>().unwrap(), &r.last8, last_norm / (640f32).sqrt(), 1e-3);
        let logits = g.logits(&last.unsqueeze(0).unwrap()).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        for (id, want) in &r.top5 {
            let got = logits[*id as usize];
            assert!((got - want).abs() <= 1e-2, "{}: logit of {id} {got} vs reference {want}", r.what);
        }
        let dev = r.top5.iter().map(|(id, want)| (logits[*id as usize] - want).abs()).fold(0f32, f32::max);
        eprintln!("{}: {} tokens, pooled norm {norm} vs {}, top-5 logits within {dev}", r.what, ids.len(), r.pooled_norm);
        let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32;
        assert_eq!(best, r.top5[0].0, "{}: most likely next token", r.what);
    }
}
