//! Byte-level BPE tokenizers built from GGUF metadata (`tokenizer.ggml.*`), with the pre-tokenizer
//! the model was trained with. Supported pre-tokenizers: `smollm` (SmolLM2: every digit its own
//! piece, then the GPT-2 split, no prefix space), `gpt2` and `llama-bpe` (Llama 3). SentencePiece
//! vocabularies (Gemma) are refused with a clear error. This module never adds a prefix space and
//! never interprets control tokens written inside user text (a note that contains `<|im_start|>`
//! is tokenized as plain text).

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
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

/// A byte-level BPE tokenizer.
pub struct Tokenizer {
    pre: PreTokenizer,
    split: Regex,
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    /// (left id, right id) -> (rank, merged id)
    merges: HashMap<(u32, u32), (u32, u32)>,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
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

impl Tokenizer {
    /// Builds a tokenizer from a vocabulary (id order) and merges (`"left right"`, rank order).
    pub fn from_vocab(pre: PreTokenizer, tokens: Vec<String>, merges: &[&str]) -> Result<Tokenizer> {
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
        Ok(Tokenizer { pre, split, tokens, ids, merges: merge_table, byte_to_char, char_to_byte, bos: None, eos: None, pad: None })
    }

    /// Builds the tokenizer embedded in a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer> {
        let model = file.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(ModelError::Tokenizer(format!(
                "tokenizer model `{model}` is not supported (only byte-level BPE `gpt2`; SentencePiece vocabularies such as Gemma's are not yet)"
            )));
        }
        let pre_name = file.string("tokenizer.ggml.pre").unwrap_or("default");
        let pre = PreTokenizer::from_gguf_name(pre_name)
            .ok_or_else(|| ModelError::Tokenizer(format!("pre-tokenizer `{pre_name}` is not supported (smollm, gpt2, llama-bpe)")))?;
        let tokens: Vec<String> = file.strings("tokenizer.ggml.tokens")?.into_iter().map(str::to_owned).collect();
        let merges = file.strings("tokenizer.ggml.merges")?;
        let mut tok = Tokenizer::from_vocab(pre, tokens, &merges)?;
        let id = |key: &str| file.usize(key).ok().map(|x| x as u32).filter(|&x| (x as usize) < tok_len(file));
        tok.bos = id("tokenizer.ggml.bos_token_id");
        tok.eos = id("tokenizer.ggml.eos_token_id");
        tok.pad = id("tokenizer.ggml.padding_token_id");
        Ok(tok)
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
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

fn tok_len(file: &GgufFile) -> usize {
    file.strings("tokenizer.ggml.tokens").map(|t| t.len()).unwrap_or(0)
}
