//! Ages over 89 (Safe Harbor keeps ages up to 89): "98 yo", "age 93", "a 91-year-old", "98 s/p".
//! Invalidates numbers of 90 and more that measure something else ("HR 98", "sat 99%").

use super::{run_patterns, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "age";

pub struct AgeDetector {
    patterns: Vec<Pattern>,
}

impl AgeDetector {
    pub fn new() -> Self {
        let age = r"(9\d|1[01]\d)";
        AgeDetector {
            patterns: vec![
                Pattern::new("age_unit_after", &format!(r"(?i)(?-u:\b){age}\s*(?:-|\s)?\s*(?:yo|y/o|y\.o\.?|yr?s?\.?\s*old|years?\s*-?\s*old|year-old|yrs?(?-u:\b)|yoa|y(?-u:\b))"), 0.9),
                Pattern::new("age_word_before", &format!(r"(?i)(?-u:\b)(?:age|aged|ages|age:)\s*(?:of\s*)?{age}(?-u:\b)"), 0.9),
                Pattern::new("age_in_nineties", r"(?i)(?-u:\b)((?:early|mid|late)[- ]nineties|nonagenarian|centenarian)(?-u:\b)", 0.8),
                Pattern::new("age_at_line_start", &format!(r"(?im)^\s*{age}\s+(?:yo|y/o|s/p|m(?-u:\b)|f(?-u:\b)|male|female|gentleman|man|woman|lady|w/|with)"), 0.8),
            ],
        }
    }
}

impl Default for AgeDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for AgeDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Age]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        run_patterns(doc, NAME, EntityType::Age, &self.patterns, None, |_, _| true, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Age)).collect();
        testing::check(&AgeDetector::new(), text, &want);
    }

    #[test]
    fn ages() {
        check("98 yo gentleman s/p fall", &["98"]);
        check("a 91-year-old woman", &["91"]);
        check("AGE 93, LIVES ALONE", &["93"]);
        check("data\n\n98 s/p left hip fx", &["98"]);
        // negative rows: young ages, vital signs
        check("58 YEAR OLD FEMALE", &[]);
        check("HR 98 SR, SAT 99%", &[]);
        check("age 45", &[]);
    }
}
