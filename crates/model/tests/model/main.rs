//! Integration tests of localdx-model on tiny GGUF files written by the tests themselves, plus a few
//! checks on the real SmolLM2 file that skip when `models/` lacks it.

mod gemma3;
mod gguf;
mod bf16;
mod fused;
mod grad;
mod sgemm;
mod spans;
mod tokenizer;

use localdx_model::synthetic::{write_tiny_llama, TinySpec};
use localdx_model::{LoadOptions, LoraConfig, Model};
use std::path::PathBuf;

/// Writes a tiny model with `spec` into a fresh temp dir and returns (dir guard, path).
pub fn tiny_file(spec: &TinySpec) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, spec).expect("write tiny gguf");
    (dir, path)
}

pub fn tiny_model(spec: &TinySpec, opts: &LoadOptions) -> Model {
    let (_dir, path) = tiny_file(spec);
    Model::load(&path, opts).expect("load tiny model")
}

pub fn lora_opts() -> LoadOptions {
    LoadOptions { lora: Some(LoraConfig::default()), seed: 3, ..LoadOptions::default() }
}

/// The real default model, when setup has fetched it.
pub fn real_model_path() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    if p.exists() {
        Some(p)
    } else {
        localdx_testkit::skip(&format!("{} is absent (run scripts/fetch-models.sh)", p.display()));
        None
    }
}

/// Gemma 3 270M, when setup has fetched it (`scripts/fetch-models.sh --gemma`).
pub fn gemma_model_path() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/gemma-3-270m-q4_k_m.gguf"));
    if p.exists() {
        Some(p)
    } else {
        localdx_testkit::skip(&format!("{} is absent (run scripts/fetch-models.sh --gemma)", p.display()));
        None
    }
}
