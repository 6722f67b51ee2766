//! From per-piece class probabilities to detections: pieces whose PHI probability (one minus the
//! probability of `O`) reaches the threshold, grouped into spans by kind, widened to whole words.

use crate::encoder::Pieces;
use crate::labels::{begin, inside, KINDS, PATTERNS};
use localdx_phi::Detection;
use localdx_span::Span;

/// The detector name tagger detections carry (rules carry their file's name).
pub const DETECTOR: &str = "tagger";

/// Detections in `text` from the probabilities of its pieces. The score is the highest PHI
/// probability among the span's pieces.
pub fn decode(text: &str, pieces: &Pieces, probs: &[Vec<f32>], threshold: f32) -> Vec<Detection> {
    let mut out = Vec::new();
    // the open span: kind, start piece, end piece (exclusive), best probability
    let mut open: Option<(usize, usize, usize, f32)> = None;
    let close = |open: &mut Option<(usize, usize, usize, f32)>, out: &mut Vec<Detection>| {
        if let Some((k, a, b, p)) = open.take() {
            let (s, _) = word(text, pieces.spans[a].0, pieces.spans[a].1);
            let (_, e) = word(text, pieces.spans[b - 1].0, pieces.spans[b - 1].1);
            out.push(Detection::new(Span::new(s, e), KINDS[k], p, DETECTOR, PATTERNS[k]));
        }
    };
    for (i, p) in probs.iter().enumerate() {
        let phi = 1.0 - p[0];
        if phi < threshold {
            close(&mut open, &mut out);
            continue;
        }
        let k = (0..KINDS.len()).max_by(|&a, &b| (p[begin(a)] + p[inside(a)]).total_cmp(&(p[begin(b)] + p[inside(b)]))).unwrap_or(0);
        let glued = i > 0 && pieces.spans[i - 1].1 == pieces.spans[i].0;
        let starts_new = p[begin(k)] > p[inside(k)] && !glued;
        match &mut open {
            Some((ok, _, end, best)) if *ok == k && !starts_new && *end == i => {
                *end = i + 1;
                *best = best.max(phi);
            }
            _ => {
                close(&mut open, &mut out);
                open = Some((k, i, i + 1, phi));
            }
        }
    }
    close(&mut open, &mut out);
    out
}

/// The alphanumeric word around `s..e` (the piece itself when it has no letter or digit).
pub(crate) fn word(text: &str, s: usize, e: usize) -> (usize, usize) {
    if !text[s..e].chars().any(|c| c.is_alphanumeric()) {
        return (s, e);
    }
    let start = text[..s].char_indices().rev().take_while(|(_, c)| c.is_alphanumeric()).last().map_or(s, |(i, _)| i);
    let end = e + text[e..].chars().take_while(|c| c.is_alphanumeric()).map(char::len_utf8).sum::<usize>();
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{CLASSES, OUTSIDE};
    use localdx_phi::EntityType;

    fn probs(classes: &[usize]) -> Vec<Vec<f32>> {
        classes
            .iter()
            .map(|&c| {
                let mut p = vec![0.01f32; CLASSES];
                p[c] = 1.0 - 0.01 * (CLASSES - 1) as f32;
                p
            })
            .collect()
    }

    fn check(text: &str, spans: &[(usize, usize)], classes: &[usize], want: &[(&str, EntityType)]) {
        let pieces = Pieces { ids: vec![0; spans.len()], spans: spans.to_vec() };
        let got: Vec<(&str, EntityType)> =
            decode(text, &pieces, &probs(classes), 0.5).iter().map(|d| (d.span.slice(text), d.entity)).collect();
        assert_eq!(got, want, "{text:?}");
    }

    #[test]
    fn pieces_group_into_word_spans() {
        use EntityType::*;
        let text = "seen by jo smithers on 3/4";
        let spans = [(0, 4), (5, 7), (8, 10), (11, 16), (16, 19), (20, 22), (23, 24), (24, 25), (25, 26)];
        // B I I(continuation) for the name, B I I for the date
        check(text, &spans, &[OUTSIDE, OUTSIDE, begin(0), inside(0), inside(0), OUTSIDE, begin(1), inside(1), inside(1)], &[
            ("jo smithers", Name),
            ("3/4", Date),
        ]);
        // a piece inside a word widens the span to the whole word
        check(text, &spans, &[OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE, begin(0), OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE], &[("smithers", Name)]);
        // two B's in a row are two spans; a kind change closes the span
        check(text, &spans, &[OUTSIDE, OUTSIDE, begin(0), begin(0), inside(0), OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE], &[
            ("jo", Name),
            ("smithers", Name),
        ]);
        // negative row: nothing above the threshold
        check(text, &spans, &[OUTSIDE; 9], &[]);
    }
}
