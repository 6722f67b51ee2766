//! Evidence for diagnostic suggestions: which words of a note support a code, found by matching
//! the codes' names (ICD-10-CM descriptions, or any label names) against the note.
//!
//! A name becomes a *term*: its head phrase (before a comma, "with", "without", "due to" and
//! other qualifiers; parentheses dropped) reduced to its content words, each normalised (lower
//! case, British spellings folded: "oedema" is "edema", plurals stemmed). A term matches a
//! sentence of the note when all its words occur in it close together, in any order ("pain in
//! the chest" supports "Chest pain"). Matching goes through an inverted index from word to
//! terms, so a note costs one pass over its words whatever the number of codes.
//!
//! Each match is then checked for what surrounds it, NegEx-style (Chapman et al. 2001):
//! - **negated** when a negation trigger ("no", "denies", "without", "negative for", "ruled out",
//!   ...) precedes it within six words of the same sentence, with no scope terminator ("but",
//!   "however", ...) between, or a post-trigger ("was ruled out", "unlikely") follows it closely;
//! - **not the patient's** under a "Family history" heading or after "family history of",
//!   "mother", "father", ... in the same sentence.
//!
//! Only affirmed findings of the patient count as support ([`Lexicon::support`]); the others are
//! still returned by [`Lexicon::find`], so a screen can show them struck through.

use std::collections::HashMap;

/// A byte range of the note.
pub type Span = (usize, usize);

/// Whose finding a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Experiencer {
    Patient,
    /// A relative's (family history).
    Family,
}

/// One term matched in one sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub label: String,
    /// The name the term came from.
    pub name: String,
    /// The note's words that matched, in note order.
    pub spans: Vec<Span>,
    pub negated: bool,
    pub experiencer: Experiencer,
}

impl Evidence {
    /// Whether this match supports its label: affirmed, and the patient's.
    pub fn supports(&self) -> bool {
        !self.negated && self.experiencer == Experiencer::Patient
    }
}

/// A label with the affirmed evidence for it, ranked by [`Lexicon::support`].
#[derive(Debug, Clone, PartialEq)]
pub struct Support {
    pub label: String,
    /// The number of words of its most specific matched term, plus a tenth per further match
    /// (more specific and more often mentioned first).
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

struct Term {
    label: String,
    name: String,
    words: Vec<String>,
}

/// Terms of label names and the index from words to them.
pub struct Lexicon {
    terms: Vec<Term>,
    index: HashMap<String, Vec<usize>>,
}

/// Words that carry no finding of their own in a code's name.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "is", "of", "on", "or", "the", "to", "other", "unspecified",
    "specified", "classified", "elsewhere", "site", "sites", "part", "parts", "nos", "region", "stated", "type",
];

/// Where a name's qualifiers start: everything after is dropped.
const QUALIFIERS: &[&str] = &[", ", " with ", " without ", " due to ", " in diseases ", " not elsewhere", " following ", " complicating "];

/// Negation triggers before a finding (word sequences, lower case).
const PRE_NEGATION: &[&[&str]] = &[
    &["no"],
    &["not"],
    &["denies"],
    &["denied"],
    &["deny"],
    &["denying"],
    &["without"],
    &["never"],
    &["nor"],
    &["negative", "for"],
    &["free", "of"],
    &["absence", "of"],
    &["ruled", "out"],
    &["rule", "out"],
    &["excluded"],
];

/// Negation triggers after a finding.
const POST_NEGATION: &[&[&str]] = &[&["ruled", "out"], &["was", "excluded"], &["were", "excluded"], &["excluded"], &["unlikely"], &["was", "negative"], &["were", "negative"], &["absent"]];

/// Words that end a trigger's scope.
const TERMINATORS: &[&str] = &["but", "however", "although", "though", "except", "yet", "aside", "which", "whereas", "still"];

/// Triggers that make the finding a relative's.
const FAMILY: &[&[&str]] = &[&["family", "history"], &["mother"], &["father"], &["brother"], &["sister"], &["grandmother"], &["grandfather"], &["aunt"], &["uncle"]];

/// Words before a pre-trigger's reach ends.
const PRE_REACH: usize = 6;
/// A run of words without sentence punctuation is cut into sentences of at most this many
/// words, so that the work per sentence stays bounded on text without punctuation.
const MAX_SENTENCE: usize = 64;
/// Words after a finding a post-trigger may follow.
const POST_REACH: usize = 3;

/// `word` lower-cased, British spellings folded, plurals stemmed: the form terms and notes
/// are compared in.
pub fn normalise(word: &str) -> String {
    let mut w = word.to_lowercase();
    for (from, to) in [("ae", "e"), ("oe", "e")] {
        if w.contains(from) {
            w = w.replace(from, to);
        }
    }
    let n = w.len();
    if n > 4 && w.ends_with("ies") {
        w.truncate(n - 3);
        w.push('y');
    } else if n > 4 && (w.ends_with("ses") || w.ends_with("xes") || w.ends_with("ches") || w.ends_with("shes")) {
        w.truncate(n - 2);
    } else if n > 3 && w.ends_with('s') && !(w.ends_with("ss") || w.ends_with("us") || w.ends_with("is")) {
        w.truncate(n - 1);
    }
    if w.len() > 5 && w.ends_with("our") {
        w.truncate(w.len() - 3);
        w.push_str("or");
    }
    w
}

/// A word of the note: its byte range, its lower-case form, its normalised form and its sentence.
struct Word {
    span: Span,
    lower: String,
    norm: String,
    sentence: usize,
}

/// The note's words, numbered by sentence, and each sentence's heading, if any: the lower-case
/// text before a colon that opens a line ("Family history: ..."), which holds until the next one.
/// Sentences end at `.` (not a decimal point), `;`, `?`, `!`, at every line end and after
/// [`MAX_SENTENCE`] words.
fn words(note: &str) -> (Vec<Word>, Vec<Option<String>>) {
    let mut out = Vec::new();
    let mut headings: Vec<Option<String>> = Vec::new();
    let mut heading: Option<String> = None;
    let mut offset = 0;
    for line in note.split_inclusive('\n') {
        let base = offset;
        offset += line.len();
        let mut body = 0;
        if let Some(colon) = line.find(':') {
            let head = line[..colon].trim();
            let short = head.split_whitespace().count() <= 5;
            if short && head.chars().next().is_some_and(char::is_alphabetic) && head.chars().all(|c| c.is_alphanumeric() || " /&-".contains(c)) {
                heading = Some(head.to_lowercase());
                body = colon + 1;
            }
        }
        headings.push(heading.clone());
        let sentence_of = |headings: &mut Vec<Option<String>>, out: &Vec<Word>| {
            let current = headings.len() - 1;
            if out.len() >= MAX_SENTENCE && out[out.len() - MAX_SENTENCE].sentence == current {
                headings.push(headings[current].clone());
            }
            headings.len() - 1
        };
        let chars: Vec<(usize, char)> = line[body..].char_indices().map(|(i, c)| (i + body, c)).collect();
        let mut start = None;
        for (k, &(i, c)) in chars.iter().enumerate() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                let w = &line[s..i];
                let sentence = sentence_of(&mut headings, &out);
                out.push(Word { span: (base + s, base + i), lower: w.to_lowercase(), norm: normalise(w), sentence });
            }
            let digit = |j: Option<&(usize, char)>| j.is_some_and(|(_, c)| c.is_ascii_digit());
            let decimal = c == '.' && k > 0 && digit(chars.get(k - 1)) && digit(chars.get(k + 1));
            if matches!(c, '.' | ';' | '?' | '!') && !decimal {
                headings.push(heading.clone());
            }
        }
        if let Some(s) = start {
            let w = &line[s..];
            let sentence = sentence_of(&mut headings, &out);
            out.push(Word { span: (base + s, base + line.len()), lower: w.to_lowercase(), norm: normalise(w), sentence });
        }
    }
    (out, headings)
}

/// Whether the word sequence `trigger` starts at `at`, inside `sentence`.
fn starts_at(words: &[Word], at: usize, trigger: &[&str]) -> bool {
    trigger.iter().enumerate().all(|(k, t)| words.get(at + k).is_some_and(|w| w.lower == *t && w.sentence == words[at].sentence))
}

impl Lexicon {
    /// Terms from `(label, name)` pairs; a label may have many names (every ICD-10-CM code under
    /// a category, say). Names that leave no content word are skipped.
    pub fn new<L: Into<String>, N: AsRef<str>>(names: impl IntoIterator<Item = (L, N)>) -> Lexicon {
        let mut terms: Vec<Term> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (label, name) in names {
            let (label, name) = (label.into(), name.as_ref());
            let Some(words) = term_words(name) else { continue };
            let mut key: Vec<String> = words.clone();
            key.sort();
            if seen.insert((label.clone(), key)) {
                terms.push(Term { label, name: name.to_string(), words });
            }
        }
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (t, term) in terms.iter().enumerate() {
            for w in &term.words {
                index.entry(w.clone()).or_default().push(t);
            }
        }
        Lexicon { terms, index }
    }

    /// The number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Every term matched in `note`, one per term and sentence, with its negation and experiencer.
    pub fn find(&self, note: &str) -> Vec<Evidence> {
        let (words, headings) = words(note);
        let mut out = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let sentence = words[start].sentence;
            let end = words[start..].iter().position(|w| w.sentence != sentence).map_or(words.len(), |p| start + p);
            self.sentence(&words, start..end, headings.get(sentence).cloned().flatten(), &mut out);
            start = end;
        }
        out
    }

    /// Labels with affirmed evidence of the patient's, best supported first.
    pub fn support(&self, note: &str) -> Vec<Support> {
        let mut by_label: HashMap<String, Support> = HashMap::new();
        for e in self.find(note).into_iter().filter(Evidence::supports) {
            let entry = by_label.entry(e.label.clone()).or_insert_with(|| Support { label: e.label.clone(), score: 0.0, evidence: Vec::new() });
            entry.evidence.push(e);
        }
        let mut out: Vec<Support> = by_label
            .into_values()
            .map(|mut s| {
                let best = s.evidence.iter().map(|e| e.spans.len()).max().unwrap_or(0) as f64;
                s.score = best + 0.1 * (s.evidence.len() - 1) as f64;
                s
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.label.cmp(&b.label)));
        out
    }

    /// Terms matched in the words `range` (one sentence).
    fn sentence(&self, words: &[Word], range: std::ops::Range<usize>, heading: Option<String>, out: &mut Vec<Evidence>) {
        // Each distinct word's positions in the sentence.
        let mut at: HashMap<&str, Vec<usize>> = HashMap::new();
        for i in range.clone() {
            at.entry(words[i].norm.as_str()).or_default().push(i);
        }
        let mut hits: HashMap<usize, usize> = HashMap::new();
        for w in at.keys() {
            for &t in self.index.get(*w).map_or(&[][..], Vec::as_slice) {
                *hits.entry(t).or_default() += 1;
            }
        }
        let family_section = heading.as_deref().is_some_and(|h| h.contains("family"));
        let mut matched: Vec<usize> = hits.into_iter().filter(|&(t, n)| n == self.terms[t].words.len()).map(|(t, _)| t).collect();
        matched.sort_unstable();
        for t in matched {
            let term = &self.terms[t];
            // The closest occurrence of each word to the term's first word's occurrences.
            let Some(positions) = closest(term, &at) else { continue };
            let (first, last) = (*positions.iter().min().expect("a term has words"), *positions.iter().max().expect("a term has words"));
            let mut spans: Vec<Span> = positions.iter().map(|&i| words[i].span).collect();
            spans.sort_unstable();
            let negated = negated(words, range.clone(), first, last);
            let family = family_section || (range.start..first).any(|i| FAMILY.iter().any(|f| starts_at(words, i, f)));
            out.push(Evidence {
                label: term.label.clone(),
                name: term.name.clone(),
                spans,
                negated,
                experiencer: if family { Experiencer::Family } else { Experiencer::Patient },
            });
        }
    }
}

/// The positions of a term's words closest together in the sentence, if they lie within a
/// window of the term's length plus four words.
fn closest(term: &Term, at: &HashMap<&str, Vec<usize>>) -> Option<Vec<usize>> {
    let anchor = at.get(term.words[0].as_str())?;
    let mut best: Option<(usize, Vec<usize>)> = None;
    for &a in anchor {
        let mut positions = vec![a];
        for w in &term.words[1..] {
            let p = *at.get(w.as_str())?.iter().min_by_key(|&&p| p.abs_diff(a))?;
            positions.push(p);
        }
        let width = positions.iter().max()? - positions.iter().min()?;
        if best.as_ref().is_none_or(|(w, _)| width < *w) {
            best = Some((width, positions));
        }
    }
    let (width, positions) = best?;
    (width < term.words.len() + 4).then_some(positions)
}

/// NegEx: a pre-trigger within [`PRE_REACH`] words before `first` with no terminator between,
/// or a post-trigger within [`POST_REACH`] words after `last`, inside the sentence `range`.
fn negated(words: &[Word], range: std::ops::Range<usize>, first: usize, last: usize) -> bool {
    let from = first.saturating_sub(PRE_REACH).max(range.start);
    for i in (from..first).rev() {
        if TERMINATORS.contains(&words[i].lower.as_str()) {
            break;
        }
        if PRE_NEGATION.iter().any(|t| starts_at(words, i, t) && i + t.len() <= first) {
            return true;
        }
    }
    let to = (last + 1 + POST_REACH).min(range.end);
    for i in last + 1..to {
        if TERMINATORS.contains(&words[i].lower.as_str()) {
            break;
        }
        if POST_NEGATION.iter().any(|t| starts_at(words, i, t)) {
            return true;
        }
    }
    false
}

/// A name's head phrase as normalised content words (`None` when none is left).
fn term_words(name: &str) -> Option<Vec<String>> {
    let mut head = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => head.push(c),
            _ => {}
        }
    }
    let mut head = head.to_lowercase();
    for q in QUALIFIERS {
        if let Some(i) = head.find(q) {
            head.truncate(i);
        }
    }
    let mut out: Vec<String> = Vec::new();
    for w in head.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if STOPWORDS.contains(&w) {
            continue;
        }
        let n = normalise(w);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_qualifiers() {
        assert_eq!(term_words("Pneumonia, unspecified organism").unwrap(), ["pneumonia"]);
        assert_eq!(term_words("Type 2 diabetes mellitus without complications").unwrap(), ["2", "diabete", "mellitus"]);
        assert_eq!(term_words("Essential (primary) hypertension").unwrap(), ["essential", "hypertension"]);
        assert_eq!(term_words("Other specified"), None);
    }

    #[test]
    fn spellings_and_plurals_fold() {
        assert_eq!(normalise("Oedema"), normalise("edema"));
        assert_eq!(normalise("haemorrhages"), "hemorrhage");
        assert_eq!(normalise("tumours"), "tumor");
        assert_eq!(normalise("arteries"), "artery");
        assert_eq!(normalise("abscesses"), "abscess");
        assert_eq!(normalise("virus"), "virus");
    }
}
