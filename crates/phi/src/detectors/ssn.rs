//! Social Security numbers: 3-2-4 digits with the SSA's rules (area not 000, 666 or 9xx; group
//! not 00; serial not 0000), and nine digits in a row next to an SSN word. Right after an
//! explicit label ("SSN:", "social security number") a 3-2-4 or nine-digit number is an SSN even
//! when it breaks the issuing rules: Safe Harbor does not ask whether the number is valid.

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
    labelled: Pattern,
}

impl SsnDetector {
    pub fn new() -> Self {
        SsnDetector {
            dashed: Pattern::new("ssn_dashed", r"(?-u:\b)(\d{3})[- ](\d{2})[- ](\d{4})(?-u:\b)", 0.85),
            plain: Pattern::new("ssn_nine_digits", r"(?-u:\b)\d{9}(?-u:\b)", 0.3),
            labelled: Pattern::new(
                "ssn_after_label",
                r"(?i)(?-u:\b)(?:ssn|ss#|soc\.?\s+sec\.?|social\s+security)(?:\s*(?:number|num|no\.?|#))?\s*(?:is|was)?\s*[:#=]?\s*(\d{3}[- ]?\d{2}[- ]?\d{4})(?-u:\b)",
                0.9,
            ),
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
        if super::contains_ci(text, "ss") || super::contains_ci(text, "soc") {
            for (span, _) in self.labelled.spans(text) {
                let after = &text[span.end..];
                if !after.starts_with(['-', '/']) {
                    out.push(Detection::new(span, EntityType::Ssn, 0.9, NAME, "ssn_after_label"));
                }
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
        // class: an SSN right after its label, even against the issuing rules (9xx area, 00 group)
        check("SSN: 923-00-1234", &["923-00-1234"]);
        check("ssn 900 12 3456 on file", &["900 12 3456"]);
        check("Social Security number: 666123456.", &["666123456"]);
        check("SS# 000-12-3456", &["000-12-3456"]);
        // negative rows: the label with something else, a longer run of digits, a date after it
        check("SSN: unknown, MRN 923-00-1234", &[]);
        check("ssn 9230012345678", &[]);
        check("SSN on file since 10/18/2003", &[]);
    }
}
