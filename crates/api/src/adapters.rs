//! LoRA adapters in the PEFT layout: export a run's best adapters (with its diagnosis head and
//! label list in side files) to a folder other tools can load, and import such a folder back as a
//! new run that `predict` can use. The engine work (file layout, checks against the base model)
//! happens in `localdx_train::peft`; runs live in the `runs/` folder the caller gives.
//!
//! Nothing here trains or touches the network.

use crate::training::run_dir;
use crate::{ApiError, Result};
use localdx_train::checkpoint::RunFiles;
use localdx_train::peft;
use serde::Serialize;
use std::path::Path;

/// An exported or imported adapter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterDto {
    /// The run the adapter came from (export) or became (import).
    pub run_id: String,
    /// The adapter folder.
    pub dir: String,
    pub rank: usize,
    pub alpha: f64,
    pub target_modules: Vec<String>,
    /// The adapted layers (all layers when absent).
    pub layers: Option<Vec<usize>>,
    pub labels: usize,
    /// The base model file the run uses (import) or was trained on (export).
    pub base_model: Option<String>,
}


fn describe(run_id: &str, dir: &Path) -> Result<AdapterDto> {
    let path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ApiError::invalid(format!("{}: {e}", path.display())))?;
    let cfg: peft::AdapterConfig =
        serde_json::from_str(&text).map_err(|e| ApiError::invalid(format!("{}: {e}", path.display())))?;
    let (side, _) = peft::read_head(dir)?;
    Ok(AdapterDto {
        run_id: run_id.to_owned(),
        dir: dir.display().to_string(),
        rank: cfg.r,
        alpha: cfg.lora_alpha,
        target_modules: cfg.target_modules,
        layers: cfg.layers_to_transform,
        labels: side.labels.len(),
        base_model: side.base_model_file,
    })
}

/// Writes the best adapters of run `run_id` to `out` in the PEFT layout (`adapter_config.json`,
/// `adapter_model.safetensors`) with `localdx_head.json` and `localdx_head.safetensors` beside
/// them. `out` must not hold an adapter already.
pub fn export(runs_dir: &Path, run_id: &str, out: &Path) -> Result<AdapterDto> {
    let dir = run_dir(runs_dir, run_id)?;
    if out.join("adapter_config.json").exists() {
        return Err(ApiError::invalid(format!("{} already holds an adapter", out.display())));
    }
    peft::export_run(&dir, out)?;
    describe(run_id, out)
}

/// Imports the adapter folder `dir` (as written by [`export`]) as a new run under `runs_dir` on
/// base model `model` (a name of `models_dir`; by default the model the adapter names, if it is
/// in `models_dir`, else the default model). The adapters are checked against the model first.
pub fn import(runs_dir: &Path, models_dir: &Path, dir: &Path, model: Option<&str>) -> Result<AdapterDto> {
    if !dir.join("adapter_config.json").exists() {
        return Err(ApiError::invalid(format!("{} has no adapter_config.json (not a PEFT adapter folder)", dir.display())));
    }
    let (side, _) = peft::read_head(dir)?;
    let model_path = match model {
        Some(name) => crate::models::resolve(models_dir, name)?,
        None => match side.base_model_file.as_deref().map(|f| models_dir.join(f)).filter(|p| p.exists()) {
            Some(path) => path,
            None => crate::models::resolve(models_dir, "default")?,
        },
    };
    let mut n = 1;
    while runs_dir.join(format!("run-{n}")).exists() {
        n += 1;
    }
    let run_id = format!("run-{n}");
    let files = peft::import_run(dir, &runs_dir.join(&run_id), &model_path)?;
    let mut dto = describe(&run_id, dir)?;
    dto.base_model = files.meta.model_path.file_name().map(|f| f.to_string_lossy().into_owned());
    let mut files: RunFiles = files;
    if let Some(name) = model {
        files.meta.context.insert("model".into(), name.to_owned());
        files.write_meta()?;
    }
    Ok(dto)
}
