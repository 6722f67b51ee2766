//! Releasing a reviewed dataset, and everything that reads released versions.
//!
//! A release needs every note signed off. It redacts each note with the steward's decisions
//! (accepted, retyped, resized and added spans; rejected ones stay) by the chosen strategy, then
//! runs detection again on the redacted text as a leakage scan: a hit outside the replacements
//! (and not a term the steward rejected in this dataset) blocks the release and is listed. Else
//! the redacted notes are stored as a new dataset, marked released in the same transaction (the
//! database then refuses any change to it), with the SHA-256 of its content. Patient and note
//! ids are replaced by keyed pseudonyms, since they can be identifiers themselves.
//!
//! Clinicians, training and exports read released versions only ([`Api::released_records`],
//! [`Api::training_version`], [`Api::export_release`]); nothing here returns raw text.

use crate::Permit;
use crate::datasets::{RecordDto, RecordPageDto, MAX_PAGE};
use crate::phi::StrategyDto;
use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_job::{Cancel, Meter, Reporter};
use localdx_phi::{redact, Detection, EntityType, Strategy};
use localdx_span::{CharIndex, Span};
use localdx_store::{NewDataset, NewRecord, Record, Release, SpanState};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A released version. snake_case: `localdx release --json` prints it and scripts read
/// `version_id` (the id of the redacted dataset, usable wherever a dataset id is).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseDto {
    pub version_id: i64,
    pub release_id: i64,
    pub dataset_id: i64,
    pub strategy: String,
    pub sha256: String,
    pub records: u64,
    pub spans: u64,
    pub released_by: String,
    pub released_at: String,
}

impl From<Release> for ReleaseDto {
    fn from(r: Release) -> Self {
        ReleaseDto {
            version_id: r.version_dataset_id,
            release_id: r.id,
            dataset_id: r.dataset_id,
            strategy: r.strategy,
            sha256: r.sha256,
            records: r.records,
            spans: r.spans,
            released_by: r.released_by,
            released_at: r.released_at,
        }
    }
}

/// PHI the leakage scan found in a redacted note (char offsets into the redacted text).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeakDto {
    pub record_id: i64,
    #[serde(rename = "type")]
    pub entity: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub score: f64,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDto {
    pub version_id: i64,
    pub path: String,
    pub format: String,
    pub records: u64,
    pub sha256: String,
}

/// One note ready to store.
struct Redacted {
    external_id: Option<String>,
    patient_id: Option<String>,
    text: String,
    labels: Vec<String>,
    split: localdx_store::Split,
    source_line: u64,
}

/// A keyed pseudonym of an identifier: the same id gives the same pseudonym within a project.
fn pseudonym(secret: &[u8], kind: &str, id: &str) -> String {
    let mut h = Sha256::new();
    for part in [secret, kind.as_bytes(), id.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let d = h.finalize();
    format!("{kind}-{}", d[..8].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// SHA-256 over the released records in order, each field length-prefixed.
fn content_hash(records: &[Redacted]) -> Result<String> {
    let mut h = Sha256::new();
    for r in records {
        let labels = serde_json::to_string(&r.labels).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        for f in [r.external_id.as_deref().unwrap_or(""), r.patient_id.as_deref().unwrap_or(""), r.split.as_str(), &labels, &r.text] {
            h.update((f.len() as u64).to_le_bytes());
            h.update(f.as_bytes());
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The spans a note's decisions redact, as non-overlapping detections sorted by start
/// (overlapping decided spans are joined so no part of either stays).
fn decided_spans(spans: &[localdx_store::ReviewSpan]) -> Vec<Detection> {
    let mut dets: Vec<Detection> = spans
        .iter()
        .filter(|s| s.view.state.redacts())
        .filter_map(|s| {
            let entity = EntityType::parse(&s.view.entity)?;
            Some(Detection::new(Span::new(s.view.start, s.view.end), entity, s.score as f32, "review", "decision"))
        })
        .collect();
    dets.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.span.end)));
    let mut out: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        match out.last_mut() {
            Some(last) if d.span.start < last.span.end => last.span = last.span.union(&d.span),
            _ => out.push(d),
        }
    }
    out
}

impl Api {
    /// Releases dataset `dataset_id` with `strategy` (see the module doc). Blocked (error code
    /// `blocked`) while a note is open or when the leakage scan finds anything; the message lists
    /// what to fix.
    pub fn release(&self, dataset_id: i64, strategy: StrategyDto, reporter: &dyn Reporter, cancel: &Cancel) -> Result<ReleaseDto> {
        let store = self.permit(Command::ReleaseDataset)?;
        let ds = self.reviewable(&store, dataset_id)?;
        let open = store.open_notes(dataset_id)?;
        if !open.is_empty() {
            let first: Vec<String> = open.iter().take(10).map(|id| id.to_string()).collect();
            return Err(ApiError::new(
                ErrorCode::Blocked,
                format!("{} of {} notes are not signed off (records {}{}): review them first", open.len(), ds.records, first.join(", "), if open.len() > 10 { ", ..." } else { "" }),
            ));
        }
        let secret = self.phi_secret()?;
        let strategy_value = match strategy {
            StrategyDto::Tag => Strategy::Tag,
            StrategyDto::Mask => Strategy::Mask('*'),
            StrategyDto::Surrogate => Strategy::Surrogate { secret: secret.clone() },
        };
        let strategy_name = match strategy {
            StrategyDto::Tag => "tag",
            StrategyDto::Mask => "mask",
            StrategyDto::Surrogate => "surrogate",
        };
        // The scan: the project's configuration and learned terms, plus every term the steward
        // rejected in this dataset (decided not to be PHI).
        let (mut scan_config, _, _) = self.learned_config(&store)?;
        let mut out: Vec<Redacted> = Vec::with_capacity(ds.records as usize);
        let mut leaks: Vec<LeakDto> = Vec::new();
        let mut spans_total = 0u64;
        let records = store.records(dataset_id, 0, u64::MAX, None)?;
        let mut per_record = Vec::with_capacity(records.len());
        for r in &records {
            let spans = store.review_spans(r.id)?;
            for s in spans.iter().filter(|s| s.view.state == SpanState::Rejected) {
                if let Some(t) = r.text.get(s.view.start..s.view.end) {
                    scan_config.allow.push(t.trim().to_owned());
                }
            }
            per_record.push(spans);
        }
        // the same union as detection, so the scan is as strong as what the steward reviewed
        let detector = self.detector_for(&store, scan_config)?;
        let mut meter = Meter::new("release", "notes", Some(ds.records), reporter);
        for (i, (r, spans)) in records.iter().zip(&per_record).enumerate() {
            if cancel.is_cancelled() {
                return Err(ApiError::new(ErrorCode::Cancelled, "release cancelled; nothing was stored"));
            }
            let dets = decided_spans(spans);
            spans_total += dets.len() as u64;
            let patient = r.patient_id.clone().unwrap_or_else(|| format!("record-{}", r.id));
            let red = redact(&r.text, &dets, &strategy_value, &patient);
            let found = detector.detect(&red.text);
            let index = CharIndex::new(&red.text);
            for d in found.iter().filter(|d| !red.replacements.iter().any(|x| x.replaced.overlaps(&d.span))) {
                let (start, end) = index.char_span(d.span);
                leaks.push(LeakDto {
                    record_id: r.id,
                    entity: d.entity.as_str().to_owned(),
                    start,
                    end,
                    text: d.span.slice(&red.text).to_owned(),
                    score: (d.score as f64 * 1000.0).round() / 1000.0,
                });
            }
            out.push(Redacted {
                external_id: r.external_id.as_deref().map(|id| pseudonym(&secret, "note", id)),
                patient_id: r.patient_id.as_deref().map(|id| pseudonym(&secret, "patient", id)),
                text: red.text,
                labels: r.labels.clone(),
                split: r.split,
                source_line: 0,
            });
            meter.tick(i as u64 + 1);
        }
        meter.finish(records.len() as u64);
        if !leaks.is_empty() {
            self.audit("release.blocked", &format!("dataset:{dataset_id}"), json!(null), json!({"leaks": leaks.len(), "strategy": strategy_name}), "")?;
            let listed: Vec<String> = leaks
                .iter()
                .take(20)
                .map(|l| format!("record {} {} {:?} at {}..{} (score {})", l.record_id, l.entity, l.text, l.start, l.end, l.score))
                .collect();
            return Err(ApiError::new(
                ErrorCode::Blocked,
                format!(
                    "release blocked: the leakage scan found {} possible PHI span(s) left in the redacted text; reopen those notes and decide on them:\n  {}{}",
                    leaks.len(),
                    listed.join("\n  "),
                    if leaks.len() > 20 { "\n  ..." } else { "" }
                ),
            ));
        }
        let sha256 = content_hash(&out)?;
        let n = store.releases(Some(dataset_id))?.len() + 1;
        let new = NewDataset {
            name: format!("{} (release {n})", ds.name),
            source_path: None,
            format: "release".into(),
            column_mapping: ds.column_mapping.clone(),
            source_sha256: None,
            parent_id: Some(dataset_id),
            seed: ds.seed,
            options: json!({"derivation": "release", "strategy": strategy_name}),
            created_by: self.actor().to_owned(),
        };
        let mut writer = store.dataset_writer(&new)?;
        for r in &out {
            writer.insert(&NewRecord {
                external_id: r.external_id.as_deref(),
                patient_id: r.patient_id.as_deref(),
                text: &r.text,
                labels: &r.labels,
                split: r.split,
                source_line: r.source_line,
            })?;
        }
        let release_id = writer.mark_released(dataset_id, strategy_name, &sha256, out.len() as u64, spans_total, self.actor())?;
        writer.audit(&localdx_store::AuditEntry {
            actor: self.actor(),
            action: "release",
            subject: &format!("dataset:{dataset_id}"),
            before: json!(null),
            after: json!({"versionId": writer.dataset_id(), "releaseId": release_id, "strategy": strategy_name, "sha256": sha256, "records": out.len(), "spans": spans_total}),
            reason: "",
        })?;
        let version_id = writer.finish()?;
        let release = store.release_of_version(version_id)?.ok_or_else(|| ApiError::new(ErrorCode::Internal, "the release vanished"))?;
        Ok(release.into())
    }

    /// Releases of one dataset (or all), oldest first.
    pub fn releases(&self, dataset_id: Option<i64>) -> Result<Vec<ReleaseDto>> {
        let store = self.permit(Command::ListReleases)?;
        Ok(store.releases(dataset_id)?.into_iter().map(ReleaseDto::from).collect())
    }

    /// The released version training (and clinicians) use for `dataset_id`: the dataset itself
    /// when it is a released version, else its newest release. Blocked when there is none.
    pub fn training_version(&self, dataset_id: i64) -> Result<ReleaseDto> {
        let store = self.permit(Command::ReadReleased)?;
        if let Some(r) = store.release_of_version(dataset_id)? {
            return Ok(r.into());
        }
        if store.dataset(dataset_id)?.is_none() {
            return Err(ApiError::not_found(format!("no dataset {dataset_id}")));
        }
        store.releases(Some(dataset_id))?.pop().map(ReleaseDto::from).ok_or_else(|| {
            ApiError::new(ErrorCode::Blocked, format!("dataset {dataset_id} has no released version: review it and release it first (`localdx release {dataset_id}`)"))
        })
    }

    /// Every record of the released version training should use for `dataset_id` (see
    /// [`Api::training_version`]), in id order.
    pub fn training_records(&self, dataset_id: i64) -> Result<(ReleaseDto, Vec<Record>)> {
        let store = self.permit(Command::ReadReleased)?;
        let release = self.training_version(dataset_id)?;
        let records = store.records(release.version_id, 0, u64::MAX, None)?;
        Ok((release, records))
    }

    fn version_or_refuse(&self, store: &Permit<'_>, version_id: i64) -> Result<Release> {
        store.release_of_version(version_id)?.ok_or_else(|| {
            ApiError::new(ErrorCode::Forbidden, format!("dataset {version_id} is not a released version; only released versions can be read here"))
        })
    }

    /// A page of a released version's (redacted) records.
    pub fn released_records(&self, version_id: i64, offset: u64, limit: u64) -> Result<RecordPageDto> {
        let store = self.permit(Command::ReadReleased)?;
        self.version_or_refuse(&store, version_id)?;
        let limit = limit.min(MAX_PAGE);
        let total = store.record_count(version_id, None)?;
        let records = store.records(version_id, offset, limit, None)?.into_iter().map(RecordDto::from).collect();
        Ok(RecordPageDto { total, offset, limit, records })
    }

    /// Writes a released version to `path` as `jsonl` or `csv` (never a raw dataset), audited.
    pub fn export_release(&self, version_id: i64, path: &Path, format: &str) -> Result<ExportDto> {
        let store = self.permit(Command::ExportReleased)?;
        let release = self.version_or_refuse(&store, version_id)?;
        let records = store.records(version_id, 0, u64::MAX, None)?;
        let io = |e: std::io::Error| ApiError::invalid(format!("cannot write {}: {e}", path.display()));
        let mut bytes: Vec<u8> = Vec::new();
        match format {
            "jsonl" => {
                for r in &records {
                    let line = json!({"id": r.external_id, "patient_id": r.patient_id, "split": r.split.as_str(), "labels": r.labels, "text": r.text});
                    bytes.extend_from_slice(line.to_string().as_bytes());
                    bytes.push(b'\n');
                }
            }
            "csv" => {
                let mut w = csv::Writer::from_writer(&mut bytes);
                let csv_err = |e: csv::Error| ApiError::new(ErrorCode::Internal, e.to_string());
                w.write_record(["id", "patient_id", "split", "labels", "text"]).map_err(csv_err)?;
                for r in &records {
                    let labels = r.labels.join(";");
                    w.write_record([r.external_id.as_deref().unwrap_or(""), r.patient_id.as_deref().unwrap_or(""), r.split.as_str(), &labels, &r.text])
                        .map_err(csv_err)?;
                }
                w.flush().map_err(io)?;
            }
            other => return Err(ApiError::invalid(format!("unknown export format {other:?} (jsonl, csv)"))),
        }
        std::fs::write(path, &bytes).map_err(io)?;
        let sha256: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        self.audit(
            "release.export",
            &format!("dataset:{version_id}"),
            json!(null),
            json!({"releaseId": release.id, "path": path.display().to_string(), "format": format, "records": records.len(), "sha256": sha256}),
            "",
        )?;
        Ok(ExportDto { version_id, path: path.display().to_string(), format: format.to_owned(), records: records.len() as u64, sha256 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = pseudonym(b"secret", "patient", "MRN-12345");
        assert_eq!(a, pseudonym(b"secret", "patient", "MRN-12345"));
        assert!(a.starts_with("patient-") && !a.contains("12345"), "{a}");
        assert_ne!(a, pseudonym(b"other", "patient", "MRN-12345"));
        assert_ne!(a, pseudonym(b"secret", "patient", "MRN-12346"));
    }
}
