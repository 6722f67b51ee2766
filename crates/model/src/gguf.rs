//! Reading GGUF files: the header, the metadata and the tensor table, with checks that turn a
//! truncated or corrupt file into a [`ModelError`] instead of a panic. This module reads files only;
//! it never writes them (the test helper in [`crate::synthetic`] does) and never touches the network.

use crate::error::{ModelError, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// An opened GGUF file: its metadata and tensor table are read, tensor data is read on demand.
pub struct GgufFile {
    path: PathBuf,
    content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    /// Opens `path` and reads its header, metadata and tensor table.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| ModelError::Io { path: shown.clone(), source })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader)
            .map_err(|e| ModelError::Corrupt { path: shown.clone(), message: crate::error::without_backtrace(&e) })?;
        let file_len = std::fs::metadata(path).map_err(|source| ModelError::Io { path: shown.clone(), source })?.len();
        if content.tensor_data_offset > file_len {
            return Err(ModelError::Corrupt { path: shown, message: "tensor data starts past the end of the file".into() });
        }
        check_tensor_table(&content, file_len).map_err(|message| ModelError::Corrupt { path: shown, message })?;
        Ok(GgufFile { path: path.to_owned(), content, reader })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `general.architecture` value, e.g. `llama` or `gemma3`.
    pub fn architecture(&self) -> Result<String> {
        Ok(self.string("general.architecture")?.to_owned())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn missing(key: &str, message: &str) -> ModelError {
        ModelError::Metadata { key: key.to_owned(), message: message.to_owned() }
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Self::missing(key, "not a string")),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// An unsigned integer of any width.
    pub fn usize(&self, key: &str) -> Result<usize> {
        let v = self.get(key).ok_or_else(|| Self::missing(key, "missing"))?;
        let n = match v {
            Value::U8(x) => *x as u64,
            Value::U16(x) => *x as u64,
            Value::U32(x) => *x as u64,
            Value::U64(x) => *x,
            Value::I8(x) if *x >= 0 => *x as u64,
            Value::I16(x) if *x >= 0 => *x as u64,
            Value::I32(x) if *x >= 0 => *x as u64,
            Value::I64(x) if *x >= 0 => *x as u64,
            _ => return Err(Self::missing(key, "not a non-negative integer")),
        };
        usize::try_from(n).map_err(|_| Self::missing(key, "too large"))
    }

    pub fn f64(&self, key: &str) -> Result<f64> {
        match self.get(key) {
            Some(Value::F32(x)) => Ok(*x as f64),
            Some(Value::F64(x)) => Ok(*x),
            Some(_) => self.usize(key).map(|x| x as f64),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// An array of strings (e.g. the vocabulary).
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.as_str()),
                    _ => Err(Self::missing(key, "array holds a non-string")),
                })
                .collect(),
            Some(_) => Err(Self::missing(key, "not an array")),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// An array of integers (e.g. token types).
    pub fn ints(&self, key: &str) -> Result<Vec<i64>> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::I32(x) => Ok(*x as i64),
                    Value::U32(x) => Ok(*x as i64),
                    Value::I64(x) => Ok(*x),
                    Value::U8(x) => Ok(*x as i64),
                    Value::I8(x) => Ok(*x as i64),
                    _ => Err(Self::missing(key, "array holds a non-integer")),
                })
                .collect(),
            Some(_) => Err(Self::missing(key, "not an array")),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// An array of floats (e.g. SentencePiece piece scores).
    pub fn floats(&self, key: &str) -> Result<Vec<f32>> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::F32(x) => Ok(*x),
                    Value::F64(x) => Ok(*x as f32),
                    _ => Err(Self::missing(key, "array holds a non-float")),
                })
                .collect(),
            Some(_) => Err(Self::missing(key, "not an array")),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// A boolean flag.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Self::missing(key, "not a boolean")),
            None => Err(Self::missing(key, "missing")),
        }
    }

    /// How many tensors the table declares, and their elements together (each tensor's count was
    /// checked at open to fit in a `u64` and in the file; tensors may overlap, so the sum saturates).
    pub fn declared(&self) -> (usize, u64) {
        let elements = self.content.tensor_infos.values().map(|info| info.shape.dims().iter().map(|&d| d as u64).product::<u64>()).fold(0u64, u64::saturating_add);
        (self.content.tensor_infos.len(), elements)
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The tensor `name` in its stored (possibly quantized) form; its shape must be `dims`
    /// (outer dimension first, as in PyTorch).
    pub fn qtensor(&mut self, name: &str, dims: &[usize]) -> Result<QTensor> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| ModelError::Tensor { name: name.to_owned(), message: "missing from the file".into() })?;
        if info.shape.dims() != dims {
            return Err(ModelError::Tensor {
                name: name.to_owned(),
                message: format!("has shape {:?}, expected {:?}", info.shape.dims(), dims),
            });
        }
        info.read(&mut self.reader, self.content.tensor_data_offset, &Device::Cpu).map_err(|e| ModelError::Corrupt {
            path: self.path.display().to_string(),
            message: format!("tensor `{name}`: {}", crate::error::without_backtrace(&e)),
        })
    }

    /// The tensor `name` dequantized to f32 on `device`, checked to hold only finite values.
    pub fn dense(&mut self, name: &str, dims: &[usize], device: &Device) -> Result<Tensor> {
        let q = self.qtensor(name, dims)?;
        let t = q.dequantize(device)?;
        check_finite(name, &t)?;
        Ok(t)
    }
}

/// Checks that every tensor the table declares lies wholly inside a file of `file_len` bytes, with
/// a byte size that follows from its type and shape. A file cut short (an interrupted copy) fails
/// here, when it is opened, and not on the first tensor read long after it was imported.
fn check_tensor_table(content: &Content, file_len: u64) -> std::result::Result<(), String> {
    let data = file_len - content.tensor_data_offset;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let info = &content.tensor_infos[name];
        let Some(elements) = info.shape.dims().iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)) else {
            return Err(format!("tensor `{name}` declares shape {:?}, more elements than any file holds", info.shape.dims()));
        };
        let block = info.ggml_dtype.block_size() as u64;
        if elements % block != 0 {
            return Err(format!(
                "tensor `{name}` has {elements} elements of type {:?}, not a whole number of its {block}-element blocks",
                info.ggml_dtype
            ));
        }
        let bytes = (elements / block).checked_mul(info.ggml_dtype.type_size() as u64);
        let end = bytes.and_then(|bytes| info.offset.checked_add(bytes)).filter(|&end| end <= data);
        if end.is_none() {
            return Err(format!(
                "tensor `{name}` ({:?}, shape {:?}) needs bytes {}..{} of the tensor data, but the file holds {data}: the file is truncated or corrupt",
                info.ggml_dtype,
                info.shape.dims(),
                info.offset,
                bytes.map_or(u64::MAX, |bytes| info.offset.saturating_add(bytes))
            ));
        }
    }
    Ok(())
}

/// Fails when `t` holds a NaN or an infinity: the signature of a corrupt tensor.
pub fn check_finite(name: &str, t: &Tensor) -> Result<()> {
    // NaN and infinity propagate through a sum, so one reduction checks every element.
    let sum_abs = t.abs()?.sum_all()?.to_scalar::<f32>()?;
    if sum_abs.is_finite() {
        Ok(())
    } else {
        Err(ModelError::Tensor { name: name.to_owned(), message: "holds NaN or infinite values (corrupt file?)".into() })
    }
}
