//! Run folders: `run.json` (settings, labels, model path, outcome), `checkpoint.safetensors`
//! (adapters, head, optimizer moments and the loop state, in ONE file written atomically, so a
//! run killed at any instant resumes from a consistent checkpoint) and `best.safetensors` (the
//! adapters and head of the best validation epoch, used by `predict`).
//!
//! Run metadata lives in a `runs/` folder beside the database until the store has a runs table.
//! Every file of a run goes through the run's [`Vault`]: sealed (encrypted and authenticated) in
//! an encrypted workspace, as it is in a plain one. Safetensors are built and parsed in memory, so
//! no plain copy of a sealed file ever touches the disk.

use crate::error::{io, Result, TrainError};
use crate::metrics::Metrics;
use crate::optim::AdamW;
use crate::config::{Outcome, TrainConfig, TrainData};
use candle_core::{DType, Device, Tensor, Var};
use localdx_model::{ClassifierHead, HeadKind};
pub use localdx_sealed::Vault;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub model_path: PathBuf,
    pub config: TrainConfig,
    pub labels: Vec<String>,
    pub label_texts: Vec<String>,
    /// `running` until the loop finishes, then `finished`.
    pub status: String,
    pub outcome: Option<Outcome>,
    /// Free-form context set by the caller (dataset id, model name).
    #[serde(default)]
    pub context: HashMap<String, String>,
}

/// The loop position and validation history, saved inside the checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub step: u64,
    pub epoch: usize,
    /// Index of the next micro-batch within the epoch.
    pub batch: usize,
    pub best: Option<Metrics>,
    pub best_epoch: usize,
    pub since_best: usize,
    pub stopped: bool,
    pub zero_shot: Metrics,
    pub history: Vec<Metrics>,
}

impl State {
    pub fn new(zero_shot: Metrics) -> State {
        State { step: 0, epoch: 0, batch: 0, best: None, best_epoch: 0, since_best: 0, stopped: false, zero_shot, history: Vec::new() }
    }
}

/// The files of one run, and how they are stored (sealed or plain).
pub struct RunFiles {
    pub dir: PathBuf,
    pub meta: RunMeta,
    pub vault: Vault,
}

impl RunFiles {
    pub fn create(dir: &Path, model_path: &Path, cfg: &TrainConfig, data: &TrainData, vault: &Vault) -> Result<RunFiles> {
        if dir.join("run.json").exists() {
            return Err(TrainError::Invalid(format!("{} already holds a run", dir.display())));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let meta = RunMeta {
            model_path: model_path.to_owned(),
            config: cfg.clone(),
            labels: data.labels.clone(),
            label_texts: data.label_texts.clone(),
            status: "running".into(),
            outcome: None,
            context: HashMap::new(),
        };
        let files = RunFiles { dir: dir.to_owned(), meta, vault: vault.clone() };
        files.write_meta()?;
        Ok(files)
    }

    /// Reads `run.json` of the run in `dir` through `vault`.
    pub fn open(dir: &Path, vault: &Vault) -> Result<RunFiles> {
        let path = dir.join("run.json");
        let bytes = vault.read(&path)?;
        let meta = serde_json::from_slice(&bytes)
            .map_err(|e| TrainError::Format { path: path.display().to_string(), message: e.to_string() })?;
        Ok(RunFiles { dir: dir.to_owned(), meta, vault: vault.clone() })
    }

    pub fn write_meta(&self) -> Result<()> {
        let path = self.dir.join("run.json");
        let text = serde_json::to_vec_pretty(&self.meta)
            .map_err(|e| TrainError::Format { path: path.display().to_string(), message: e.to_string() })?;
        Ok(self.vault.write(&path, &text)?)
    }

    pub fn finish(mut self, outcome: &Outcome) -> Result<()> {
        self.meta.status = "finished".into();
        self.meta.outcome = Some(outcome.clone());
        self.write_meta()
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }

    pub fn best_path(&self) -> PathBuf {
        self.dir.join("best.safetensors")
    }
}

fn weights_map(names: &[String], vars: &[Var], head: &ClassifierHead) -> HashMap<String, Tensor> {
    let mut map: HashMap<String, Tensor> = names.iter().zip(vars).map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
    map.insert("head.center".into(), head.center.clone());
    map
}

/// Writes `map` as safetensors to `path` through `vault` (atomically; sealed when it seals).
pub fn save_map(vault: &Vault, path: &Path, map: &HashMap<String, Tensor>) -> Result<()> {
    let bytes = safetensors::serialize(map, None).map_err(|e| TrainError::Format { path: path.display().to_string(), message: e.to_string() })?;
    Ok(vault.write(path, &bytes)?)
}

/// Writes the adapters and head (the weights `predict` needs).
pub fn save_weights(vault: &Vault, path: &Path, names: &[String], vars: &[Var], head: &ClassifierHead) -> Result<()> {
    save_map(vault, path, &weights_map(names, vars, head))
}

/// Writes weights, optimizer moments and loop state into one file, atomically.
pub fn save_checkpoint(
    files: &RunFiles,
    names: &[String],
    vars: &[Var],
    opt: &AdamW,
    head: &ClassifierHead,
    state: &State,
) -> Result<()> {
    let mut map = weights_map(names, vars, head);
    for (i, name) in names.iter().enumerate() {
        map.insert(format!("optimizer.m.{name}"), opt.m[i].clone());
        map.insert(format!("optimizer.v.{name}"), opt.v[i].clone());
    }
    let state_json = serde_json::to_vec(state).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let len = state_json.len();
    map.insert("state.json".into(), Tensor::from_vec(state_json, len, &Device::Cpu)?);
    map.insert("optimizer.t".into(), Tensor::from_vec(vec![opt.t as i64], 1, &Device::Cpu)?);
    save_map(&files.vault, &files.checkpoint_path(), &map)
}

/// A checkpoint read back.
pub struct Checkpoint {
    pub tensors: HashMap<String, Tensor>,
    pub state: State,
    path: String,
}

/// Reads the run's checkpoint; `None` when the run was killed before its first one.
pub fn load_checkpoint(files: &RunFiles) -> Result<Option<Checkpoint>> {
    let path = files.checkpoint_path();
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let tensors = load_weights_from(&files.vault, &path)?;
    let bytes = tensors
        .get("state.json")
        .ok_or_else(|| TrainError::Format { path: shown.clone(), message: "no loop state".into() })?
        .to_dtype(DType::U8)?
        .to_vec1::<u8>()?;
    let state = serde_json::from_slice(&bytes).map_err(|e| TrainError::Format { path: shown.clone(), message: e.to_string() })?;
    Ok(Some(Checkpoint { tensors, state, path: shown }))
}

/// Reads a plain weights file (an exported adapter, or `best.safetensors` of a plain run).
pub fn load_weights(path: &Path) -> Result<HashMap<String, Tensor>> {
    load_weights_from(&Vault::Plain, path)
}

/// Reads a weights file of a run through its vault.
pub fn load_weights_from(vault: &Vault, path: &Path) -> Result<HashMap<String, Tensor>> {
    let bytes = vault.read(path)?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| TrainError::Format { path: path.display().to_string(), message: e.to_string() })
}

fn take<'a>(map: &'a HashMap<String, Tensor>, name: &str, path: &str) -> Result<&'a Tensor> {
    map.get(name).ok_or_else(|| TrainError::Format { path: path.to_owned(), message: format!("missing tensor {name}") })
}

/// Sets `vars` (LoRA adapters) from `map`, checking shapes.
pub fn set_vars(map: &HashMap<String, Tensor>, named: &[(String, Var)], path: &str) -> Result<()> {
    for (name, var) in named {
        let t = take(map, name, path)?;
        if t.dims() != var.dims() {
            return Err(TrainError::Format { path: path.to_owned(), message: format!("{name} has shape {:?}, expected {:?}", t.dims(), var.dims()) });
        }
        var.set(&t.to_device(var.device())?)?;
    }
    Ok(())
}

/// The head stored in a weights map.
pub fn head_from(map: &HashMap<String, Tensor>, kind: HeadKind, scale: f64, path: &str) -> Result<ClassifierHead> {
    Ok(ClassifierHead::from_tensors(
        kind,
        take(map, "head.weight", path)?,
        take(map, "head.bias", path)?,
        take(map, "head.center", path)?,
        scale,
    )?)
}

impl Checkpoint {
    pub fn head(&self, kind: HeadKind, scale: f64) -> Result<ClassifierHead> {
        head_from(&self.tensors, kind, scale, &self.path)
    }

    /// Restores adapters (the head is rebuilt by [`Checkpoint::head`]) and optimizer moments.
    pub fn restore(&self, opt: &mut AdamW, names: &[String]) -> Result<()> {
        for (i, name) in names.iter().enumerate() {
            if !name.starts_with("head.") {
                let t = take(&self.tensors, name, &self.path)?;
                opt.vars[i].set(&t.to_device(opt.vars[i].device())?)?;
            }
            opt.m[i] = take(&self.tensors, &format!("optimizer.m.{name}"), &self.path)?.clone();
            opt.v[i] = take(&self.tensors, &format!("optimizer.v.{name}"), &self.path)?.clone();
        }
        opt.t = take(&self.tensors, "optimizer.t", &self.path)?.to_vec1::<i64>()?.first().copied().unwrap_or(0) as u64;
        Ok(())
    }
}
