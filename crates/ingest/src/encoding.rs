//! Text encodings of input files: UTF-8 (with or without BOM) is read as is; a file that is not
//! valid UTF-8 but looks like 8-bit text is decoded as Windows-1252 (a superset of Latin-1 for
//! printable text) with a warning; anything else (UTF-16, binary) is refused.
//!
//! The first pass over a file ([`scan`]) computes its SHA-256 and decides the encoding without
//! holding the file in memory; [`Decoder`] then turns the bytes into UTF-8 while streaming.

use sha2::{Digest, Sha256};
use std::io::{self, BufRead, Read};

/// How a file's bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Not UTF-8: decoded as Windows-1252 (bytes 0x80-0x9F as in cp1252, the rest as Latin-1).
    Windows1252,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

/// Why a file's encoding is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// A UTF-16 or UTF-32 byte-order mark.
    #[error("the file is UTF-16/UTF-32 encoded; save it as UTF-8 and import again")]
    Utf16,
    /// NUL or other control bytes: not a text file.
    #[error("the file is not text (it contains NUL or control bytes near byte {offset})")]
    Binary { offset: u64 },
}

/// What the first pass learned about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub size: u64,
    /// Lower-case hex SHA-256 of the raw bytes.
    pub sha256: String,
    pub encoding: Encoding,
    pub bom: bool,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Incremental encoding check: feeds chunks, remembers whether all of it is UTF-8.
#[derive(Debug, Default)]
pub(crate) struct Sniffer {
    offset: u64,
    /// Bytes of an incomplete UTF-8 sequence at the end of the last chunk.
    carry: Vec<u8>,
    utf8: bool,
    /// The first bytes, for byte-order marks.
    head: Vec<u8>,
    bom: bool,
    binary_at: Option<u64>,
    utf16: bool,
}

impl Sniffer {
    pub fn new() -> Self {
        Sniffer { utf8: true, ..Default::default() }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.head.len() < 3 {
            let take = (3 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            self.bom = self.head.starts_with(&[0xEF, 0xBB, 0xBF]);
            self.utf16 = self.head.starts_with(&[0xFF, 0xFE]) || self.head.starts_with(&[0xFE, 0xFF]);
        }
        if self.binary_at.is_none() {
            if let Some(i) = chunk.iter().position(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))) {
                self.binary_at = Some(self.offset + i as u64);
            }
        }
        self.offset += chunk.len() as u64;
        if !self.utf8 {
            return;
        }
        let mut buf;
        let data: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            buf = std::mem::take(&mut self.carry);
            buf.extend_from_slice(chunk);
            &buf[..]
        };
        match std::str::from_utf8(data) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => self.carry = data[e.valid_up_to()..].to_vec(),
            Err(_) => self.utf8 = false,
        }
    }

    pub fn finish(self) -> Result<(Encoding, bool), EncodingError> {
        if self.utf16 {
            return Err(EncodingError::Utf16);
        }
        if let Some(offset) = self.binary_at {
            return Err(EncodingError::Binary { offset });
        }
        let utf8 = self.utf8 && self.carry.is_empty();
        Ok((if utf8 { Encoding::Utf8 } else { Encoding::Windows1252 }, self.bom))
    }
}

/// Reads `reader` to the end: size, SHA-256 and encoding. `on_bytes` is called with the running
/// byte count after each chunk (progress).
pub fn scan(mut reader: impl Read, mut on_bytes: impl FnMut(u64)) -> io::Result<Result<Scan, EncodingError>> {
    let mut hasher = Sha256::new();
    let mut sniffer = Sniffer::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        sniffer.feed(&buf[..n]);
        size += n as u64;
        on_bytes(size);
    }
    let sha256 = hex(&hasher.finalize());
    Ok(sniffer.finish().map(|(encoding, bom)| Scan { size, sha256, encoding, bom }))
}

/// Decodes bytes of `encoding` into UTF-8 on the fly, dropping a leading UTF-8 BOM.
pub struct Decoder<R> {
    inner: R,
    encoding: Encoding,
    at_start: bool,
    /// Decoded bytes not yet handed out (Windows-1252 expands up to 3x).
    pending: Vec<u8>,
    pending_at: usize,
}

/// Windows-1252 bytes 0x80..=0x9F; undefined ones map to the C1 control of the same value.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}', '\u{2030}',
    '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}',
    '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}',
    '\u{017E}', '\u{0178}',
];

/// The character a Windows-1252 byte stands for.
pub fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// Decodes a whole Windows-1252 byte string.
pub fn decode_cp1252(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| cp1252_char(b)).collect()
}

impl<R: BufRead> Decoder<R> {
    pub fn new(inner: R, encoding: Encoding) -> Self {
        Decoder { inner, encoding, at_start: true, pending: Vec::new(), pending_at: 0 }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at_start {
            self.at_start = false;
            let head = self.inner.fill_buf()?;
            if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.inner.consume(3);
            }
        }
        match self.encoding {
            Encoding::Utf8 => self.inner.read(out),
            Encoding::Windows1252 => {
                if self.pending_at >= self.pending.len() {
                    self.pending.clear();
                    self.pending_at = 0;
                    let chunk = self.inner.fill_buf()?;
                    if chunk.is_empty() {
                        return Ok(0);
                    }
                    let n = chunk.len().min(out.len().max(1));
                    let mut tmp = [0u8; 4];
                    for &b in &chunk[..n] {
                        if b < 0x80 {
                            self.pending.push(b);
                        } else {
                            self.pending.extend_from_slice(cp1252_char(b).encode_utf8(&mut tmp).as_bytes());
                        }
                    }
                    self.inner.consume(n);
                }
                let n = (self.pending.len() - self.pending_at).min(out.len());
                out[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expected: Result<(Encoding, &str), EncodingError>) {
        // Feed in 1-byte chunks too, so that split UTF-8 sequences are exercised.
        for chunk in [bytes.len().max(1), 1] {
            let mut s = Sniffer::new();
            for c in bytes.chunks(chunk) {
                s.feed(c);
            }
            let got = s.finish().map(|(e, _)| e);
            let want = expected.clone().map(|(e, _)| e);
            assert_eq!(got, want, "{bytes:?} in chunks of {chunk}");
        }
        if let Ok((encoding, text)) = expected {
            let mut out = String::new();
            Decoder::new(bytes, encoding).read_to_string(&mut out).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn encodings() {
        check(b"a,b\n1,2\n", Ok((Encoding::Utf8, "a,b\n1,2\n")));
        check("\u{FEFF}caf\u{e9}\n".as_bytes(), Ok((Encoding::Utf8, "caf\u{e9}\n")));
        check("na\u{ef}ve \u{1F600}".as_bytes(), Ok((Encoding::Utf8, "na\u{ef}ve \u{1F600}")));
        check(b"caf\xe9 \x80 \x93x\x94", Ok((Encoding::Windows1252, "caf\u{e9} \u{20AC} \u{201C}x\u{201D}")));
        // A UTF-8 sequence cut off at the end of the file is not UTF-8.
        check(b"abc\xc3", Ok((Encoding::Windows1252, "abc\u{c3}")));
        // Negative rows: UTF-16 and binary are refused.
        check(b"\xff\xfea\x00b\x00", Err(EncodingError::Utf16));
        check(b"abc\x00def", Err(EncodingError::Binary { offset: 3 }));
        check(b"PK\x03\x04zip", Err(EncodingError::Binary { offset: 2 }));
    }
}
