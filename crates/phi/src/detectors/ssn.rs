//! Social Security numbers: 3-2-4 digits with the SSA's rules (area not 000, 666 or 9xx; group
//! not 00; serial not 0000), and nine digits in a row next to an SSN word.

use super::{Context, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "ssn";

const SSN_WORDS: Context = Context {
    words: &[("ssn", 0.4), ("social", 0.4), ("security", 0.4), ("ss", 0.3), ("ssn#", 0.4)],
    before: 4,
    after: 0,
};

pub struct SsnDetector {
    dashed: Pattern,
    plain: Pattern,
}

impl SsnDetector {
    pub fn new() -> Self {
        SsnDetector {
            dashed: Pattern::new("ssn_dashed", r"(?-u:\b)(\d{3})[- ](\d{2})[- ](\d{4})(?-u:\b)", 0.85),
            plain: Pattern::new("ssn_nine_digits", r"(?-u:\b)\d{9}(?-u:\b)", 0.3),
        }
    }
}

impl Default for SsnDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The SSA's validity rules on the three parts.
pub fn valid_ssn(digits: &str) -> bool {
    let d: String = digits.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 9 {
        return false;
    }
    let (area, group, serial) = (&d[0..3], &d[3..5], &d[5..9]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

impl Detector for SsnDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Ssn]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for m in self.dashed.regex.find_iter(text) {
            let s = m.as_str();
            let before = text[..m.start()].chars().next_back();
            if valid_ssn(s) && !matches!(before, Some('-') | Some('/')) && !text[m.end()..].starts_with(['-', '/']) {
                let det = Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Ssn, 0.85, NAME, "ssn_dashed");
                out.push(SSN_WORDS.apply(doc, det));
            }
        }
        for m in self.plain.regex.find_iter(text) {
            if valid_ssn(m.as_str()) {
                let det = Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Ssn, 0.3, NAME, "ssn_nine_digits");
                out.push(SSN_WORDS.apply(doc, det));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Ssn)).collect();
        testing::check(&SsnDetector::new(), text, &want);
    }

    #[test]
    fn ssns() {
        check("His social security number is 832-13-6314", &["832-13-6314"]);
        check("SSN: 123456789", &["123456789"]);
        // negative rows: invalid areas, groups, serials, bare nine digits
        check("id 666-12-3456 or 900-12-3456", &[]);
        check("123-00-4567 and 123-45-0000", &[]);
        check("ref 123456789", &[]);
    }
}
