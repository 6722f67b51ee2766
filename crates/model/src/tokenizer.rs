//! Tokenizers built from GGUF metadata (`tokenizer.ggml.*`) or from a `tokenizer.json` beside the
//! model file, which wins when present ([`Tokenizer::for_model`]). The types live here; reading a
//! `tokenizer.json`, and choosing between it and the metadata, is `tokenizer_json`'s, which builds
//! on them (this module never imports it).
//!
//! Two kinds: byte-level BPE with the pre-tokenizer the model was trained with (`smollm` for
//! SmolLM2: every digit its own piece, then the GPT-2 split, no prefix space; `gpt2`; `llama-bpe`
//! for Llama 3), and SentencePiece-style vocabularies (`tokenizer.ggml.model = llama`, Gemma:
//! [`crate::spm`]). A BOS token is added when the metadata asks for it
//! ([`Tokenizer::encode_for_model`]). This module never interprets control tokens written inside
//! user text (a note that contains `<|im_start|>` or `<start_of_turn>` is tokenized as plain text).

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::spm::{MergeOrder, Spm};
use regex::Regex;
use std::collections::HashMap;

/// How text is split into pieces before BPE merges are applied inside each piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// SmolLM2 (`tokenizer.ggml.pre = smollm`): digits one by one, then the GPT-2 pattern.
    SmolLm,
    /// The GPT-2 pattern.
    Gpt2,
    /// Llama 3 (`llama-bpe`): case-insensitive contractions, numbers in groups of up to three.
    Llama3,
}

impl PreTokenizer {
    pub fn from_gguf_name(name: &str) -> Option<PreTokenizer> {
        match name {
            "smollm" => Some(PreTokenizer::SmolLm),
            "gpt2" | "default" => Some(PreTokenizer::Gpt2),
            "llama-bpe" | "llama3" => Some(PreTokenizer::Llama3),
            _ => None,
        }
    }

    fn pattern(self) -> &'static str {
        // The trailing `\s+(?!\S)` of the reference patterns needs look-ahead, which the regex crate
        // lacks; `split_pieces` emulates it on the plain `\s+` alternative.
        match self {
            PreTokenizer::SmolLm | PreTokenizer::Gpt2 => r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+",
            PreTokenizer::Llama3 => {
                r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+"
            }
        }
    }
}

/// A byte-level BPE vocabulary with its pre-tokenizer.
pub struct ByteBpe {
    pre: PreTokenizer,
    split: Regex,
    pub(crate) tokens: Vec<String>,
    pub(crate) ids: HashMap<String, u32>,
    /// (left id, right id) -> (rank, merged id)
    merges: HashMap<(u32, u32), (u32, u32)>,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
}

/// GPT-2's reversible map from bytes to printable characters.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).unwrap_or('?')
        } else {
            let c = char::from_u32(256 + n).unwrap_or('?');
            n += 1;
            c
        };
    }
    table
}

impl ByteBpe {
    /// Builds a tokenizer from a vocabulary (id order) and merges (`"left right"`, rank order).
    pub fn new(pre: PreTokenizer, tokens: Vec<String>, merges: &[&str]) -> Result<ByteBpe> {
        let ids: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut merge_table = HashMap::with_capacity(merges.len());
        for (rank, m) in merges.iter().enumerate() {
            let (l, r) = m
                .split_once(' ')
                .ok_or_else(|| ModelError::Tokenizer(format!("merge #{rank} `{m}` has no space")))?;
            let (Some(&li), Some(&ri), Some(&mi)) = (ids.get(l), ids.get(r), ids.get(&format!("{l}{r}"))) else {
                return Err(ModelError::Tokenizer(format!("merge #{rank} `{m}` uses tokens missing from the vocabulary")));
            };
            merge_table.entry((li, ri)).or_insert((rank as u32, mi));
        }
        let byte_to_char = byte_chars();
        // Some vocabularies lack a few control bytes; a vocabulary without most byte tokens is
        // not byte-level BPE at all.
        let present = byte_to_char.iter().filter(|c| ids.contains_key(&c.to_string())).count();
        if present < 200 {
            return Err(ModelError::Tokenizer(format!("vocabulary has only {present} of 256 byte tokens: not a byte-level BPE")));
        }
        let char_to_byte = byte_to_char.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        let split = Regex::new(pre.pattern()).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(ByteBpe { pre, split, tokens, ids, merges: merge_table, byte_to_char, char_to_byte })
    }

    /// Splits `text` into the pieces BPE runs on.
    pub fn split_pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        match self.pre {
            PreTokenizer::SmolLm => {
                // Digits first: each digit alone, the runs between them go through the GPT-2 split.
                let mut start = 0;
                for (i, c) in text.char_indices() {
                    if c.is_numeric() {
                        if start < i {
                            self.regex_split(&text[start..i], &mut out);
                        }
                        out.push(&text[i..i + c.len_utf8()]);
                        start = i + c.len_utf8();
                    }
                }
                if start < text.len() {
                    self.regex_split(&text[start..], &mut out);
                }
            }
            _ => self.regex_split(text, &mut out),
        }
        out
    }

    fn regex_split<'t>(&self, text: &'t str, out: &mut Vec<&'t str>) {
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.split.find_at(text, pos) else { break };
            let mut end = m.end();
            let piece = m.as_str();
            // Emulate `\s+(?!\S)`: a whitespace run followed by a non-space leaves its last
            // character to the next piece (so " word" keeps its space), unless the run is one char.
            let is_space_run = piece.chars().all(char::is_whitespace);
            let ends_in_newline = self.pre == PreTokenizer::Llama3 && piece.ends_with(['\r', '\n']);
            if is_space_run && !ends_in_newline && end < text.len() && piece.chars().count() > 1 {
                let last = piece.chars().next_back().map_or(0, char::len_utf8);
                end -= last;
            }
            if m.start() > pos {
                // Unmatched text cannot happen with these patterns, but never drop input.
                out.push(&text[pos..m.start()]);
            }
            out.push(&text[m.start()..end]);
            pos = end;
        }
    }

    fn bpe(&self, piece: &str, out: &mut Vec<u32>) {
        // A byte the vocabulary lacks (a rare control byte) is dropped, as the reference does
        // without an unknown token.
        let mut word: Vec<u32> =
            piece.bytes().filter_map(|b| self.ids.get(&self.byte_to_char[b as usize].to_string()).copied()).collect();
        loop {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..word.len().saturating_sub(1) {
                if let Some(&(rank, merged)) = self.merges.get(&(word[i], word[i + 1])) {
                    if best.is_none_or(|(r, _, _)| rank < r) {
                        best = Some((rank, i, merged));
                    }
                }
            }
            let Some((_, at, merged)) = best else { break };
            // Merge every occurrence of the best pair, left to right.
            let (l, r) = (word[at], word[at + 1]);
            let mut next = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == l && word[i + 1] == r {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(word[i]);
                    i += 1;
                }
            }
            word = next;
        }
        out.extend(word);
    }

    /// Token ids of `text` (no BOS/EOS added).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        for piece in self.split_pieces(text) {
            self.bpe(piece, &mut out);
        }
        out
    }

    /// The text of `ids`; invalid UTF-8 (a token sequence cut inside a character) is replaced.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if let Some(tok) = self.tokens.get(id as usize) {
                for c in tok.chars() {
                    match self.char_to_byte.get(&c) {
                        Some(&b) => bytes.push(b),
                        None => bytes.extend_from_slice(c.to_string().as_bytes()),
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}


/// The algorithm behind a [`Tokenizer`].
pub enum Kind {
    ByteBpe(Box<ByteBpe>),
    SentencePiece(Box<Spm>),
}

/// A tokenizer of either kind, with the model's special tokens.
pub struct Tokenizer {
    pub kind: Kind,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
    /// Whether [`Tokenizer::encode_for_model`] starts a sequence with `bos`.
    pub add_bos: bool,
    /// Where the vocabulary came from: `GGUF metadata` or the path of a `tokenizer.json`.
    pub source: String,
}

/// SentencePiece token types in GGUF (`tokenizer.ggml.token_type`).
const TYPE_NORMAL: i64 = 1;
const TYPE_USER_DEFINED: i64 = 4;
const TYPE_BYTE: i64 = 6;

/// The special-token ids a GGUF file declares, each checked to lie inside the vocabulary.
pub(crate) struct Specials {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: Option<bool>,
}

impl Specials {
    pub(crate) fn from_gguf(file: &GgufFile, vocab: usize) -> Specials {
        let id = |key: &str| file.usize(key).ok().filter(|&x| x < vocab).map(|x| x as u32);
        Specials {
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            pad: id("tokenizer.ggml.padding_token_id"),
            add_bos: file.bool("tokenizer.ggml.add_bos_token").ok(),
        }
    }
}

impl Tokenizer {
    fn wrap(kind: Kind, source: &str) -> Tokenizer {
        Tokenizer { kind, bos: None, eos: None, pad: None, add_bos: false, source: source.to_owned() }
    }

    /// A byte-level BPE tokenizer from a vocabulary (id order) and merges (`"left right"`, rank order).
    pub fn from_vocab(pre: PreTokenizer, tokens: Vec<String>, merges: &[&str]) -> Result<Tokenizer> {
        Ok(Tokenizer::wrap(Kind::ByteBpe(Box::new(ByteBpe::new(pre, tokens, merges)?)), "vocabulary"))
    }

    /// Builds the tokenizer embedded in a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer> {
        let model = file.string("tokenizer.ggml.model")?;
        let tokens: Vec<String> = file.strings("tokenizer.ggml.tokens")?.into_iter().map(str::to_owned).collect();
        let vocab = tokens.len();
        let sp = Specials::from_gguf(file, vocab);
        let (kind, default_bos) = match model {
            "gpt2" => {
                let pre_name = file.string("tokenizer.ggml.pre").unwrap_or("default");
                let pre = PreTokenizer::from_gguf_name(pre_name).ok_or_else(|| {
                    ModelError::Tokenizer(format!("pre-tokenizer `{pre_name}` is not supported (smollm, gpt2, llama-bpe)"))
                })?;
                let merges = file.strings("tokenizer.ggml.merges")?;
                (Kind::ByteBpe(Box::new(ByteBpe::new(pre, tokens, &merges)?)), false)
            }
            "llama" | "gemma" => {
                let scores = file.floats("tokenizer.ggml.scores").map_err(|e| ModelError::Tokenizer(e.to_string()))?;
                let types = file.ints("tokenizer.ggml.token_type").map_err(|e| ModelError::Tokenizer(e.to_string()))?;
                if scores.len() != vocab || types.len() != vocab {
                    return Err(ModelError::Tokenizer(format!(
                        "{vocab} tokens but {} scores and {} token types",
                        scores.len(),
                        types.len()
                    )));
                }
                let of_type = |t: i64| types.iter().enumerate().filter(|(_, &x)| x == t).map(|(i, _)| i as u32).collect::<Vec<_>>();
                let user = of_type(TYPE_USER_DEFINED);
                let control: Vec<u32> = types
                    .iter()
                    .enumerate()
                    .filter(|(_, &x)| x != TYPE_NORMAL && x != TYPE_USER_DEFINED && x != TYPE_BYTE)
                    .map(|(i, _)| i as u32)
                    .collect();
                let mergeable = types.iter().map(|&t| t == TYPE_NORMAL).collect();
                let unk = file.usize("tokenizer.ggml.unknown_token_id").ok().filter(|&x| x < vocab).map(|x| x as u32);
                let mut spm = Spm::new(tokens, &user, &control, MergeOrder::Scores { scores, mergeable }, unk);
                spm.add_space_prefix = file.bool("tokenizer.ggml.add_space_prefix").unwrap_or(true);
                if spm.byte_tokens() < 256 && unk.is_none() {
                    return Err(ModelError::Tokenizer(format!(
                        "SentencePiece vocabulary has only {} of 256 byte tokens and no unknown token",
                        spm.byte_tokens()
                    )));
                }
                (Kind::SentencePiece(Box::new(spm)), true)
            }
            other => {
                return Err(ModelError::Tokenizer(format!(
                    "tokenizer model `{other}` is not supported (byte-level BPE `gpt2`, SentencePiece `llama`)"
                )))
            }
        };
        let mut tok = Tokenizer::wrap(kind, "GGUF metadata");
        tok.bos = sp.bos;
        tok.eos = sp.eos;
        tok.pad = sp.pad;
        tok.add_bos = sp.add_bos.unwrap_or(default_bos) && sp.bos.is_some();
        Ok(tok)
    }

    pub fn vocab_size(&self) -> usize {
        match &self.kind {
            Kind::ByteBpe(b) => b.tokens.len(),
            Kind::SentencePiece(s) => s.tokens.len(),
        }
    }

    /// One past the largest id that encoding text can produce: a `tokenizer.json` may list special
    /// tokens past the model's embedding (Gemma's has `<image_soft_token>` at 262,144), which is
    /// harmless because text never turns into them.
    pub fn producible_ids(&self) -> usize {
        match &self.kind {
            Kind::ByteBpe(b) => b.tokens.len(),
            Kind::SentencePiece(s) => s.producible_ids(),
        }
    }

    /// The pre-tokenizer of a byte-level BPE tokenizer (`None` for SentencePiece).
    pub fn pre_tokenizer(&self) -> Option<PreTokenizer> {
        match &self.kind {
            Kind::ByteBpe(b) => Some(b.pre),
            Kind::SentencePiece(_) => None,
        }
    }

    pub fn is_sentencepiece(&self) -> bool {
        matches!(self.kind, Kind::SentencePiece(_))
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        let tokens = match &self.kind {
            Kind::ByteBpe(b) => &b.tokens,
            Kind::SentencePiece(s) => &s.tokens,
        };
        tokens.get(id as usize).map(String::as_str)
    }

    pub fn id(&self, token: &str) -> Option<u32> {
        match &self.kind {
            Kind::ByteBpe(b) => b.ids.get(token).copied(),
            Kind::SentencePiece(s) => s.ids.get(token).copied(),
        }
    }

    /// The pieces a byte-level BPE runs on; SentencePiece has no pre-split (the whole text).
    pub fn split_pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
        match &self.kind {
            Kind::ByteBpe(b) => b.split_pieces(text),
            Kind::SentencePiece(_) if text.is_empty() => Vec::new(),
            Kind::SentencePiece(_) => vec![text],
        }
    }

    /// Token ids of `text` (no BOS/EOS added).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match &self.kind {
            Kind::ByteBpe(b) => b.encode(text),
            Kind::SentencePiece(s) => s.encode(text),
        }
    }

    /// Token ids of `text` as the model expects them: BOS first when the metadata asks for it.
    pub fn encode_for_model(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (self.add_bos, self.bos) {
            ids.push(bos);
        }
        ids.extend(self.encode(text));
        ids
    }

    /// The text of `ids`; invalid UTF-8 (a token sequence cut inside a character) is replaced.
    pub fn decode(&self, ids: &[u32]) -> String {
        match &self.kind {
            Kind::ByteBpe(b) => b.decode(ids),
            Kind::SentencePiece(s) => s.decode(ids),
        }
    }
}
