//! LocalDx's PHI engine: finds the HIPAA Safe Harbor identifiers in clinical notes, explains each
//! finding, replaces them (type tags, masks or consistent surrogates), and measures itself against
//! gold annotations.
//!
//! Pure engine: this crate never touches the network, the database or the clock (callers pass in
//! configuration, secrets and timers), and never logs note text.
//!
//! ```
//! let engine = localdx_phi::Engine::new(localdx_phi::PhiConfig::default());
//! let found = engine.detect("Seen by Dr. Marder on 10/18/2003.");
//! assert_eq!(found.len(), 2);
//! ```

pub mod complete;
pub mod config;
pub mod detection;
pub mod detectors;
pub mod doc;
pub mod entity;
pub mod error;
pub mod eval;
pub mod gazetteer;
pub mod learned;
pub mod redact;

pub use config::{DenyTerm, PhiConfig};
pub use detection::{merge, ContextHit, Detection};
pub use doc::Doc;
pub use entity::EntityType;
pub use learned::ContextTerm;
pub use error::PhiError;
pub use redact::{redact, Redaction, Strategy};

use detectors::Detector;
use localdx_span::{CharIndex, Span};
use regex::Regex;
use std::collections::{HashMap, HashSet};

/// A configured detector set. Cheap to share across threads; build once per configuration.
pub struct Engine {
    config: PhiConfig,
    detectors: Vec<Box<dyn Detector>>,
    allow: HashSet<String>,
    deny: Option<(Regex, HashMap<String, EntityType>)>,
    learned: learned::Learned,
}

impl Engine {
    /// Builds the engine; loads the gazetteers (once per process) here rather than in the first
    /// `detect`, so no note pays for them.
    pub fn new(config: PhiConfig) -> Engine {
        let _ = gazetteer::gazetteers();
        let detectors = detectors::all().into_iter().filter(|d| d.types().iter().any(|t| config.types.contains(t))).collect();
        let allow = config.allow.iter().map(|s| s.to_lowercase()).collect();
        let deny = if config.deny.is_empty() {
            None
        } else {
            let alternatives: Vec<String> = config.deny.iter().map(|d| regex::escape(&d.term)).collect();
            let re = Regex::new(&format!(r"(?i)\b(?:{})\b", alternatives.join("|"))).ok();
            re.map(|re| (re, config.deny.iter().map(|d| (d.term.to_lowercase(), d.entity)).collect()))
        };
        let learned = learned::Learned::new(&config.context);
        Engine { config, detectors, allow, deny, learned }
    }

    pub fn config(&self) -> &PhiConfig {
        &self.config
    }

    /// Every detection before thresholds, allow-list and merging, learned context words applied (for explaining what the engine
    /// considered and dropped).
    pub fn candidates(&self, text: &str) -> Vec<Detection> {
        self.candidates_in(&Doc::new(text))
    }

    fn candidates_in(&self, doc: &Doc) -> Vec<Detection> {
        let mut out = Vec::new();
        for d in &self.detectors {
            d.detect(doc, &mut out);
        }
        self.learned.apply(doc, &self.config.types, &mut out);
        out
    }

    /// The PHI in `text`: thresholded, allow- and deny-listed, merged, completed (see
    /// [`complete`]), merged again, sorted by start, with char offsets filled in. A year standing
    /// alone is dropped unless the configuration's `years_alone` is on (a year inside a full
    /// date stays: the date's own detection covers it).
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        self.detect_with(text, Vec::new())
    }

    /// [`Engine::detect`] with `extra` detections from an outside source (a learned token tagger,
    /// detector name `tagger`): they join the rules' candidates before thresholds, allow- and
    /// deny-lists, merging and completion, so they are filtered and merged exactly like the
    /// rules' own. A merged detection names the other sources in `also_found_by`. `extra` spans
    /// are byte offsets into `text` on char boundaries; the result does not depend on their order.
    pub fn detect_with(&self, text: &str, extra: Vec<Detection>) -> Vec<Detection> {
        let doc = Doc::new(text);
        let mut out = self.candidates_in(&doc);
        out.extend(extra.into_iter().filter(|d| d.span.end <= text.len() && text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end)));
        out.retain(|d| {
            (self.config.years_alone || !detectors::date::is_year_alone(d, text))
                && self.config.types.contains(&d.entity)
                && d.score >= self.config.threshold_for(d.entity)
                && !d.span.is_empty()
                && (self.allow.is_empty() || !self.allow.contains(&d.span.slice(text).trim().to_lowercase()))
        });
        if let Some((re, types)) = &self.deny {
            for m in re.find_iter(text) {
                if let Some(&entity) = types.get(&m.as_str().to_lowercase()) {
                    out.push(Detection::new(Span::new(m.start(), m.end()), entity, 1.0, "deny_list", "deny_list"));
                }
            }
        }
        let mut merged = merge(complete::complete(&doc, merge(out)));
        merged.retain(|d| self.allow.is_empty() || !self.allow.contains(&d.span.slice(text).trim().to_lowercase()));
        if !text.is_ascii() {
            let index = CharIndex::new(text);
            for d in &mut merged {
                d.set_chars(&index);
            }
        }
        merged
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(PhiConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &str, text: &str, expected: &[(&str, EntityType, (usize, usize))]) {
        let engine = Engine::new(PhiConfig::from_json(config).expect("valid config"));
        let got: Vec<(&str, EntityType, (usize, usize))> =
            engine.detect(text).iter().map(|d| (d.span.slice(text), d.entity, (d.char_start, d.char_end))).collect();
        assert_eq!(got, expected, "{text:?} with {config}");
    }

    #[test]
    fn engine_applies_configuration() {
        use EntityType::*;
        check("{}", "Seen by Dr. Núñez on 10/18/2003.", &[("Núñez", Name, (12, 17)), ("10/18/2003", Date, (21, 31))]);
        check(r#"{"types":["date"]}"#, "Seen by Dr. Núñez on 10/18/2003.", &[("10/18/2003", Date, (21, 31))]);
        check(r#"{"allow":["núñez"]}"#, "Seen by Dr. Núñez on 10/18/2003.", &[("10/18/2003", Date, (21, 31))]);
        check(r#"{"thresholds":{"date":0.99}}"#, "on 10/18/2003", &[]);
        check(r#"{"deny":[{"term":"Blue Unit","type":"location"}]}"#, "moved to blue unit", &[("blue unit", Location, (9, 18))]);
        // negative rows: nothing to find
        check("{}", "", &[]);
        check("{}", "BP 120/80, 2/6 murmur, 5/5 strength, Foley in place, Apgars 8/9.", &[]);
    }

    #[test]
    fn years_alone_only_when_configured() {
        use EntityType::*;
        let years = r#"{"years_alone":true}"#;
        // Safe Harbor keeps a year on its own: off by default, on with the project setting
        for text in ["first treated in 2019", "PMH: S/P MI 1992; LCX", "s/p cabg '95 and", "During 2017, the group", "CABG 81, MVR", "HX MI IN 1980S"] {
            assert!(Engine::default().detect(text).is_empty(), "{text}");
            assert!(!Engine::new(PhiConfig::from_json(years).unwrap()).detect(text).is_empty(), "{text}");
        }
        // a year inside a full date, or with a month, is part of the date either way
        for config in ["{}", years] {
            check(config, "seen March 3, 2020 and", &[("March 3, 2020", Date, (5, 18))]);
            check(config, "admitted 10/18/2003", &[("10/18/2003", Date, (9, 19))]);
            check(config, "IN MARCH OF 1993.", &[("MARCH OF 1993", Date, (3, 16))]);
            check(config, "since 2003-04-07", &[("2003-04-07", Date, (6, 16))]);
        }
    }

    #[test]
    fn outside_detections_join_the_rules() {
        use EntityType::*;
        let engine = Engine::default();
        let text = "Seen by Dr. Marder, pt Qxelbrandt stable.";
        let tagger = |s: usize, e: usize, t: EntityType, score: f32| Detection::new(Span::new(s, e), t, score, "tagger", "bio");
        // a tagger span the rules miss is kept; one overlapping a rule span merges and names both sources
        let got = engine.detect_with(text, vec![tagger(23, 33, Name, 0.9), tagger(8, 18, Name, 0.97)]);
        let view: Vec<(&str, &str, Vec<&str>)> = got.iter().map(|d| (d.span.slice(text), d.detector, d.also_found_by.clone())).collect();
        assert_eq!(view, vec![("Dr. Marder", "tagger", vec!["name"]), ("Qxelbrandt", "tagger", vec![])]);
        // the same in any order
        let rev = engine.detect_with(text, vec![tagger(8, 18, Name, 0.97), tagger(23, 33, Name, 0.9)]);
        assert_eq!(rev, got);
        // negative rows: below the threshold, of a type switched off, allow-listed, out of the text
        assert_eq!(engine.detect_with(text, vec![tagger(23, 33, Name, 0.3)]), engine.detect(text));
        let dates_only = Engine::new(PhiConfig::from_json(r#"{"types":["date"],"allow":["Qxelbrandt"]}"#).unwrap());
        assert!(dates_only.detect_with(text, vec![tagger(23, 33, Name, 0.9)]).is_empty());
        let allow = Engine::new(PhiConfig::from_json(r#"{"allow":["qxelbrandt"]}"#).unwrap());
        assert_eq!(allow.detect_with(text, vec![tagger(23, 33, Name, 0.9)]), allow.detect(text));
        assert_eq!(engine.detect_with(text, vec![tagger(40, 99, Name, 0.9)]), engine.detect(text));
        assert_eq!(engine.detect_with(text, Vec::new()), engine.detect(text));
    }

    #[test]
    fn learned_context_words_raise_and_make_candidates() {
        use EntityType::*;
        let c = r#"{"context":[{"words":"c/o","type":"name"},{"words":"registry office","type":"id"}]}"#;
        // an unknown capitalised word after the cue: below the threshold without it, found with it
        check("{}", "Parcel sent c/o Qxelbrandt yesterday.", &[]);
        check(c, "Parcel sent c/o Qxelbrandt yesterday.", &[("Qxelbrandt", Name, (16, 26))]);
        // no detector's candidate at all (lower-case note, unknown word): the cue makes one
        check("{}", "letters go c/o vrendakis now", &[]);
        check(c, "letters go c/o vrendakis now", &[("vrendakis", Name, (15, 24))]);
        check(c, "filed at registry office ZX-48213 today", &[("ZX-48213", Id, (25, 33))]);
        // negative rows: the cue before a stop word, a clinical word, across a line; a type switched off
        check(c, "sent c/o the ward", &[]);
        check(c, "Parcel sent c/o\nQxelbrandt.", &[]);
        check(c, "letters go c/o pharmacy now", &[]);
        check(r#"{"types":["date"],"context":[{"words":"c/o","type":"name"}]}"#, "Parcel sent c/o Qxelbrandt yesterday.", &[]);
        let engine = Engine::new(PhiConfig::from_json(c).unwrap());
        let d = &engine.detect("Parcel sent c/o Qxelbrandt yesterday.")[0];
        let hit = d.context.as_ref().expect("explained");
        assert_eq!((hit.word.as_str(), hit.learned, hit.delta), ("c/o", true, learned::LEARNED_DELTA));
    }
}
