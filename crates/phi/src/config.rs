//! Per-project detection settings: which types to detect, a score threshold per type, an
//! allow-list (terms never flagged), a deny-list (terms always flagged) and learned context words
//! (cues that raise or make candidates of a type, see [`crate::learned`]) and whether a year
//! standing alone counts as PHI (`years_alone`, off by default). Stored by the caller
//! as JSON (the store's `phi.config` setting); parsed here in two stages: [`RawConfig`] mirrors
//! the JSON, [`PhiConfig`] is validated. Never touches the store itself.

use crate::learned::{normalise, ContextTerm, MAX_WORDS};
use crate::{EntityType, PhiError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The default score threshold: detections scoring below it are dropped.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// A term that is always flagged, as the given type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenyTerm {
    pub term: String,
    #[serde(rename = "type")]
    pub entity: EntityType,
}

/// The configuration as written in JSON; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub threshold: Option<f32>,
    pub thresholds: BTreeMap<String, f32>,
    /// Types to detect; absent means all.
    pub types: Option<Vec<String>>,
    pub allow: Vec<String>,
    pub deny: Vec<DenyTerm>,
    /// Learned context words; absent means none (and is left out when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextTerm>,
    /// Flag a year standing alone ("MI 1992", "CABG '95", "since 2017") as a date. Safe Harbor
    /// keeps years, so the default is off; left out of the JSON when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub years_alone: bool,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhiConfig {
    pub threshold: f32,
    pub thresholds: BTreeMap<EntityType, f32>,
    pub types: BTreeSet<EntityType>,
    pub allow: Vec<String>,
    pub deny: Vec<DenyTerm>,
    /// Learned context words, normalised (lower case, single spaces), without repeats.
    pub context: Vec<ContextTerm>,
    /// Whether a year standing alone is PHI (default `false`: Safe Harbor keeps years; a year
    /// inside a full date is always part of the date).
    pub years_alone: bool,
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            threshold: DEFAULT_THRESHOLD,
            thresholds: BTreeMap::new(),
            types: EntityType::ALL.into_iter().collect(),
            allow: Vec::new(),
            deny: Vec::new(),
            context: Vec::new(),
            years_alone: false,
        }
    }
}

fn check_threshold(what: &str, t: f32) -> Result<f32, PhiError> {
    if (0.0..=1.0).contains(&t) {
        Ok(t)
    } else {
        Err(PhiError::Config(format!("threshold {what} = {t} is outside 0..=1")))
    }
}

impl PhiConfig {
    /// Parses and validates the JSON form.
    pub fn from_json(json: &str) -> Result<PhiConfig, PhiError> {
        let raw: RawConfig = serde_json::from_str(json)?;
        PhiConfig::try_from(raw)
    }

    /// The JSON form (the inverse of [`PhiConfig::from_json`]).
    pub fn to_json(&self) -> String {
        let raw = RawConfig {
            threshold: Some(self.threshold),
            thresholds: self.thresholds.iter().map(|(k, v)| (k.as_str().to_string(), *v)).collect(),
            types: Some(self.types.iter().map(|t| t.as_str().to_string()).collect()),
            allow: self.allow.clone(),
            deny: self.deny.clone(),
            context: self.context.clone(),
            years_alone: self.years_alone,
        };
        serde_json::to_string(&raw).unwrap_or_else(|_| "{}".to_string())
    }

    /// The threshold that applies to `entity`.
    pub fn threshold_for(&self, entity: EntityType) -> f32 {
        self.thresholds.get(&entity).copied().unwrap_or(self.threshold)
    }
}

impl TryFrom<RawConfig> for PhiConfig {
    type Error = PhiError;

    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        let parse = |s: &str| EntityType::parse(s).ok_or_else(|| PhiError::Config(format!("unknown PHI type {s:?}")));
        let threshold = check_threshold("default", raw.threshold.unwrap_or(DEFAULT_THRESHOLD))?;
        let mut thresholds = BTreeMap::new();
        for (k, v) in &raw.thresholds {
            thresholds.insert(parse(k)?, check_threshold(k, *v)?);
        }
        let types = match &raw.types {
            None => EntityType::ALL.into_iter().collect(),
            Some(list) => list.iter().map(|s| parse(s)).collect::<Result<_, _>>()?,
        };
        let allow: Vec<String> = raw.allow.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let mut deny = Vec::new();
        for d in raw.deny {
            let term = d.term.trim().to_string();
            if term.is_empty() {
                return Err(PhiError::Config("deny-list term is empty".into()));
            }
            deny.push(DenyTerm { term, entity: d.entity });
        }
        let mut context: Vec<ContextTerm> = Vec::new();
        for c in raw.context {
            let words = normalise(&c.words).ok_or_else(|| {
                PhiError::Config(format!("context word {:?} ({}) needs 1 to {MAX_WORDS} words, not only stop words", c.words, c.entity))
            })?;
            let term = ContextTerm { words, entity: c.entity };
            if !context.contains(&term) {
                context.push(term);
            }
        }
        Ok(PhiConfig { threshold, thresholds, types, allow, deny, context, years_alone: raw.years_alone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs() {
        let ok = [
            ("{}", PhiConfig::default()),
            (
                r#"{"threshold":0.7,"thresholds":{"name":0.4},"types":["name","date"],"allow":[" Foley "],"deny":[{"term":"Calvert","type":"location"}],"context":[{"words":" C/O ","type":"name"},{"words":"c/o","type":"name"}],"years_alone":true}"#,
                PhiConfig {
                    threshold: 0.7,
                    thresholds: [(EntityType::Name, 0.4)].into_iter().collect(),
                    types: [EntityType::Name, EntityType::Date].into_iter().collect(),
                    allow: vec!["Foley".into()],
                    deny: vec![DenyTerm { term: "Calvert".into(), entity: EntityType::Location }],
                    context: vec![ContextTerm { words: "c/o".into(), entity: EntityType::Name }],
                    years_alone: true,
                },
            ),
        ];
        for (json, want) in ok {
            let got = PhiConfig::from_json(json).expect("valid");
            assert_eq!(got, want, "{json}");
            assert_eq!(PhiConfig::from_json(&got.to_json()).expect("round trip"), got);
        }
        // no learned words: the JSON form is what it was before context words existed
        assert!(!PhiConfig::default().to_json().contains("context"));
        assert!(!PhiConfig::default().to_json().contains("years_alone"));
        // negative rows
        for bad in [r#"{"threshold":1.5}"#, r#"{"types":["nmae"]}"#, r#"{"thresholds":{"date":-1}}"#, r#"{"deny":[{"term":" ","type":"name"}]}"#, r#"{"context":[{"words":"by the","type":"name"}]}"#, r#"{"context":[{"words":"c/o","type":"planet"}]}"#, r#"{"colour":1}"#, r#"{"years_alone":"yes"}"#, "[", ""] {
            assert!(PhiConfig::from_json(bad).is_err(), "{bad}");
        }
    }
}
