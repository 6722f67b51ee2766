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
    postal: Pattern,
}

impl ZipDetector {
    pub fn new() -> Self {
        ZipDetector {
            five: Pattern::new("zip_after_state", r"(?-u:\b)\d{4,6}(?:-\d{4})?(?-u:\b)", 0.85),
            // European and other postal codes: "6091", "3610-114", "53-320", "840 24"
            postal: Pattern::new("postal_after_city", r"(?-u:\b)(?:\d{4,5}(?:-\d{3,4})?|\d{3}\s\d{2}|\d{2}-\d{3})(?-u:\b)", 0.75),
            label: Pattern::new("zip_label", r"(?-u:\b)(?i:zip|zip\s*code|zipcode|postal\s*code|postcode|post\s*code)\s*(?i:is\s+|was\s+)?[:#]?\s*(\d{3,6}(?:[ -]\d{2,4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d)(?-u:\b)", 0.85),
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
        // a postal code right after a city or town of the gazetteers, in a cased note: "in Bjert 6091 in"
        if doc.cased {
            for (span, _) in self.postal.spans(doc.text) {
                let i = doc.token_containing(span.start);
                if i == 0 || i >= doc.tokens.len() || !matches!(doc.gap_before(i), " " | ", " | "  ") {
                    continue;
                }
                if let Some(city) = city_ending_at(doc, i - 1) {
                    out.push(Detection::new(span, EntityType::Zip, 0.75, NAME, "postal_after_city").with_context(&city, 0.0));
                }
            }
        }
        for (span, _) in self.label.spans(doc.text) {
            if span.slice(doc.text).bytes().any(|b| b.is_ascii_digit()) {
                out.push(Detection::new(span, EntityType::Zip, 0.85, NAME, "zip_label"));
            }
        }
    }
}

/// The city or town that ends at token `last`, lower-cased: one to three capitalised words of the
/// city gazetteers, or capitalised words that are no common word right after "in".
fn city_ending_at(doc: &Doc, last: usize) -> Option<String> {
    let g = gazetteers();
    for len in 1..=3usize {
        if len > last + 1 {
            break;
        }
        let a = last + 1 - len;
        if !(a..=last).all(|k| doc.tokens[k].alpha && doc.word(k).starts_with(char::is_uppercase)) {
            continue;
        }
        let words: Vec<&str> = (a..=last).map(|k| doc.lower(k)).collect();
        let known = |m: &std::collections::HashMap<&'static str, Vec<Vec<&'static str>>>| m.get(words[0]).is_some_and(|v| v.contains(&words));
        // or a capitalised place name no list knows, right after "in": "in Bjert 6091"
        let after_in = a > 0 && doc.lower(a - 1) == "in" && words.iter().all(|w| !g.is_common(w) && !g.is_clinical(w));
        if known(&g.cities) || known(&g.world_cities) || after_in {
            return Some(words.join(" "));
        }
    }
    None
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
        check("support Factset in Bjert 6091 in its mission", &["6091"]);
        check("support MysticWeb in Porto 3610-114 in its mission", &["3610-114"]);
        check("My zip code is 35350", &["35350"]);
        // negative rows: pagers, counts, lower-case "md", a number after a word that is no town
        check("Heparin 5000 units", &[]);
        check("gave Lasix 1000 in the Unit 4500", &[]);
        check("pager 54321", &[]);
        check("wbc 12000 plt 25000", &[]);
        check("md 21201", &[]);
    }
}
