//! Redaction: replaces detected spans with a type tag (`[NAME]`), a fixed mask, or consistent
//! surrogates. Surrogates are keyed by a per-project secret and the patient, so the same real value
//! becomes the same fake value in every note of that patient; dates move by one per-patient offset
//! so intervals between a patient's dates survive; formats are kept (a phone stays phone-shaped,
//! an ALL-CAPS name stays upper case). Text outside the spans is never changed.
//!
//! Never keeps a table of real-to-fake values: every surrogate is recomputed from the secret.

use crate::gazetteer::gazetteers;
use crate::{Detection, EntityType};
use localdx_span::Span;
use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// A fresh 32-byte surrogate secret from the operating system's cryptographically secure random
/// number generator (`getrandom` through `rand`'s `OsRng`), hex-encoded (64 chars). Callers store it
/// once per project; it is never derived from anything predictable.
pub fn new_secret() -> Result<String, crate::PhiError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| crate::PhiError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// How detected spans are replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `[NAME]`, `[DATE]`, ...
    Tag,
    /// Every non-space char becomes this char (line breaks and spaces stay).
    Mask(char),
    /// Realistic fake values, consistent per patient, keyed by the secret.
    Surrogate { secret: Vec<u8> },
}

/// One replaced span: where it was in the original and where its replacement is in the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replacement {
    pub original: Span,
    pub replaced: Span,
    pub entity: EntityType,
}

/// A redacted note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redaction {
    pub text: String,
    pub replacements: Vec<Replacement>,
}

/// Replaces the `detections` of `text` (sorted, non-overlapping, as [`crate::Engine::detect`]
/// returns them; others are skipped) by `strategy`. `patient` keys surrogates and date shifts.
pub fn redact(text: &str, detections: &[Detection], strategy: &Strategy, patient: &str) -> Redaction {
    let mut out = String::with_capacity(text.len());
    let mut replacements = Vec::with_capacity(detections.len());
    let mut pos = 0;
    for d in detections {
        let s = d.span;
        if s.start < pos || s.end > text.len() || !text.is_char_boundary(s.start) || !text.is_char_boundary(s.end) {
            continue;
        }
        out.push_str(&text[pos..s.start]);
        let original = s.slice(text);
        let start = out.len();
        match strategy {
            Strategy::Tag => out.push_str(&d.entity.tag()),
            Strategy::Mask(c) => out.extend(original.chars().map(|o| if o.is_whitespace() { o } else { *c })),
            Strategy::Surrogate { secret } => out.push_str(&surrogate(secret, patient, d.entity, original)),
        }
        replacements.push(Replacement { original: s, replaced: Span::new(start, out.len()), entity: d.entity });
        pos = s.end;
    }
    out.push_str(&text[pos..]);
    Redaction { text: out, replacements }
}

/// A keyed hash of the parts (secret first), as a stream of u64s.
struct Keyed([u8; 32], usize);

impl Keyed {
    fn new(secret: &[u8], parts: &[&[u8]]) -> Keyed {
        let mut h = Sha256::new();
        h.update((secret.len() as u64).to_le_bytes());
        h.update(secret);
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Keyed(h.finalize().into(), 0)
    }
    fn next(&mut self) -> u64 {
        if self.1 + 8 > 32 {
            let mut h = Sha256::new();
            h.update(self.0);
            self.0 = h.finalize().into();
            self.1 = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[self.1..self.1 + 8]);
        self.1 += 8;
        u64::from_le_bytes(b)
    }
}

fn normalise(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The per-patient date shift in days: between 30 and 729 days back.
pub fn date_shift(secret: &[u8], patient: &str) -> i64 {
    -(30 + (Keyed::new(secret, &[b"date-shift", patient.as_bytes()]).next() % 700) as i64)
}

/// The surrogate of one value.
pub fn surrogate(secret: &[u8], patient: &str, entity: EntityType, original: &str) -> String {
    match entity {
        EntityType::Name => per_word(secret, patient, original, |k, w| fake_name(k, w)),
        EntityType::Location => per_word(secret, patient, original, |k, _| fake_place(k)),
        EntityType::Date => shift_date(original, date_shift(secret, patient))
            .unwrap_or_else(|| shape_keep(&mut Keyed::new(secret, &[b"date", patient.as_bytes(), normalise(original).as_bytes()]), original, 0)),
        EntityType::Age => "90".to_string(),
        EntityType::Email | EntityType::Url => {
            // keep the scheme, "www." and the top-level domain; replace the rest by shape
            let keep_tail = original.rfind('.').map_or(original.len(), |i| i);
            let head_start = ["https://www.", "http://www.", "https://", "http://", "www."]
                .iter()
                .find(|p| original.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)))
                .map_or(0, |p| p.len());
            let head_start = head_start.min(keep_tail);
            let mut k = Keyed::new(secret, &[entity.as_str().as_bytes(), patient.as_bytes(), normalise(original).as_bytes()]);
            format!("{}{}{}", &original[..head_start], shape_keep(&mut k, &original[head_start..keep_tail], 0), &original[keep_tail..])
        }
        _ => {
            let mut k = Keyed::new(secret, &[entity.as_str().as_bytes(), patient.as_bytes(), normalise(original).as_bytes()]);
            let min_first = if entity == EntityType::Phone { 2 } else { 0 };
            shape_keep(&mut k, original, min_first)
        }
    }
}

/// Replaces each letter by a letter of the same case and each digit by a digit; other chars stay.
/// `min_first` is the smallest allowed first digit (2 for phone numbers: no area code starts 0/1).
fn shape_keep(k: &mut Keyed, s: &str, min_first: u32) -> String {
    let mut first_digit = true;
    s.chars()
        .map(|c| {
            let r = k.next();
            if c.is_ascii_digit() {
                let lo = if first_digit { min_first } else { 0 };
                first_digit = false;
                char::from_digit(lo + (r % (10 - lo as u64)) as u32, 10).unwrap_or('0')
            } else if c.is_uppercase() {
                (b'A' + (r % 26) as u8) as char
            } else if c.is_alphabetic() {
                (b'a' + (r % 26) as u8) as char
            } else {
                c
            }
        })
        .collect()
}

/// Applies `fake` to every word (run of letters) of `s`, keyed by the word, keeping its case.
fn per_word(secret: &[u8], patient: &str, s: &str, fake: impl Fn(&mut Keyed, &str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            let lower = normalise(word);
            let mut k = Keyed::new(secret, &[b"word", patient.as_bytes(), lower.as_bytes()]);
            let f = fake(&mut k, &lower);
            out.push_str(&with_case(word, &f));
            word.clear();
        }
    };
    for c in s.chars() {
        if c.is_alphabetic() || c == '\'' && !word.is_empty() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn with_case(original: &str, fake: &str) -> String {
    let letters: Vec<char> = original.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if letters.len() > 1 && upper == letters.len() {
        fake.to_uppercase()
    } else if upper == 0 {
        fake.to_lowercase()
    } else {
        let mut cs = fake.chars();
        match cs.next() {
            Some(f) => f.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
            None => String::new(),
        }
    }
}

static TOP_FIRST: LazyLock<Vec<&'static str>> = LazyLock::new(|| pick_top(&gazetteers().first, 1000));
static TOP_LAST: LazyLock<Vec<&'static str>> = LazyLock::new(|| pick_top(&gazetteers().last, 5000));
static CITIES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut v: Vec<&'static str> = gazetteers().cities.values().flatten().filter(|p| p.len() == 1).map(|p| p[0]).collect();
    v.sort_unstable();
    v.dedup();
    v
});

fn pick_top(m: &std::collections::HashMap<&'static str, u32>, n: u32) -> Vec<&'static str> {
    let mut v: Vec<(&'static str, u32)> = m.iter().filter(|(_, &r)| r < n).map(|(k, r)| (*k, *r)).collect();
    v.sort_by_key(|&(_, r)| r);
    v.into_iter().map(|(k, _)| k).collect()
}

fn fake_name(k: &mut Keyed, word: &str) -> String {
    let g = gazetteers();
    let r = k.next() as usize;
    if word.chars().count() == 1 {
        return ((b'a' + (r % 26) as u8) as char).to_string();
    }
    let list = if g.is_first(word) && !g.last.get(word).is_some_and(|&lr| lr < g.first.get(word).copied().unwrap_or(0)) { &*TOP_FIRST } else { &*TOP_LAST };
    match list.get(r % list.len().max(1)) {
        Some(name) => name.to_string(),
        None => "x".repeat(word.len()),
    }
}

fn fake_place(k: &mut Keyed) -> String {
    let r = k.next() as usize;
    CITIES.get(r % CITIES.len().max(1)).map_or_else(|| "place".to_string(), |c| c.to_string())
}

// ---- dates --------------------------------------------------------------------------------------

const MONTH_NAMES: [&str; 12] = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn pad(v: u32, like: &str) -> String {
    if like.len() >= 2 && like.starts_with('0') { format!("{v:02}") } else { v.to_string() }
}

fn year_text(y: i64, like: &str) -> String {
    if like.len() == 2 { format!("{:02}", y.rem_euclid(100)) } else { y.to_string() }
}

fn expand_year(s: &str) -> i64 {
    let y: i64 = s.parse().unwrap_or(2000);
    if s.len() == 2 { if y < 40 { 2000 + y } else { 1900 + y } } else { y }
}

fn month_text(m: u32, like: &str) -> String {
    let full = MONTH_NAMES[(m - 1) as usize];
    let body = if like.trim_end_matches('.').len() <= 4 && !MONTH_NAMES.contains(&like.to_lowercase().as_str()) { &full[..3] } else { full };
    let mut s = with_case(like, body);
    if like.ends_with('.') {
        s.push('.');
    }
    s
}

static MDY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{1,2})([/.-])(\d{1,2})(?:([/.-])(\d{4}|\d{2}))?$").expect("compiles"));
static ISO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})(.*)$").expect("compiles"));
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^([a-z]+\.?)(\s+(?:of\s+)?)(\d{1,2}\b)?((?:st|nd|rd|th)?)(,?\s*)('?)(\d{4}|\d{2})?$").expect("compiles")
});
static DAY_NAMED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)^(\d{1,2})((?:st|nd|rd|th)?)(\s+(?:of\s+)?)([a-z]+\.?)(,?\s*)(\d{4})?$").expect("compiles"));

/// The ordinal suffix of `d` ("st", "nd", ...) in the case of `like`; empty when `like` is empty.
fn ordinal(d: u32, like: &str) -> String {
    if like.is_empty() {
        return String::new();
    }
    let s = match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    if like.chars().all(|c| c.is_uppercase()) { s.to_uppercase() } else { s.to_string() }
}
static YEAR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4}|\d{2})([sS]?)$").expect("compiles"));

fn month_of(name: &str) -> Option<u32> {
    let n = name.trim_end_matches('.').to_lowercase();
    if n.len() < 3 {
        return None;
    }
    MONTH_NAMES.iter().position(|m| m.starts_with(&n) || (n == "sept" && *m == "september")).map(|i| i as u32 + 1)
}

/// Shifts a date written in one of the formats the date detector finds by `days`, keeping the
/// format. Dates without a year are placed in a leap year so "2/29" stays valid. `None` when the
/// text is not a date this function can read.
pub fn shift_date(s: &str, days: i64) -> Option<String> {
    let shift = |y: i64, m: u32, d: u32| -> Option<(i64, u32, u32)> {
        if !crate::detectors::date::valid_date(m, d, Some(y as i32)) {
            return None;
        }
        Some(civil_from_days(days_from_civil(y, m, d) + days))
    };
    if let Some(c) = MDY.captures(s) {
        let (m, d): (u32, u32) = (c[1].parse().ok()?, c[3].parse().ok()?);
        return match c.get(5) {
            Some(yt) => {
                let (y2, m2, d2) = shift(expand_year(yt.as_str()), m, d)?;
                Some(format!("{}{}{}{}{}", pad(m2, &c[1]), &c[2], pad(d2, &c[3]), &c[4], year_text(y2, yt.as_str())))
            }
            None => {
                let (_, m2, d2) = shift(2000, m, d)?;
                Some(format!("{}{}{}", pad(m2, &c[1]), &c[2], pad(d2, &c[3])))
            }
        };
    }
    if let Some(c) = ISO.captures(s) {
        let (y2, m2, d2) = shift(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)?;
        return Some(format!("{y2:04}-{}-{}{}", pad(m2, &c[2]), pad(d2, &c[3]), &c[4]));
    }
    if let Some(c) = DAY_NAMED.captures(s) {
        let m = month_of(&c[4])?;
        let d: u32 = c[1].parse().ok()?;
        let y = c.get(6).map_or(2000, |y| expand_year(y.as_str()));
        let (y2, m2, d2) = shift(y, m, d)?;
        let year = c.get(6).map_or(String::new(), |yt| year_text(y2, yt.as_str()));
        return Some(format!("{}{}{}{}{}{}", pad(d2, &c[1]), ordinal(d2, &c[2]), &c[3], month_text(m2, &c[4]), &c[5], year));
    }
    if let Some(c) = NAMED.captures(s) {
        let m = month_of(&c[1])?;
        let y = c.get(7).map_or(2000, |y| expand_year(y.as_str()));
        let d = match c.get(3) {
            Some(d) => d.as_str().parse().ok()?,
            None => 15,
        };
        let (y2, m2, d2) = shift(y, m, d)?;
        let day = c.get(3).map_or(String::new(), |dt| pad(d2, dt.as_str()));
        let year = c.get(7).map_or(String::new(), |yt| year_text(y2, yt.as_str()));
        return Some(format!("{}{}{}{}{}{}{}", month_text(m2, &c[1]), &c[2], day, ordinal(d2, &c[4]), &c[5], &c[6], year));
    }
    if s.len() >= 3 && month_of(s).is_some() && s.chars().all(|c| c.is_alphabetic() || c == '.') {
        let (_, m2, _) = shift(2000, month_of(s)?, 15)?;
        return Some(month_text(m2, s));
    }
    if let Some(c) = YEAR.captures(s) {
        // a year alone moves with the middle of that year
        let (y2, _, _) = shift(expand_year(&c[1]), 7, 1)?;
        return Some(format!("{}{}", year_text(y2, &c[1]), &c[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_hex() {
        let a = new_secret().expect("OS randomness");
        let b = new_secret().expect("OS randomness");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // negative row: two secrets are never the same (probability 2^-256)
        assert_ne!(a, b);
        // and not all one nibble value (a zeroed buffer would give "000...")
        assert!(a.bytes().any(|c| c != a.as_bytes()[0]));
    }
    use crate::Engine;

    fn check(strategy: Strategy, text: &str, expected: &str) {
        let engine = Engine::default();
        let dets = engine.detect(text);
        let r = redact(text, &dets, &strategy, "p1");
        assert_eq!(r.text, expected, "{text:?}");
    }

    #[test]
    fn tags_and_masks() {
        check(Strategy::Tag, "Seen by Dr. Marder on 10/18/2003.", "Seen by Dr. [NAME] on [DATE].");
        check(Strategy::Mask('*'), "Dr. Marder, 10/18/2003", "Dr. ******, **********");
        // negative rows: nothing found, nothing changed
        check(Strategy::Tag, "BP 120/80, 2/6 murmur.", "BP 120/80, 2/6 murmur.");
        check(Strategy::Tag, "", "");
    }

    #[test]
    fn date_shifts_keep_formats() {
        for (date, days, want) in [
            ("10/18/2003", -10, "10/8/2003"),
            ("03/01/2000", -1, "02/29/2000"),
            ("3/1", -1, "2/29"),
            ("2006-04-07 09:00:27", 30, "2006-05-07 09:00:27"),
            ("MARCH OF 1993", -31, "FEBRUARY OF 1993"),
            ("Oct 3, 2020", 1, "Oct 4, 2020"),
            ("3rd of October", 1, "4th of October"),
            ("1992", -400, "1991"),
            ("95", -400, "94"),
            ("1/5/01", -5, "12/31/00"),
        ] {
            assert_eq!(shift_date(date, days).as_deref(), Some(want), "{date} {days}");
        }
        // negative rows
        for bad in ["2/30/2001", "hello", "13/45"] {
            assert_eq!(shift_date(bad, 3), None, "{bad}");
        }
    }

    #[test]
    fn surrogates_keep_shape() {
        let secret = b"s3cret".to_vec();
        let name = surrogate(&secret, "p1", EntityType::Name, "NICHOLSON");
        assert!(name.chars().all(|c| c.is_ascii_uppercase()) && name != "NICHOLSON", "{name}");
        let title = surrogate(&secret, "p1", EntityType::Name, "Gerry Masci");
        let words: Vec<&str> = title.split(' ').collect();
        assert_eq!(words.len(), 2);
        assert!(words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase)), "{title}");
        let phone = surrogate(&secret, "p1", EntityType::Phone, "(410) 322-1419");
        assert!(Regex::new(r"^\([2-9]\d\d\) \d{3}-\d{4}$").expect("re").is_match(&phone), "{phone}");
        let email = surrogate(&secret, "p1", EntityType::Email, "jo.smith@mail.com");
        assert!(email.ends_with(".com") && email.contains('@') && email != "jo.smith@mail.com", "{email}");
    }
}
