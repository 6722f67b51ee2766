//! Integration tests of the import: every format on the real data sets in `../shared/data/`
//! (skipped with a message when that folder is absent), and small broken files written here.

mod broken;
mod real;

use localdx_ingest::{import, ImportOptions, ImportReport, IngestError};
use localdx_job::Cancel;
use localdx_store::Store;
use std::path::{Path, PathBuf};

/// A file of the shared data sets, or `None` (with a message) when they are not on this machine.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        localdx_testkit::skip(&format!("{} is absent", p.display()));
        None
    }
}

pub fn run(store: &Store, path: &Path, opts: &ImportOptions) -> Result<ImportReport, IngestError> {
    import(store, path, opts, &(), &Cancel::new())
}

/// Everything a refused import must leave untouched.
pub fn fingerprint(store: &Store) -> (usize, usize, Vec<u64>) {
    let datasets = store.datasets().unwrap();
    (datasets.len(), store.events().unwrap().len(), datasets.iter().map(|d| d.records).collect())
}

/// What a steward's "read raw note text" grants: every note.
pub(crate) fn raw_grant() -> localdx_access::Grant {
    localdx_access::check(localdx_access::Role::Steward, localdx_access::Command::ReadRawRecords).unwrap()
}
