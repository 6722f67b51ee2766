//! Context words learned from a steward's review: the word or two written right before a span the
//! detectors missed ("c/o", "seen by", "neighbour") become, once a steward confirms them, cue words
//! for that span's type. [`cue_before`] proposes the phrase from an added span; [`Learned`] makes the
//! engine use the confirmed phrases: a candidate of the phrase's type that starts right after it
//! gains [`LEARNED_DELTA`], and where no detector made a candidate there, a word-shaped run (names,
//! locations) or an identifier-shaped run (identifier types) after the phrase becomes one. Other
//! types are only raised, never created.
//!
//! Never holds note text beyond the phrases themselves, which are never part of a PHI span.

use crate::detectors::{has_digit, is_stopword, name};
use crate::gazetteer::gazetteers;
use crate::{Detection, Doc, EntityType};
use localdx_span::Span;
use serde::{Deserialize, Serialize};

/// What a learned context word adds to the score of a candidate right after it.
pub const LEARNED_DELTA: f32 = 0.3;
/// The score of a candidate made only because it follows a learned context word, before the
/// word's delta (so it ends at 0.75 and passes the default threshold of 0.5).
pub const LEARNED_BASE: f32 = 0.45;
/// A phrase has at most this many words.
pub const MAX_WORDS: usize = 4;

/// A confirmed context word (a phrase of one to [`MAX_WORDS`] words) for one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextTerm {
    /// Lower case, single spaces (see [`normalise`]).
    pub words: String,
    #[serde(rename = "type")]
    pub entity: EntityType,
}

/// Lower-cases a phrase and collapses its white space; `None` when it has no word, more than
/// [`MAX_WORDS`] words, or only stop words.
pub fn normalise(words: &str) -> Option<String> {
    let n = words.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let doc = Doc::new(&n);
    let count = doc.tokens.len();
    if count == 0 || count > MAX_WORDS || (0..count).all(|i| is_stopword(doc.lower(i))) {
        return None;
    }
    Some(n)
}

/// Which candidates a learned word may create where no detector made one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One to three words shaped like a name or a place.
    Words,
    /// One run of letters, digits and dashes with a digit, at least 4 chars.
    Identifier,
    /// Raise only.
    None,
}

fn shape(entity: EntityType) -> Shape {
    use EntityType::*;
    match entity {
        Name | Location => Shape::Words,
        Id | MedicalRecord | HealthPlan | Account | License | Device | Vehicle => Shape::Identifier,
        _ => Shape::None,
    }
}

/// The gaps inside a phrase, trimmed, as they are compared ("/" in "c/o", "" in "seen by").
fn inner_gaps(doc: &Doc, from: usize, count: usize) -> Vec<String> {
    (from..from + count - 1).map(|i| doc.gap_after(i).trim().to_string()).collect()
}

struct Phrase {
    words: Vec<String>,
    gaps: Vec<String>,
    entity: EntityType,
    display: String,
}

/// The confirmed context words of a configuration, ready to match.
pub(crate) struct Learned {
    phrases: Vec<Phrase>,
}

impl Learned {
    pub(crate) fn new(terms: &[ContextTerm]) -> Learned {
        let phrases = terms
            .iter()
            .filter_map(|t| {
                let doc = Doc::new(&t.words);
                let n = doc.tokens.len();
                (n > 0).then(|| Phrase {
                    words: (0..n).map(|i| doc.lower(i).to_string()).collect(),
                    gaps: inner_gaps(&doc, 0, n),
                    entity: t.entity,
                    display: t.words.clone(),
                })
            })
            .collect();
        Learned { phrases }
    }

    /// Raises or adds candidates after every learned phrase in `doc` (see the module doc).
    pub(crate) fn apply(&self, doc: &Doc, types: &std::collections::BTreeSet<EntityType>, out: &mut Vec<Detection>) {
        let n = doc.tokens.len();
        for p in self.phrases.iter().filter(|p| types.contains(&p.entity)) {
            let m = p.words.len();
            for k in 0..n.saturating_sub(m) {
                if !(0..m).all(|j| doc.lower(k + j) == p.words[j]) || inner_gaps(doc, k, m) != p.gaps {
                    continue;
                }
                let next = k + m;
                let gap = doc.gap_after(next - 1);
                if gap.contains('\n') || gap.chars().count() > 3 {
                    continue;
                }
                // the candidate starts at the next word, or one word later ("c/o Mrs Qxel")
                let lo = doc.tokens[next].span.start;
                let hi = doc.tokens.get(next + 1).map_or(lo, |t| t.span.start);
                let mut raised = false;
                for d in out.iter_mut() {
                    let already = d.context.as_ref().is_some_and(|c| c.learned);
                    if d.entity == p.entity && (lo..=hi).contains(&d.span.start) && !already {
                        *d = d.clone().with_learned_context(&p.display, LEARNED_DELTA);
                        raised = true;
                    }
                }
                if raised {
                    continue;
                }
                let span = match shape(p.entity) {
                    Shape::Words => word_run(doc, next),
                    Shape::Identifier => identifier_run(doc, next),
                    Shape::None => None,
                };
                if let Some(span) = span {
                    let d = Detection::new(span, p.entity, LEARNED_BASE, "learned", "learned_context");
                    out.push(d.with_learned_context(&p.display, LEARNED_DELTA));
                }
            }
        }
    }
}

/// Whether token `i` may be a word of a name or place after a learned cue.
fn fits_word(doc: &Doc, i: usize) -> bool {
    let t = &doc.tokens[i];
    let w = doc.lower(i);
    if !t.alpha || w.chars().count() < 2 || is_stopword(w) || name::is_title(w) || name::is_clinical_abbreviation(w) {
        return false;
    }
    if doc.cased {
        return doc.capitalised(i);
    }
    let g = gazetteers();
    g.is_any_name(w) || !(g.is_common(w) || g.is_clinical(w) || name::is_eponym(w))
}

/// One to three fitting words from token `i`, joined by a space or a dash.
fn word_run(doc: &Doc, i: usize) -> Option<Span> {
    if !fits_word(doc, i) {
        return None;
    }
    let mut end = i + 1;
    while end < doc.tokens.len() && end - i < 3 {
        let gap = doc.gap_after(end - 1);
        if !(gap == " " || gap == "-") || !fits_word(doc, end) {
            break;
        }
        end += 1;
    }
    Some(Span::new(doc.tokens[i].span.start, doc.tokens[end - 1].span.end))
}

/// The run of letters, digits and dashes starting at token `i`, when it has a digit and at least
/// four chars.
fn identifier_run(doc: &Doc, i: usize) -> Option<Span> {
    let start = doc.tokens[i].span.start;
    let rest = &doc.text[start..];
    let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '-')).unwrap_or(rest.len());
    let run = rest[..len].trim_end_matches('-');
    (run.chars().count() >= 4 && has_digit(run)).then(|| Span::new(start, start + run.len()))
}

/// The context phrase a steward's added `span` proposes: the one or two words right before it on
/// the same line and in the same sentence (a full stop after a title or an initial does not end
/// it), lower-cased, leading stop words dropped. Nothing when those words are only stop words,
/// touch another PHI span in `phi`, hold a digit, or repeat a word of the span itself: a context
/// word is never PHI.
pub fn cue_before(text: &str, span: Span, phi: &[Span]) -> Option<String> {
    let doc = Doc::new(text);
    let first = doc.tokens.iter().position(|t| t.span.end > span.start).unwrap_or(doc.tokens.len());
    let mut picked: Vec<usize> = Vec::new();
    let mut k = first;
    while k > 0 && picked.len() < 2 {
        let t = k - 1;
        let until = if picked.is_empty() { span.start } else { doc.tokens[k].span.start };
        let gap = &text[doc.tokens[t].span.end..until];
        let w = doc.lower(t);
        let ends_sentence = gap.contains(['\n', ';', '!', '?', ',', '(', ')']) || gap.contains('.') && !(name::is_title(w) || w.chars().count() == 1);
        let token = doc.tokens[t];
        if ends_sentence || gap.chars().count() > 3 || token.digit || has_digit(doc.word(t)) || phi.iter().any(|p| p.overlaps(&token.span)) {
            break;
        }
        picked.insert(0, t);
        k = t;
    }
    // "pt's neighbour": a possessive is kept even when its word is a stop word
    let possessive = |t: usize| doc.word(t).ends_with("'s") || doc.word(t).ends_with("\u{2019}s");
    while picked.first().is_some_and(|&t| is_stopword(doc.lower(t)) && !possessive(t)) {
        picked.remove(0);
    }
    let (&a, &b) = (picked.first()?, picked.last()?);
    let own = Doc::new(span.slice(text));
    let own_words: Vec<&str> = (0..own.tokens.len()).map(|i| own.lower(i)).collect();
    if picked.iter().any(|&t| own_words.contains(&doc.lower(t))) {
        return None;
    }
    normalise(&text[doc.tokens[a].span.start..doc.tokens[b].span.end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cue(text: &str, added: &str, phi: &[&str], expected: Option<&str>) {
        let at = text.find(added).expect("span in text");
        let phi: Vec<Span> = phi.iter().map(|p| {
            let s = text.find(p).expect("phi in text");
            Span::new(s, s + p.len())
        }).collect();
        assert_eq!(cue_before(text, Span::new(at, at + added.len()), &phi).as_deref(), expected, "{text:?} / {added:?}");
    }

    #[test]
    fn cues_proposed_from_added_spans() {
        check_cue("Parcel sent c/o Qxelbrandt yesterday.", "Qxelbrandt", &[], Some("c/o"));
        check_cue("Was seen by Dr Qxel on the ward", "Dr Qxel", &[], Some("seen by"));
        check_cue("Keys left with pt's neighbour Qxel.", "Qxel", &[], Some("pt's neighbour"));
        check_cue("Seen by Dr. Qxel today", "Qxel", &[], Some("dr"));
        check_cue("MRN per Registry Office ZX-48213 noted", "ZX-48213", &[], Some("registry office"));
        // negative rows: only stop words, another PHI span, a digit, a new sentence or line, the span's own word
        check_cue("He is with Qxel now", "Qxel", &[], None);
        check_cue("Met John Qxel at home", "Qxel", &["John"], None);
        check_cue("Room 12 Qxel", "Qxel", &[], None);
        check_cue("Discharged home. Qxel called", "Qxel", &[], None);
        check_cue("Family meeting\nQxel present", "Qxel", &[], None);
        check_cue("Qxel Qxel said", "Qxel said", &[], None);
        check_cue("Qxel came", "Qxel", &[], None);
    }

    #[test]
    fn phrases_normalise() {
        assert_eq!(normalise("  Seen   BY "), Some("seen by".into()));
        assert_eq!(normalise("c/o"), Some("c/o".into()));
        assert_eq!(normalise("by the"), None);
        assert_eq!(normalise(" "), None);
        assert_eq!(normalise("one two three four five"), None);
    }
}
