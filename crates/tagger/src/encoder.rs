//! The frozen encoder: all-MiniLM-L6-v2 (uncased BERT, 6 layers, hidden 384), its `tokenizers`
//! tokenizer, and the overlapping windows that let it read notes longer than its 512 positions.
//!
//! Inference only. Notes run through [`crate::fast::FastBert`] (the same network on LocalDx's own
//! GEMM); `candle-transformers`' `BertModel` is the reference it is checked against
//! ([`Encoder::reference`], a test, and the `encoder_speed` example, which times both). Its
//! softmax and layer norms are fused candle ops that carry no gradients (`../shared/MODELS.md`),
//! which is fine here: the tagger never trains the encoder, only its own head.

use crate::error::{Result, TaggerError};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// The encoder's hidden size, fixed by the checkpoint.
pub const HIDDEN: usize = 384;

/// Word pieces of a note per window (the window adds `[CLS]` and `[SEP]`).
pub const WINDOW: usize = 254;
/// Word pieces shared by neighbouring windows. Each token takes its state from the window where it
/// sits furthest from an edge, so every token sees at least `OVERLAP / 2` pieces of context on both
/// sides (except at the note's own ends).
pub const OVERLAP: usize = 64;

const CLS: u32 = 101;
const SEP: u32 = 102;
/// Windows the reference encodes in one forward pass.
const BATCH: usize = 8;

/// The folder, under the models folder, that setup fills.
pub const DIR_NAME: &str = "all-MiniLM-L6-v2";

/// A note as word pieces: ids and the byte span of each piece in the note.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    pub ids: Vec<u32>,
    pub spans: Vec<(usize, usize)>,
}

impl Pieces {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The encoder and its tokenizer.
pub struct Encoder {
    fast: crate::fast::FastBert,
    tokenizer: Tokenizer,
    dir: PathBuf,
}

fn file(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(TaggerError::Missing { path })
    }
}

impl Encoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`, checking each:
    /// a missing file names itself and the setup step, a truncated or altered one is refused here
    /// rather than on the first note. The projections run on the kernel this process chose
    /// (`localdx_model::bf16::Kernel::chosen`: bf16 panels where the CPU has AMX or AVX512_BF16).
    pub fn load(dir: &Path) -> Result<Encoder> {
        Encoder::load_with(dir, localdx_model::bf16::Kernel::chosen().0)
    }

    /// [`Encoder::load`] with the projections on `kernel` (one this CPU runs, or f32).
    pub fn load_with(dir: &Path, kernel: localdx_model::bf16::Kernel) -> Result<Encoder> {
        let config_path = file(dir, "config.json")?;
        let tokenizer_path = file(dir, "tokenizer.json")?;
        let weights_path = file(dir, "model.safetensors")?;
        let corrupt = |path: &Path, message: String| TaggerError::Corrupt { path: path.to_path_buf(), message };
        let config = read_config(&config_path)?;
        if config.hidden_size != HIDDEN {
            return Err(corrupt(&config_path, format!("hidden size {} where the tagger expects {HIDDEN}", config.hidden_size)));
        }
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| corrupt(&tokenizer_path, e.to_string()))?;
        // the file ships with the sentence-embedding settings (truncate and pad to 128); the tagger
        // windows whole notes itself
        tokenizer.with_truncation(None).map_err(|e| corrupt(&tokenizer_path, e.to_string()))?;
        tokenizer.with_padding(None);
        let tensors = read_tensors(&weights_path)?;
        let fast = crate::fast::FastBert::from_tensors(&tensors, config.num_hidden_layers, config.num_attention_heads, config.layer_norm_eps, kernel)
            .map_err(|e| corrupt(&weights_path, e.to_string()))?;
        Ok(Encoder { fast, tokenizer, dir: dir.to_path_buf() })
    }

    /// `candle-transformers`' `BertModel` on the same folder: the reference the fast path is
    /// checked and timed against ([`Reference::states`] computes what [`Encoder::states`] does).
    pub fn reference(&self) -> Result<Reference> {
        let device = Device::Cpu;
        let weights_path = self.dir.join("model.safetensors");
        let config = read_config(&self.dir.join("config.json"))?;
        let vb = VarBuilder::from_tensors(read_tensors(&weights_path)?, DType::F32, &device);
        let model = BertModel::load(vb, &config).map_err(|e| TaggerError::Corrupt { path: weights_path.clone(), message: e.to_string() })?;
        Ok(Reference { model, device })
    }

    /// The note's word pieces, without special tokens, with byte spans into `text`.
    pub fn pieces(&self, text: &str) -> Pieces {
        let Ok(encoding) = self.tokenizer.encode(text, false) else { return Pieces::default() };
        let mut out = Pieces::default();
        for (&id, &(s, e)) in encoding.get_ids().iter().zip(encoding.get_offsets()) {
            if s < e && e <= text.len() {
                out.ids.push(id);
                out.spans.push((s, e));
            }
        }
        out
    }

    /// The encoder's last hidden state for every piece, `[pieces.len() * HIDDEN]` row-major: the
    /// note in overlapping windows, each piece's state from the window where it is most central.
    pub fn states(&self, pieces: &Pieces) -> Result<Vec<f32>> {
        let n = pieces.len();
        let mut out = vec![0f32; n * HIDDEN];
        let threads = rayon::current_num_threads();
        let mut ids = Vec::with_capacity(WINDOW + 2);
        for w in windows(n).iter().filter(|_| n > 0) {
            ids.clear();
            ids.push(CLS);
            ids.extend_from_slice(&pieces.ids[w.start..w.end]);
            ids.push(SEP);
            let hidden = self.fast.forward(&ids, threads)?;
            for i in w.keep_start..w.keep_end {
                let row = 1 + (i - w.start);
                out[i * HIDDEN..(i + 1) * HIDDEN].copy_from_slice(&hidden[row * HIDDEN..(row + 1) * HIDDEN]);
            }
        }
        Ok(out)
    }
}

fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|source| TaggerError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|e| TaggerError::Corrupt { path: path.to_path_buf(), message: e.to_string() })
}

fn read_tensors(path: &Path) -> Result<std::collections::HashMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|source| TaggerError::Io { path: path.to_path_buf(), source })?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| TaggerError::Corrupt { path: path.to_path_buf(), message: e.to_string() })
}

/// candle's `BertModel` over the same windows (see [`Encoder::reference`]).
pub struct Reference {
    model: BertModel,
    device: Device,
}

impl Reference {
    /// The states of `pieces`, windows batched with padding and a mask.
    pub fn states(&self, pieces: &Pieces) -> Result<Vec<f32>> {
        reference(&self.model, &self.device, pieces)
    }
}

fn reference(model: &BertModel, device: &Device, pieces: &Pieces) -> Result<Vec<f32>> {
    let n = pieces.len();
    let mut out = vec![0f32; n * HIDDEN];
    if n == 0 {
        return Ok(out);
    }
    let windows = windows(n);
    for batch in windows.chunks(BATCH) {
        let longest = batch.iter().map(|w| w.end - w.start).max().unwrap_or(0) + 2;
        let mut ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for w in batch {
            let len = w.end - w.start;
            ids.push(CLS);
            ids.extend_from_slice(&pieces.ids[w.start..w.end]);
            ids.push(SEP);
            ids.extend(std::iter::repeat_n(0, longest - len - 2));
            mask.extend(std::iter::repeat_n(1u32, len + 2));
            mask.extend(std::iter::repeat_n(0u32, longest - len - 2));
        }
        let shape = (batch.len(), longest);
        let ids = Tensor::from_vec(ids, shape, device)?;
        let mask = Tensor::from_vec(mask, shape, device)?;
        let types = ids.zeros_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        let hidden: Vec<f32> = hidden.flatten_all()?.to_vec1()?;
        for (b, w) in batch.iter().enumerate() {
            for i in w.keep_start..w.keep_end {
                let row = b * longest + 1 + (i - w.start);
                out[i * HIDDEN..(i + 1) * HIDDEN].copy_from_slice(&hidden[row * HIDDEN..(row + 1) * HIDDEN]);
            }
        }
    }
    Ok(out)
}

/// One window over a note's pieces: it reads `start..end` and keeps the states of `keep_start..keep_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub keep_start: usize,
    pub keep_end: usize,
}

/// Windows of [`WINDOW`] pieces stepping by `WINDOW - OVERLAP`; the kept parts tile `0..n` exactly.
pub fn windows(n: usize) -> Vec<Window> {
    let step = WINDOW - OVERLAP;
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW).min(n);
        let keep_start = if start == 0 { 0 } else { start + OVERLAP / 2 };
        let last = end == n;
        let keep_end = if last { n } else { end - OVERLAP / 2 };
        out.push(Window { start, end, keep_start, keep_end });
        if last {
            return out;
        }
        start += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and candle's `BertModel` give the same states on a real note of three
    /// windows (the encoder setup fetched; under `CI=true` a missing one fails).
    #[test]
    fn the_fast_path_matches_candles_bert() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(DIR_NAME);
        if !dir.join("model.safetensors").is_file() {
            localdx_testkit::skip(&format!("no encoder in {}", dir.display()));
            return;
        }
        let enc = Encoder::load_with(&dir, localdx_model::bf16::Kernel::F32).unwrap();
        let text = "Seen by Dr. JOHN SMITH on 3/4/2019 at Mercy Hospital; call 617-555-0134. ".repeat(25);
        let pieces = enc.pieces(&text);
        assert!(windows(pieces.len()).len() >= 3, "{} pieces", pieces.len());
        let fast = enc.states(&pieces).unwrap();
        let reference = enc.reference().unwrap().states(&pieces).unwrap();
        let worst = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = reference.iter().map(|v| v.abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3 * scale.max(1.0), "largest difference {worst} (values up to {scale})");
        assert!(enc.states(&enc.pieces("")).unwrap().is_empty());
        // The bf16 kernels this CPU runs: each projection rounds its inputs and weights to 8
        // significant bits, through 6 layers; the states stay within 5% of the largest (the
        // detection figures in the PHI tests are measured on the chosen kernel).
        for kernel in [localdx_model::bf16::Kernel::Avx512Bf16, localdx_model::bf16::Kernel::Amx] {
            if !kernel.supported() {
                eprintln!("not run on this CPU: {}", kernel.describe());
                continue;
            }
            let states = Encoder::load_with(&dir, kernel).unwrap().states(&pieces).unwrap();
            let worst = states.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let mean = states.iter().zip(&reference).map(|(a, b)| (a - b).abs()).sum::<f32>() / states.len() as f32;
            eprintln!("{}: largest difference {worst}, mean {mean} (values up to {scale})", kernel.describe());
            assert!(worst < 5e-2 * scale.max(1.0), "{}: largest difference {worst} (values up to {scale})", kernel.describe());
        }
    }

    #[test]
    fn kept_parts_tile_the_note() {
        for n in [1, 2, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW, 1000, 5003] {
            let ws = windows(n);
            let mut next = 0;
            for w in &ws {
                assert!(w.end - w.start <= WINDOW, "{n}: {w:?}");
                assert!(w.start <= w.keep_start && w.keep_start <= w.keep_end && w.keep_end <= w.end, "{n}: {w:?}");
                assert_eq!(w.keep_start, next, "{n}: {ws:?}");
                next = w.keep_end;
            }
            assert_eq!(next, n);
            // every kept piece has OVERLAP / 2 pieces of context on each side inside its window,
            // unless the note itself ends there
            for w in &ws {
                assert!(w.keep_start - w.start >= OVERLAP / 2 || w.start == 0);
                assert!(w.end - w.keep_end >= OVERLAP / 2 || w.end == n);
            }
        }
    }
}
