//! The steward's review of detected PHI, as domain logic over a [`Store`]: detection into the
//! review queue and the decisions on it ([`queue`]), gold samples, gold imports and detector
//! quality ([`gold`]), the one redaction of a dataset's notes from spans ([`redact`]) and the
//! release that redacts by the steward's decisions and rescans the result ([`release`]).
//!
//! No permissions here: every function takes the store the caller was lent (`localdx-api` passes
//! `&*permit` after its permission matrix), the detector as a function the caller built, and
//! domain types of `localdx-store`, `localdx-phi` and `localdx-span`; it returns domain results
//! or an [`Error`], which the API maps to its error codes. Nothing here writes the audit trail
//! either: functions that write take a [`Tx`], so the caller's audit entry commits with them, and
//! the release and the redacted copy hand back their uncommitted dataset for the caller to audit
//! and commit. Progress and cancellation use `localdx-job`.

use localdx_store::{Store, StoreError};
use std::ops::Deref;
use std::path::PathBuf;

pub mod gold;
pub mod queue;
pub mod redact;
pub mod release;

pub use release::{Leak, Leaks};

/// What the review refuses, and why. Store and PHI errors pass through unchanged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused or failed (its review rules included: an undecided span, a signed-off note).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A gold file that cannot be read or parsed.
    #[error(transparent)]
    Phi(#[from] localdx_phi::PhiError),
    /// The dataset asked for does not exist.
    #[error("no dataset {0}")]
    NoDataset(i64),
    /// The record (note) asked for does not exist.
    #[error("no record {0}")]
    NoRecord(i64),
    /// The span asked for is not in the review queue.
    #[error("no span {0} in review")]
    NoSpan(i64),
    /// The learned term asked for does not exist.
    #[error("no learned term {0}")]
    NoTerm(i64),
    /// A released version is redacted and immutable: its source dataset is reviewed instead.
    #[error("dataset {0} is a released version; review its source dataset")]
    ReleasedVersion(i64),
    /// A gold format name that is not one `localdx phi eval` reads.
    #[error("unknown gold format {0:?} (deid-jsonl, presidio-json)")]
    UnknownGoldFormat(String),
    /// A gold sample needs notes that are not gold yet.
    #[error("every note of dataset {0} is already a gold note")]
    NoGoldCandidates(i64),
    /// A gold note matched a record by id but holds another text (its offsets would point elsewhere).
    #[error("{}: gold note {note} (note {position} of the file) has another text than record {record} of dataset {dataset}; import the gold file's own notes", .path.display())]
    GoldTextDiffers { path: PathBuf, note: String, position: usize, record: i64, dataset: i64 },
    /// A gold file of which no note matches a record of the dataset.
    #[error("{}: no note of the file matches a record id of dataset {dataset}", .path.display())]
    GoldUnmatched { path: PathBuf, dataset: i64 },
    /// A release needs every note signed off; `open` lists the notes that are not.
    #[error("{} of {records} notes are not signed off (records {}): review them first", .open.len(), first_ids(.open))]
    NotSignedOff { open: Vec<i64>, records: u64 },
    /// The release's leakage scan found PHI left in the redacted text.
    #[error(transparent)]
    Leaks(Leaks),
    /// The caller cancelled; the message says what was left as it was.
    #[error("{0}")]
    Cancelled(&'static str),
    /// A bug if it ever happens.
    #[error("{0}")]
    Internal(String),
}

/// The first ten ids, and `...` when there are more.
fn first_ids(ids: &[i64]) -> String {
    let first: Vec<String> = ids.iter().take(10).map(|id| id.to_string()).collect();
    format!("{}{}", first.join(", "), if ids.len() > 10 { ", ..." } else { "" })
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A write transaction on the store, open for as long as [`atomically`] runs its closure. The
/// functions here that write take one, so what they write commits together with whatever else the
/// caller writes in the same closure (its audit entry), or not at all. It reads as the store.
pub struct Tx<'a>(&'a Store);

impl Deref for Tx<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.0
    }
}

/// Runs `f` in one transaction of `store` (see [`Store::atomically`]: not reentrant).
pub fn atomically<T, E: From<StoreError>>(store: &Store, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
    store.atomically(|| f(&Tx(store)))
}

/// A seed from the operating system's randomly keyed hasher.
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

/// `k` distinct items of `items` drawn uniformly with `seed` (partial Fisher-Yates over
/// SplitMix64), in ascending order; all of them when there are no more than `k`.
pub fn sample(items: &[i64], k: usize, seed: u64) -> Vec<i64> {
    let mut pool = items.to_vec();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let k = k.min(pool.len());
    for i in 0..k {
        let j = i + (next() % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort_unstable();
    pool
}

/// A score rounded as people read it (0.95, not 0.949999988).
pub(crate) fn round3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_check_samples_are_distinct_seeded_and_bounded() {
        let ids: Vec<i64> = (1..=100).collect();
        let a = sample(&ids, 10, 7);
        assert_eq!(a.len(), 10);
        assert_eq!(a, sample(&ids, 10, 7), "same seed, same sample");
        assert_ne!(a, sample(&ids, 10, 8), "another seed, another sample");
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert!(a.iter().all(|x| ids.contains(x)));
        assert_eq!(sample(&ids[..3], 10, 1), vec![1, 2, 3], "never more than there is");
        assert!(sample(&[], 5, 1).is_empty());
    }

    #[test]
    fn refusals_read_as_before() {
        let open = Error::NotSignedOff { open: (1..=12).collect(), records: 20 };
        assert_eq!(open.to_string(), "12 of 20 notes are not signed off (records 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...): review them first");
        let few = Error::NotSignedOff { open: vec![4, 7], records: 3 };
        assert_eq!(few.to_string(), "2 of 3 notes are not signed off (records 4, 7): review them first");
        let differs = Error::GoldTextDiffers { path: "g/gold.jsonl".into(), note: "1-2".into(), position: 3, record: 9, dataset: 2 };
        assert_eq!(
            differs.to_string(),
            "g/gold.jsonl: gold note 1-2 (note 3 of the file) has another text than record 9 of dataset 2; import the gold file's own notes"
        );
    }
}
