//! IP addresses: IPv4 with every octet validated (0-255), and IPv6 in full or compressed form.
//! Invalidates version numbers and dotted dates with fewer than four parts.

use super::{Detector, Pattern};
use crate::{Detection, Doc, EntityType};
use std::net::Ipv6Addr;

const NAME: &str = "ip";

pub struct IpDetector {
    v4: Pattern,
    v6: Pattern,
}

impl IpDetector {
    pub fn new() -> Self {
        IpDetector {
            v4: Pattern::new("ipv4", r"(?-u:\b)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?-u:\b)", 0.85),
            v6: Pattern::new("ipv6", r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}", 0.85),
        }
    }
}

impl Default for IpDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for IpDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Ip]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        let text = doc.text;
        for m in self.v4.regex.find_iter(text) {
            let ok = m.as_str().split('.').all(|o| o.parse::<u32>().is_ok_and(|v| v <= 255) && !(o.len() > 1 && o.starts_with('0')));
            let after = text[m.end()..].chars().next();
            if ok && !matches!(after, Some('.')) {
                out.push(Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Ip, 0.85, NAME, "ipv4"));
            }
        }
        for m in self.v6.regex.find_iter(text) {
            let s = m.as_str();
            // times such as 12:30:00 parse as nothing here: require a hex letter or "::" and 3+ groups
            if s.parse::<Ipv6Addr>().is_ok() && s.len() >= 6 && s.bytes().any(|b| b.is_ascii_alphanumeric()) {
                out.push(Detection::new(localdx_span::Span::new(m.start(), m.end()), EntityType::Ip, 0.85, NAME, "ipv6"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Ip)).collect();
        testing::check(&IpDetector::new(), text, &want);
    }

    #[test]
    fn ips() {
        check("from 192.168.1.20 at", &["192.168.1.20"]);
        check("ip 6e40:4041:c617:e898:c11:40d2:c669:2eb4", &["6e40:4041:c617:e898:c11:40d2:c669:2eb4"]);
        check("host ::1 and fe80::1", &["fe80::1"]);
        // negative rows
        check("version 1.2.3 and 300.1.1.1", &[]);
        check("at 12:30:00", &[]);
        check("1.2.3.4.5", &[]);
    }
}
