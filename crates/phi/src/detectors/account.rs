//! Account numbers: payment card numbers (13-19 digits, Luhn-valid, with a known issuer prefix),
//! IBANs (ISO 13616 mod-97 check), and numbers after an account label ("acct # 00012345").

use super::{has_digit, labelled, luhn, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "account";

pub struct AccountDetector {
    card: Pattern,
    iban: Pattern,
    label: Pattern,
}

impl AccountDetector {
    pub fn new() -> Self {
        AccountDetector {
            card: Pattern::new("card_number", r"(?-u:\b)\d(?:[ -]?\d){11,18}(?-u:\b)", 0.8),
            iban: Pattern::new("iban", r"(?i)(?-u:\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?-u:\b)", 0.85),
            label: labelled("account_label", r"account|acct|billing|invoice|bank\s+account|card", 5, 0.8),
        }
    }
}

impl Default for AccountDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The ISO 13616 mod-97 check of an IBAN (spaces ignored).
pub fn valid_iban(s: &str) -> bool {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    if s.len() < 15 || s.len() > 34 || !s.is_ascii() {
        return false;
    }
    let rearranged = format!("{}{}", &s[4..], &s[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

fn card_prefix(d: &str) -> bool {
    let two: u32 = d.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let four: u32 = d.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
    d.starts_with('4') || (51..=55).contains(&two) || (2221..=2720).contains(&four) || two == 34 || two == 37
        || d.starts_with("6011") || d.starts_with("65") || two == 36 || two == 30 || two == 38 || d.starts_with("35")
        || d.starts_with("1800") || d.starts_with("2131") || two == 50 || (56..=69).contains(&two)
}

impl Detector for AccountDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Account]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for m in self.card.regex.find_iter(text) {
            let d: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
            if (12..=19).contains(&d.len()) && card_prefix(&d) && luhn(&d) {
                out.push(Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Account, 0.8, NAME, "card_number"));
            }
        }
        for m in self.iban.regex.find_iter(text) {
            if valid_iban(m.as_str()) {
                out.push(Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Account, 0.9, NAME, "iban"));
            }
        }
        for (span, _) in self.label.spans(text) {
            if has_digit(span.slice(text)) {
                out.push(Detection::new(span, EntityType::Account, 0.8, NAME, "account_label"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Account)).collect();
        testing::check(&AccountDetector::new(), text, &want);
    }

    #[test]
    fn accounts() {
        check("card 4111 1111 1111 1111 lost", &["4111 1111 1111 1111"]);
        check("iban GB10LORI20288482594042 ok", &["GB10LORI20288482594042"]);
        check("acct # 00012345", &["00012345"]);
        // negative rows: Luhn failures, bad IBAN check digits, labels without digits
        check("card 4111 1111 1111 1112", &[]);
        check("GB11LORI20288482594042", &[]);
        check("account: pending", &[]);
    }
}
