//! Integration tests of localdx-train on a tiny synthetic GGUF model and a tiny synthetic task.

mod dp;
mod loop_;
mod multilabel;
mod peft;

use localdx_model::synthetic::{write_tiny_llama, TinySpec};
use localdx_train::trainer::{Example, TrainData};
use std::path::PathBuf;

pub fn tiny_model_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, &TinySpec { hidden: 32, ffn: 64, layers: 2, ..TinySpec::default() }).expect("tiny gguf");
    (dir, path)
}

/// Three classes told apart by one keyword among filler words.
pub fn synthetic_task(n_train: usize, n_val: usize) -> TrainData {
    let keywords = ["fever", "rash", "cough"];
    let fillers = ["the", "patient", "has", "a", "mild", "since", "monday", "and", "other", "notes"];
    let make = |i: usize| {
        let label = i % 3;
        let mut words: Vec<&str> = (0..6).map(|k| fillers[(i * 7 + k * 3) % fillers.len()]).collect();
        words.insert((i / 3) % 5, keywords[label]);
        Example { id: i.to_string(), text: words.join(" "), labels: vec![label] }
    };
    TrainData {
        labels: vec!["A".into(), "B".into(), "C".into()],
        label_texts: vec!["alpha".into(), "beta".into(), "gamma".into()],
        train: (0..n_train).map(make).collect(),
        validation: (n_train..n_train + n_val).map(make).collect(),
    }
}
