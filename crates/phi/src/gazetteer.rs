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
    /// International first names and surnames the census lists lack (Faker's per-locale lists).
    pub intl_first: HashSet<&'static str>,
    pub intl_last: HashSet<&'static str>,
    /// Cities and towns of the world with 5,000+ inhabitants (not in `cities`), each as its words.
    pub world_cities: HashMap<&'static str, Vec<Vec<&'static str>>>,
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
    /// Words that name a person or place in the name of a disease, sign, score, test or
    /// instrument ("hodgkin", "babinski"), from ICD-10-CM code names and MTSamples
    /// (`gazetteers/build_eponyms.py`).
    pub eponyms: HashSet<&'static str>,
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
            intl_first: lines(include_str!("../gazetteers/intl_first_names.txt")).collect(),
            intl_last: lines(include_str!("../gazetteers/intl_surnames.txt")).collect(),
            world_cities: phrases(lines(include_str!("../gazetteers/world_cities.txt"))),
            common: lines(include_str!("../gazetteers/common_words.txt")).collect(),
            clinical: lines(include_str!("../gazetteers/clinical_terms.txt")).collect(),
            cities: phrases(lines(include_str!("../gazetteers/us_cities.txt"))),
            counties: phrases(lines(include_str!("../gazetteers/us_counties.txt"))),
            states: phrases(lines(states_txt).filter_map(|l| l.split('\t').next())),
            countries: phrases(lines(include_str!("../gazetteers/countries.txt"))),
            eponyms: lines(include_str!("../gazetteers/eponyms.txt")).collect(),
            state_abbrs: lines(states_txt).filter_map(|l| l.split('\t').nth(1)).map(|a| leak_lower(a)).collect(),
        }
    }

    pub fn is_first(&self, w: &str) -> bool {
        self.first.contains_key(w)
    }
    pub fn is_last(&self, w: &str) -> bool {
        self.last.contains_key(w)
    }
    /// A first name or surname of the census or the international lists.
    pub fn is_any_name(&self, w: &str) -> bool {
        self.first.contains_key(w) || self.last.contains_key(w) || self.intl_first.contains(w) || self.intl_last.contains(w)
    }
    /// A first name of the census or the international lists.
    pub fn is_any_first(&self, w: &str) -> bool {
        self.first.contains_key(w) || self.intl_first.contains(w)
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
        assert!(["hodgkin", "parkinson", "crohn", "babinski", "graves", "bell"].iter().all(|w| g.eponyms.contains(w)));
        assert!(!g.eponyms.contains("john") && !g.eponyms.contains("caregiver"));
        // international lists: names the census lacks; negative rows: common words, US-only names
        for (word, any) in [("siiri", true), ("jouni", true), ("halldór", true), ("the", false), ("heparin", false)] {
            assert_eq!(g.is_any_name(word), any, "{word}");
        }
        assert!(!g.intl_first.contains("john"), "census names are not repeated");
        let one_word = |w: &str| g.world_cities.get(w).is_some_and(|v| v.iter().any(|p| p.len() == 1 && p[0] == w));
        assert!(one_word("tallinn") && !one_word("baltimore"), "US cities of 15,000+ are not repeated");
    }
}
