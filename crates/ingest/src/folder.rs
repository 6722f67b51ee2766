//! Folders of text notes with a labels table, laid out like CodiEsp:
//!
//! ```text
//! root/train/text_files_en/<doc_id>.txt     root/train/trainD.tsv   (doc_id<TAB>label per line)
//! root/dev/text_files_en/<doc_id>.txt       root/dev/devD.tsv
//! ```
//!
//! Split folders (`train`, `dev`/`validation`, `test`) become splits; without them the root is one
//! unsplit folder. The user picks the text subfolder when there are several (e.g. `text_files` in
//! Spanish and `text_files_en` in English); without a choice, the one English folder (`*_en`) is
//! taken, with a warning, and any other ambiguity is refused with the list of choices. The labels file of each split folder is
//! `--labels-file` (with `{split}` standing for the folder name) or, by default, `{split}D.tsv`,
//! `labels.tsv`, or the only `.tsv` there.

use crate::encoding::{decode_cp1252, hex};
use crate::source::{Item, Source, SourceRow};
use crate::split::parse_split_name;
use crate::{IngestError, RowError};
use localdx_store::Split;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// One folder of notes and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderPart {
    /// The split named by the folder, if any.
    pub split: Option<Split>,
    /// Name of the split folder (`train`, `dev`), empty for an unsplit root.
    pub name: String,
    pub text_dir: PathBuf,
    pub labels_file: Option<PathBuf>,
    /// The `.txt` files, sorted by name.
    pub files: Vec<PathBuf>,
}

/// What was found under a text folder.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderLayout {
    pub root: PathBuf,
    pub parts: Vec<FolderPart>,
    /// Subfolders holding `.txt` files (choices for the text subfolder).
    pub text_subfolders: Vec<String>,
    /// Total size of the text files.
    pub bytes: u64,
    /// Choices made for the user (e.g. which text subfolder), to show as warnings.
    pub notes: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |e| IngestError::io(path, e)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        out.push(entry.map_err(io(dir))?.path());
    }
    out.sort();
    Ok(out)
}

fn is_txt(p: &Path) -> bool {
    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

fn txt_files(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    Ok(sorted_entries(dir)?.into_iter().filter(|p| is_txt(p)).collect())
}

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Subfolders of `dir` that hold `.txt` files.
fn text_subdirs(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for p in sorted_entries(dir)? {
        if p.is_dir() && !txt_files(&p)?.is_empty() {
            out.push(p);
        }
    }
    Ok(out)
}

/// Finds the split folders, text folders and label files under `root`.
pub fn discover(root: &Path, text_subfolder: Option<&str>, labels_file: Option<&str>) -> Result<FolderLayout, IngestError> {
    let mut split_dirs: Vec<(Option<Split>, PathBuf)> = Vec::new();
    for p in sorted_entries(root)? {
        if p.is_dir() {
            if let Some(split) = parse_split_name(&name_of(&p)) {
                split_dirs.push((Some(split), p));
            }
        }
    }
    if split_dirs.is_empty() {
        split_dirs.push((None, root.to_owned()));
    }
    let mut subfolders: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    let mut bytes = 0;
    for (split, dir) in split_dirs {
        for sub in text_subdirs(&dir)? {
            let n = name_of(&sub);
            if !subfolders.contains(&n) {
                subfolders.push(n);
            }
        }
        let text_dir = match text_subfolder {
            Some(sub) => {
                let d = dir.join(sub);
                if !d.is_dir() {
                    return Err(IngestError::Layout(format!(
                        "{} has no subfolder {sub:?}{}",
                        dir.display(),
                        choices(&text_subdirs(&dir)?)
                    )));
                }
                d
            }
            None if !txt_files(&dir)?.is_empty() => dir.clone(),
            None => {
                let subs = text_subdirs(&dir)?;
                let english: Vec<&PathBuf> = subs.iter().filter(|p| is_english(&name_of(p))).collect();
                match subs.len() {
                    1 => subs[0].clone(),
                    0 => return Err(IngestError::Layout(format!("no .txt files under {}", dir.display()))),
                    // Several languages with exactly one English one: LocalDx's models read English.
                    _ if english.len() == 1 => {
                        let note = format!(
                            "several folders of notes{}; using {} (English); choose another with --text-subfolder",
                            choices(&subs),
                            name_of(english[0])
                        );
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                        english[0].clone()
                    }
                    _ => {
                        return Err(IngestError::Layout(format!(
                            "{} holds several folders of notes; choose one with --text-subfolder{}",
                            dir.display(),
                            choices(&subs)
                        )))
                    }
                }
            }
        };
        let files = txt_files(&text_dir)?;
        for f in &files {
            bytes += f.metadata().map_err(io(f))?.len();
        }
        let name = if split.is_some() { name_of(&dir) } else { String::new() };
        let labels = find_labels_file(&dir, &name, labels_file)?;
        parts.push(FolderPart { split, name, text_dir, labels_file: labels, files });
    }
    Ok(FolderLayout { root: root.to_owned(), parts, text_subfolders: subfolders, bytes, notes })
}

/// `text_files_en`, `notes-en`, `english`: a folder of English notes by its name.
fn is_english(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("_en") || n.ends_with("-en") || n.ends_with(".en") || n == "en" || n.contains("english")
}


fn choices(subs: &[PathBuf]) -> String {
    if subs.is_empty() {
        String::new()
    } else {
        format!(" (found: {})", subs.iter().map(|p| name_of(p)).collect::<Vec<_>>().join(", "))
    }
}

fn find_labels_file(dir: &Path, split_name: &str, given: Option<&str>) -> Result<Option<PathBuf>, IngestError> {
    if let Some(given) = given {
        let p = dir.join(given.replace("{split}", split_name));
        if !p.is_file() {
            return Err(IngestError::Layout(format!("labels file {} not found", p.display())));
        }
        return Ok(Some(p));
    }
    // `{split}D.tsv` (CodiEsp's diagnosis codes; only inside split folders), then `labels.tsv`.
    let mut candidates = Vec::new();
    if !split_name.is_empty() {
        candidates.push(dir.join(format!("{split_name}D.tsv")));
    }
    candidates.push(dir.join("labels.tsv"));
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Ok(Some(p));
    }
    let tsvs: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")))
        .collect();
    Ok(if tsvs.len() == 1 { tsvs.into_iter().next() } else { None })
}

impl FolderLayout {
    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.root).unwrap_or(p).display().to_string()
    }

    /// SHA-256 over every file read (labels files and notes), with their relative paths.
    pub fn sha256(&self) -> Result<String, IngestError> {
        let mut h = Sha256::new();
        for part in &self.parts {
            for p in part.labels_file.iter().chain(part.files.iter()) {
                let bytes = fs::read(p).map_err(io(p))?;
                h.update(self.rel(p).as_bytes());
                h.update([0]);
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
        }
        Ok(hex(&h.finalize()))
    }
}

/// Reads a note file: UTF-8 (BOM dropped), else Windows-1252; `Err` for binary content.
pub(crate) fn read_note(path: &Path) -> Result<Result<(String, bool), String>, IngestError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&bytes);
    if bytes.contains(&0) {
        return Ok(Err("not a text file (it contains NUL bytes)".to_owned()));
    }
    Ok(Ok(match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (decode_cp1252(bytes), true),
    }))
}

/// Streams the notes of a folder layout, part after part.
pub(crate) struct FolderSource {
    layout: FolderLayout,
    part: usize,
    file: usize,
    labels: HashMap<String, Vec<String>>,
    queued: VecDeque<Item>,
    started_part: bool,
    done: u64,
    pub warnings: Vec<String>,
    pub recoded_files: u64,
}

impl FolderSource {
    pub fn new(layout: FolderLayout) -> Self {
        let warnings = layout.notes.clone();
        FolderSource {
            layout,
            part: 0,
            file: 0,
            labels: HashMap::new(),
            queued: VecDeque::new(),
            started_part: false,
            done: 0,
            warnings,
            recoded_files: 0,
        }
    }

    /// Loads the labels of the current part; bad lines are queued as row errors.
    fn start_part(&mut self) -> Result<(), IngestError> {
        self.labels.clear();
        let part = &self.layout.parts[self.part];
        let Some(path) = part.labels_file.clone() else {
            self.warnings.push(format!("no labels file in {}: its notes have no labels", self.layout.rel(&part.text_dir)));
            return Ok(());
        };
        let rel = self.layout.rel(&path);
        let docs: HashSet<String> = part.files.iter().map(|f| stem(f)).collect();
        let raw = fs::read(&path).map_err(io(&path))?;
        let text = match String::from_utf8(raw) {
            Ok(s) => s,
            Err(e) => decode_cp1252(e.as_bytes()),
        };
        let mut unknown = 0u64;
        let mut first_unknown = None;
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t');
            let doc = fields.next().unwrap_or("").trim();
            let label = fields.next().map(str::trim).unwrap_or("");
            if doc.is_empty() || label.is_empty() {
                self.queued.push_back(Item::Bad(RowError::new(
                    Some(rel.clone()),
                    line_no,
                    "expected doc_id<TAB>label".to_owned(),
                )));
                continue;
            }
            let doc = doc.strip_suffix(".txt").unwrap_or(doc);
            if !docs.contains(doc) {
                unknown += 1;
                first_unknown.get_or_insert((doc.to_owned(), line_no));
                continue;
            }
            let labels = self.labels.entry(doc.to_owned()).or_default();
            if !labels.iter().any(|l| l == label) {
                labels.push(label.to_owned());
            }
        }
        if let Some((doc, line)) = first_unknown {
            self.warnings.push(format!(
                "{rel}: {unknown} line(s) name documents that are not in {} (first: {doc:?} on line {line}); ignored",
                self.layout.rel(&part.text_dir)
            ));
        }
        let unlabelled = part.files.iter().filter(|f| !self.labels.contains_key(&stem(f))).count();
        if unlabelled > 0 {
            self.warnings.push(format!("{rel}: {unlabelled} note(s) have no label"));
        }
        Ok(())
    }
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

impl Source for FolderSource {
    fn next_item(&mut self) -> Result<Option<Item>, IngestError> {
        loop {
            if let Some(item) = self.queued.pop_front() {
                return Ok(Some(item));
            }
            if self.part >= self.layout.parts.len() {
                return Ok(None);
            }
            if !self.started_part {
                self.started_part = true;
                self.start_part()?;
                continue;
            }
            let part = &self.layout.parts[self.part];
            let Some(path) = part.files.get(self.file).cloned() else {
                self.part += 1;
                self.file = 0;
                self.started_part = false;
                continue;
            };
            self.file += 1;
            self.done += path.metadata().map(|m| m.len()).unwrap_or(0);
            let rel = self.layout.rel(&path);
            let text = match read_note(&path)? {
                Ok((text, recoded)) => {
                    self.recoded_files += recoded as u64;
                    text
                }
                Err(message) => return Ok(Some(Item::Bad(RowError::new(Some(rel), 1, message)))),
            };
            let id = stem(&path);
            let labels = self.labels.get(&id).cloned().unwrap_or_default();
            return Ok(Some(Item::Row(SourceRow {
                file: Some(rel),
                line: 1,
                text: Some(text),
                labels,
                patient_id: None,
                external_id: Some(id),
                split: part.split.map(|s| s.as_str().to_owned()),
            })));
        }
    }

    fn done(&self) -> u64 {
        self.done
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = std::mem::take(&mut self.warnings);
        if self.recoded_files > 0 {
            w.push(format!("{} note file(s) were not UTF-8 and were read as Windows-1252 (Latin-1)", self.recoded_files));
        }
        w
    }
}
