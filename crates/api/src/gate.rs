//! The one door to the store. [`Api`] keeps its [`Store`] in a private field of this module; the
//! rest of the crate reaches it only through [`Api::permit`], which runs the permission matrix
//! first. An operation that skips the matrix has no store to work on, so it does not compile.
//!
//! The permit also carries the matrix's [`Grant`], and the store's methods that return note text
//! (records, typed notes in feedback) take one: a clinician's permit for a command that reads
//! released versions gets only their notes (a steward's or admin's may read raw ones too, as the
//! matrix lets them anyway), and one for a command that reads no text gets none, whatever the
//! code around it asks. The permit's own `records`, `record` and `feedback` pass its grant.
//!
//! What does not need a permit lives here too, each for a stated reason: appending to the audit
//! trail (every action, allowed or refused, may be recorded) and the session's own facts.

use crate::session::Keys;
use crate::Result;
use localdx_access::{check, Command, Grant, Session};
use localdx_store::{AuditEntry, Feedback, Record, Store};
use std::ops::Deref;
use crate::workspace::Layout;
use std::path::Path;

/// An open LocalDx workspace: one database, used by one process at a time through this handle,
/// as one logged-in user ([`Api::open`], [`Api::init`] in `session`).
pub struct Api {
    store: Store,
    pub(crate) session: Session,
    pub(crate) keys: Option<Keys>,
    /// Where the database's neighbours live (runs, models, exports).
    pub(crate) layout: Layout,
}

/// Proof that the session's role may run one [`Command`]: the store, lent for as long as the
/// permit lives, with the matrix's [`Grant`] for that command. Only [`Api::permit`] makes one.
pub struct Permit<'a> {
    store: &'a Store,
    grant: Grant,
}

impl Permit<'_> {
    /// What the matrix granted: the command, and the note text it may read.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// [`Store::records`] under this permit's grant.
    pub fn records(&self, dataset_id: i64, offset: u64, limit: u64, search: Option<&str>) -> localdx_store::Result<Vec<Record>> {
        self.store.records(&self.grant, dataset_id, offset, limit, search)
    }

    /// [`Store::record`] under this permit's grant.
    pub fn record(&self, id: i64) -> localdx_store::Result<Option<Record>> {
        self.store.record(&self.grant, id)
    }

    /// [`Store::feedback`] under this permit's grant.
    pub fn feedback(&self) -> localdx_store::Result<Vec<Feedback>> {
        self.store.feedback(&self.grant)
    }
}

impl Deref for Permit<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}

impl Api {
    /// A handle on `store`, the database at `db`, acting as `session` (the session module builds
    /// it after a login).
    pub(crate) fn assemble(store: Store, session: Session, keys: Option<Keys>, db: &Path) -> Api {
        Api { store, session, keys, layout: Layout::for_db(db) }
    }

    /// The workspace's files and folders.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// This handle with its models read from `dir` instead of the workspace's models folder, for
    /// a caller that keeps them elsewhere (tests with a tiny model). Runs stay beside the database.
    pub fn with_models(mut self, dir: &Path) -> Api {
        self.layout.models = dir.to_owned();
        self
    }

    /// Runs the permission matrix for `command` and, when the session's role may run it, lends
    /// the store for that command. Every operation on workspace data starts here.
    pub(crate) fn permit(&self, command: Command) -> Result<Permit<'_>> {
        let grant = check(self.session.role, command)?;
        Ok(Permit { store: &self.store, grant })
    }

    /// Refuses `command` unless the session's role may run it (the permission matrix of
    /// `localdx-access`), for operations that touch no store (model files, a text given inline).
    pub fn check(&self, command: Command) -> Result<()> {
        check(self.session.role, command)?;
        Ok(())
    }

    /// The acting user's name (for `created_by`, audit entries).
    pub fn actor(&self) -> &str {
        &self.session.user
    }

    /// Appends to the audit trail as the acting user (for API modules that audit their own
    /// actions: training start, model deletion ...). Needs no permit: recording an action is
    /// never refused.
    pub fn audit(&self, action: &str, subject: &str, before: serde_json::Value, after: serde_json::Value, reason: &str) -> Result<()> {
        self.store.audit(&AuditEntry { actor: &self.session.user, action, subject, before, after, reason })?;
        Ok(())
    }
}
