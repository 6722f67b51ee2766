//! Train/validation/test assignment.
//!
//! When the source names the split (a column, or train/dev folders) it is used. Otherwise splits
//! are assigned while streaming: every *group* (a patient, or, without patient ids, one distinct
//! text, so that duplicates never straddle splits) gets one split when first seen, drawn with
//! weights that pull each label stratum (a group's first label) toward the target ratios. The draw
//! depends only on the seed, the group's key and the order of the file, so a re-import with the
//! same seed gives the same splits.

use localdx_store::Split;
use std::collections::HashMap;

/// Reads a split name as people write it: `train`, `training`; `validation`, `valid`, `val`,
/// `dev`, `development`; `test`, `testing` (any case).
pub fn parse_split_name(s: &str) -> Option<Split> {
    match s.trim().to_ascii_lowercase().as_str() {
        "train" | "training" => Some(Split::Train),
        "validation" | "valid" | "val" | "dev" | "development" => Some(Split::Validation),
        "test" | "testing" => Some(Split::Test),
        _ => None,
    }
}

/// Target shares of train, validation and test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitRatios(pub [f64; 3]);

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios([0.8, 0.1, 0.1])
    }
}

/// A 128-bit key naming a group (patient or text).
pub(crate) type GroupKey = u128;

/// splitmix64: a stable 64-bit mixer (the same on every platform and Rust version).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Assigns splits to groups as they stream by.
pub(crate) struct Assigner {
    seed: u64,
    ratios: [f64; 3],
    groups: HashMap<GroupKey, Split>,
    /// Records per split, per stratum.
    strata: HashMap<String, [u64; 3]>,
}

impl Assigner {
    pub fn new(seed: u64, ratios: SplitRatios) -> Self {
        let sum: f64 = ratios.0.iter().sum();
        let ratios = if sum > 0.0 { ratios.0.map(|r| r.max(0.0) / sum) } else { SplitRatios::default().0 };
        Assigner { seed, ratios, groups: HashMap::new(), strata: HashMap::new() }
    }

    /// The split of one record of `group` whose stratum (first label) is `stratum`.
    pub fn assign(&mut self, group: GroupKey, stratum: &str) -> Split {
        let split = match self.groups.get(&group) {
            Some(split) => *split,
            None => {
                let counts = self.strata.get(stratum).copied().unwrap_or_default();
                let n: u64 = counts.iter().sum();
                // Deficit of each split if this group's record were added: always sums to 1.
                let weights: Vec<f64> =
                    (0..3).map(|i| (self.ratios[i] * (n + 1) as f64 - counts[i] as f64).max(0.0)).collect();
                let total: f64 = weights.iter().sum();
                let r = mix(self.seed ^ mix(group as u64) ^ mix((group >> 64) as u64).rotate_left(17));
                let mut u = (r >> 11) as f64 / (1u64 << 53) as f64 * total;
                let mut chosen = Split::Train;
                for (i, w) in weights.iter().enumerate() {
                    if *w > 0.0 {
                        chosen = Split::ALL[i];
                        if u < *w {
                            break;
                        }
                        u -= w;
                    }
                }
                self.groups.insert(group, chosen);
                chosen
            }
        };
        let idx = Split::ALL.iter().position(|s| *s == split).unwrap_or(0);
        self.strata.entry(stratum.to_owned()).or_default()[idx] += 1;
        split
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        for (name, want) in [
            ("train", Some(Split::Train)),
            ("Dev", Some(Split::Validation)),
            (" validation ", Some(Split::Validation)),
            ("TEST", Some(Split::Test)),
            ("", None),
            ("holdout", None),
        ] {
            assert_eq!(parse_split_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn stratified_and_grouped_and_reproducible() {
        let run = |seed| {
            let mut a = Assigner::new(seed, SplitRatios::default());
            let mut out = Vec::new();
            for label in ["flu", "cold"] {
                for i in 0..50u128 {
                    let key = i * 7 + if label == "flu" { 1000 } else { 0 };
                    out.push((key, label, a.assign(key, label)));
                }
            }
            out
        };
        let first = run(42);
        assert_eq!(first, run(42), "same seed, same splits");
        assert_ne!(first, run(7), "another seed, other splits");
        for label in ["flu", "cold"] {
            let count = |s| first.iter().filter(|(_, l, sp)| *l == label && *sp == s).count();
            assert_eq!((count(Split::Train), count(Split::Validation), count(Split::Test)), (40, 5, 5), "{label}");
        }
        // A group seen again keeps its split.
        let mut a = Assigner::new(1, SplitRatios::default());
        let s = a.assign(99, "x");
        assert!((0..20).all(|_| a.assign(99, "x") == s));
    }
}
