//! LoRA adapters in the PEFT layout, so that other tools (transformers + PEFT) can load them:
//! `adapter_config.json` and `adapter_model.safetensors` with PEFT's tensor names
//! (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, ...). Rows of q/k adapters
//! are already in transformers' order (the model un-permutes llama.cpp's rotary layout at load).
//! The diagnosis head is not a PEFT module; it is written beside them as `localdx_head.safetensors`
//! (`head.weight` `[labels, hidden]`, `head.bias` `[labels]`, `head.center` `[hidden]`) with
//! `localdx_head.json` ([`HeadFile`]: the label list, the head kind and scale, the truncation
//! settings). Other tools ignore both; [`import_run`] needs both to turn a folder back into a run.

use crate::checkpoint::{self, RunFiles, RunMeta, Vault};
use crate::config::TrainConfig;
use crate::error::{io, Result, TrainError};
use candle_core::{Tensor, Var};
use localdx_model::{HeadKind, LoadOptions, LoraConfig, Model, Target};
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

/// The file beside a PEFT adapter that says how to use its head: `localdx_head.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeadFile {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// The labels, in the order of the rows of `head.weight`.
    pub labels: Vec<String>,
    /// The text each label's vector was initialised from.
    pub label_texts: Vec<String>,
    pub head_kind: HeadKind,
    /// Cosine-logit scale.
    pub head_scale: f64,
    /// Tokens kept per note, and the share taken from its start (the rest from its end).
    pub max_len: usize,
    pub head_share: f64,
    /// The base model's file name the adapters were trained on.
    pub base_model_file: Option<String>,
}

/// The format tag of [`HeadFile`].
pub const HEAD_FORMAT: &str = "localdx-head/1";
/// The side files' names.
pub const HEAD_JSON: &str = "localdx_head.json";
pub const HEAD_TENSORS: &str = "localdx_head.safetensors";

fn format_error(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Format { path: path.display().to_string(), message: message.into() }
}

/// Exports the best adapters of a run (read through `vault`), with its head and label list. The
/// exported files are plain, for other tools: in an encrypted workspace the caller decides
/// whether that is allowed.
pub fn export_run(run_dir: &Path, vault: &Vault, out: &Path) -> Result<()> {
    let files = RunFiles::open(run_dir, vault)?;
    if !files.best_path().exists() {
        return Err(TrainError::Invalid(format!("run {} has no validated epoch yet (resume it first)", run_dir.display())));
    }
    let weights = checkpoint::load_weights_from(vault, &files.best_path())?;
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
    let base_file = files.meta.model_path.file_name().map(|f| f.to_string_lossy().into_owned());
    export(out, cfg, &adapters, Some(head), base_file.clone())?;
    let c = &files.meta.config;
    let side = HeadFile {
        format: HEAD_FORMAT.into(),
        labels: files.meta.labels.clone(),
        label_texts: files.meta.label_texts.clone(),
        head_kind: c.head_kind,
        head_scale: c.head_scale,
        max_len: c.max_len,
        head_share: c.head_share,
        base_model_file: base_file,
    };
    let path = out.join(HEAD_JSON);
    let json = serde_json::to_vec_pretty(&side).map_err(|e| TrainError::Invalid(e.to_string()))?;
    std::fs::write(&path, json).map_err(io(&path))
}

/// Reads `localdx_head.json` and `localdx_head.safetensors` of an exported adapter and checks
/// they agree (one head row per label, a bias per label, a centre as wide as the rows).
pub fn read_head(dir: &Path) -> Result<(HeadFile, HashMap<String, Tensor>)> {
    let path = dir.join(HEAD_JSON);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let side: HeadFile = serde_json::from_str(&text).map_err(|e| format_error(&path, e.to_string()))?;
    if side.format != HEAD_FORMAT {
        return Err(format_error(&path, format!("format {:?} is not {HEAD_FORMAT}", side.format)));
    }
    if side.labels.is_empty() || side.labels.len() != side.label_texts.len() {
        return Err(format_error(&path, "needs as many label texts as labels, and at least one label"));
    }
    if side.max_len == 0 || !(0.0..=1.0).contains(&side.head_share) || !(side.head_scale > 0.0) {
        return Err(format_error(&path, "max_len, head_share or head_scale out of range"));
    }
    let tpath = dir.join(HEAD_TENSORS);
    if !tpath.exists() {
        return Err(format_error(&tpath, "missing (the head of the exported run)"));
    }
    let head = checkpoint::load_weights(&tpath)?;
    let dims = |name: &str| head.get(name).map(|t| t.dims().to_vec()).ok_or_else(|| format_error(&tpath, format!("missing tensor {name}")));
    let (w, b, c) = (dims("head.weight")?, dims("head.bias")?, dims("head.center")?);
    let l = side.labels.len();
    if w.len() != 2 || w[0] != l || b != [l] || c != [w[1]] {
        return Err(format_error(&tpath, format!("head shapes {w:?}, {b:?}, {c:?} do not fit {l} labels")));
    }
    Ok((side, head))
}

/// Turns an exported adapter folder (PEFT files plus the localdx head files) into a new run in
/// `run_dir` on the base model `model_path`, ready for prediction, its files written through
/// `vault`. The adapters are checked against the model (every adapter of the config present,
/// with the model's shapes) before anything is written. The run has no training history: status
/// `imported`, no outcome.
pub fn import_run(dir: &Path, run_dir: &Path, model_path: &Path, vault: &Vault) -> Result<RunFiles> {
    let (lora, mut tensors) = import(dir)?;
    let (side, head) = read_head(dir)?;
    let model = Model::load(model_path, &LoadOptions { lora: Some(lora.clone()), ..LoadOptions::default() })?;
    let shown = dir.join("adapter_model.safetensors").display().to_string();
    let named = model.llama.lora_vars();
    checkpoint::set_vars(&tensors, &named, &shown)?;
    if tensors.len() != named.len() {
        let extra: Vec<&String> = tensors.keys().filter(|k| !named.iter().any(|(n, _)| n == *k)).take(3).collect();
        return Err(TrainError::Format { path: shown, message: format!("tensors the model has no adapter for: {extra:?}") });
    }
    let hidden = model.llama.hidden_size();
    if head["head.center"].dims() != [hidden] {
        return Err(format_error(&dir.join(HEAD_TENSORS), format!("head width {:?} is not the model's {hidden}", head["head.center"].dims())));
    }
    if run_dir.join("run.json").exists() {
        return Err(TrainError::Invalid(format!("{} already holds a run", run_dir.display())));
    }
    std::fs::create_dir_all(run_dir).map_err(io(run_dir))?;
    tensors.extend(head);
    checkpoint::save_map(vault, &run_dir.join("best.safetensors"), &tensors)?;
    let config = TrainConfig {
        lora,
        head_kind: side.head_kind,
        head_scale: side.head_scale,
        max_len: side.max_len,
        head_share: side.head_share,
        epochs: 0,
        ..TrainConfig::default()
    };
    let meta = RunMeta {
        model_path: model_path.to_owned(),
        config,
        labels: side.labels,
        label_texts: side.label_texts,
        status: "imported".into(),
        outcome: None,
        context: HashMap::from([("imported_from".to_owned(), dir.display().to_string())]),
    };
    let files = RunFiles { dir: run_dir.to_owned(), meta, vault: vault.clone() };
    files.write_meta()?;
    Ok(files)
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
