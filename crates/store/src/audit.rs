//! The audit trail: a hash-chained, append-only log of who did what (decisions, releases, logins,
//! exports, account changes), with the value before and after and the reason given.
//!
//! Each entry's `hash` is the SHA-256 of a canonical encoding of its fields and the previous
//! entry's hash ([`entry_hash`]), so editing, removing or reordering any entry breaks every hash
//! after it; [`Store::verify_audit`] walks the chain and names the first broken entry. The newest
//! `seq:hash` is also kept as the chain head in the settings table, written in the same transaction
//! as the entry, and the next entry chains onto that head, so that cutting entries off the end is
//! caught too, even after more entries were appended. Triggers refuse UPDATE and
//! DELETE on the table; the chain is what catches someone who drops them and edits the file.
//!
//! What the chain cannot catch on its own: someone who rewrites the whole chain and the head with
//! valid hashes. Keep the head printed by `localdx audit verify` somewhere else and compare it
//! (`--expect-head`). This module never deletes or rewrites an entry.

use crate::{Result, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// The setting that holds the chain head (`seq:hash` of the newest entry).
pub const AUDIT_HEAD_KEY: &str = "audit.head";

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An action to append to the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry<'a> {
    /// The user who acted.
    pub actor: &'a str,
    /// Dotted action, e.g. `review.accept`, `user.add`, `release`.
    pub action: &'a str,
    /// What it is about, e.g. `span:12`, `dataset:3`, `user:ana`.
    pub subject: &'a str,
    /// The state before (JSON; `null` when there was none).
    pub before: serde_json::Value,
    /// The state after (JSON; `null` when there is none).
    pub after: serde_json::Value,
    /// Why, as given by the actor (may be empty).
    pub reason: &'a str,
}

/// One stored audit entry, exactly as stored (`before`/`after` are JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    /// ISO 8601 UTC with milliseconds.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before: String,
    pub after: String,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Actions starting with this prefix (`review.` lists every review decision).
    pub action_prefix: Option<String>,
    pub subject: Option<String>,
    /// Subjects containing this text (case-sensitive).
    pub subject_contains: Option<String>,
    /// Entries with `seq > after_seq`.
    pub after_seq: Option<i64>,
    /// Entries with `seq < before_seq` (to page back from the newest).
    pub before_seq: Option<i64>,
    /// Entries at or after this UTC time, compared as text with `at` (`2026-05-01` or
    /// `2026-05-01T09:30`).
    pub at_from: Option<String>,
    /// Entries whose `at`, cut to this string's length, is at most this (`2026-05-31` includes
    /// that whole day).
    pub at_to: Option<String>,
    /// The newest this many of the matching entries (returned oldest first); `None` = all.
    pub limit: Option<u64>,
}

/// The first entry where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditBreak {
    pub seq: i64,
    pub reason: String,
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditVerdict {
    /// Entries read.
    pub entries: u64,
    /// `seq` and hash of the newest entry (none when the trail is empty).
    pub head: Option<(i64, String)>,
    /// `None` when the chain is intact.
    pub broken: Option<AuditBreak>,
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The hash of an entry: SHA-256 over each field as (length as u64 little-endian, UTF-8 bytes), in
/// the order seq (decimal), at, actor, action, subject, before, after, reason, prev_hash; lower-case
/// hex. Length prefixes make the encoding unambiguous (no two rows encode alike).
pub fn entry_hash(r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    for f in [&r.seq.to_string(), &r.at, &r.actor, &r.action, &r.subject, &r.before, &r.after, &r.reason, &r.prev_hash] {
        field(&mut h, f.as_bytes());
    }
    hex(&h.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Appends `e` on `conn` inside a savepoint (so it joins the caller's transaction when there is one)
/// and moves the chain head.
pub(crate) fn append_on(conn: &Connection, e: &AuditEntry<'_>) -> Result<AuditRecord> {
    conn.execute_batch("SAVEPOINT audit_append")?;
    let out = append_inner(conn, e);
    match &out {
        Ok(_) => conn.execute_batch("RELEASE audit_append")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK TO audit_append; RELEASE audit_append");
        }
    }
    out
}

fn append_inner(conn: &Connection, e: &AuditEntry<'_>) -> Result<AuditRecord> {
    // Chain onto the recorded head, not onto whatever row is last: if entries were cut off the
    // end, the next entry still points past the gap and `verify` reports it.
    let head: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [AUDIT_HEAD_KEY], |r| r.get(0))
        .optional()?;
    let head = head.and_then(|h| {
        let (seq, hash) = h.split_once(':')?;
        Some((seq.parse::<i64>().ok()?, hash.to_owned()))
    });
    let any: Option<i64> = conn.query_row("SELECT seq FROM audit LIMIT 1", [], |r| r.get(0)).optional()?;
    let (prev_seq, prev_hash) = match head {
        Some(h) => h,
        None if any.is_none() => (0, GENESIS_HASH.to_owned()),
        // Entries without a head: someone removed it. Fail closed rather than chain on silently.
        None => return Err(StoreError::Invalid("the audit trail's chain head is missing: the trail was tampered with (run `localdx audit verify`)".into())),
    };
    let at: String = conn.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| r.get(0))?;
    let mut rec = AuditRecord {
        seq: prev_seq + 1,
        at,
        actor: e.actor.to_owned(),
        action: e.action.to_owned(),
        subject: e.subject.to_owned(),
        before: serde_json::to_string(&e.before)?,
        after: serde_json::to_string(&e.after)?,
        reason: e.reason.to_owned(),
        prev_hash,
        hash: String::new(),
    };
    rec.hash = entry_hash(&rec);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, before, after, reason, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![rec.seq, rec.at, rec.actor, rec.action, rec.subject, rec.before, rec.after, rec.reason, rec.prev_hash, rec.hash],
    )?;
    crate::settings::set_on(conn, AUDIT_HEAD_KEY, &format!("{}:{}", rec.seq, rec.hash))?;
    Ok(rec)
}

const AUDIT_COLUMNS: &str = "seq, at, actor, action, subject, before, after, reason, prev_hash, hash";

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        before: r.get(5)?,
        after: r.get(6)?,
        reason: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

impl Store {
    /// Appends one entry to the audit trail (in the caller's transaction, if one is open).
    pub fn audit(&self, e: &AuditEntry<'_>) -> Result<AuditRecord> {
        append_on(self.conn(), e)
    }

    /// Entries matching `filter`, oldest first.
    pub fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        // The newest `limit` entries, returned oldest first.
        let sql = format!(
            "SELECT * FROM (SELECT {AUDIT_COLUMNS} FROM audit
               WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2)
                 AND (?3 IS NULL OR subject = ?3) AND seq > ?4
                 AND (?6 IS NULL OR instr(subject, ?6) > 0) AND (?7 IS NULL OR seq < ?7)
                 AND (?8 IS NULL OR at >= ?8) AND (?9 IS NULL OR substr(at, 1, length(?9)) <= ?9)
               ORDER BY seq DESC LIMIT ?5) ORDER BY seq"
        );
        let limit = filter.limit.map(|l| l.min(i64::MAX as u64) as i64).unwrap_or(-1);
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(
            params![
                filter.actor,
                filter.action_prefix,
                filter.subject,
                filter.after_seq.unwrap_or(0),
                limit,
                filter.subject_contains,
                filter.before_seq,
                filter.at_from,
                filter.at_to
            ],
            audit_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Walks the whole chain: consecutive `seq` from 1, each `prev_hash` equal to the previous
    /// entry's hash, each hash recomputed from the row, and the newest entry equal to the stored
    /// chain head. Names the first entry where any of that fails.
    pub fn verify_audit(&self) -> Result<AuditVerdict> {
        let mut stmt = self.conn().prepare(&format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        let (mut expected_seq, mut prev) = (1i64, GENESIS_HASH.to_owned());
        let mut entries = 0u64;
        let mut broken = None;
        while let Some(row) = rows.next()? {
            let rec = audit_from_row(row)?;
            entries += 1;
            let why = if rec.seq != expected_seq {
                Some(format!("expected entry {expected_seq} here but found {}: entries are missing", rec.seq))
            } else if rec.prev_hash != prev {
                Some("its prev_hash does not match the hash of the entry before it".to_owned())
            } else if entry_hash(&rec) != rec.hash {
                Some("its content does not match its hash: the entry was altered".to_owned())
            } else {
                None
            };
            if let Some(reason) = why {
                broken = Some(AuditBreak { seq: expected_seq.min(rec.seq), reason });
                break;
            }
            expected_seq += 1;
            prev = rec.hash;
        }
        drop(rows);
        let head = self
            .conn()
            .query_row(&format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1"), [], audit_from_row)
            .optional()?
            .map(|r| (r.seq, r.hash));
        if broken.is_none() {
            let stored = self.setting(AUDIT_HEAD_KEY)?;
            let found = head.as_ref().map(|(s, h)| format!("{s}:{h}"));
            if stored != found {
                let stored_seq = stored.as_deref().and_then(|s| s.split(':').next()).and_then(|s| s.parse::<i64>().ok());
                let seq = match (stored_seq, &head) {
                    (Some(s), Some((last, _))) if s > *last => last + 1,
                    (Some(_), None) => 1,
                    (None, Some((last, _))) => last + 1,
                    (_, Some((last, _))) => *last,
                    (None, None) => 0,
                };
                let reason = match (&stored, &found) {
                    (Some(s), Some(f)) => format!("the chain ends at {f} but its recorded head is {s}: entries were removed or rewritten"),
                    (Some(s), None) => format!("the trail is empty but its recorded head is {s}: entries were removed"),
                    (None, _) => "the chain head is missing: it was removed".to_owned(),
                };
                broken = Some(AuditBreak { seq, reason });
            }
        }
        Ok(AuditVerdict { entries, head, broken })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: i64, actor: &str, prev: &str) -> AuditRecord {
        AuditRecord {
            seq,
            at: "2026-01-01T00:00:00.000Z".into(),
            actor: actor.into(),
            action: "review.accept".into(),
            subject: "span:1".into(),
            before: "null".into(),
            after: "{}".into(),
            reason: String::new(),
            prev_hash: prev.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn hash_covers_every_field_and_is_unambiguous() {
        let base = rec(1, "ana", GENESIS_HASH);
        let h = entry_hash(&base);
        assert_eq!(h.len(), 64);
        assert_eq!(h, entry_hash(&base.clone()), "deterministic");
        let changed: Vec<AuditRecord> = vec![
            AuditRecord { seq: 2, ..base.clone() },
            AuditRecord { at: "2026-01-01T00:00:00.001Z".into(), ..base.clone() },
            AuditRecord { actor: "anb".into(), ..base.clone() },
            AuditRecord { action: "review.reject".into(), ..base.clone() },
            AuditRecord { subject: "span:2".into(), ..base.clone() },
            AuditRecord { before: "{}".into(), ..base.clone() },
            AuditRecord { after: "null".into(), ..base.clone() },
            AuditRecord { reason: "x".into(), ..base.clone() },
            AuditRecord { prev_hash: "1".repeat(64), ..base.clone() },
            // Moving a character from one field to the next must change the hash.
            AuditRecord { actor: "an".into(), action: "breview.accept".into(), ..base.clone() },
        ];
        for c in changed {
            assert_ne!(entry_hash(&c), h, "{c:?}");
        }
    }
}
