//! Loading errors: truncated files, bad magic, unsupported architectures and corrupt tensors give a
//! typed error, never a panic.

use crate::{lora_opts, tiny_file};
use candle_core::quantized::GgmlDType;
use localdx_model::synthetic::TinySpec;
use localdx_model::{GgufFile, LoadOptions, Model, ModelError};

fn load_err(bytes: &[u8]) -> ModelError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, bytes).unwrap();
    match Model::load(&path, &LoadOptions::default()) {
        Ok(_) => panic!("a broken file loaded"),
        Err(e) => e,
    }
}

#[test]
fn header_and_tensor_table_are_read() {
    let (_d, path) = tiny_file(&TinySpec::default());
    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.architecture().unwrap(), "llama");
    assert_eq!(file.usize("llama.block_count").unwrap(), 2);
    assert!(file.has_tensor("blk.1.ffn_down.weight"));
    let summary = localdx_model::summarize(&path, &file).unwrap();
    assert_eq!((summary.architecture.as_str(), summary.layers, summary.hidden, summary.heads, summary.kv_heads), ("llama", 2, 32, 4, 2));
    let model = Model::load(&path, &lora_opts()).unwrap();
    assert_eq!(model.llama.hidden_size(), 32);
    assert_eq!(model.llama.architecture, "llama");
    assert_eq!(model.llama.lora_vars().len(), 2 * 7 * 2);
}

/// `good` with the unsigned metadata value of `key` replaced by `value` (u32 or u64, as stored).
fn with_metadata(good: &[u8], key: &str, value: u64) -> Vec<u8> {
    let at = good.windows(key.len()).position(|w| w == key.as_bytes()).unwrap_or_else(|| panic!("{key} not in the file")) + key.len();
    let mut bytes = good.to_vec();
    match u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) {
        4 => bytes[at + 4..at + 8].copy_from_slice(&(value.min(u32::MAX as u64) as u32).to_le_bytes()),
        10 => bytes[at + 4..at + 12].copy_from_slice(&value.to_le_bytes()),
        other => panic!("{key} is stored with GGUF type {other}"),
    }
    bytes
}

#[test]
fn sizes_in_the_header_beyond_the_tensor_table_are_refused_before_anything_is_allocated() {
    // A fuzzer's find: a block count of 2^37 made the loader reserve 2^37 blocks and abort.
    for (spec, arch) in [(TinySpec::default(), "llama"), (TinySpec { architecture: "gemma3", ..TinySpec::default() }, "gemma3")] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        if arch == "llama" {
            localdx_model::synthetic::write_tiny_llama(&path, &spec).unwrap()
        } else {
            localdx_model::synthetic::write_tiny_gemma3(&path, &spec).unwrap()
        }
        let good = std::fs::read(&path).unwrap();
        for (key, value, says) in [
            ("block_count", 1 << 37, "tensors"),
            ("block_count", 3, "more weights"),
            ("block_count", 0, "zero"),
            ("feed_forward_length", u64::MAX, "more weights"),
            ("embedding_length", 1 << 31, ""),
        ] {
            let key = format!("{arch}.{key}");
            let e = load_err(&with_metadata(&good, &key, value));
            let shown = e.to_string();
            assert!(shown.contains(says), "{key} = {value}: {shown}");
            eprintln!("{key} = {value}: {shown}");
        }
    }
}

#[test]
fn broken_files_give_errors_not_panics() {
    let (_d, path) = tiny_file(&TinySpec::default());
    let good = std::fs::read(&path).unwrap();
    // (what is broken, bytes)
    let mut rows: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("bad magic", b"NOTAGGUF file at all".repeat(4)),
        ("header only", good[..24].to_vec()),
        ("cut in the metadata", good[..300].to_vec()),
        ("cut in the tensor data", good[..good.len() - 100].to_vec()),
    ];
    let mut nan = good.clone();
    // Overwrite the last 64 bytes (output_norm, f32) with NaN.
    let n = nan.len();
    for chunk in nan[n - 64..].chunks_mut(4) {
        chunk.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    rows.push(("NaN tensor", nan));
    for (what, bytes) in rows {
        let e = load_err(&bytes);
        assert!(!e.to_string().is_empty(), "{what}");
        eprintln!("{what}: {e}");
    }
}

#[test]
fn missing_file_and_unsupported_architecture_are_named() {
    let e = Model::load(std::path::Path::new("/nonexistent/x.gguf"), &LoadOptions::default()).err().unwrap();
    assert!(matches!(e, ModelError::Io { .. }), "{e}");
    for arch in ["mamba", "qwen2", "gemma2"] {
        let (_d, path) = tiny_file(&TinySpec { architecture: arch, ..TinySpec::default() });
        let e = Model::load(&path, &LoadOptions::default()).err().unwrap();
        assert!(matches!(&e, ModelError::UnsupportedArchitecture(a) if a == arch), "{e}");
        assert!(e.to_string().contains("supported: llama, gemma3"), "{e}");
    }
    let (_d, path) = tiny_file(&TinySpec { architecture: "mamba", ..TinySpec::default() });
    let e = localdx_model::summarize(&path, &GgufFile::open(&path).unwrap()).err().unwrap();
    assert!(matches!(&e, ModelError::UnsupportedArchitecture(a) if a == "mamba"), "{e}");
    // A llama-shaped file that says gemma3 lacks Gemma's norms: a named tensor error.
    let (_d, path) = tiny_file(&TinySpec { architecture: "gemma3", ..TinySpec::default() });
    let e = Model::load(&path, &LoadOptions::default()).err().unwrap();
    assert!(e.to_string().contains("attn_q_norm") || e.to_string().contains("key_length"), "{e}");
}

/// A file cut inside its tensor data is refused when it is opened (as `models import` and
/// `models list` do), naming the first tensor that does not fit, and not only when that tensor is
/// read.
#[test]
fn a_file_cut_in_its_tensor_data_is_refused_when_opened() {
    let (dir, path) = tiny_file(&TinySpec::default());
    let good = std::fs::read(&path).unwrap();
    GgufFile::open(&path).unwrap();
    let cut = dir.path().join("cut.gguf");
    for keep in [good.len() - 1, good.len() - 100] {
        std::fs::write(&cut, &good[..keep]).unwrap();
        let e = GgufFile::open(&cut).err().unwrap_or_else(|| panic!("a file cut to {keep} of {} bytes opened", good.len()));
        let shown = e.to_string();
        assert!(matches!(e, ModelError::Corrupt { .. }) && shown.contains("tensor `") && shown.contains("truncated"), "{shown}");
    }
    if let Some(real) = crate::real_model_path() {
        // The case: the first 5 MB of the 98 MB default model.
        let mut head = vec![0u8; 5 << 20];
        std::io::Read::read_exact(&mut std::fs::File::open(real).unwrap(), &mut head).unwrap();
        std::fs::write(&cut, &head).unwrap();
        let e = GgufFile::open(&cut).err().expect("the real model cut to 5 MB opened");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}

#[test]
fn truncated_gemma3_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-gemma.gguf");
    localdx_model::synthetic::write_tiny_gemma3(&path, &TinySpec::default()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let mut rows: Vec<(&str, Vec<u8>)> = vec![
        ("gemma3 header only", good[..24].to_vec()),
        ("gemma3 cut in the metadata", good[..2000].to_vec()),
        ("gemma3 cut in the tensor data", good[..good.len() - 100].to_vec()),
    ];
    if let Some(real) = crate::gemma_model_path() {
        // The first 4 MiB of the real file end inside its 262,144-token vocabulary.
        let mut head = vec![0u8; 4 << 20];
        std::io::Read::read_exact(&mut std::fs::File::open(real).unwrap(), &mut head).unwrap();
        rows.push(("real gemma3 cut in the vocabulary", head));
    }
    for (what, bytes) in rows {
        let e = load_err(&bytes);
        assert!(matches!(e, ModelError::Corrupt { .. }), "{what}: {e}");
    }
}

#[test]
fn quantized_q8_file_loads_both_ways() {
    let spec = TinySpec { dtype: GgmlDType::Q8_0, ..TinySpec::default() };
    let (_d, path) = tiny_file(&spec);
    for storage in [localdx_model::BaseStorage::Dense, localdx_model::BaseStorage::Quantized] {
        let m = Model::load(&path, &LoadOptions { storage, ..LoadOptions::default() }).unwrap();
        assert_eq!(m.llama.storage, storage, "{}", m.llama.storage_reason);
    }
}

#[test]
fn real_smollm2_header_and_config() {
    let Some(path) = crate::real_model_path() else { return };
    let file = GgufFile::open(&path).unwrap();
    let cfg = localdx_model::LlamaConfig::from_gguf(&file).unwrap();
    assert_eq!((cfg.layers, cfg.hidden, cfg.heads, cfg.kv_heads, cfg.vocab_size), (30, 576, 9, 3, 49152));
    assert_eq!(file.string("tokenizer.ggml.pre").unwrap(), "smollm");
}
