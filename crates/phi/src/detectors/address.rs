//! Street addresses: a house number, street words and a street suffix ("19 Clover St.",
//! "6750 Koskikatu 25 Apt. 864"), European forms ("Via Roma 131", "Villacher Strasse 89"),
//! apartment/suite/box units, P.O. boxes, and the rest of a line after "Address:". Invalidates
//! doses and measurements ("5 mg", "2 L NC") by requiring a street suffix or a label.

use super::{Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "address";

const SUFFIX_FULL: &str = "street|avenue|road|boulevard|drive|lane|way|court|place|terrace|parkway|highway|circle|square|trail|crescent|close|row|alley|plaza|loop|pike|turnpike|route|walk|gardens|grove|heights|hill|park|ridge|view|mews";
const SUFFIX_ABBR: &str = "st|ave|av|rd|blvd|dr|ln|ct|pl|ter|pkwy|hwy|cir|sq|trl|cres";
const EURO_PREFIX: &str = "via|viale|piazza|corso|largo|rua|avenida|av\\.|calle|carrer|rue|chemin|boulevard|ul\\.|ulica|al\\.|aleja|plac|ulitsa|strada|calea";
const EURO_SUFFIX: &str = "strasse|straße|str\\.|gasse|weg|allee|platz|ring|damm|vej|gade|gatan|vägen|väg|katu|tie|kuja|laan|straat|gracht|plein|utca|út|ulice|vegur|gata|vei|veien|tee";

pub struct AddressDetector {
    us: Pattern,
    euro_prefix: Pattern,
    euro_suffix: Pattern,
    unit: Pattern,
    po_box: Pattern,
    label: Pattern,
}

impl AddressDetector {
    pub fn new() -> Self {
        let unit = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|#|room|rm|fl|floor)\.?\s*#?\s*[A-Za-z0-9-]{1,6})?";
        AddressDetector {
            us: Pattern::new(
                "street_number_name_suffix",
                &format!(r"(?i)\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Za-zÀ-ÿ'.-]+\s+){{0,3}}?(?:(?:{SUFFIX_FULL})\b|(?:{SUFFIX_ABBR})\b\.?){unit}"),
                0.8,
            ),
            euro_prefix: Pattern::new("street_prefix_name_number", &format!(r"(?i)\b(?:{EURO_PREFIX})\s+(?:[\p{{L}}'.-]+\s+){{1,4}}\d{{1,5}}[A-Za-z]?\b{unit}"), 0.75),
            euro_suffix: Pattern::new("street_name_suffix_number", &format!(r"\b(?:\p{{Lu}}[\p{{L}}'-]*\s+){{0,2}}[\p{{L}}'-]*(?i:{EURO_SUFFIX})\s+\d{{1,5}}[A-Za-z]?\b{unit}"), 0.75),
            unit: Pattern::new("apartment_or_suite", r"(?i)\b(?:apt|apartment|suite|ste)\.?\s*#?\s*\d{1,5}[A-Za-z]?\b", 0.6),
            po_box: Pattern::new("po_box", r"(?i)\b(?:p\.?\s*o\.?\s*box|post\s+office\s+box|box)\s+\d{1,6}\b", 0.6),
            label: Pattern::new("address_label", r"(?im)\b(?:address|addr|residence|domicile)\s*:\s*(\S[^\n]*?)\s*$", 0.8),
        }
    }
}

impl Default for AddressDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for AddressDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Address]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for (span, _) in self.us.spans(text) {
            let s = span.slice(text);
            // the words between number and suffix: at least one, none of them a unit of measure
            let words: Vec<&str> = s.split_whitespace().skip(1).collect();
            if words.len() < 2 {
                continue;
            }
            let units = ["mg", "ml", "cc", "units", "l", "mcg", "x", "times", "hours", "days", "min", "pm", "am", "at", "to", "on", "and", "of"];
            if words[..words.len() - 1].iter().any(|w| units.contains(&w.to_ascii_lowercase().trim_end_matches(['.', ',']))) {
                continue;
            }
            let abbr = s.rsplit(|c: char| c.is_whitespace()).next().is_some_and(|w| w.trim_end_matches('.').len() <= 4);
            if abbr && doc.cased && !words.iter().take(words.len() - 1).all(|w| w.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())) {
                continue;
            }
            out.push(Detection::new(span, EntityType::Address, if abbr { 0.65 } else { 0.8 }, NAME, "street_number_name_suffix"));
        }
        for p in [&self.euro_prefix, &self.euro_suffix] {
            if !doc.cased {
                continue;
            }
            for (span, _) in p.spans(text) {
                out.push(Detection::new(span, EntityType::Address, p.score, NAME, p.name));
            }
        }
        for p in [&self.unit, &self.po_box, &self.label] {
            for (span, _) in p.spans(text) {
                out.push(Detection::new(span, EntityType::Address, p.score, NAME, p.name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Address)).collect();
        testing::check(&AddressDetector::new(), text, &want);
    }

    #[test]
    fn addresses() {
        check("housing at 19 Clover St. in town", &["19 Clover St."]);
        check("lives at 1200 north charles street, apt 4b", &["1200 north charles street, apt 4b"]);
        check("The address is Villacher Strasse 89 now", &["Villacher Strasse 89"]);
        check("Our offices are at Via Roma 131", &["Via Roma 131"]);
        check("Name: X\nAddress:     6750 Koskikatu 25 Apt. 864\nZIP", &["6750 Koskikatu 25 Apt. 864"]);
        check("send to P.O. Box 1234", &["P.O. Box 1234"]);
        // negative rows: doses, drips, measurements
        check("gave 5 mg iv at 2 pm", &[]);
        check("2 L NC sats 95", &[]);
        check("1 st degree av block", &[]);
        check("the patient has a dr appt", &[]);
    }
}
