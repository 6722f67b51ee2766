//! End-to-end tests of `localdx train`, `train resume`, `runs export|import` and `predict` on the
//! real default model (SmolLM2-135M-Instruct, from `$LOCALDX_MODELS` or `models/` of the repo
//! root) and a small slice of Symptom2Disease (`../shared/data/`). Each test is skipped with a
//! message when the model file or the data set is absent. The tests take a lock so that only one
//! of them trains at a time (the machines they run on have few cores).

mod adapters;
mod kill_resume;

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// One training test at a time.
pub static HEAVY: Mutex<()> = Mutex::new(());

pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The models folder holding the default model, or `None` (with a message) when it is absent.
pub fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LOCALDX_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")));
    if dir.join(MODEL_FILE).exists() {
        Some(dir)
    } else {
        localdx_testkit::skip(&format!("{} is absent (set LOCALDX_MODELS or run scripts/fetch-models.sh)", dir.join(MODEL_FILE).display()));
        None
    }
}

pub fn symptom2disease() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/symptom2disease/Symptom2Disease.csv"));
    if p.exists() {
        Some(p)
    } else {
        localdx_testkit::skip(&format!("{} is absent", p.display()));
        None
    }
}

/// A `localdx` command on database `db` with models from `models`, `--json`.
pub fn command(db: &Path, models: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_localdx"));
    // One thread per process: candle's pool spins while it waits, which wastes shared cores, and
    // one thread keeps runs bit-for-bit reproducible whatever the machine.
    c.env("LOCALDX_MODELS", models).env("CANDLE_NUM_THREADS", "1").env("RAYON_NUM_THREADS", "1").arg("--db").arg(db).arg("--json").args(args);
    c
}

pub fn parse(args: &[&str], out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Runs `localdx` and returns (exit success, parsed stdout).
pub fn localdx(db: &Path, models: &Path, args: &[&str]) -> (bool, Value) {
    let out = command(db, models, args).output().unwrap();
    (out.status.success(), parse(args, &out))
}

/// Imports `per_label` x (train, validation, test) notes of each of `labels` from Symptom2Disease
/// into a new database in `dir` (fixed splits); returns the database and the dataset id.
pub fn import_slice(dir: &Path, models: &Path, csv_path: &Path, labels: &[&str], per_label: (usize, usize, usize)) -> (PathBuf, String) {
    // Symptom2Disease has one record per line: `index,label,text`, the text quoted when needed.
    let source = std::fs::read_to_string(csv_path).unwrap();
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut out = String::from("text,label,split\n");
    let (tr, va, te) = per_label;
    for line in source.lines().skip(1) {
        let mut parts = line.splitn(3, ',');
        let (_, label, text) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !labels.contains(&label) {
            continue;
        }
        let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).map(|t| t.replace("\"\"", "\"")).unwrap_or(text.to_owned());
        let k = taken.entry(label.to_owned()).or_default();
        let split = match *k {
            n if n < tr => "train",
            n if n < tr + va => "validation",
            n if n < tr + va + te => "test",
            _ => continue,
        };
        *k += 1;
        out.push_str(&format!("\"{}\",{label},{split}\n", text.replace('"', "\"\"")));
    }
    std::fs::write(dir.join("slice.csv"), out).unwrap();
    let db = dir.join("db.sqlite");
    let slice = dir.join("slice.csv");
    let args = ["import", slice.to_str().unwrap(), "--text-column", "text", "--label-column", "label", "--split-column", "split"];
    let (ok, report) = localdx(&db, models, &args);
    assert!(ok, "{report}");
    let id = report["dataset_id"].as_i64().unwrap().to_string();
    // Training reads released versions only: review (one bulk decision) and release the slice.
    for step in [&["review", "detect", &id][..], &["review", "accept", &id, "--all"], &["release", &id, "--strategy", "tag"]] {
        let (ok, out) = localdx(&db, models, step);
        assert!(ok, "{step:?}: {out}");
    }
    (db, id)
}

/// The f32 tensors of a safetensors file, by name (the format: an 8-byte little-endian header
/// length, a JSON header with dtype, shape and byte offsets, then the raw data).
pub fn read_safetensors(path: &Path) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut out = HashMap::new();
    for (name, info) in header {
        if name == "__metadata__" || info["dtype"] != "F32" {
            continue;
        }
        let (a, b) = (info["data_offsets"][0].as_u64().unwrap() as usize, info["data_offsets"][1].as_u64().unwrap() as usize);
        let v = data[a..b].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        out.insert(name, v);
    }
    out
}

/// The largest absolute difference between same-named tensors; panics when the names differ.
pub fn max_difference(a: &HashMap<String, Vec<f32>>, b: &HashMap<String, Vec<f32>>) -> f32 {
    let mut names_a: Vec<&String> = a.keys().collect();
    let mut names_b: Vec<&String> = b.keys().collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(names_a, names_b, "the two files hold different tensors");
    let mut worst = 0f32;
    for (name, x) in a {
        let y = &b[name];
        assert_eq!(x.len(), y.len(), "{name}");
        for (p, q) in x.iter().zip(y) {
            worst = worst.max((p - q).abs());
        }
    }
    worst
}
