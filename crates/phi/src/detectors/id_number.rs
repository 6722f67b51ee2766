//! Other unique identifying numbers: reference, case, claim, confirmation, order and policy
//! numbers written after their label ("ref # 8336652", "policy #rg17"). Invalidates problem-list
//! numbering ("#2 CHF") and catheter sizes ("#18g").

use super::{has_digit, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "id_number";

pub struct IdNumberDetector {
    label: Pattern,
}

impl IdNumberDetector {
    pub fn new() -> Self {
        IdNumberDetector {
            label: Pattern::new(
                "reference_label",
                r"(?i)(?-u:\b)(?:ref|reference|case|claim|confirmation|conf|order|requisition|accession|ticket|tracking|policy|file|id|identifier|employee|badge|passport|voucher|authorization|auth)\.?\s*(?:number|num|no\.?|#|id)?\s*[:#]\s*#?\s*([A-Z0-9][A-Z0-9-]{2,30})(?-u:\b)|(?i)(?-u:\b)(?:ref|reference|claim|confirmation|accession|passport|tracking)\s+(?:number|no\.?)?\s*([A-Z0-9][A-Z0-9-]{4,30})(?-u:\b)",
                0.75,
            ),
        }
    }
}

impl Default for IdNumberDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for IdNumberDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Id]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        for c in self.label.regex.captures_iter(doc.text) {
            let Some(m) = c.get(1).or_else(|| c.get(2)) else { continue };
            let v = m.as_str();
            if has_digit(v) && v.len() >= 3 {
                out.push(Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Id, 0.75, NAME, "reference_label"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Id)).collect();
        testing::check(&IdNumberDetector::new(), text, &want);
    }

    #[test]
    fn ids() {
        check("arrive this morning (ref # 8336652).", &["8336652"]);
        check("per hospital policy #rg17,at 1400", &["rg17"]);
        check("claim number AB-99812", &["AB-99812"]);
        // negative rows
        check("#2 CHF and #18g", &[]);
        check("per policy, no visitors", &[]);
    }
}
