//! LoRA adapters in the PEFT layout, so that other tools (transformers + PEFT) can load them:
//! `adapter_config.json` and `adapter_model.safetensors` with PEFT's tensor names
//! (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...). Rows of q/k adapters
//! are already in transformers' order (the model un-permutes llama.cpp's rotary layout at load).
//! The diagnosis head is not a PEFT module; it is written beside them as `localdx_head.safetensors`.

use crate::checkpoint::{self, RunFiles};
use crate::error::{io, Result, TrainError};
use candle_core::{Tensor, Var};
use localdx_model::{LoraConfig, Target};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The fields of PEFT's `adapter_config.json` this engine writes and reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdapterConfig {
    pub peft_type: String,
    pub task_type: Option<String>,
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f32,
    pub target_modules: Vec<String>,
    pub bias: String,
    pub fan_in_fan_out: bool,
    pub inference_mode: bool,
    pub base_model_name_or_path: Option<String>,
    /// The adapted layers, when not all are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers_to_transform: Option<Vec<usize>>,
}

impl AdapterConfig {
    /// `layers` are the indices of the adapted layers (read from the tensor names).
    pub fn from_lora(cfg: &LoraConfig, base: Option<String>, layers: Vec<usize>) -> AdapterConfig {
        AdapterConfig {
            peft_type: "LORA".into(),
            task_type: Some("FEATURE_EXTRACTION".into()),
            r: cfg.rank,
            lora_alpha: cfg.alpha,
            lora_dropout: cfg.dropout,
            target_modules: cfg.targets.iter().map(|t| t.peft_name().to_owned()).collect(),
            bias: "none".into(),
            fan_in_fan_out: false,
            inference_mode: true,
            base_model_name_or_path: base,
            layers_to_transform: cfg.last_layers.map(|_| layers),
        }
    }

    pub fn lora(&self) -> Result<LoraConfig> {
        if self.peft_type != "LORA" {
            return Err(TrainError::Invalid(format!("adapter type {} is not LORA", self.peft_type)));
        }
        let targets = self
            .target_modules
            .iter()
            .map(|m| Target::from_peft_name(m).ok_or_else(|| TrainError::Invalid(format!("unknown target module {m}"))))
            .collect::<Result<Vec<_>>>()?;
        // Adapters written by this engine cover the last layers; the count is what matters here.
        let last_layers = self.layers_to_transform.as_ref().map(Vec::len);
        Ok(LoraConfig { rank: self.r, alpha: self.lora_alpha, dropout: self.lora_dropout, targets, last_layers })
    }
}

/// Writes `vars` (named as [`localdx_model::Llama::lora_vars`] names them) as a PEFT adapter in `dir`.
pub fn export(dir: &Path, cfg: &LoraConfig, vars: &[(String, Var)], head: Option<HashMap<String, Tensor>>, base: Option<String>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut layers: Vec<usize> = vars
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("base_model.model.model.layers.")?.split('.').next()?.parse().ok())
        .collect();
    layers.sort_unstable();
    layers.dedup();
    let config = AdapterConfig::from_lora(cfg, base, layers);
    let json = serde_json::to_vec_pretty(&config).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let path = dir.join("adapter_config.json");
    std::fs::write(&path, json).map_err(io(&path))?;
    let map: HashMap<String, Tensor> = vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
    candle_core::safetensors::save(&map, dir.join("adapter_model.safetensors"))?;
    if let Some(head) = head {
        candle_core::safetensors::save(&head, dir.join("localdx_head.safetensors"))?;
    }
    Ok(())
}

/// Exports the best adapters of a run.
pub fn export_run(run_dir: &Path, out: &Path) -> Result<()> {
    let files = RunFiles::open(run_dir)?;
    let weights = checkpoint::load_weights(&files.best_path())?;
    let cfg = &files.meta.config.lora;
    let mut adapters = Vec::new();
    let mut head = HashMap::new();
    let mut names: Vec<&String> = weights.keys().collect();
    names.sort();
    for name in names {
        let t = &weights[name];
        if name.starts_with("head.") {
            head.insert(name.clone(), t.clone());
        } else {
            adapters.push((name.clone(), Var::from_tensor(t)?));
        }
    }
    export(out, cfg, &adapters, Some(head), Some(files.meta.model_path.display().to_string()))
}

/// Reads a PEFT adapter folder: its LoRA settings and tensors by name.
pub fn import(dir: &Path) -> Result<(LoraConfig, HashMap<String, Tensor>)> {
    let path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let config: AdapterConfig =
        serde_json::from_str(&text).map_err(|e| TrainError::Format { path: path.display().to_string(), message: e.to_string() })?;
    let lora = config.lora()?;
    let tensors = checkpoint::load_weights(&dir.join("adapter_model.safetensors"))?;
    Ok((lora, tensors))
}
