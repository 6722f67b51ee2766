//! LoRA adapters in the PEFT layout: export a run's best adapters (with its diagnosis head and
//! label list in side files) to a folder other tools can load, and import such a folder back as a
//! new run that `predict` can use. The engine work (file layout, checks against the base model)
//! happens in `localdx_train::peft`; runs live in the `runs/` folder the caller gives.
//!
//! Exported files are plain (other tools cannot read sealed ones). In an encrypted workspace the
//! adapters learned from its notes leave it unencrypted only as an explicit decision: the caller
//! passes `unencrypted`, only stewards and admins may, and the audit trail records who wrote which
//! files where, with each file's SHA-256. Without it the export is refused and says why. Imported
//! adapters become a run written through the workspace's vault (sealed when it is encrypted).
//!
//! Nothing here trains or touches the network.

use crate::{Api, ApiError, Command, ErrorCode, Result};
use sha2::{Digest, Sha256};
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

/// The files an export writes, in the order they are listed in the audit trail.
const EXPORTED: [&str; 4] = ["adapter_config.json", "adapter_model.safetensors", peft::HEAD_JSON, peft::HEAD_TENSORS];

impl Api {
    /// Writes the best adapters of run `run_id` to `out` in the PEFT layout (`adapter_config.json`,
    /// `adapter_model.safetensors`) with `localdx_head.json` and `localdx_head.safetensors` beside
    /// them, as plain files. `out` must not hold an adapter already. In an encrypted workspace this
    /// needs `unencrypted` (else it is refused as `blocked`, with the reason); every export is
    /// audited with the SHA-256 of each file written.
    pub fn export_adapters(&self, run_id: &str, out: &Path, unencrypted: bool) -> Result<AdapterDto> {
        let store = self.permit(Command::ExportAdapters)?;
        let vault = self.vault();
        if vault.is_sealed() && !unencrypted {
            return Err(ApiError::new(
                ErrorCode::Blocked,
                format!(
                    "this workspace is encrypted, and the adapters of {run_id} were learned from its notes: an export writes them \
                     unencrypted (other tools cannot read sealed files). Confirm with --unencrypted if they may leave the \
                     encrypted workspace; the export is recorded in the audit trail with each file's SHA-256"
                ),
            ));
        }
        let dir = self.run_dir(run_id)?;
        if out.join("adapter_config.json").exists() {
            return Err(ApiError::invalid(format!("{} already holds an adapter", out.display())));
        }
        peft::export_run(&dir, &vault, out)?;
        let mut files = serde_json::Map::new();
        for name in EXPORTED {
            let path = out.join(name);
            let bytes = std::fs::read(&path).map_err(|e| ApiError::new(ErrorCode::Internal, format!("{}: {e}", path.display())))?;
            files.insert(name.to_owned(), Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>().into());
        }
        let after = serde_json::json!({"dir": out.display().to_string(), "unencrypted": true, "files": files});
        let reason = if vault.is_sealed() { "exported unencrypted from an encrypted workspace (--unencrypted)" } else { "exported from a plain workspace" };
        if let Err(e) = store.atomically(|| self.audit("adapters.export", &format!("run:{run_id}"), serde_json::Value::Null, after, reason)) {
            // An export the audit trail does not record does not stay on disk.
            for name in EXPORTED {
                let _ = std::fs::remove_file(out.join(name));
            }
            return Err(e);
        }
        describe(run_id, out)
    }

    /// Imports the adapter folder `dir` (as written by [`Api::export_adapters`]) as a new run of
    /// `runs/` on base model `model` (a name in `models/`; by default the model the adapter names, if
    /// it is there, else the default model). The adapters are checked against the model first.
    pub fn import_adapters(&self, dir: &Path, model: Option<&str>) -> Result<AdapterDto> {
        let (runs_dir, models_dir) = (&self.layout.runs, &self.layout.models);
        self.check(Command::Train)?;
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
        let run_id = crate::training::next_run_id(runs_dir);
        let files = peft::import_run(dir, &runs_dir.join(&run_id), &model_path, &self.vault())?;
        let mut dto = describe(&run_id, dir)?;
        dto.base_model = files.meta.model_path.file_name().map(|f| f.to_string_lossy().into_owned());
        let mut files: RunFiles = files;
        if let Some(name) = model {
            files.meta.context.insert("model".into(), name.to_owned());
            files.write_meta()?;
        }
        self.audit("adapters.import", &format!("run:{run_id}"), serde_json::Value::Null, serde_json::json!({"from": dir.display().to_string(), "model": dto.base_model}), "")?;
        Ok(dto)
    }
}
