//! Base models: listing the GGUF files in the models folder, importing one (validated before it is
//! copied), resolving a model name (`default` is SmolLM2-135M-Instruct), and fetching the default
//! model with the setup script. The folder is passed in by the caller (the CLI puts it beside the
//! database); nothing here touches the network except `fetch_default`, which runs the setup script
//! only when the user asks for it.

use crate::{ApiError, ErrorCode, Result};
use localdx_model::GgufFile;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The file name of the default base model.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// One model file, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelDto {
    /// The name to pass to `--model` (the file name without `.gguf`).
    pub name: String,
    pub path: String,
    pub architecture: String,
    pub bytes: u64,
    /// Whether this engine can train it (llama architecture with a byte-level BPE vocabulary).
    pub supported: bool,
    /// Why not, when unsupported; or the model's shape.
    pub detail: String,
    pub is_default: bool,
}

fn describe(path: &Path) -> ModelDto {
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let is_default = path.file_name().is_some_and(|f| f == DEFAULT_MODEL_FILE);
    let base = ModelDto { name, path: path.display().to_string(), architecture: String::new(), bytes, supported: false, detail: String::new(), is_default };
    let file = match GgufFile::open(path) {
        Ok(f) => f,
        Err(e) => return ModelDto { detail: e.to_string(), ..base },
    };
    let architecture = file.architecture().unwrap_or_default();
    match localdx_model::summarize(path, &file) {
        Ok(summary) => ModelDto { architecture, supported: true, detail: summary.to_string(), ..base },
        Err(e) => ModelDto { architecture, detail: e.to_string(), ..base },
    }
}

/// The GGUF files in `dir`, sorted by name.
pub fn list(dir: &Path) -> Result<Vec<ModelDto>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "gguf")).collect();
    paths.sort();
    Ok(paths.iter().map(|p| describe(p)).collect())
}

/// Checks `file` (header, architecture, tokenizer) and copies it into `dir`.
pub fn import(dir: &Path, file: &Path) -> Result<ModelDto> {
    let probe = describe(file);
    if !probe.supported {
        return Err(ApiError::invalid(format!("{} cannot be used: {}", file.display(), probe.detail)));
    }
    let name = file.file_name().ok_or_else(|| ApiError::invalid("the model path has no file name"))?;
    std::fs::create_dir_all(dir).map_err(|e| ApiError::new(ErrorCode::Internal, format!("{}: {e}", dir.display())))?;
    let target = dir.join(name);
    if target.exists() {
        return Err(ApiError::invalid(format!("a model named {} is already imported", probe.name)));
    }
    std::fs::copy(file, &target).map_err(|e| ApiError::new(ErrorCode::Internal, format!("copying to {}: {e}", target.display())))?;
    Ok(describe(&target))
}

/// The path of model `name` in `dir` (`default` is the default model; a path to a file also works).
pub fn resolve(dir: &Path, name: &str) -> Result<PathBuf> {
    let direct = Path::new(name);
    if name.ends_with(".gguf") && direct.exists() {
        return Ok(direct.to_owned());
    }
    let file = if name == "default" { DEFAULT_MODEL_FILE.to_owned() } else { format!("{name}.gguf") };
    let path = dir.join(&file);
    if path.exists() {
        Ok(path)
    } else if name == "default" {
        Err(ApiError::not_found(format!(
            "the default model is not in {} (run `localdx models fetch-default` or scripts/fetch-models.sh)",
            dir.display()
        )))
    } else {
        Err(ApiError::not_found(format!("no model named {name} in {} (see `localdx models list`)", dir.display())))
    }
}

/// Runs the setup script `script` (scripts/fetch-models.sh) to fetch the default model into `dir`.
pub fn fetch_default(dir: &Path, script: &Path) -> Result<ModelDto> {
    let status = std::process::Command::new("bash")
        .arg(script)
        .env("LOCALDX_MODELS", dir)
        .status()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("running {}: {e}", script.display())))?;
    if !status.success() {
        return Err(ApiError::new(ErrorCode::Internal, format!("{} failed ({status})", script.display())));
    }
    Ok(describe(&dir.join(DEFAULT_MODEL_FILE)))
}
