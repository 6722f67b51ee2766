//! Street addresses: a house number, street words and a street suffix ("19 Clover St.",
//! "6750 Koskikatu 25 Apt. 864"), European forms ("Via Roma 131", "Villacher Strasse 89"),
//! apartment/suite/box units, P.O. boxes, and the rest of a line after "Address:". Invalidates
//! doses and measurements ("5 mg", "2 L NC") by requiring a street suffix or a label.

use super::{Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "address";

const SUFFIX_FULL: &str = "street|avenue|road|boulevard|drive|lane|way|court|place|terrace|parkway|highway|circle|square|trail|crescent|close|row|alley|plaza|loop|pike|turnpike|route|walk|gardens|grove|heights|hill|park|ridge|view|mews";
const SUFFIX_ABBR: &str = "st|ave|rd|blvd|ln|pkwy|hwy";
const EURO_PREFIX: &str = "via|viale|piazza|corso|largo|rua|avenida|av\\.|calle|carrer|rue|chemin|boulevard|ul\\.|ulica|al\\.|aleja|plac|ulitsa|strada|calea";
const EURO_SUFFIX: &str = "strasse|straße|str\\.|gasse|allee|platz|vej|gade|gatan|vägen|katu|kuja|laan|straat|gracht|plein|utca|út|ulice|vegur|gata|veien";

pub struct AddressDetector {
    us: Pattern,
    euro_prefix: Pattern,
    euro_suffix: Pattern,
    unit: Pattern,
    po_box: Pattern,
    label: Pattern,
    number_name_number: Pattern,
}

impl AddressDetector {
    pub fn new() -> Self {
        let unit = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|#|room|rm|fl|floor)\.?\s*#?\s*[A-Za-z0-9-]{1,6})?";
        AddressDetector {
            us: Pattern::new(
                "street_number_name_suffix",
                &format!(r"(?i)(?-u:\b)\d{{1,6}}[A-Za-z]?\s+((?:[NSEW]\.?\s+)?(?:[A-Za-zÀ-ÿ'.-]+\s+){{1,3}}?)((?:{SUFFIX_FULL})(?-u:\b)|(?:{SUFFIX_ABBR})(?-u:\b)\.?){unit}"),
                0.8,
            ),
            euro_prefix: Pattern::new("street_prefix_name_number", &format!(r"(?-u:\b)(?i:{EURO_PREFIX})\s+(?:\p{{Lu}}\p{{Ll}}[\p{{L}}'.-]*\s+){{1,4}}\d{{1,5}}[A-Za-z]?(?-u:\b){unit}"), 0.75),
            euro_suffix: Pattern::new("street_name_suffix_number", &format!(r"(?-u:\b)(?:\p{{Lu}}[\p{{L}}'-]*\s+){{0,2}}(?:\p{{Lu}}[\p{{L}}'-]*)?(?i:{EURO_SUFFIX})\s+\d{{1,5}}[A-Za-z]?(?-u:\b){unit}"), 0.75),
            unit: Pattern::new("apartment_or_suite", r"(?i)(?-u:\b)(?:apt|apartment|suite|ste)\.?\s*#?\s*\d{1,5}[A-Za-z]?(?-u:\b)", 0.6),
            po_box: Pattern::new("po_box", r"(?i)(?-u:\b)(?:p\.?\s*o\.?\s*box|post\s+office\s+box|box)\s+\d{1,6}(?-u:\b)", 0.6),
            number_name_number: Pattern::new("number_name_number", &format!(r"(?-u:\b)\d{{2,6}}\s+(\p{{Lu}}\p{{Ll}}+(?:\s+\p{{L}}+)?)\s+\d{{1,4}}[A-Za-z]?(?-u:\b){unit}"), 0.6),
            label: Pattern::new("address_label", r"(?im)(?-u:\b)(?:address|addr|residence|domicile)\s*:\s*(\S[^\n]*?)\s*$", 0.8),
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
        let g = crate::gazetteer::gazetteers();
        for c in self.us.regex.captures_iter(text) {
            let (Some(all), Some(middle), Some(suffix)) = (c.get(0), c.get(1), c.get(2)) else { continue };
            // the street name: words that are no function words, units or clinical terms
            let words: Vec<&str> = middle.as_str().split_whitespace().collect();
            let bad = |w: &str| {
                let l = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
                l.is_empty() || super::is_stopword(&l) || super::name::is_clinical_abbreviation(&l) && l.len() > 1 || g.is_clinical(&l)
                    || ["mg", "ml", "cc", "units", "mcg", "times", "hours", "days", "min", "litres", "liters"].contains(&l.as_str())
            };
            if words.is_empty() || words.iter().any(|w| bad(w)) {
                continue;
            }
            let abbr = suffix.as_str().trim_end_matches('.').len() <= 4;
            let capitalised = words.iter().all(|w| w.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()));
            if abbr && (doc.cased && !capitalised || !doc.cased && !suffix.as_str().ends_with('.')) {
                continue;
            }
            let span = localdx_span::Span::new(all.start(), all.end());
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
        if doc.cased {
            for c in self.number_name_number.regex.captures_iter(text) {
                let (Some(all), Some(words)) = (c.get(0), c.get(1)) else { continue };
                let clinical = words.as_str().split_whitespace().any(|w| {
                    let l = w.to_lowercase();
                    g.is_clinical(&l) || g.is_common(&l) || super::is_stopword(&l) || super::name::is_clinical_abbreviation(&l)
                });
                if !clinical {
                    let span = localdx_span::Span::new(all.start(), all.end());
                    out.push(Detection::new(span, EntityType::Address, 0.6, NAME, "number_name_number"));
                }
            }
        }
        // a house number written before a street that was found ("86036 Rua do Arenque 1634")
        let bytes = text.as_bytes();
        for d in out.iter_mut().filter(|d| d.detector == NAME) {
            let mut s = d.span.start;
            while s > 0 && bytes[s - 1] == b' ' && d.span.start - s < 3 {
                s -= 1;
            }
            let digits_end = s;
            while s > 0 && bytes[s - 1].is_ascii_digit() && digits_end - s < 6 {
                s -= 1;
            }
            if s < digits_end && digits_end < d.span.start && (s == 0 || !bytes[s - 1].is_ascii_alphanumeric()) {
                d.span = localdx_span::Span::new(s, d.span.end);
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
