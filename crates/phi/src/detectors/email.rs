//! E-mail addresses. Validates the shape of the domain (a dot, a top-level domain of letters).

use super::{run_patterns, Detector, Pattern};
use crate::{Detection, Doc, EntityType};

const NAME: &str = "email";

pub struct EmailDetector {
    patterns: Vec<Pattern>,
}

impl EmailDetector {
    pub fn new() -> Self {
        EmailDetector { patterns: vec![Pattern::new("email", r"(?-u:\b)[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?-u:\b)", 0.95)] }
    }
}

impl Default for EmailDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for EmailDetector {
    fn name(&self) -> &'static str {
        NAME
    }
    fn types(&self) -> &'static [EntityType] {
        &[EntityType::Email]
    }
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>) {
        run_patterns(doc, NAME, EntityType::Email, &self.patterns, None, |s, _| !s.contains(".."), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::testing;

    fn check(text: &str, expected: &[&str]) {
        let want: Vec<(&str, EntityType)> = expected.iter().map(|s| (*s, EntityType::Email)).collect();
        testing::check(&EmailDetector::new(), text, &want);
    }

    #[test]
    fn emails() {
        check("mail JulietaSouzaAlmeida@cuvox.de today", &["JulietaSouzaAlmeida@cuvox.de"]);
        check("j.o'brien+x@mail.example.org.", &["j.o'brien+x@mail.example.org"]);
        // negative rows
        check("sats @ 95% on 2L", &[]);
        check("user@localhost", &[]);
        check("a@b..com", &[]);
    }
}
