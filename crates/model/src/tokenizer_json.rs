//! Reading a Hugging Face `tokenizer.json` (parsed with `serde_json`; the `tokenizers` crate is not
//! used because it is a heavy build for a small machine). Two layouts are understood:
//!
//! - byte-level BPE (SmolLM2, GPT-2, Llama 3): model `BPE` with a `ByteLevel` pre-tokenizer, alone or
//!   after `Digits(individual_digits)` (SmolLM2) or after Llama 3's `Split` pattern;
//! - SentencePiece-style BPE (Gemma): model `BPE` with `byte_fallback`, a normalizer that turns
//!   spaces into `▁`, non-special added tokens matched whole, and a `TemplateProcessing` that puts
//!   `<bos>` first.
//!
//! Anything else is refused with a [`ModelError::Tokenizer`]. This module only reads the file; it
//! also holds [`Tokenizer::for_model`], which prefers such a file beside a model to the GGUF's
//! own vocabulary, so that [`crate::tokenizer`] (the types) does not depend on it.

use crate::error::{ModelError, Result};
use crate::spm::{MergeOrder, Spm, SPACE};
use crate::gguf::GgufFile;
use crate::tokenizer::{ByteBpe, Kind, PreTokenizer, Specials, Tokenizer};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the `tokenizer.json` of the model at `model_path` lives: `<file stem>.tokenizer.json` in
/// the same folder (one models folder holds several models, so a bare `tokenizer.json` would be
/// ambiguous).
pub fn beside(model_path: &Path) -> PathBuf {
    let stem = model_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    model_path.with_file_name(format!("{stem}.tokenizer.json"))
}

fn bad(path: &Path, message: impl std::fmt::Display) -> ModelError {
    ModelError::Tokenizer(format!("{}: {message}", path.display()))
}

/// The `type` of a JSON object, or "".
fn ty(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

impl Tokenizer {
    /// The tokenizer for the model file at `path`: from `<file stem>.tokenizer.json` beside it when
    /// that exists (special-token ids it lacks come from the GGUF metadata), else from the metadata.
    pub fn for_model(path: &Path, file: &GgufFile) -> Result<Tokenizer> {
        let json = beside(path);
        if !json.exists() {
            return Tokenizer::from_gguf(file);
        }
        let mut tok = load(&json)?;
        let vocab = file.strings("tokenizer.ggml.tokens").map(|t| t.len()).unwrap_or(tok.vocab_size());
        let sp = Specials::from_gguf(file, vocab);
        tok.bos = tok.bos.or(sp.bos);
        tok.eos = tok.eos.or(sp.eos);
        tok.pad = tok.pad.or(sp.pad);
        Ok(tok)
    }
}

/// Loads a `tokenizer.json`.
pub fn load(path: &Path) -> Result<Tokenizer> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
    parse(&text, path)
}

/// Parses the text of a `tokenizer.json` (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Tokenizer> {
    let root: Value = serde_json::from_str(text).map_err(|e| bad(path, format!("not valid JSON: {e}")))?;
    let model = root.get("model").ok_or_else(|| bad(path, "has no `model`"))?;
    if ty(model) != "BPE" {
        return Err(bad(path, format!("tokenizer model `{}` is not supported (BPE only)", ty(model))));
    }
    let vocab = model.get("vocab").and_then(Value::as_object).ok_or_else(|| bad(path, "model has no `vocab` object"))?;
    let mut tokens = vec![String::new(); vocab.len()];
    for (piece, id) in vocab {
        let id = id.as_u64().filter(|&i| (i as usize) < tokens.len()).ok_or_else(|| bad(path, format!("token `{piece}` has an id outside the vocabulary")))?;
        tokens[id as usize] = piece.clone();
    }
    let added = root.get("added_tokens").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut special = Vec::new();
    let mut user = Vec::new();
    // Added tokens either rename vocabulary entries or extend the vocabulary past its end; an id
    // beyond that (a hole the size of the id) is a damaged file, refused before it is allocated.
    let id_limit = tokens.len() as u64 + added.len() as u64;
    for a in &added {
        let (Some(id), Some(content)) = (a.get("id").and_then(Value::as_u64), a.get("content").and_then(Value::as_str)) else {
            return Err(bad(path, "an added token lacks `id` or `content`"));
        };
        if id >= id_limit {
            return Err(bad(path, format!("added token `{content}` has id {id}, past the {} vocabulary entries and {} added tokens", tokens.len(), added.len())));
        }
        if id as usize >= tokens.len() {
            tokens.resize(id as usize + 1, String::new());
        }
        tokens[id as usize] = content.to_owned();
        if a.get("special").and_then(Value::as_bool).unwrap_or(false) {
            special.push(id as u32);
        } else {
            user.push(id as u32);
        }
    }
    let merges: Vec<(String, String)> = model
        .get("merges")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path, "model has no `merges`"))?
        .iter()
        .map(|m| match m {
            Value::String(s) => s.split_once(' ').map(|(l, r)| (l.to_owned(), r.to_owned())),
            Value::Array(pair) => match (pair.first().and_then(Value::as_str), pair.get(1).and_then(Value::as_str)) {
                (Some(l), Some(r)) => Some((l.to_owned(), r.to_owned())),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(|| bad(path, "a merge is neither `\"a b\"` nor `[\"a\", \"b\"]`"))?;

    let byte_fallback = model.get("byte_fallback").and_then(Value::as_bool).unwrap_or(false);
    let normalizer = root.get("normalizer").cloned().unwrap_or(Value::Null);
    let pre = root.get("pre_tokenizer").cloned().unwrap_or(Value::Null);
    let (kind, bos) = if byte_fallback && replaces_space(&normalizer) {
        (Kind::SentencePiece(Box::new(sentencepiece(path, tokens, &merges, &user, &special, model)?)), template_bos(&root))
    } else if let Some(pre) = byte_level_pre(&pre) {
        let joined: Vec<String> = merges.iter().map(|(l, r)| format!("{l} {r}")).collect();
        let refs: Vec<&str> = joined.iter().map(String::as_str).collect();
        (Kind::ByteBpe(Box::new(ByteBpe::new(pre, tokens, &refs)?)), template_bos(&root))
    } else {
        return Err(bad(path, "neither a byte-level BPE nor a SentencePiece-style BPE (byte_fallback with a `▁` normalizer)"));
    };
    let mut tok = Tokenizer {
        kind,
        bos: None,
        eos: None,
        pad: None,
        add_bos: false,
        source: path.display().to_string(),
    };
    if let Some(bos) = bos {
        if bos as usize >= tok.vocab_size() {
            return Err(bad(path, format!("the post-processor puts token {bos} first, outside the vocabulary of {}", tok.vocab_size())));
        }
        tok.bos = Some(bos);
        tok.add_bos = true;
    }
    Ok(tok)
}

/// Whether the normalizer (or one in a `Sequence`) replaces `" "` with `▁`.
fn replaces_space(n: &Value) -> bool {
    match ty(n) {
        "Replace" => {
            n.pointer("/pattern/String").and_then(Value::as_str) == Some(" ")
                && n.get("content").and_then(Value::as_str) == Some(&SPACE.to_string())
        }
        "Sequence" => n.get("normalizers").and_then(Value::as_array).is_some_and(|v| v.iter().any(replaces_space)),
        _ => false,
    }
}

/// The pre-tokenizer of a byte-level BPE, recognised from its JSON.
fn byte_level_pre(p: &Value) -> Option<PreTokenizer> {
    let byte_level = |v: &Value| ty(v) == "ByteLevel" && !v.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(false);
    match ty(p) {
        "ByteLevel" if byte_level(p) => Some(PreTokenizer::Gpt2),
        "Sequence" => {
            let items = p.get("pretokenizers").and_then(Value::as_array)?;
            match items.as_slice() {
                [d, b] if ty(d) == "Digits" && d.get("individual_digits").and_then(Value::as_bool) == Some(true) && byte_level(b) => {
                    Some(PreTokenizer::SmolLm)
                }
                [s, b] if ty(s) == "Split" && byte_level(b) => {
                    let pattern = s.pointer("/pattern/Regex").and_then(Value::as_str)?;
                    pattern.contains(r"\p{N}{1,3}").then_some(PreTokenizer::Llama3)
                }
                [b] if byte_level(b) => Some(PreTokenizer::Gpt2),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The id of the special token a `TemplateProcessing` puts before a single sequence, if any.
fn template_bos(root: &Value) -> Option<u32> {
    let post = root.get("post_processor")?;
    let post = match ty(post) {
        "TemplateProcessing" => post,
        "Sequence" => post.get("processors")?.as_array()?.iter().find(|p| ty(p) == "TemplateProcessing")?,
        _ => return None,
    };
    let first = post.get("single")?.as_array()?.first()?;
    let name = first.pointer("/SpecialToken/id")?.as_str()?;
    let ids = post.pointer("/special_tokens")?.get(name)?.get("ids")?.as_array()?;
    match ids.as_slice() {
        [id] => id.as_u64().map(|x| x as u32),
        _ => None,
    }
}

fn sentencepiece(
    path: &Path,
    tokens: Vec<String>,
    merges: &[(String, String)],
    user: &[u32],
    special: &[u32],
    model: &Value,
) -> Result<Spm> {
    let (ranked, unk) = {
        let ids: HashMap<&str, u32> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i as u32)).collect();
        let mut ranked = HashMap::with_capacity(merges.len());
        for (rank, (l, r)) in merges.iter().enumerate() {
            let (Some(&li), Some(&ri), Some(&mi)) = (ids.get(l.as_str()), ids.get(r.as_str()), ids.get(format!("{l}{r}").as_str()))
            else {
                return Err(bad(path, format!("merge #{rank} `{l} {r}` uses pieces missing from the vocabulary")));
            };
            ranked.entry((li, ri)).or_insert((rank as u32, mi));
        }
        (ranked, model.get("unk_token").and_then(Value::as_str).and_then(|u| ids.get(u).copied()))
    };
    let spm = Spm::new(tokens, user, special, MergeOrder::Ranked(ranked), unk);
    if spm.byte_tokens() < 256 {
        return Err(bad(path, format!("byte_fallback is set but only {} of 256 `<0xNN>` tokens exist", spm.byte_tokens())));
    }
    Ok(spm)
}
