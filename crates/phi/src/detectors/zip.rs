//! ZIP and postal codes: five-digit ZIP (+4) after a state abbreviation or name ("MD 21201",
//! "Baltimore, Maryland 21201"), and any postal code after a "ZIP:"/"postal code" label. A bare
//! five-digit number is never a ZIP here (pagers, lab values and counts look the same).

use super::{Detector, Pattern};
use crate::gazetteer::gazetteers;
use crate::{Detection, Doc, EntityType};

const NAME: &str = "zip";

pub struct ZipDetector {
    five: Pattern,
    label: Pattern,
}

impl ZipDetector {
    pub fn new() -> Self {
        ZipDetector {
            five: Pattern::new("zip_after_state", r"(?-u:\b)\d{4,6}(?:-\d{4})?(?-u:\b)", 0.85),
            label: Pattern::new("zip_label", r"(?i)(?-u:\b)(?:zip|zip\s*code|zipcode|postal\s*code|postcode|post\s*code)\s*[:#]?\s*([A-Z0-9](?:[A-Z0-9]|[ -][A-Z0-9]){2,9})(?-u:\b)", 0.85),
        }
    }
}

impl Default for ZipDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for ZipDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Zip]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let g = gazetteers();
        for (span, _) in self.five.spans(doc.text) {
            let i = doc.token_containing(span.start);
            if i == 0 || i >= doc.tokens.len() || doc.gap_before(i).len() > 3 || doc.gap_before(i).contains('\n') {
                continue;
            }
            let prev = doc.lower(i - 1);
            let state = (g.state_abbrs.contains(prev) && doc.tokens[i - 1].upper) || g.states.values().flatten().any(|p| p.last() == Some(&prev));
            let country = doc.cased && g.countries.values().flatten().any(|p| p.last() == Some(&prev));
            let digits = span.slice(doc.text).split('-').next().map_or(0, str::len);
            if state && digits == 5 || country {
                out.push(Detection::new(span, EntityType::Zip, 0.85, NAME, "zip_after_state").with_context(prev, 0.0));
            }
        }
        for (span, _) in self.label.spans(doc.text) {
            if span.slice(doc.text).bytes().any(|b| b.is_ascii_digit()) {
                out.push(Detection::new(span, EntityType::Zip, 0.85, NAME, "zip_label"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Zip)).collect();
        testing::check(&ZipDetector::new(), text, &want);
    }

    #[test]
    fn zips() {
        check("Baltimore, MD 21201-1234", &["21201-1234"]);
        check("Towson, Maryland 21204", &["21204"]);
        check("ZIP: B0J 2H0", &["B0J 2H0"]);
        // negative rows: pagers, counts, lower-case "md"
        check("pager 54321", &[]);
        check("wbc 12000 plt 25000", &[]);
        check("md 21201", &[]);
    }
}
