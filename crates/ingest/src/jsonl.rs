//! JSON Lines files: one JSON object per line. Keys play the role of columns; label values may be
//! strings, numbers or arrays of them. Blank lines are skipped; a line that is not a JSON object
//! is a row error with its line number.

use crate::encoding::{Decoder, Encoding};
use crate::source::{Item, Source, SourceRow};
use crate::{ColumnMapping, IngestError, RowError};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A scalar as text: strings as is, numbers and booleans printed, null and empty as none.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Looks a key up exactly, then ignoring case.
fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A value shown in a preview table.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line: a JSON object, or why it is not one.
pub(crate) type ParsedLine = Result<Map<String, Value>, String>;

pub(crate) struct JsonlSource {
    reader: BufReader<Decoder<BufReader<File>>>,
    path: PathBuf,
    mapping: ColumnMapping,
    line: u64,
    buf: String,
    done: u64,
}

impl JsonlSource {
    pub fn open(path: &Path, encoding: Encoding, mapping: ColumnMapping) -> Result<JsonlSource, IngestError> {
        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let reader = BufReader::with_capacity(1 << 18, Decoder::new(BufReader::with_capacity(1 << 18, file), encoding));
        Ok(JsonlSource { reader, path: path.to_owned(), mapping, line: 0, buf: String::new(), done: 0 })
    }

    /// The next non-blank line parsed as JSON: `(line, Ok(object) | Err(message))`.
    pub fn next_object(&mut self) -> Result<Option<(u64, ParsedLine)>, IngestError> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| IngestError::io(&self.path, e))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            self.done += n as u64;
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(obj)) => Ok(obj),
                Ok(_) => Err("expected a JSON object {...} on this line".to_owned()),
                Err(e) => Err(format!("invalid JSON: {e}")),
            };
            return Ok(Some((self.line, parsed)));
        }
    }
}

impl Source for JsonlSource {
    fn next_item(&mut self) -> Result<Option<Item>, IngestError> {
        let Some((line, parsed)) = self.next_object()? else { return Ok(None) };
        let obj = match parsed {
            Ok(obj) => obj,
            Err(message) => return Ok(Some(Item::Bad(RowError::new(None, line, message)))),
        };
        let field = |key: &Option<String>| key.as_deref().and_then(|k| get(&obj, k)).and_then(scalar);
        let mut labels = Vec::new();
        for key in &self.mapping.labels {
            match get(&obj, key) {
                Some(Value::Array(items)) => labels.extend(items.iter().filter_map(scalar)),
                Some(v) => labels.extend(scalar(v)),
                None => {}
            }
        }
        if let Some(v) = self.mapping.text.as_deref().and_then(|k| get(&obj, k)) {
            if !matches!(v, Value::String(_) | Value::Null) {
                return Ok(Some(Item::Bad(RowError::new(None, line, format!("the text field is not a string: {}", display(v))))));
            }
        }
        Ok(Some(Item::Row(SourceRow {
            file: None,
            line,
            text: field(&self.mapping.text),
            labels,
            patient_id: field(&self.mapping.patient_id),
            external_id: field(&self.mapping.external_id),
            split: field(&self.mapping.split),
        })))
    }

    fn done(&self) -> u64 {
        self.done
    }
}
