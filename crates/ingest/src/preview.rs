//! A quick look at a source before importing it: detected format, delimiter and encoding, the
//! columns, the first rows, and the guessed role of each column. Reads only the start of a file
//! (the encoding is judged on the first MiB; the import checks the whole file).

use crate::encoding::{Encoding, Sniffer};
use crate::folder::{discover, read_note};
use crate::jsonl::{display, JsonlSource};
use crate::table::{first_line, header_names, open_reader, sniff_delimiter};
use crate::{roles, ColumnMapping, Format, IngestError, ImportOptions};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What a preview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub format: Format,
    pub delimiter: Option<char>,
    pub encoding: Encoding,
    pub columns: Vec<String>,
    /// The first rows, one value per column (long values cut to 300 characters).
    pub rows: Vec<Vec<String>>,
    /// Guessed roles (or, where the options name columns, those).
    pub roles: ColumnMapping,
    /// Text folders: the subfolders that hold notes (choices for the text subfolder).
    pub text_subfolders: Vec<String>,
    pub warnings: Vec<String>,
}

const SAMPLE_ROWS: usize = 50;
const CUT: usize = 300;

fn cut(s: &str) -> String {
    match s.char_indices().nth(CUT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Encoding judged on the first MiB of a file.
pub(crate) fn sniff_head(path: &Path) -> Result<Encoding, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut head = Vec::new();
    file.take(1 << 20).read_to_end(&mut head).map_err(|e| IngestError::io(path, e))?;
    let mut s = Sniffer::new();
    // A multi-byte character cut at the 1 MiB mark is not an encoding error.
    let valid = match std::str::from_utf8(&head) {
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        _ => head.len(),
    };
    s.feed(&head[..valid]);
    s.finish()
        .map(|(e, _)| e)
        .map_err(|source| IngestError::Encoding { path: path.display().to_string(), source })
}

/// Header and first `n` rows of a CSV/TSV file (rows as read, ragged ones included).
pub(crate) fn sample_table(path: &Path, encoding: Encoding, delimiter: u8, n: usize) -> Result<(Vec<String>, Vec<Vec<String>>), IngestError> {
    let mut reader = open_reader(path, encoding, delimiter)?;
    let mut records = reader.records();
    let header = match records.next() {
        Some(r) => header_names(&r.map_err(|e| IngestError::csv(path, e))?),
        None => return Err(IngestError::Empty { path: path.display().to_string() }),
    };
    let mut rows = Vec::new();
    for r in records.take(n) {
        let r = r.map_err(|e| IngestError::csv(path, e))?;
        rows.push(r.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

/// Keys (in order of first appearance) and values of the first `n` objects of a JSONL file.
pub(crate) fn sample_jsonl(path: &Path, encoding: Encoding, n: usize) -> Result<(Vec<String>, Vec<Vec<String>>), IngestError> {
    let mut src = JsonlSource::open(path, encoding, ColumnMapping::default())?;
    let mut objects = Vec::new();
    while objects.len() < n {
        match src.next_object()? {
            Some((_, Ok(obj))) => objects.push(obj),
            Some((_, Err(_))) => continue,
            None => break,
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for obj in &objects {
        for k in obj.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let rows = objects.iter().map(|o| keys.iter().map(|k| o.get(k).map(display).unwrap_or_default()).collect()).collect();
    Ok((keys, rows))
}

/// The delimiter for a table format: TSV is a tab, CSV is sniffed from the header line.
pub(crate) fn table_delimiter(path: &Path, format: Format, encoding: Encoding) -> Result<u8, IngestError> {
    Ok(match format {
        Format::Tsv => b'\t',
        _ => sniff_delimiter(&first_line(path, encoding)?),
    })
}

/// Fills the roles the user did not name: all guessed when the mapping is empty, else as given.
pub(crate) fn effective_mapping(given: &ColumnMapping, columns: &[String], sample: &[Vec<String>]) -> ColumnMapping {
    if given.is_empty() {
        roles::guess(columns, sample)
    } else {
        given.clone()
    }
}

/// Previews `path` with the given options (format, mapping, text subfolder).
pub fn preview(path: &Path, opts: &ImportOptions, rows: usize) -> Result<Preview, IngestError> {
    let format = opts.format.unwrap_or_else(|| Format::detect(path));
    let mut warnings = Vec::new();
    if format == Format::TextFolder {
        let layout = discover(path, opts.text_subfolder.as_deref(), opts.labels_file.as_deref())?;
        let columns: Vec<String> = ["file", "split", "text"].iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let mut encoding = Encoding::Utf8;
        'parts: for part in &layout.parts {
            for f in &part.files {
                if out.len() >= rows {
                    break 'parts;
                }
                let text = match read_note(f)? {
                    Ok((t, recoded)) => {
                        if recoded {
                            encoding = Encoding::Windows1252;
                        }
                        t
                    }
                    Err(m) => m,
                };
                let split = part.split.map(|s| s.as_str()).unwrap_or("(assigned)");
                out.push(vec![f.strip_prefix(path).unwrap_or(f).display().to_string(), split.to_owned(), cut(&text)]);
            }
        }
        warnings.extend(layout.notes.iter().cloned());
        for part in &layout.parts {
            match &part.labels_file {
                Some(l) => warnings.push(format!("labels of {} from {}", part.text_dir.display(), l.display())),
                None => warnings.push(format!("no labels file found for {}", part.text_dir.display())),
            }
        }
        let roles = ColumnMapping { text: Some("text".into()), labels: vec!["labels".into()], external_id: Some("file".into()), split: Some("split".into()), patient_id: None };
        return Ok(Preview { format, delimiter: None, encoding, columns, rows: out, roles, text_subfolders: layout.text_subfolders, warnings });
    }
    let encoding = sniff_head(path)?;
    if encoding == Encoding::Windows1252 {
        warnings.push("the file is not UTF-8; it will be read as Windows-1252 (Latin-1)".to_owned());
    }
    let (delimiter, (columns, sample)) = match format {
        Format::Jsonl => (None, sample_jsonl(path, encoding, SAMPLE_ROWS.max(rows))?),
        _ => {
            let d = table_delimiter(path, format, encoding)?;
            (Some(d as char), sample_table(path, encoding, d, SAMPLE_ROWS.max(rows))?)
        }
    };
    let roles = effective_mapping(&opts.mapping, &columns, &sample);
    if roles.text.is_none() {
        warnings.push("no column looks like the note text; name it with --text-column".to_owned());
    }
    let rows = sample.iter().take(rows).map(|r| r.iter().map(|v| cut(v)).collect()).collect();
    Ok(Preview { format, delimiter, encoding, columns, rows, roles, text_subfolders: Vec::new(), warnings })
}
