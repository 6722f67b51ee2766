//! What a label means: mapping labels as they are written to the labels a clinic trains on
//! ([`LabelMap`], e.g. ICD-10-CM codes rolled up to their 3-character category), and the names of
//! ICD-10-CM codes ([`Icd10Names`]) that give a code its words (zero-shot label texts, screens).
//!
//! The names table is the one `scripts/fetch-models.sh` writes into the models folder from the
//! public-domain CMS/NCHS tabular list (`code<TAB>description`, codes dotted and upper case). This
//! module never fetches it and never guesses a name: a code that is not in the table has none.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How labels are rewritten at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelMap {
    /// Kept as written (trimmed).
    #[default]
    AsWritten,
    /// ICD-10-CM codes rolled up to their category: upper case, the first three characters
    /// (`r50.9` -> `R50`). A label that is not shaped like an ICD-10-CM code is refused.
    Icd10Category,
}

impl LabelMap {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelMap::AsWritten => "as-written",
            LabelMap::Icd10Category => "icd10-category",
        }
    }

    /// The mapped label, or why it cannot be mapped.
    pub fn apply(self, label: &str) -> Result<String, String> {
        match self {
            LabelMap::AsWritten => Ok(label.to_owned()),
            LabelMap::Icd10Category => {
                let code = normalize_icd10(label)
                    .ok_or_else(|| format!("label {label:?} is not an ICD-10-CM code (expected a letter, a digit and a character, e.g. R50.9)"))?;
                Ok(code[..3].to_owned())
            }
        }
    }
}

impl FromStr for LabelMap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "as-written" | "none" => Ok(LabelMap::AsWritten),
            "icd10-category" | "icd10-3" => Ok(LabelMap::Icd10Category),
            other => Err(format!("unknown label map {other:?} (expected as-written or icd10-category)")),
        }
    }
}

impl fmt::Display for LabelMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ICD-10-CM code as the tabular list prints it (upper case, a dot after the category), from
/// the ways people write it (`r50.9`, `R509`, ` I10 `); `None` if it is not shaped like one:
/// a letter and two letters or digits (at least one a digit: `R50`, `C7A`, `QA0`), then up to
/// four more letters or digits, with at most one dot, right after the category.
pub fn normalize_icd10(label: &str) -> Option<String> {
    let trimmed = label.trim();
    let dots: Vec<usize> = trimmed.match_indices('.').map(|(i, _)| i).collect();
    if dots.len() > 1 || dots.first().is_some_and(|&i| i != 3) {
        return None;
    }
    let compact: String = trimmed.chars().filter(|c| *c != '.').collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    let shaped = (3..=7).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b.iter().all(u8::is_ascii_alphanumeric)
        && (b[1].is_ascii_digit() || b[2].is_ascii_digit());
    if !shaped {
        return None;
    }
    Some(if b.len() == 3 { compact } else { format!("{}.{}", &compact[..3], &compact[3..]) })
}

/// Names of ICD-10-CM codes and categories.
#[derive(Debug, Clone, Default)]
pub struct Icd10Names {
    names: HashMap<String, String>,
    /// The codes of each three-character category, in table order.
    codes: HashMap<String, Vec<String>>,
}

/// The names table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: expected `code<TAB>description`")]
    Malformed { path: String, line: usize },
}

impl Icd10Names {
    /// The file name `scripts/fetch-models.sh` gives the table in the models folder.
    pub const FILE: &'static str = "icd10cm.tsv";

    /// Reads a `code<TAB>description` table (a header line `code<TAB>description` is skipped).
    pub fn load(path: &Path) -> Result<Icd10Names, NamesError> {
        let text = std::fs::read_to_string(path).map_err(|source| NamesError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text).map_err(|line| NamesError::Malformed { path: path.display().to_string(), line })
    }

    /// The table in the models folder, when setup has fetched it.
    pub fn in_models_dir(models_dir: &Path) -> Option<Result<Icd10Names, NamesError>> {
        let path = models_dir.join(Self::FILE);
        path.is_file().then(|| Self::load(&path))
    }

    /// Parses the table; `Err(line)` names the first malformed line (1-based).
    pub fn parse(text: &str) -> Result<Icd10Names, usize> {
        let mut names = HashMap::new();
        let mut codes: HashMap<String, Vec<String>> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || (i == 0 && line.starts_with("code\t")) {
                continue;
            }
            let (code, desc) = line.split_once('\t').ok_or(i + 1)?;
            let code = normalize_icd10(code).ok_or(i + 1)?;
            if code.len() > 3 {
                codes.entry(code[..3].to_owned()).or_default().push(code.clone());
            }
            names.insert(code, desc.trim().to_owned());
        }
        Ok(Icd10Names { names, codes })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The official name of `label` if it is an ICD-10-CM code or category in the table. Codes
    /// with a seventh-character extension fall back to their six-character parent.
    pub fn name(&self, label: &str) -> Option<&str> {
        let code = normalize_icd10(label)?;
        let mut key = code.as_str();
        loop {
            if let Some(n) = self.names.get(key) {
                return Some(n);
            }
            // S72.001A -> S72.001 (extensions are not listed); stop at the category.
            if key.len() <= 7 {
                return None;
            }
            key = &key[..key.len() - 1];
        }
    }

    /// Every name a label stands for: its own, and for a three-character category the names of
    /// all its codes (what the note may say of it: "Lobar pneumonia" for J18). Empty when the
    /// label is not an ICD-10-CM code in the table.
    pub fn names_under(&self, label: &str) -> Vec<&str> {
        let Some(code) = normalize_icd10(label) else { return Vec::new() };
        let mut out: Vec<&str> = self.name(&code).into_iter().collect();
        if code.len() == 3 {
            out.extend(self.codes.get(&code).into_iter().flatten().filter_map(|c| self.names.get(c).map(String::as_str)));
        }
        out
    }

    /// The words a model should read for `label`: its ICD-10-CM name when it has one, else the
    /// label itself.
    pub fn label_text(&self, label: &str) -> String {
        self.name(label).map(str::to_owned).unwrap_or_else(|| label.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_shapes() {
        for (raw, want) in [
            ("r50.9", Some("R50.9")),
            ("R509", Some("R50.9")),
            (" I10 ", Some("I10")),
            ("z20.818", Some("Z20.818")),
            ("S72.001A", Some("S72.001A")),
            ("c7a.1", Some("C7A.1")),
            ("QA0.0", Some("QA0.0")),
            // Negative rows: not codes.
            ("fever", None),
            ("10", None),
            ("I1", None),
            ("R50.9.1.2.3", None),
            ("R5.09", None),
            ("ACNE", None),
            ("Common Cold", None),
            ("", None),
        ] {
            assert_eq!(normalize_icd10(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn category_map() {
        let m = LabelMap::Icd10Category;
        assert_eq!(m.apply("r50.9").unwrap(), "R50");
        assert_eq!(m.apply("I10").unwrap(), "I10");
        assert_eq!(m.apply("n44.8").unwrap(), "N44");
        let err = m.apply("fever").unwrap_err();
        assert!(err.contains("\"fever\"") && err.contains("ICD-10-CM"), "{err}");
        assert_eq!(LabelMap::AsWritten.apply("fever").unwrap(), "fever");
        assert_eq!("icd10-category".parse::<LabelMap>().unwrap(), LabelMap::Icd10Category);
        assert!("icd11".parse::<LabelMap>().is_err());
    }

    #[test]
    fn names_lookup() {
        let t = Icd10Names::parse("code\tdescription\nR50\tFever of other and unknown origin\nR50.9\tFever, unspecified\nS72.001\tFracture of unspecified part of neck of right femur\n").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.name("r50.9"), Some("Fever, unspecified"));
        assert_eq!(t.name("R50"), Some("Fever of other and unknown origin"));
        assert_eq!(t.name("S72.001A"), Some("Fracture of unspecified part of neck of right femur"));
        assert_eq!(t.name("R51"), None);
        assert_eq!(t.label_text("Common Cold"), "Common Cold");
        assert_eq!(t.label_text("r50.9"), "Fever, unspecified");
        assert_eq!(Icd10Names::parse("R50\tFever\nno tab here\n").unwrap_err(), 2);
        // A category stands for its own name and its codes' names; a code for its own.
        assert_eq!(t.names_under("R50"), ["Fever of other and unknown origin", "Fever, unspecified"]);
        assert_eq!(t.names_under("R50.9"), ["Fever, unspecified"]);
        assert_eq!(t.names_under("S72"), ["Fracture of unspecified part of neck of right femur"]);
        assert!(t.names_under("Common Cold").is_empty());
    }

    #[test]
    fn real_table_from_shared_data() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/icd10cm/icd10cm_codes_2026.tsv");
        if !Path::new(path).exists() {
            localdx_testkit::skip(&format!("{path} is absent"));
            return;
        }
        let t = Icd10Names::load(Path::new(path)).unwrap();
        assert!(t.len() > 40_000, "{}", t.len());
        assert_eq!(t.name("i10"), Some("Essential (primary) hypertension"));
        assert!(t.name("R50").is_some_and(|n| n.contains("Fever")));
    }
}
