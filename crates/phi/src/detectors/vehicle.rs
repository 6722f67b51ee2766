//! Vehicle identifiers: VINs (17 chars without I, O, Q, with the check digit in position 9) and
//! licence plates written after a plate label ("plate # 7ABC123").

use super::{has_digit, labelled, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "vehicle";

pub struct VehicleDetector {
    vin: Pattern,
    plate: Pattern,
}

impl VehicleDetector {
    pub fn new() -> Self {
        VehicleDetector {
            vin: Pattern::new("vin", r"(?i)(?-u:\b)[A-HJ-NPR-Z0-9]{17}(?-u:\b)", 0.85),
            plate: labelled("plate_label", r"plate|licen[cs]e\s+plate|tag|vin|vehicle", 4, 0.8),
        }
    }
}

impl Default for VehicleDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// The ISO 3779 check digit of a North American VIN.
pub fn valid_vin(s: &str) -> bool {
    let s = s.to_ascii_uppercase();
    if s.len() != 17 {
        return false;
    }
    let value = |c: char| -> Option<u32> {
        match c {
            '0'..='9' => c.to_digit(10),
            'A'..='H' => Some(c as u32 - 'A' as u32 + 1),
            'J'..='N' => Some(c as u32 - 'J' as u32 + 1),
            'P' => Some(7),
            'R' => Some(9),
            'S'..='Z' => Some(c as u32 - 'S' as u32 + 2),
            _ => None,
        }
    };
    let weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let mut sum = 0;
    for (c, w) in s.chars().zip(weights) {
        match value(c) {
            Some(v) => sum += v * w,
            None => return false,
        }
    }
    let check = sum % 11;
    let expected = if check == 10 { 'X' } else { char::from_digit(check, 10).unwrap_or('?') };
    s.chars().nth(8) == Some(expected)
}

impl Detector for VehicleDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Vehicle]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for (span, _) in self.vin.spans(text) {
            let v = span.slice(text);
            if valid_vin(v) && has_digit(v) && v.chars().any(|c| c.is_ascii_alphabetic()) {
                out.push(Detection::new(span, EntityType::Vehicle, 0.85, NAME, "vin"));
            }
        }
        for (span, _) in self.plate.spans(text) {
            if has_digit(span.slice(text)) {
                out.push(Detection::new(span, EntityType::Vehicle, 0.8, NAME, "plate_label"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Vehicle)).collect();
        testing::check(&VehicleDetector::new(), text, &want);
    }

    #[test]
    fn vehicles() {
        check("VIN 1M8GDM9AXKP042788 seen", &["1M8GDM9AXKP042788"]);
        check("plate # 7ABC123", &["7ABC123"]);
        // negative rows: wrong check digit, plain words
        check("code 1M8GDM9A1KP042788", &[]);
        check("the tag fell off", &[]);
    }
}
