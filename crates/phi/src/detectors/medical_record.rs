//! Medical record numbers and health plan beneficiary numbers: identifiers written after their
//! label ("MRN: 1234567", "Medicare # 1EG4-TE5-MK73", "member ID W123456789"). A value must
//! contain a digit; bare numbers without a label are left to the other detectors. Insurance and
//! policy numbers such as `AB-123456` after "insurance policy", "policy #" or "ins. #".

use super::{has_digit, labelled, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "medical_record";

pub struct MedicalRecordDetector {
    mrn: Vec<Pattern>,
    plan: Vec<Pattern>,
}

impl MedicalRecordDetector {
    pub fn new() -> Self {
        MedicalRecordDetector {
            mrn: vec![
                labelled("mrn_label", r"mrn|mr|medical\s+record|med\s+rec|record|unit|chart|hospital|patient|pt|case", 4, 0.85),
            ],
            plan: vec![labelled(
                "health_plan_label",
                r"medicare|medicaid|insurance\s+(?:policy|plan|member|id|card)|ins\.?\s+(?:policy|plan|member|id|card)|insurance|insurer|ins\.?|policy|member|subscriber|beneficiary|health\s+plan|plan|group|hicn|mbi|coverage",
                5,
                0.8,
            )],
        }
    }
}

impl Default for MedicalRecordDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for MedicalRecordDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::MedicalRecord, EntityType::HealthPlan]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        for (patterns, entity) in [(&self.mrn, EntityType::MedicalRecord), (&self.plan, EntityType::HealthPlan)] {
            for p in patterns {
                for (span, c) in p.spans(doc.text) {
                    let v = span.slice(doc.text);
                    let label = c.get(0).map_or("", |m| m.as_str()).to_ascii_lowercase();
                    // "record", "unit", "chart", "patient" need a number word: "unit 5" is a ward
                    let weak = ["record", "unit", "chart", "hospital", "patient", "pt", "case", "plan", "group", "policy"]
                        .iter()
                        .any(|w| label.starts_with(w));
                    let numbered = label.contains('#') || label.contains("number") || label.contains("no") || label.contains(':') || label.contains("id");
                    // "ins" alone is also insulin ("ins 10 units"): only with "#" ("ins. #", "ins #")
                    let ins_short = entity == EntityType::HealthPlan && label.starts_with("ins") && !label.starts_with("insur") && !label.contains("policy") && !label.contains("member") && !label.contains("card");
                    if !has_digit(v) || (weak && !numbered) || v.len() < 4 || ins_short && !label.contains('#') {
                        continue;
                    }
                    out.push(Detection::new(span, entity, p.score, NAME, p.name));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[(&str, EntityType)]) {
        testing::check(&MedicalRecordDetector::new(), text, expected);
    }

    #[test]
    fn records() {
        use EntityType::*;
        check("MRN: 0012345 seen", &[("0012345", MedicalRecord)]);
        check("Medical record number 88-12345", &[("88-12345", MedicalRecord)]);
        check("Medicare # 1EG4-TE5-MK73", &[("1EG4-TE5-MK73", HealthPlan)]);
        check("member ID W123456789.", &[("W123456789", HealthPlan)]);
        // negative rows: units, wards, labels without digits
        check("transfer to unit 5 today", &[]);
        check("MRN: pending", &[]);
        check("patient 1234 ml", &[]);
        // class: insurance and policy numbers after their label
        check("insurance policy AB-123456 expired", &[("AB-123456", HealthPlan)]);
        check("Policy #: XK-998812", &[("XK-998812", HealthPlan)]);
        check("ins. # BC-4410023", &[("BC-4410023", HealthPlan)]);
        check("Ins policy number QZ77120", &[("QZ77120", HealthPlan)]);
        // negative rows: insulin, a policy without a number, a ward after "plan"
        check("ins 10 units sq given", &[]);
        check("ins: 1200 units/day", &[]);
        check("per insurance policy, no coverage", &[]);
        check("plan 2 days of abx", &[]);
    }
}
