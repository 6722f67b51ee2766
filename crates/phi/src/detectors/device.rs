//! Device identifiers and serial numbers written after their label ("serial # PM-1234567",
//! "S/N 88A1234", "pacemaker model 5076, SN PJN1234567"). A value must contain a digit.

use super::{has_digit, labelled, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "device";

pub struct DeviceDetector {
    label: Pattern,
}

impl DeviceDetector {
    pub fn new() -> Self {
        DeviceDetector { label: labelled("serial_label", r"serial|s/n|sn|device|lot|udi|imei|mac\s+address|implant|pacemaker\s+serial", 5, 0.8) }
    }
}

impl Default for DeviceDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for DeviceDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Device]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        for (span, c) in self.label.spans(doc.text) {
            let label = c.get(0).map_or("", |m| m.as_str()).to_ascii_lowercase();
            let weak = label.starts_with("device") || label.starts_with("lot") || label.starts_with("implant") || label.starts_with("sn");
            let numbered = label.contains('#') || label.contains("number") || label.contains("no") || label.contains(':') || label.contains("id");
            if has_digit(span.slice(doc.text)) && (!weak || numbered || label.starts_with("sn ") && span.len() >= 6) {
                out.push(Detection::new(span, EntityType::Device, 0.8, NAME, "serial_label"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Device)).collect();
        testing::check(&DeviceDetector::new(), text, &want);
    }

    #[test]
    fn devices() {
        check("serial # PM-1234567 noted", &["PM-1234567"]);
        check("S/N: 88A1234", &["88A1234"]);
        // negative rows
        check("device 2 in place", &[]);
        check("serial exams unchanged", &[]);
    }
}
