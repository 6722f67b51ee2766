//! SentencePiece-style tokenization (Gemma): spaces become `▁`, user-defined pieces (runs of
//! spaces, newlines and tabs, a few HTML tags) are matched whole first, the rest of the text starts
//! as one symbol per character and adjacent symbols are merged best-first, and a character the
//! vocabulary lacks falls back to its UTF-8 bytes (`<0xNN>` tokens).
//!
//! The merge order comes either from the piece scores of a GGUF vocabulary (`tokenizer.ggml.model =
//! llama`: the pair whose merged piece has the highest score first, as SentencePiece's BPE does) or
//! from the ranked merges of a `tokenizer.json` (lowest rank first). Ties go to the leftmost pair.
//! Control tokens (`<bos>`, `<start_of_turn>`, ...) are never produced from text: a note that
//! contains `<start_of_turn>` is tokenized as plain characters. This module never reads files.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// The character SentencePiece writes for a space.
pub const SPACE: char = '\u{2581}';

/// How adjacent symbols are chosen for merging.
pub enum MergeOrder {
    /// A pair merges when the concatenated piece is in the vocabulary and `mergeable`; the piece
    /// with the highest score goes first.
    Scores { scores: Vec<f32>, mergeable: Vec<bool> },
    /// `(left id, right id) -> (rank, merged id)`; the lowest rank goes first.
    Ranked(HashMap<(u32, u32), (u32, u32)>),
}

/// A SentencePiece vocabulary with its merge order.
pub struct Spm {
    pub tokens: Vec<String>,
    pub ids: HashMap<String, u32>,
    order: MergeOrder,
    byte_ids: [Option<u32>; 256],
    /// The byte each `<0xNN>` id stands for.
    byte_of: HashMap<u32, u8>,
    /// Pieces matched whole before merging, keyed by first character, longest first.
    user: HashMap<char, Vec<(String, u32)>>,
    /// Ids that decode to nothing (control tokens).
    control: Vec<bool>,
    pub unk: Option<u32>,
    pub add_space_prefix: bool,
}

/// A candidate merge in the queue: best `key` first, then the leftmost.
struct Candidate {
    key: f64,
    left: usize,
    right: usize,
    /// Byte length of the merged span when queued (stale entries are skipped).
    len: usize,
    id: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.total_cmp(&other.key).then_with(|| other.left.cmp(&self.left))
    }
}

struct Symbol {
    start: usize,
    end: usize,
    prev: Option<usize>,
    next: Option<usize>,
    id: Option<u32>,
}

impl Spm {
    /// `tokens` in id order (spaces may be written as ` ` or `▁`; they are stored as `▁`), the
    /// user-defined and control ids, and the merge order.
    pub fn new(tokens: Vec<String>, user_defined: &[u32], control: &[u32], order: MergeOrder, unk: Option<u32>) -> Spm {
        let tokens: Vec<String> = tokens.into_iter().map(|t| t.replace(' ', &SPACE.to_string())).collect();
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            ids.entry(t.clone()).or_insert(i as u32);
        }
        let mut byte_ids = [None; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = ids.get(&format!("<0x{b:02X}>")).copied();
        }
        let byte_of = byte_ids.iter().enumerate().filter_map(|(b, id)| id.map(|id| (id, b as u8))).collect();
        let mut user: HashMap<char, Vec<(String, u32)>> = HashMap::new();
        for &id in user_defined {
            if let Some(t) = tokens.get(id as usize) {
                if let Some(c) = t.chars().next() {
                    user.entry(c).or_default().push((t.clone(), id));
                }
            }
        }
        for list in user.values_mut() {
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        }
        let mut is_control = vec![false; tokens.len()];
        for &id in control {
            if let Some(c) = is_control.get_mut(id as usize) {
                *c = true;
            }
        }
        Spm { tokens, ids, order, byte_ids, byte_of, user, control: is_control, unk, add_space_prefix: false }
    }

    /// One past the largest id [`Spm::encode`] can produce (control tokens are never produced).
    pub fn producible_ids(&self) -> usize {
        self.control.iter().rposition(|c| !c).map_or(0, |i| i + 1)
    }

    /// How many of the 256 byte-fallback tokens the vocabulary has.
    pub fn byte_tokens(&self) -> usize {
        self.byte_ids.iter().filter(|b| b.is_some()).count()
    }

    /// Token ids of `text` (no BOS added).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut norm = String::with_capacity(text.len() + 3);
        if self.add_space_prefix && !text.is_empty() {
            norm.push(SPACE);
        }
        norm.extend(text.chars().map(|c| if c == ' ' { SPACE } else { c }));
        let mut out = Vec::with_capacity(norm.len() / 3 + 1);
        let mut start = 0;
        let mut pos = 0;
        while pos < norm.len() {
            let rest = &norm[pos..];
            let c = rest.chars().next().unwrap_or(' ');
            let hit = self.user.get(&c).and_then(|list| list.iter().find(|(t, _)| rest.starts_with(t.as_str())));
            match hit {
                Some((t, id)) => {
                    self.merge_fragment(&norm[start..pos], &mut out);
                    out.push(*id);
                    pos += t.len();
                    start = pos;
                }
                None => pos += c.len_utf8(),
            }
        }
        self.merge_fragment(&norm[start..], &mut out);
        out
    }

    fn candidate(&self, text: &str, syms: &[Symbol], left: usize, right: usize) -> Option<Candidate> {
        let (l, r) = (&syms[left], &syms[right]);
        let (key, id) = match &self.order {
            MergeOrder::Scores { scores, mergeable } => {
                let id = *self.ids.get(&text[l.start..r.end])?;
                if !mergeable.get(id as usize).copied().unwrap_or(false) {
                    return None;
                }
                (scores.get(id as usize).copied().unwrap_or(f32::MIN) as f64, id)
            }
            MergeOrder::Ranked(merges) => {
                let &(rank, id) = merges.get(&(l.id?, r.id?))?;
                (-(rank as f64), id)
            }
        };
        Some(Candidate { key, left, right, len: r.end - l.start, id })
    }

    fn merge_fragment(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut syms: Vec<Symbol> = Vec::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            let n = syms.len();
            let end = i + c.len_utf8();
            syms.push(Symbol {
                start: i,
                end,
                prev: n.checked_sub(1),
                next: None,
                id: self.ids.get(&text[i..end]).copied(),
            });
            if n > 0 {
                syms[n - 1].next = Some(n);
            }
        }
        let mut queue = BinaryHeap::new();
        for i in 1..syms.len() {
            if let Some(c) = self.candidate(text, &syms, i - 1, i) {
                queue.push(c);
            }
        }
        while let Some(c) = queue.pop() {
            let (l, r) = (&syms[c.left], &syms[c.right]);
            // Skip stale entries: either side already merged away or grown since queued.
            if l.end == l.start || r.end == r.start || l.next != Some(c.right) || r.end - l.start != c.len {
                continue;
            }
            let (r_end, r_next) = (r.end, r.next);
            syms[c.left].end = r_end;
            syms[c.left].next = r_next;
            syms[c.left].id = Some(c.id);
            syms[c.right].start = syms[c.right].end;
            if let Some(n) = r_next {
                syms[n].prev = Some(c.left);
            }
            if let Some(p) = syms[c.left].prev {
                if let Some(cand) = self.candidate(text, &syms, p, c.left) {
                    queue.push(cand);
                }
            }
            if let Some(n) = r_next {
                if let Some(cand) = self.candidate(text, &syms, c.left, n) {
                    queue.push(cand);
                }
            }
        }
        let mut at = Some(0);
        while let Some(i) = at {
            let s = &syms[i];
            match s.id {
                Some(id) => out.push(id),
                None => {
                    for b in text[s.start..s.end].bytes() {
                        if let Some(id) = self.byte_ids[b as usize].or(self.unk) {
                            out.push(id);
                        }
                    }
                }
            }
            at = s.next;
        }
    }

    /// The text of `ids`: `▁` back to spaces, byte tokens back to bytes, control tokens dropped,
    /// invalid UTF-8 replaced.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if let Some(&b) = self.byte_of.get(&id) {
                bytes.push(b);
                continue;
            }
            if self.control.get(id as usize).copied().unwrap_or(true) {
                continue;
            }
            if let Some(t) = self.tokens.get(id as usize) {
                for c in t.chars() {
                    if c == SPACE {
                        bytes.push(b' ');
                    } else {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match text.strip_prefix(' ') {
            Some(rest) if self.add_space_prefix => rest.to_owned(),
            _ => text,
        }
    }
}
