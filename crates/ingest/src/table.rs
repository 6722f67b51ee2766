//! CSV and TSV files: a header row, then one record per row. Quoted fields may span lines; the
//! delimiter is sniffed from the header when not given; a UTF-8 BOM is dropped. Rows with the
//! wrong number of fields and quotes left open at the end of the file are reported by line.

use crate::encoding::{Decoder, Encoding};
use crate::source::{Columns, Item, Source, SourceRow};
use crate::{IngestError, RowError};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Guesses the delimiter from the first line: the most frequent of `,` `\t` `;` `|` outside quotes.
pub fn sniff_delimiter(first_line: &str) -> u8 {
    let mut counts = [0usize; 4];
    let cands = [b',', b'\t', b';', b'|'];
    let mut quoted = false;
    for b in first_line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = cands.iter().position(|c| *c == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { cands[best] }
}

/// The first line of a decoded file (for sniffing), at most 1 MiB.
pub(crate) fn first_line(path: &Path, encoding: Encoding) -> Result<String, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut reader = BufReader::new(Decoder::new(BufReader::new(file), encoding).take(1 << 20));
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| IngestError::io(path, e))?;
    Ok(line)
}

/// Opens a decoded CSV reader (no header handling: the header is the first record).
pub(crate) fn open_reader(path: &Path, encoding: Encoding, delimiter: u8) -> Result<csv::Reader<Box<dyn Read>>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let decoded: Box<dyn Read> = Box::new(Decoder::new(BufReader::with_capacity(1 << 18, file), encoding));
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 18)
        .from_reader(decoded))
}

/// Header names, trimmed; blank names become `column N`.
pub(crate) fn header_names(record: &csv::StringRecord) -> Vec<String> {
    record
        .iter()
        .enumerate()
        .map(|(i, h)| if h.trim().is_empty() { format!("column {}", i + 1) } else { h.trim().to_owned() })
        .collect()
}

/// A row with the header's field count is expected; this is the error message otherwise.
fn field_count_message(expected: usize, found: usize, first: u64, last: u64) -> String {
    let mut m = format!("expected {expected} fields, found {found}");
    if last > first {
        m.push_str(&format!(" (the row runs over lines {first}-{last}: is a quote left open?)"));
    }
    m
}

/// Streams the rows of a CSV/TSV file.
pub(crate) struct TableSource {
    reader: csv::Reader<Box<dyn Read>>,
    record: csv::StringRecord,
    /// One record of look-ahead, to know whether `record` is the last one.
    next: csv::StringRecord,
    next_valid: bool,
    primed: bool,
    width: usize,
    /// CRLF files: the reader reports a record's start before consuming the `\n` that ends the
    /// previous line, so record lines are one short.
    line_shift: u64,
    columns: Columns,
    done: u64,
    /// Path and encoding, to look back at the raw tail when the last row ends inside a quote.
    path: std::path::PathBuf,
    encoding: Encoding,
}

impl TableSource {
    /// Reads the header from `reader`; returns the source and the header names.
    pub fn open(path: &Path, encoding: Encoding, delimiter: u8) -> Result<(TableSource, Vec<String>), IngestError> {
        let mut reader = open_reader(path, encoding, delimiter)?;
        let mut record = csv::StringRecord::new();
        let has_header = reader.read_record(&mut record).map_err(|e| IngestError::csv(path, e))?;
        if !has_header {
            return Err(IngestError::Empty { path: path.display().to_string() });
        }
        let header = header_names(&record);
        let line_shift = first_line(path, encoding)?.ends_with("\r\n") as u64;
        let source = TableSource {
            reader,
            record,
            next: csv::StringRecord::new(),
            next_valid: false,
            primed: false,
            width: header.len(),
            line_shift,
            columns: Columns::default(),
            done: 0,
            path: path.to_owned(),
            encoding,
        };
        Ok((source, header))
    }

    pub fn set_columns(&mut self, columns: Columns) {
        self.columns = columns;
    }

    /// Whether the raw bytes from `start` to the end of the file hold an odd number of quotes.
    fn tail_has_open_quote(&self, start: u64) -> bool {
        let Ok(file) = File::open(&self.path) else { return false };
        let mut decoded = Decoder::new(BufReader::new(file), self.encoding);
        if std::io::copy(&mut (&mut decoded).take(start), &mut std::io::sink()).is_err() {
            return false;
        }
        let mut quotes = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match decoded.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => quotes += buf[..n].iter().filter(|b| **b == b'"').count() as u64,
            }
        }
        quotes % 2 == 1
    }
}

impl Source for TableSource {
    fn next_item(&mut self) -> Result<Option<Item>, IngestError> {
        if !self.primed {
            self.primed = true;
            self.next_valid = self.reader.read_record(&mut self.next).map_err(|e| IngestError::csv(&self.path, e))?;
        }
        loop {
            if !self.next_valid {
                return Ok(None);
            }
            std::mem::swap(&mut self.record, &mut self.next);
            self.next_valid = self.reader.read_record(&mut self.next).map_err(|e| IngestError::csv(&self.path, e))?;
            let (line, start) = self.record.position().map(|p| (p.line() + self.line_shift, p.byte())).unwrap_or((0, 0));
            let end = match (self.next_valid, self.next.position()) {
                (true, Some(p)) => p.clone(),
                _ => self.reader.position().clone(),
            };
            self.done = end.byte();
            let r = &self.record;
            // A blank line (spaces only) is not a row.
            if r.len() == 1 && r[0].trim().is_empty() && self.width > 1 {
                continue;
            }
            let at_eof = !self.next_valid;
            let last_line = (end.line() + self.line_shift).saturating_sub(1).max(line);
            if at_eof && last_line > line && self.tail_has_open_quote(start) {
                return Ok(Some(Item::Bad(RowError::new(
                    None,
                    line,
                    format!("unterminated quoted field: the quote opened in the row starting on line {line} is never closed"),
                ))));
            }
            if r.len() != self.width {
                return Ok(Some(Item::Bad(RowError::new(None, line, field_count_message(self.width, r.len(), line, last_line)))));
            }
            let get = |i: Option<usize>| i.and_then(|i| r.get(i)).map(str::to_owned);
            let row = SourceRow {
                file: None,
                line,
                text: get(self.columns.text),
                labels: self.columns.labels.iter().filter_map(|&i| r.get(i)).map(str::to_owned).collect(),
                patient_id: get(self.columns.patient_id),
                external_id: get(self.columns.external_id),
                split: get(self.columns.split),
            };
            return Ok(Some(Item::Row(row)));
        }
    }

    fn done(&self) -> u64 {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        for (line, want) in [
            ("a,b,c\n", b','),
            ("a\tb\tc\n", b'\t'),
            ("a;b;c\n", b';'),
            ("\"x,y\";b;c\n", b';'),
            ("a|b\n", b'|'),
            // Negative row: nothing to go by means comma.
            ("single\n", b','),
        ] {
            assert_eq!(sniff_delimiter(line) as char, want as char, "{line:?}");
        }
    }
}
