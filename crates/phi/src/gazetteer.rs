//! The word lists the name and place detectors look words up in, compiled into the binary from
//! `crates/phi/gazetteers/` (built by `scripts/phi/build_gazetteers.py`; sources and licences in
//! `gazetteers/SOURCES.md`). Loaded once per process; never read from disk or the network.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// All gazetteers, lower-case keys.
pub struct Gazetteers {
    /// First name -> rank (0 = most frequent).
    pub first: HashMap<&'static str, u32>,
    /// Surname -> rank.
    pub last: HashMap<&'static str, u32>,
    /// Common English words (lower-case dictionary entries that are frequent in current English).
    pub common: HashSet<&'static str>,
    /// Clinical vocabulary that is not a common word.
    pub clinical: HashSet<&'static str>,
    /// US cities, each as its words.
    pub cities: HashMap<&'static str, Vec<Vec<&'static str>>>,
    /// US county names (without "County"), each as its words.
    pub counties: HashMap<&'static str, Vec<Vec<&'static str>>>,
    /// US state names (as words) and postal abbreviations, lower-case.
    pub states: HashMap<&'static str, Vec<Vec<&'static str>>>,
    pub state_abbrs: HashSet<&'static str>,
    /// Country names, as words.
    pub countries: HashMap<&'static str, Vec<Vec<&'static str>>>,
}

static GAZ: LazyLock<Gazetteers> = LazyLock::new(Gazetteers::load);

/// The process-wide gazetteers.
pub fn gazetteers() -> &'static Gazetteers {
    &GAZ
}

fn lines(s: &'static str) -> impl Iterator<Item = &'static str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn ranked(s: &'static str) -> HashMap<&'static str, u32> {
    let mut m = HashMap::new();
    for (i, l) in lines(s).enumerate() {
        m.entry(l).or_insert(i as u32);
    }
    m
}

fn phrases<'a>(it: impl Iterator<Item = &'static str>) -> HashMap<&'static str, Vec<Vec<&'static str>>> {
    let mut m: HashMap<&'static str, Vec<Vec<&'static str>>> = HashMap::new();
    for l in it {
        let words: Vec<&'static str> = l.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        if let Some(first) = words.first() {
            m.entry(*first).or_default().push(words);
        }
    }
    for v in m.values_mut() {
        // longest phrase first, so the longest match wins
        v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    }
    m
}

impl Gazetteers {
    fn load() -> Gazetteers {
        let states_txt = include_str!("../gazetteers/us_states.txt");
        Gazetteers {
            first: ranked(include_str!("../gazetteers/first_names.txt")),
            last: ranked(include_str!("../gazetteers/surnames.txt")),
            common: lines(include_str!("../gazetteers/common_words.txt")).collect(),
            clinical: lines(include_str!("../gazetteers/clinical_terms.txt")).collect(),
            cities: phrases(lines(include_str!("../gazetteers/us_cities.txt"))),
            counties: phrases(lines(include_str!("../gazetteers/us_counties.txt"))),
            states: phrases(lines(states_txt).filter_map(|l| l.split('\t').next())),
            countries: phrases(lines(include_str!("../gazetteers/countries.txt"))),
            state_abbrs: lines(states_txt).filter_map(|l| l.split('\t').nth(1)).map(|a| leak_lower(a)).collect(),
        }
    }

    pub fn is_first(&self, w: &str) -> bool {
        self.first.contains_key(w)
    }
    pub fn is_last(&self, w: &str) -> bool {
        self.last.contains_key(w)
    }
    pub fn is_common(&self, w: &str) -> bool {
        self.common.contains(w)
    }
    pub fn is_clinical(&self, w: &str) -> bool {
        self.clinical.contains(w)
    }
}

fn leak_lower(s: &str) -> &'static str {
    // 56 two-letter codes, once per process
    Box::leak(s.to_ascii_lowercase().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gazetteers_load_and_answer() {
        let g = gazetteers();
        for (word, first, last, common) in [
            ("john", true, true, false),
            ("nicholson", false, true, false),
            ("will", true, true, true),
            ("the", false, false, true),
            ("heparin", false, false, false),
        ] {
            assert_eq!((g.is_first(word), g.is_last(word), g.is_common(word)), (first, last, common), "{word}");
        }
        assert!(g.is_clinical("heparin") && !g.is_clinical("john"));
        assert!(g.cities.get("baltimore").is_some() && g.state_abbrs.contains("md"));
        assert!(g.first.len() > 5000 && g.last.len() > 80_000);
    }
}
