//! The detectors, one per file, and what they share: the [`Detector`] trait, context scoring and
//! word classes. Each detector is mostly data: named patterns with scores, context words that raise
//! or lower a score, a validate step (checksums, calendar checks, area-code rules) and an
//! invalidate step (clinical terms that look like PHI). Detectors never allocate per token beyond
//! their output and never look outside the note they are given.

use crate::{Detection, Doc, EntityType};
use localdx_span::Span;

pub mod account;
pub mod address;
pub mod age;
pub mod date;
pub mod device;
pub mod email;
pub mod id_number;
pub mod ip;
pub mod license;
pub mod location;
pub mod medical_record;
pub mod name;
pub mod phone;
pub mod ssn;
pub mod url;
pub mod vehicle;
pub mod zip;

/// One detector: finds candidate spans of one or a few [`EntityType`]s in a prepared note.
pub trait Detector: Send + Sync {
    /// The detector's name, recorded in every detection it makes.
    fn name(&self) -> &'static str;
    /// The types it can produce (used to skip detectors whose types are all disabled).
    fn types(&self) -> &'static [EntityType];
    /// Appends its detections for `doc` to `out`, scores before thresholding.
    fn detect(&self, doc: &Doc, out: &mut Vec<Detection>);
}

/// Every detector, in a fixed order.
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(name::NameDetector::new()),
        Box::new(location::LocationDetector::new()),
        Box::new(address::AddressDetector::new()),
        Box::new(zip::ZipDetector::new()),
        Box::new(date::DateDetector::new()),
        Box::new(age::AgeDetector::new()),
        Box::new(phone::PhoneDetector::new()),
        Box::new(email::EmailDetector::new()),
        Box::new(url::UrlDetector::new()),
        Box::new(ip::IpDetector::new()),
        Box::new(ssn::SsnDetector::new()),
        Box::new(medical_record::MedicalRecordDetector::new()),
        Box::new(account::AccountDetector::new()),
        Box::new(license::LicenseDetector::new()),
        Box::new(vehicle::VehicleDetector::new()),
        Box::new(device::DeviceDetector::new()),
        Box::new(id_number::IdNumberDetector::new()),
    ]
}

/// Context words of a detector: a word within `before` tokens before or `after` tokens after a
/// candidate adds its delta to the score (negative deltas lower it).
pub struct Context {
    pub words: &'static [(&'static str, f32)],
    pub before: usize,
    pub after: usize,
}

impl Context {
    /// The context word around `span` with the largest effect, nearest first on ties.
    pub fn find(&self, doc: &Doc, span: Span) -> Option<(String, f32)> {
        let first = doc.token_containing(span.start);
        let after_start = doc.token_at_or_after(span.end);
        let lookup = |i: usize| {
            let w = doc.lower(i);
            self.words.iter().find(|(cw, _)| *cw == w).map(|&(cw, d)| (cw, d))
        };
        let mut best: Option<(&str, f32)> = None;
        let mut consider = |hit: Option<(&'static str, f32)>| {
            if let Some((w, d)) = hit {
                if best.is_none_or(|(_, b)| d.abs() > b.abs()) {
                    best = Some((w, d));
                }
            }
        };
        for k in 1..=self.before.min(first) {
            consider(lookup(first - k));
        }
        for i in after_start..(after_start + self.after).min(doc.tokens.len()) {
            consider(lookup(i));
        }
        best.map(|(w, d)| (w.to_string(), d))
    }

    /// `det` with the context adjustment applied, if a context word is near.
    pub fn apply(&self, doc: &Doc, det: Detection) -> Detection {
        match self.find(doc, det.span) {
            Some((w, d)) => det.with_context(&w, d),
            None => det,
        }
    }
}

/// Words that are never part of a name or place: function words and note furniture.
pub fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "a" | "an" | "the" | "and" | "or" | "of" | "to" | "in" | "on" | "at" | "by" | "for" | "from" | "with" | "per"
            | "via" | "is" | "was" | "are" | "were" | "be" | "been" | "has" | "had" | "have" | "will" | "would" | "can"
            | "could" | "may" | "might" | "should" | "shall" | "did" | "does" | "do" | "not" | "no" | "yes" | "he"
            | "she" | "it" | "they" | "we" | "his" | "her" | "hers" | "their" | "our" | "your" | "my" | "him" | "them"
            | "this" | "that" | "these" | "those" | "as" | "if" | "but" | "so" | "then" | "than" | "also" | "all"
            | "pt" | "pts" | "patient" | "re" | "s" | "t" | "x" | "am" | "pm" | "aware" | "called" | "notified"
            | "here" | "there" | "who" | "which" | "what" | "when" | "where" | "into" | "up" | "out" | "over" | "after"
            | "before" | "today" | "tonight" | "tomorrow" | "yesterday" | "now" | "still" | "again" | "very" | "well"
    )
}

#[cfg(test)]
pub mod testing {
    use super::Detector;
    use crate::{merge, Doc, EntityType};

    /// Runs one detector on `text` and compares what scores at least 0.5 with `expected`
    /// (covered text, type), after merging.
    pub fn check(det: &dyn Detector, text: &str, expected: &[(&str, EntityType)]) {
        let doc = Doc::new(text);
        let mut out = Vec::new();
        det.detect(&doc, &mut out);
        out.retain(|d| d.score >= 0.5);
        let got: Vec<(&str, EntityType)> = merge(out).iter().map(|d| (d.span.slice(text), d.entity)).collect();
        assert_eq!(got, expected, "in {text:?}");
    }
}

/// A regex pattern with a name and a base score; group 1 (when present) is the span, else the
/// whole match.
pub struct Pattern {
    pub name: &'static str,
    pub regex: regex::Regex,
    pub score: f32,
}

impl Pattern {
    pub fn new(name: &'static str, re: &str, score: f32) -> Pattern {
        Pattern { name, regex: regex::Regex::new(re).expect("detector pattern compiles"), score }
    }

    /// Every match of the pattern in `text`: (span of group 1 or the whole match, full match text).
    pub fn spans<'s, 't: 's>(&'s self, text: &'t str) -> impl Iterator<Item = (Span, regex::Captures<'t>)> + 's {
        self.regex.captures_iter(text).filter_map(|c| {
            let m = c.get(1).or_else(|| c.get(0))?;
            Some((Span::new(m.start(), m.end()), c))
        })
    }
}

/// Runs `patterns` over the note: each match is checked by `validate`, scored, adjusted by
/// `context` and appended to `out` as `entity`.
pub fn run_patterns(
    doc: &Doc,
    detector: &'static str,
    entity: EntityType,
    patterns: &[Pattern],
    context: Option<&Context>,
    validate: impl Fn(&str, &Pattern) -> bool,
    out: &mut Vec<Detection>,
) {
    for p in patterns {
        for (span, _) in p.spans(doc.text) {
            if span.is_empty() || !validate(span.slice(doc.text), p) {
                continue;
            }
            let det = Detection::new(span, entity, p.score, detector, p.name);
            out.push(match context {
                Some(c) => c.apply(doc, det),
                None => det,
            });
        }
    }
}

/// The Luhn checksum used by card numbers and many identifiers.
pub fn luhn(digits: &str) -> bool {
    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if ds.len() < 2 {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { let x = d * 2; if x > 9 { x - 9 } else { x } } else { d })
        .sum();
    sum % 10 == 0
}

/// A pattern for an identifier written after a label: `LABEL [number|no|#|id] [:#] VALUE`, where
/// the value (group 1) has at least `min` chars of letters, digits and dashes.
pub fn labelled(name: &'static str, labels: &str, min: usize, score: f32) -> Pattern {
    Pattern::new(
        name,
        &format!(r"(?i)(?-u:\b)(?:{labels})\s*(?:number|num|no\.?|nr\.?|#|id|code)?\s*(?:is|was|of)?\s*[:#=]?\s*#?\s*([A-Z0-9][A-Z0-9-]{{{}, 40}})(?-u:\b)", min.saturating_sub(1)),
        score,
    )
}

/// True when `text` contains `needle` (ASCII letters compared without case): a cheap test that
/// lets a detector skip patterns that cannot match.
pub fn contains_ci(text: &str, needle: &str) -> bool {
    let (t, n) = (text.as_bytes(), needle.as_bytes());
    !n.is_empty() && t.len() >= n.len() && t.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// True when `s` has at least one ASCII digit.
pub fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}
