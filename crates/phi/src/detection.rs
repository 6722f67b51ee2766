//! A detection and its explanation: what was found, where, how sure, and why.
//! Never stores the note text itself; the covered text is sliced from the note on demand.

use crate::EntityType;
use localdx_span::{CharIndex, Span};
use serde::Serialize;

/// A context word that changed a detection's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextHit {
    /// The word as it appears in the note, lower-cased.
    pub word: String,
    /// How much it added to the score (negative when it lowered it).
    pub delta: f32,
    /// A context word a steward taught (see [`crate::learned`]), not one of the detector's own.
    pub learned: bool,
}

/// One detected PHI span with its explanation.
///
/// `span` is in bytes (see [`localdx_span`]'s invariant); `char_start..char_end` are the same span
/// in chars, filled in by [`crate::Engine::detect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub span: Span,
    pub char_start: usize,
    pub char_end: usize,
    pub entity: EntityType,
    /// Final score in `0..=1`, after context.
    pub score: f32,
    /// The pattern's score before context.
    pub base_score: f32,
    /// The detector (file) that produced it, e.g. `date`.
    pub detector: &'static str,
    /// The named pattern inside the detector, e.g. `month_day_year`.
    pub pattern: &'static str,
    /// The context word that changed the score, if any.
    pub context: Option<ContextHit>,
    /// How many raw detections were merged into this one (1 when it overlapped nothing).
    pub merged: u32,
    /// The other sources whose detections were merged into this one: detector names other than
    /// `detector`, sorted, without repeats (empty when only `detector` found it). A learned
    /// tagger's detections (detector `tagger`) merged with a rule's keep both names this way.
    pub also_found_by: Vec<&'static str>,
}

impl Detection {
    /// A detection with no context adjustment yet; char offsets are filled in by the engine.
    pub fn new(span: Span, entity: EntityType, score: f32, detector: &'static str, pattern: &'static str) -> Self {
        Detection {
            span,
            char_start: span.start,
            char_end: span.end,
            entity,
            score,
            base_score: score,
            detector,
            pattern,
            context: None,
            merged: 1,
            also_found_by: Vec::new(),
        }
    }

    /// Applies a context word: adds `delta` to the score (clamped to `0..=1`) and records why.
    pub fn with_context(mut self, word: &str, delta: f32) -> Self {
        self.score = (self.score + delta).clamp(0.0, 1.0);
        self.context = Some(ContextHit { word: word.to_string(), delta, learned: false });
        self
    }

    /// Applies a learned context word (see [`crate::learned`]): like [`Detection::with_context`],
    /// marked as learned.
    pub fn with_learned_context(mut self, word: &str, delta: f32) -> Self {
        self.score = (self.score + delta).clamp(0.0, 1.0);
        self.context = Some(ContextHit { word: word.to_string(), delta, learned: true });
        self
    }

    /// Fills in the char offsets from a char index of the same text.
    pub fn set_chars(&mut self, index: &CharIndex) {
        let (s, e) = index.char_span(self.span);
        self.char_start = s;
        self.char_end = e;
    }
}

/// Merges overlapping detections deterministically.
///
/// Detections that share at least one byte form a cluster (transitively). Each cluster becomes one
/// detection covering the union of its spans; its type and explanation are those of the member with
/// the highest score, ties broken by type priority (the order of [`EntityType`]), then the longer
/// span, then the earlier start, then detector and pattern name. The detectors of the other
/// members are kept in `also_found_by`. The result is sorted by start and does not depend on the
/// input order.
pub fn merge(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| {
        a.span.start.cmp(&b.span.start).then(b.span.end.cmp(&a.span.end)).then(a.entity.cmp(&b.entity))
    });
    let mut out: Vec<Detection> = Vec::with_capacity(dets.len());
    let mut cluster: Vec<Detection> = Vec::new();
    let mut cluster_end = 0usize;
    for d in dets {
        if d.span.is_empty() {
            continue;
        }
        if !cluster.is_empty() && d.span.start >= cluster_end {
            out.push(resolve(std::mem::take(&mut cluster)));
        }
        cluster_end = if cluster.is_empty() { d.span.end } else { cluster_end.max(d.span.end) };
        cluster.push(d);
    }
    if !cluster.is_empty() {
        out.push(resolve(cluster));
    }
    out
}

fn better(a: &Detection, b: &Detection) -> bool {
    use std::cmp::Ordering::*;
    match a.score.partial_cmp(&b.score).unwrap_or(Equal) {
        Greater => return true,
        Less => return false,
        Equal => {}
    }
    if a.entity != b.entity {
        return a.entity < b.entity;
    }
    if a.span.len() != b.span.len() {
        return a.span.len() > b.span.len();
    }
    if a.span.start != b.span.start {
        return a.span.start < b.span.start;
    }
    (a.detector, a.pattern) < (b.detector, b.pattern)
}

fn resolve(cluster: Vec<Detection>) -> Detection {
    let n = cluster.len() as u32;
    let mut span = cluster[0].span;
    let mut best = 0;
    for (i, d) in cluster.iter().enumerate() {
        span = span.union(&d.span);
        if i > 0 && better(d, &cluster[best]) {
            best = i;
        }
    }
    let mut sources: Vec<&'static str> = Vec::new();
    for d in &cluster {
        sources.push(d.detector);
        sources.extend_from_slice(&d.also_found_by);
    }
    let mut winner = cluster.into_iter().nth(best).expect("cluster is not empty");
    sources.retain(|s| *s != winner.detector);
    sources.sort_unstable();
    sources.dedup();
    winner.also_found_by = sources;
    winner.span = span;
    winner.char_start = span.start;
    winner.char_end = span.end;
    winner.merged = n;
    winner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: usize, e: usize, t: EntityType, score: f32, p: &'static str) -> Detection {
        Detection::new(Span::new(s, e), t, score, "test", p)
    }

    #[test]
    fn merging_keeps_every_source() {
        use EntityType::*;
        let tagger = |s, e, score| Detection::new(Span::new(s, e), Name, score, "tagger", "bio");
        let rule = |s, e, score| Detection::new(Span::new(s, e), Name, score, "name", "title_name");
        // the tagger wins on score, the rule's detector is kept; and the other way round
        let got = merge(vec![rule(4, 10, 0.8), tagger(0, 10, 0.9)]);
        assert_eq!((got.len(), got[0].detector, got[0].also_found_by.clone(), got[0].merged), (1, "tagger", vec!["name"], 2));
        let got = merge(vec![tagger(0, 10, 0.7), rule(4, 10, 0.8), rule(4, 9, 0.6)]);
        assert_eq!((got[0].detector, got[0].also_found_by.clone(), got[0].span), ("name", vec!["tagger"], Span::new(0, 10)));
        // merging again (after completion) keeps the sources it already had
        let again = merge(vec![got[0].clone(), Detection::new(Span::new(9, 14), Name, 0.5, "complete", "repeat")]);
        assert_eq!(again[0].also_found_by, vec!["complete", "tagger"]);
        // negative rows: one source only, or disjoint spans: nothing else named
        assert!(merge(vec![rule(0, 4, 0.8), rule(2, 6, 0.7)])[0].also_found_by.is_empty());
        assert!(merge(vec![rule(0, 4, 0.8), tagger(5, 9, 0.9)]).iter().all(|d| d.also_found_by.is_empty()));
    }

    fn check(input: Vec<Detection>, expected: &[(usize, usize, EntityType, &str, u32)]) {
        let mut rev = input.clone();
        rev.reverse();
        for dets in [input, rev] {
            let got: Vec<_> = merge(dets).iter().map(|d| (d.span.start, d.span.end, d.entity, d.pattern, d.merged)).collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn merging_is_deterministic() {
        use EntityType::*;
        // disjoint spans stay apart, touching spans stay apart
        check(vec![d(0, 3, Name, 0.9, "a"), d(3, 5, Date, 0.9, "b")], &[(0, 3, Name, "a", 1), (3, 5, Date, "b", 1)]);
        // the higher score wins the type, the union is the span
        check(vec![d(0, 4, Name, 0.6, "a"), d(2, 8, Location, 0.8, "b")], &[(0, 8, Location, "b", 2)]);
        // equal scores: the type listed first wins
        check(vec![d(0, 4, Location, 0.8, "a"), d(0, 4, Name, 0.8, "b")], &[(0, 4, Name, "b", 2)]);
        // a chain of overlaps is one cluster
        check(vec![d(0, 3, Date, 0.5, "a"), d(2, 6, Date, 0.7, "b"), d(5, 9, Phone, 0.6, "c")], &[(0, 9, Date, "b", 3)]);
        // empty spans are dropped
        check(vec![d(4, 4, Name, 1.0, "a")], &[]);
    }
}
