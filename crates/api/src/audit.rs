//! The audit trail for the CLI and the desktop shell: list entries with filters (and pages back
//! from the newest), verify the hash chain (naming the first broken entry), and export the
//! filtered entries as CSV or JSON Lines. Admins only. The chain itself lives in `localdx-store`;
//! this module converts to JSON DTOs and writes no entry of its own except the one that records
//! an export. Entries hold offsets, states and ids, never note text, so an export holds none.

use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_store::{AuditFilter, AuditRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

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
    /// Exactly this subject, e.g. `dataset:3`.
    pub subject: Option<String>,
    /// Subjects containing this text.
    pub subject_contains: Option<String>,
    /// From this UTC day (`YYYY-MM-DD`), inclusive.
    pub from: Option<String>,
    /// To this UTC day (`YYYY-MM-DD`), inclusive.
    pub to: Option<String>,
    pub after_seq: Option<i64>,
    /// Only entries older than this one: the next page back from the newest.
    pub before_seq: Option<i64>,
    /// The newest this many of the matching entries.
    pub limit: Option<u64>,
}

/// What an audit export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditExportDto {
    pub path: String,
    pub format: String,
    pub entries: u64,
    pub sha256: String,
}

/// A `YYYY-MM-DD` day, checked, so that a typo is refused rather than silently matching nothing.
fn day(field: &str, value: &Option<String>) -> Result<Option<String>> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10);
    let (month, dom) = if shaped { (v[5..7].parse::<u32>().unwrap_or(0), v[8..10].parse::<u32>().unwrap_or(0)) } else { (0, 0) };
    if !shaped || !(1..=12).contains(&month) || !(1..=31).contains(&dom) {
        return Err(ApiError::invalid(format!("audit filter `{field}`: {v:?} is not a day (YYYY-MM-DD)")));
    }
    Ok(Some(v.to_owned()))
}

fn blank_to_none(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

impl AuditFilterDto {
    fn to_filter(&self) -> Result<AuditFilter> {
        Ok(AuditFilter {
            actor: blank_to_none(&self.actor),
            action_prefix: blank_to_none(&self.action),
            subject: blank_to_none(&self.subject),
            subject_contains: blank_to_none(&self.subject_contains),
            after_seq: self.after_seq,
            before_seq: self.before_seq,
            at_from: day("from", &self.from)?,
            at_to: day("to", &self.to)?,
            limit: self.limit,
        })
    }
}

const CSV_HEADER: [&str; 10] = ["seq", "at", "actor", "action", "subject", "before", "after", "reason", "prev_hash", "hash"];

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
    /// SQLite's check of the database file: `ok`, or the problems it found (one per line).
    pub integrity: String,
}

impl Api {
    /// Audit entries, oldest first.
    pub fn audit_list(&self, filter: &AuditFilterDto) -> Result<Vec<AuditEntryDto>> {
        let store = self.permit(Command::ReadAudit)?;
        Ok(store.audit_entries(&filter.to_filter()?)?.into_iter().map(AuditEntryDto::from).collect())
    }

    /// Writes every entry matching `filter` (paging ignored: all of them, oldest first) to `path`
    /// as `csv` (one row per entry, `before`/`after` as JSON text) or `jsonl` (one entry object
    /// per line), then records the export itself in the trail (`audit.export`, with the filter,
    /// the count and the file's SHA-256). If that entry cannot be written, the file is removed.
    pub fn audit_export(&self, filter: &AuditFilterDto, format: &str, path: &Path) -> Result<AuditExportDto> {
        let store = self.permit(Command::ReadAudit)?;
        let mut all = filter.to_filter()?;
        all.before_seq = None;
        all.limit = None;
        let entries: Vec<AuditEntryDto> = store.audit_entries(&all)?.into_iter().map(AuditEntryDto::from).collect();
        let internal = |e: String| ApiError::new(ErrorCode::Internal, e);
        let mut bytes: Vec<u8> = Vec::new();
        match format {
            "csv" => {
                let mut w = csv::Writer::from_writer(&mut bytes);
                w.write_record(CSV_HEADER).map_err(|e| internal(e.to_string()))?;
                for e in &entries {
                    let (seq, before, after) = (e.seq.to_string(), e.before.to_string(), e.after.to_string());
                    w.write_record([&seq, &e.at, &e.actor, &e.action, &e.subject, &before, &after, &e.reason, &e.prev_hash, &e.hash])
                        .map_err(|e| internal(e.to_string()))?;
                }
                w.flush().map_err(|e| internal(e.to_string()))?;
            }
            "jsonl" => {
                for e in &entries {
                    bytes.extend_from_slice(serde_json::to_string(e).map_err(|e| internal(e.to_string()))?.as_bytes());
                    bytes.push(b'\n');
                }
            }
            other => return Err(ApiError::invalid(format!("unknown audit export format {other:?} (csv, jsonl)"))),
        }
        let details = json!({"format": format, "entries": entries.len(), "filter": filter});
        let (written, sha256) = self.write_export(path, &["csv", "jsonl"], &bytes, "audit.export", details)?;
        Ok(AuditExportDto { path: written, format: format.to_owned(), entries: entries.len() as u64, sha256 })
    }

    /// Walks the chain. With `expect_head` (a hash kept elsewhere), the chain must also still end
    /// at that hash or contain it. Also runs SQLite's integrity check of the file (after a crash
    /// or a full disk, both say whether anything was damaged).
    pub fn audit_verify(&self, expect_head: Option<&str>) -> Result<AuditVerifyDto> {
        let store = self.permit(Command::ReadAudit)?;
        let v = store.verify_audit()?;
        let (mut broken_seq, mut reason) = (v.broken.as_ref().map(|b| b.seq), v.broken.map(|b| b.reason));
        if let (None, Some(expected)) = (broken_seq, expect_head) {
            let all = store.audit_entries(&AuditFilter::default())?;
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
            integrity: store.integrity_check()?,
        })
    }
}
