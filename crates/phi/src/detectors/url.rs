//! URLs and domain names: http(s) and www addresses, and bare domains with a known top-level
//! domain. Invalidates file names and decimals ("lasix.po", "7.35").

use super::{Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "url";

const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "mil", "info", "biz", "io", "co", "us", "uk", "de", "fr", "it", "es", "nl", "be",
    "se", "dk", "no", "fi", "pl", "cz", "sk", "hu", "at", "ch", "pt", "br", "ar", "uy", "cl", "mx", "ca", "au", "nz",
    "jp", "cn", "in", "ru", "ee", "lv", "lt", "si", "hr", "gr", "cy", "ie", "is", "ro", "bg", "tr", "za", "health",
];

pub struct UrlDetector {
    scheme: Pattern,
    bare: Pattern,
}

impl UrlDetector {
    pub fn new() -> Self {
        UrlDetector {
            scheme: Pattern::new("url_scheme", r"(?i)(?-u:\b)(?:https?://|ftp://|www\.)[^\s<>()\[\]{}'\x22]+[^\s<>()\[\]{}'\x22.,;:!?]", 0.95),
            bare: Pattern::new("domain_name", r"(?i)(?-u:\b)[a-z0-9][a-z0-9-]{1,62}(?:\.[a-z0-9-]{2,63})*\.([a-z]{2,6})(?-u:\b)(?:/[^\s]*[^\s.,;:!?])?", 0.6),
        }
    }
}

impl Default for UrlDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for UrlDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Url]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for m in self.scheme.regex.find_iter(text) {
            let span = localdx_span::Span::new(m.start(), m.end());
            out.push(Detection::new(span, EntityType::Url, 0.95, NAME, "url_scheme"));
        }
        for c in self.bare.regex.captures_iter(text) {
            let (Some(all), Some(tld)) = (c.get(0), c.get(1)) else { continue };
            let before = text[..all.start()].chars().next_back();
            if matches!(before, Some('@') | Some('.') | Some('/')) || !TLDS.contains(&tld.as_str().to_ascii_lowercase().as_str()) {
                continue;
            }
            // the label before the TLD must contain a letter ("7.35" is no domain)
            let host = &all.as_str()[..tld.start() - all.start()];
            if !host.chars().any(|c| c.is_ascii_alphabetic()) || text[all.end()..].starts_with('@') {
                continue;
            }
            // a country code after one short label is usually two words run together ("pt.is")
            let generic = matches!(tld.as_str().to_ascii_lowercase().as_str(), "com" | "org" | "net" | "edu" | "gov" | "io" | "info" | "biz");
            if !generic && host.matches('.').count() < 2 && !all.as_str().contains('/') {
                continue;
            }
            let span = localdx_span::Span::new(all.start(), all.end());
            out.push(Detection::new(span, EntityType::Url, 0.6, NAME, "domain_name"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Url)).collect();
        testing::check(&UrlDetector::new(), text, &want);
    }

    #[test]
    fn urls() {
        check("My website is https://www.HowDangerous.be/", &["https://www.HowDangerous.be/"]);
        check("see www.example.org.", &["www.example.org"]);
        check("visit clinic.health.org/a today", &["clinic.health.org/a"]);
        // negative rows
        check("ph 7.35 and k 4.1", &[]);
        check("dose 0.5mg.po", &[]);
        check("pt.is alert", &[]);
    }
}
