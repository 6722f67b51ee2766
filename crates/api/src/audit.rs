//! The audit trail for the CLI and the desktop shell: list entries with filters, and verify the
//! hash chain (naming the first broken entry). Admins only. The chain itself lives in
//! `localdx-store`; this module converts to JSON DTOs and never writes an entry of its own.

use crate::{Api, Command, Result};
use localdx_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};

/// One audit entry. `before` and `after` are the stored JSON values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub reason: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for AuditEntryDto {
    fn from(r: AuditRecord) -> Self {
        AuditEntryDto {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            // Stored by the store as valid JSON; an unreadable value is shown as its text.
            before: serde_json::from_str(&r.before).unwrap_or(serde_json::Value::String(r.before)),
            after: serde_json::from_str(&r.after).unwrap_or(serde_json::Value::String(r.after)),
            reason: r.reason,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Filters for listing, all optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditFilterDto {
    pub actor: Option<String>,
    /// Actions starting with this, e.g. `review.`.
    pub action: Option<String>,
    pub subject: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: Option<u64>,
}

/// The result of `audit verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerifyDto {
    pub ok: bool,
    pub entries: u64,
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// The first broken entry and why (none when `ok`).
    pub broken_seq: Option<i64>,
    pub reason: Option<String>,
}

impl Api {
    /// Audit entries, oldest first.
    pub fn audit_list(&self, filter: &AuditFilterDto) -> Result<Vec<AuditEntryDto>> {
        self.check(Command::ReadAudit)?;
        let f = AuditFilter {
            actor: filter.actor.clone(),
            action_prefix: filter.action.clone(),
            subject: filter.subject.clone(),
            after_seq: filter.after_seq,
            limit: filter.limit,
        };
        Ok(self.store.audit_entries(&f)?.into_iter().map(AuditEntryDto::from).collect())
    }

    /// Walks the chain. With `expect_head` (a hash kept elsewhere), the chain must also still end
    /// at that hash or contain it.
    pub fn audit_verify(&self, expect_head: Option<&str>) -> Result<AuditVerifyDto> {
        self.check(Command::ReadAudit)?;
        let v = self.store.verify_audit()?;
        let (mut broken_seq, mut reason) = (v.broken.as_ref().map(|b| b.seq), v.broken.map(|b| b.reason));
        if let (None, Some(expected)) = (broken_seq, expect_head) {
            let all = self.store.audit_entries(&AuditFilter::default())?;
            if !all.iter().any(|e| e.hash == expected) {
                broken_seq = Some(all.last().map_or(1, |e| e.seq));
                reason = Some(format!("no entry has the expected head hash {expected}: the trail was rewritten"));
            }
        }
        Ok(AuditVerifyDto {
            ok: broken_seq.is_none(),
            entries: v.entries,
            head_seq: v.head.as_ref().map(|h| h.0),
            head_hash: v.head.map(|h| h.1),
            broken_seq,
            reason,
        })
    }
}
