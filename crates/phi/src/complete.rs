//! Completion of accepted detections, run after thresholds and merging: what one finding says
//! about the words around it or elsewhere in the same note.
//!
//! - a name found once is a name wherever the same word recurs in the note ("Hakuba had given
//!   Hakuba his address");
//! - a word joined to a name by "and", "&" or a comma in a list is a name too ("Kadiev and Adams",
//!   "founders: Monjeau, Graves and Reed");
//! - a middle initial and the surname after it belong to the name ("Szabina J Gelencsér");
//! - a street address goes on over its unit, town, region code, postal code and country on the
//!   same line ("6750 Koskikatu 25 Apt. 864 Artilleros , CO  Uruguay 64677"), and back over a
//!   house number before it.
//!
//! Never adds a span that neither touches nor repeats an accepted detection, never crosses more
//! than one line break at a time (addresses are written over lines), and never looks outside the
//! note.

use crate::detectors::{is_stopword, name};
use crate::gazetteer::{gazetteers, Gazetteers};
use crate::{Detection, Doc, EntityType};
use localdx_span::Span;
use std::collections::HashSet;

const DETECTOR: &str = "complete";

/// Token indices `a..b` covered by `span`.
fn token_range(doc: &Doc, span: Span) -> (usize, usize) {
    (doc.token_containing(span.start), doc.token_at_or_after(span.end))
}

/// Whether a word can be a name by itself once something vouches for it: letters only, no
/// function word, clinical term, eponym or common word (unless a name list knows it).
fn namelike(doc: &Doc, g: &Gazetteers, i: usize) -> bool {
    let t = &doc.tokens[i];
    let w = doc.lower(i);
    if !t.alpha || w.chars().count() < 2 || is_stopword(w) || name::is_clinical_abbreviation(w) || name::is_eponym(w) {
        return false;
    }
    if name::is_credential(w) || name::is_relation(w) || name::is_title(w) {
        return false;
    }
    // a clinical word that is also a surname ("Barrett", "Graves") only when capitalised in a cased note
    if g.is_clinical(w) && !(doc.cased && t.title && g.is_any_name(w)) {
        return false;
    }
    if doc.cased {
        // in a cased note a name is capitalised, and common words need a name list
        t.title && (!g.is_common(w) || g.is_any_name(w))
    } else {
        // without case: a first name, or an unknown word of four letters or more ("RSC" is no name)
        g.is_first(w) && !g.is_clinical(w) || !g.is_common(w) && !g.is_clinical(w) && w.chars().count() >= 4
    }
}

/// The token that a list separator after token `i` leads to: ", X", " and X", " & X", ", and X".
fn joined_after(doc: &Doc, i: usize) -> Option<usize> {
    let n = doc.tokens.len();
    let gap = doc.gap_after(i);
    if i + 1 >= n {
        return None;
    }
    if gap == ", " || gap == " & " || gap == "," {
        return if doc.lower(i + 1) == "and" && doc.gap_after(i + 1) == " " { Some(i + 2).filter(|&j| j < n) } else { Some(i + 1) };
    }
    if gap == " " && doc.lower(i + 1) == "and" && doc.gap_after(i + 1) == " " && i + 2 < n {
        return Some(i + 2);
    }
    None
}

/// The token that a list separator before token `i` comes from (the mirror of [`joined_after`]).
fn joined_before(doc: &Doc, i: usize) -> Option<usize> {
    (i.saturating_sub(3)..i).rev().find(|&k| joined_after(doc, k) == Some(i))
}

fn add(out: &mut Vec<Detection>, doc: &Doc, a: usize, b: usize, entity: EntityType, score: f32, pattern: &'static str) {
    let span = Span::new(doc.tokens[a].span.start, doc.tokens[b - 1].span.end);
    out.push(Detection::new(span, entity, score, DETECTOR, pattern));
}

/// Adds completions of `dets` (accepted and merged) to a copy of them; the caller merges again.
pub fn complete(doc: &Doc, mut dets: Vec<Detection>) -> Vec<Detection> {
    let g = gazetteers();
    let n = doc.tokens.len();
    if n == 0 {
        return dets;
    }
    let mut covered = vec![false; n];
    let mut name_tok = vec![false; n];
    // a name found with a strong cue (a title, a relation word, a name list) may be repeated
    let mut strong = vec![false; n];
    for d in &dets {
        let (a, b) = token_range(doc, d.span);
        for k in a..b.min(n) {
            covered[k] = true;
            if d.entity == EntityType::Name {
                name_tok[k] = true;
                strong[k] = d.score >= 0.75;
            }
        }
    }
    let mut added = Vec::new();

    // 1. names in lists, to a fixed point: "Gerste, Johnson and Johnson"
    for _ in 0..4 {
        let mut changed = false;
        for i in 0..n {
            if !name_tok[i] {
                continue;
            }
            for j in [joined_after(doc, i), joined_before(doc, i)].into_iter().flatten() {
                if !covered[j] && namelike(doc, g, j) && !doc.gap_before(j).contains('\n') {
                    add(&mut added, doc, j, j + 1, EntityType::Name, 0.7, "name_in_list");
                    covered[j] = true;
                    name_tok[j] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // 1b. a list of capitalised words in a cased note, none a place, one at least on a name list:
    //     "founders: Monjeau, Graves and Reed", "Kadiev and Adams were precision engineers"
    if doc.cased {
        let mut i = 0;
        while i < n {
            if !doc.tokens[i].title {
                i += 1;
                continue;
            }
            let mut items = vec![i];
            // a place that is no name on any list ("Boston" is a surname too, "Tallinn" is not)
            let place_only = |k: usize| place_word(g, doc, k) && !g.is_any_name(doc.lower(k));
            while let Some(j) = joined_after(doc, *items.last().unwrap_or(&i)) {
                if !namelike(doc, g, j) || place_only(j) || doc.gap_before(j).contains('\n') {
                    break;
                }
                items.push(j);
            }
            let listed = items.len() >= 2 && namelike(doc, g, i) && !place_only(i) && items.iter().any(|&k| g.is_any_name(doc.lower(k)));
            // one word in a list is not a name list ("Lasix, Heparin and Coumadin" is caught as clinical)
            if listed && items.iter().all(|&k| !covered[k] || name_tok[k]) {
                for &k in &items {
                    if !covered[k] {
                        add(&mut added, doc, k, k + 1, EntityType::Name, 0.65, "name_list");
                        covered[k] = true;
                        name_tok[k] = true;
                    }
                }
            }
            i = items.last().map_or(i + 1, |&k| k + 1).max(i + 1);
        }
    }

    // 2. a middle initial and the surname after it: "Szabina J Gelencsér", "Kate M. Begum"
    if doc.cased {
        for i in 0..n.saturating_sub(2) {
            let initial = doc.word(i + 1).chars().count() == 1 && doc.tokens[i + 1].upper;
            let gaps = doc.gap_after(i) == " " && matches!(doc.gap_after(i + 1), " " | ". ");
            if name_tok[i] && initial && gaps && !name_tok[i + 2] && namelike(doc, g, i + 2) {
                add(&mut added, doc, i, i + 3, EntityType::Name, 0.7, "middle_initial_surname");
                covered[i + 1] = true;
                covered[i + 2] = true;
                name_tok[i + 1] = true;
                name_tok[i + 2] = true;
            }
        }
    }

    // 2b. a first name or a surname particle right before a name: "Martin Karlsen", "Maika van de Noort"
    if doc.cased {
        for a in 1..n {
            if !name_tok[a] || name_tok[a - 1] || doc.gap_before(a) != " " {
                continue;
            }
            let mut start = a;
            while start > 0 && a - start < 2 && doc.gap_before(start) == " " && matches!(doc.lower(start - 1), "van" | "von" | "de" | "der" | "den" | "ten" | "ter" | "da" | "di" | "du" | "le" | "la" | "del") {
                start -= 1;
            }
            let b = start.checked_sub(1);
            let first = b.filter(|&k| {
                let w = doc.lower(k);
                doc.tokens[k].title && g.is_any_first(w) && namelike(doc, g, k)
            });
            if let Some(k) = first {
                add(&mut added, doc, k, a + 1, EntityType::Name, 0.7, "first_name_before_name");
                for c in k..a {
                    covered[c] = true;
                    name_tok[c] = true;
                }
            } else if start < a && b.is_some_and(|k| doc.tokens[k].title && namelike(doc, g, k)) {
                let k = start - 1;
                add(&mut added, doc, k, a + 1, EntityType::Name, 0.7, "name_particle_name");
                for c in k..a {
                    covered[c] = true;
                    name_tok[c] = true;
                }
            }
        }
    }

    // 3. a name found once is a name wherever the word recurs in the note
    let mut names: HashSet<&str> = HashSet::new();
    for i in 0..n {
        let w = doc.lower(i);
        let vouched = strong[i] || g.is_any_name(w);
        if name_tok[i] && vouched && w.chars().count() >= 3 && namelike(doc, g, i) && !g.is_common(w) && !g.is_clinical(w) && !place_word(g, doc, i) {
            names.insert(w);
        }
    }
    if !names.is_empty() {
        for (i, c) in covered.iter_mut().enumerate() {
            if !*c && names.contains(doc.lower(i)) && (!doc.cased || doc.tokens[i].title || doc.tokens[i].upper) {
                add(&mut added, doc, i, i + 1, EntityType::Name, 0.7, "repeated_name");
                *c = true;
            }
        }
    }

    // 4. street addresses: the rest of the address on the same line, and a house number before
    // (a cluster may carry a place's type when a town won the merge: "19902 Dobrovského 1394 Apt. 066 St Georges")
    let address_like = |d: &Detection| matches!(d.entity, EntityType::Address | EntityType::Zip) || d.entity == EntityType::Location && d.span.slice(doc.text).starts_with(|c: char| c.is_ascii_digit());
    for d in dets.iter().filter(|d| address_like(d)) {
        let (a, b) = token_range(doc, d.span);
        if a >= n || b == 0 {
            continue;
        }
        let end = address_tail(doc, g, b - 1);
        if end > b {
            added.push(Detection::new(Span::new(d.span.start, doc.tokens[end - 1].span.end), EntityType::Address, 0.9, DETECTOR, "address_tail"));
        }
        let mut start = a;
        while start > 0 && a - start < 2 && doc.tokens[start - 1].digit && doc.word(start - 1).len() <= 6 && matches!(doc.gap_before(start), " " | "  ") {
            start -= 1;
        }
        if start < a {
            added.push(Detection::new(Span::new(doc.tokens[start].span.start, d.span.end), EntityType::Address, 0.9, DETECTOR, "address_house_number"));
        }
    }
    dets.extend(added);
    dets
}

/// Words that end an address tail: labels of what follows on the line.
fn tail_stop(w: &str) -> bool {
    matches!(
        w,
        "mobile" | "desk" | "fax" | "office" | "phone" | "tel" | "telephone" | "cell" | "email" | "mail" | "website" | "web"
            | "name" | "date" | "dob" | "ssn" | "mrn" | "i" | "it" | "we" | "he" | "she" | "they" | "you" | "my" | "our"
            | "the" | "this" | "that" | "please" | "thanks" | "thank" | "is" | "was" | "and"
    )
}

fn unit_word(w: &str) -> bool {
    matches!(w, "apt" | "apartment" | "suite" | "ste" | "unit" | "box" | "floor" | "fl" | "room" | "rm" | "bldg" | "building")
}

/// Whether token `i` is by itself a city, country, state or county name (one-word entries only).
fn place_word(g: &Gazetteers, doc: &Doc, i: usize) -> bool {
    let w = doc.lower(i);
    let one = |m: &std::collections::HashMap<&'static str, Vec<Vec<&'static str>>>| m.get(w).is_some_and(|v| v.iter().any(|p| p.len() == 1));
    one(&g.cities) || one(&g.world_cities) || one(&g.countries) || one(&g.states) || g.state_abbrs.contains(w) || one(&g.counties)
}

/// The token index after the tail of an address whose last token is `last`.
fn address_tail(doc: &Doc, g: &Gazetteers, last: usize) -> usize {
    let n = doc.tokens.len();
    let mut end = last + 1;
    let mut after_unit = false;
    while end < n && end - last <= 10 {
        let gap = doc.gap_before(end);
        let prev_word = doc.lower(end - 1);
        // a full stop may end an abbreviation ("Apt.", "u.") or a house number ("12.") inside the address
        let dot_ok = !gap.contains('.') || unit_word(prev_word) || prev_word.chars().count() <= 3 || doc.tokens[end - 1].digit;
        // an address written over lines goes on after one line break
        let gap_ok = gap.len() <= 8 && gap.matches('\n').count() <= 1 && dot_ok && gap.chars().all(|c| " ,.>()\t\n\r-".contains(c) || c == '\u{2022}');
        if !gap_ok {
            break;
        }
        let t = &doc.tokens[end];
        let w = doc.lower(end);
        let ok = if after_unit {
            // the unit's number
            !t.alpha || w.chars().count() <= 4
        } else if unit_word(w) {
            true
        } else if t.digit {
            // a postal code or a region number
            (1..=6).contains(&w.len())
        } else if !t.alpha {
            // "B0J", "2H0": letters and digits, postal code parts
            w.len() <= 4
        } else if w == "nan" || doc.cased && t.upper && w.chars().count() == 2 {
            // a region code ("ON", "CO", "RS") or an empty field
            true
        } else if tail_stop(w) || is_stopword(w) && !matches!(w, "de" | "do" | "da" | "del" | "la" | "di" | "du" | "des" | "van" | "der") {
            false
        } else if matches!(w, "de" | "do" | "da" | "del" | "la" | "di" | "dei" | "du" | "des" | "van" | "der" | "sur" | "am" | "an" | "im") {
            // a particle inside a town name, only before a capitalised word
            end + 1 < n && doc.tokens[end + 1].alpha && doc.word(end + 1).starts_with(char::is_uppercase)
        } else if doc.cased {
            // inside an address on its line, a capitalised word is part of a place ("Cite Belle Vue",
            // "United Kingdom", "St Georges"), unless it is clinical vocabulary
            let capital = doc.word(end).starts_with(char::is_uppercase);
            capital && (!g.is_clinical(w) || place_word(g, doc, end) || matches!(w, "st" | "ste" | "mt"))
        } else {
            place_word(g, doc, end) || !g.is_common(w) && !g.is_clinical(w) && w.chars().count() >= 3
        };
        if !ok {
            break;
        }
        after_unit = unit_word(w);
        end += 1;
    }
    // a dangling unit word or particle is not part of the address
    while end > last + 1 && (unit_word(doc.lower(end - 1)) || matches!(doc.lower(end - 1), "de" | "do" | "da" | "del" | "la")) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    fn check(text: &str, expected: &[(&str, EntityType)]) {
        let got: Vec<(&str, EntityType)> = Engine::default().detect(text).iter().map(|d| (d.span.slice(text), d.entity)).collect();
        assert_eq!(got, expected, "in {text:?}");
    }

    #[test]
    fn completions() {
        use EntityType::*;
        check("Dr. Marder and Kadiev were precision engineers", &[("Marder", Name), ("Kadiev", Name)]);
        check("They had 3: Thomas, Vinka and Adams.", &[("Thomas", Name), ("Vinka", Name), ("Adams", Name)]);
        check("Please call Dr. Marder. Marder will know.", &[("Marder", Name), ("Marder", Name)]);
        check("Dr. Szabina J Gelencsér called", &[("Szabina J Gelencsér", Name)]);
        check("She lives at 6750 Koskikatu 25 Apt. 864 Artilleros , CO  Uruguay 64677", &[("6750 Koskikatu 25 Apt. 864 Artilleros , CO  Uruguay 64677", Address)]);
        check("She lives at 9554 62 Rue Gafsa 12, Toronto, ON 82269 now.", &[("9554 62 Rue Gafsa 12, Toronto, ON 82269", Address)]);
        // negative rows: no list without a name, no tail past a sentence or a label, no clinical words
        check("our 3 founders: Vizirov, Barrett and Jones.", &[("Vizirov", Name), ("Barrett", Name), ("Jones", Name)]);
        check("Lasix and Heparin were given", &[]);
        check("a pop song? Kadiev and Adams were engineers", &[("Kadiev", Name), ("Adams", Name)]);
        check("Maika van de Noort Employment manager", &[("Maika van de Noort", Name)]);
        check("Henry Manninen listed his top songs", &[("Henry Manninen", Name)]);
        check("Lasix, Heparin and Coumadin were given", &[]);
        check("DAN A. FORMAN-LYONS, RRT", &[("DAN A. FORMAN-LYONS", Name)]);
        check("his son, bill, called twice", &[("bill", Name)]);
        check("Dr. Marder and team rounded", &[("Marder", Name)]);
        check("Called Dr. Marder today", &[("Marder", Name)]);
        check("lives at 19 Clover St. in town", &[("19 Clover St.", Address)]);
        check("Our office is at Via Roma 131 Mobile: none", &[("Via Roma 131", Address)]);
        check("pt lives at 12 Oak Street. Heparin drip continued", &[("12 Oak Street", Address)]);
        check("send it to 1987 74 Diakou Street\n Suite 680\n Kissousa\n Cyprus 36903? I am", &[("1987 74 Diakou Street\n Suite 680\n Kissousa\n Cyprus 36903", Address)]);
        check("lives at 12 Oak Street\n\nPlan: continue", &[("12 Oak Street", Address)]);
        check("send it to 224 4966 Bond Street  Suite 413  Warwick  United States now", &[("224 4966 Bond Street  Suite 413  Warwick  United States", Address)]);
        check("at 19902 Dobrovského 1394 Apt. 066 St Georges, QC 54256", &[("19902 Dobrovského 1394 Apt. 066 St Georges, QC 54256", Address)]);
    }
}
