//! The one span type shared by every LocalDx crate.
//!
//! # Invariant
//! A [`Span`] is a half-open range `start..end` of **byte** offsets into one UTF-8 string, with
//! `start <= end`, and both offsets on `char` boundaries of that string. Byte offsets are what the
//! engine stores and slices with; the UI and the JSON interfaces speak **char** offsets (Unicode
//! scalar values, the unit of Python's `str` and of most annotation tools), which are derived with
//! a [`CharIndex`] built once per text, never stored beside the byte offsets.
//!
//! This crate never allocates per span and never panics on offsets that come from outside: those
//! go through [`Span::checked`].

use serde::{Deserialize, Serialize};

/// A half-open byte range `start..end` into a UTF-8 text (see the crate invariant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Why offsets from outside do not form a [`Span`] of a given text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanError {
    /// `start > end`.
    Reversed { start: usize, end: usize },
    /// `end` lies past the end of the text.
    OutOfBounds { end: usize, len: usize },
    /// An offset falls inside a multi-byte character.
    NotCharBoundary { offset: usize },
}

impl std::fmt::Display for SpanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpanError::Reversed { start, end } => write!(f, "span start {start} is after its end {end}"),
            SpanError::OutOfBounds { end, len } => write!(f, "span end {end} is past the text's {len} bytes"),
            SpanError::NotCharBoundary { offset } => write!(f, "offset {offset} splits a UTF-8 character"),
        }
    }
}

impl std::error::Error for SpanError {}

impl Span {
    /// A span from offsets the caller already knows to be valid for its text.
    ///
    /// Debug builds assert `start <= end`; use [`Span::checked`] for offsets from outside.
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "span {start}..{end} is reversed");
        Span { start, end }
    }

    /// A span validated against `text`: ordered, in bounds, on char boundaries.
    pub fn checked(text: &str, start: usize, end: usize) -> Result<Self, SpanError> {
        if start > end {
            return Err(SpanError::Reversed { start, end });
        }
        if end > text.len() {
            return Err(SpanError::OutOfBounds { end, len: text.len() });
        }
        for offset in [start, end] {
            if !text.is_char_boundary(offset) {
                return Err(SpanError::NotCharBoundary { offset });
            }
        }
        Ok(Span { start, end })
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The text the span covers. Panics only if the invariant was broken by the caller.
    pub fn slice<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }

    /// True when the two spans share at least one byte.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The smallest span covering both.
    pub fn union(&self, other: &Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// Converts between byte and char offsets of one text in O(log n) per lookup.
///
/// Built once per text; for pure-ASCII text it stores nothing and converts for free.
#[derive(Debug, Clone)]
pub struct CharIndex {
    /// `(byte offset, char offset, width in bytes)` of every multi-byte char, in text order;
    /// empty for ASCII text. Every char between two entries is one byte wide.
    wide: Vec<(usize, usize, usize)>,
    char_len: usize,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        let mut wide = Vec::new();
        let mut char_len = 0;
        for (ci, (bi, ch)) in text.char_indices().enumerate() {
            if ch.len_utf8() > 1 {
                wide.push((bi, ci, ch.len_utf8()));
            }
            char_len = ci + 1;
        }
        CharIndex { wide, char_len }
    }

    /// Number of chars in the text.
    pub fn char_len(&self) -> usize {
        self.char_len
    }

    /// Char offset of a byte offset that lies on a char boundary (or at the end of the text).
    pub fn char_of_byte(&self, byte: usize) -> usize {
        match self.wide.partition_point(|&(b, _, _)| b < byte) {
            0 => byte,
            k => {
                let (b, c, w) = self.wide[k - 1];
                c + 1 + (byte - (b + w))
            }
        }
    }

    /// Byte offset of a char offset; `None` past the end of the text.
    pub fn byte_of_char(&self, ch: usize) -> Option<usize> {
        if ch > self.char_len {
            return None;
        }
        Some(match self.wide.partition_point(|&(_, c, _)| c < ch) {
            0 => ch,
            k => {
                let (b, c, w) = self.wide[k - 1];
                b + w + (ch - c - 1)
            }
        })
    }

    /// The char-offset pair of a byte span.
    pub fn char_span(&self, span: Span) -> (usize, usize) {
        (self.char_of_byte(span.start), self.char_of_byte(span.end))
    }

    /// The byte span of a char-offset pair, validated.
    pub fn byte_span(&self, start: usize, end: usize) -> Result<Span, SpanError> {
        let len = self.char_len;
        let s = self.byte_of_char(start).ok_or(SpanError::OutOfBounds { end: start, len })?;
        let e = self.byte_of_char(end).ok_or(SpanError::OutOfBounds { end, len })?;
        if s > e {
            return Err(SpanError::Reversed { start, end });
        }
        Ok(Span { start: s, end: e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) {
        let index = CharIndex::new(text);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        assert_eq!(index.char_len(), chars.len());
        for (ci, &(bi, _)) in chars.iter().enumerate() {
            assert_eq!(index.char_of_byte(bi), ci, "char_of_byte({bi}) in {text:?}");
            assert_eq!(index.byte_of_char(ci), Some(bi), "byte_of_char({ci}) in {text:?}");
        }
        assert_eq!(index.char_of_byte(text.len()), chars.len());
        assert_eq!(index.byte_of_char(chars.len()), Some(text.len()));
        assert_eq!(index.byte_of_char(chars.len() + 1), None);
    }

    #[test]
    fn char_index_round_trips() {
        for text in ["", "abc", "é", "aé", "éa", "José Núñez, 北京 b", "😀😀x😀", "a\u{301}bc"] {
            check(text);
        }
    }

    #[test]
    fn checked_rejects_bad_offsets() {
        let text = "aé";
        assert_eq!(Span::checked(text, 2, 1), Err(SpanError::Reversed { start: 2, end: 1 }));
        assert_eq!(Span::checked(text, 0, 4), Err(SpanError::OutOfBounds { end: 4, len: 3 }));
        assert_eq!(Span::checked(text, 2, 3), Err(SpanError::NotCharBoundary { offset: 2 }));
        assert_eq!(Span::checked(text, 1, 3), Ok(Span::new(1, 3)));
    }

    #[test]
    fn overlap_is_strict_about_touching_spans() {
        assert!(!Span::new(0, 2).overlaps(&Span::new(2, 4)));
        assert!(Span::new(0, 3).overlaps(&Span::new(2, 4)));
        assert!(Span::new(0, 4).contains(&Span::new(1, 2)));
    }
}
