//! Certificate and licence numbers: identifiers after a licence label ("driver's license
//! F162823540116", "DEA# AB1234563", "NPI 1234567893"), DEA numbers with their checksum, and
//! NPIs with their Luhn check (prefix 80840).

use super::{has_digit, labelled, luhn, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "license";

pub struct LicenseDetector {
    label: Pattern,
    dea: Pattern,
    npi: Pattern,
}

impl LicenseDetector {
    pub fn new() -> Self {
        LicenseDetector {
            label: labelled("license_label", r"licen[cs]e|lic|dl|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|certificate|cert|permit|registration", 5, 0.8),
            dea: Pattern::new("dea_number", r"(?-u:\b)[A-Z][A-Z9]\d{7}(?-u:\b)", 0.6),
            npi: Pattern::new("npi", r"(?i)(?-u:\b)npi\s*[:#]?\s*(\d{10})(?-u:\b)", 0.9),
        }
    }
}

impl Default for LicenseDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The DEA registration number checksum.
pub fn valid_dea(s: &str) -> bool {
    let d: Vec<u32> = s.chars().skip(2).filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 7 {
        return false;
    }
    (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

impl Detector for LicenseDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::License]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for (span, _) in self.label.spans(text) {
            if has_digit(span.slice(text)) {
                out.push(Detection::new(span, EntityType::License, 0.8, NAME, "license_label"));
            }
        }
        for (span, _) in self.dea.spans(text) {
            if valid_dea(span.slice(text)) {
                out.push(Detection::new(span, EntityType::License, 0.6, NAME, "dea_number"));
            }
        }
        for (span, _) in self.npi.spans(text) {
            if luhn(&format!("80840{}", span.slice(text))) {
                out.push(Detection::new(span, EntityType::License, 0.9, NAME, "npi"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::License)).collect();
        testing::check(&LicenseDetector::new(), text, &want);
    }

    #[test]
    fn licenses() {
        check("driver's license F162823540116.", &["F162823540116"]);
        check("DEA AB1234563", &["AB1234563"]);
        check("NPI: 1234567893", &["1234567893"]);
        // negative rows: failed checksums, labels without digits
        check("DEA AB1234564", &[]);
        check("NPI 1234567890", &[]);
        check("license pending", &[]);
    }
}
