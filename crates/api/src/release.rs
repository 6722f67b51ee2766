//! Releasing a reviewed dataset, and everything that reads released versions.
//!
//! The release itself is `localdx_review::release`; this module checks permissions, audits and
//! converts. A release needs every note signed off. It redacts each note with the steward's decisions
//! (accepted, retyped, resized and added spans; rejected ones stay) by the chosen strategy, then
//! runs detection again on the redacted text as a leakage scan: a hit outside the replacements
//! (and not a term the steward rejected in this dataset) blocks the release and is listed. Else
//! the redacted notes are stored as a new dataset, marked released in the same transaction (the
//! database then refuses any change to it), with the SHA-256 of its content. Patient and note
//! ids are replaced by keyed pseudonyms, since they can be identifiers themselves.
//!
//! Clinicians, training and exports read released versions only ([`Api::released_records`],
//! [`Api::training_version`], [`Api::export_release`]); nothing here returns raw text.

use crate::datasets::{RecordDto, RecordPageDto, MAX_PAGE};
use crate::phi::StrategyDto;
use crate::Permit;
use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_job::{Cancel, Reporter};
use localdx_phi::Strategy;
use localdx_review::{release, Leak};
use localdx_store::{Record, Release};
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

impl From<Leak> for LeakDto {
    fn from(l: Leak) -> Self {
        LeakDto { record_id: l.record_id, entity: l.entity, start: l.start, end: l.end, text: l.text, score: l.score }
    }
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

impl Api {
    /// Releases dataset `dataset_id` with `strategy` (see the module doc). Blocked (error code
    /// `blocked`) while a note is open or when the leakage scan finds anything; the message lists
    /// what to fix.
    pub fn release(&self, dataset_id: i64, strategy: StrategyDto, reporter: &dyn Reporter, cancel: &Cancel) -> Result<ReleaseDto> {
        let store = self.permit(Command::ReleaseDataset)?;
        let plan = release::plan(&store, store.grant(), dataset_id)?;
        let secret = self.phi_secret()?;
        let strategy_value = match strategy {
            StrategyDto::Tag => Strategy::Tag,
            StrategyDto::Mask => Strategy::Mask('*'),
            StrategyDto::Surrogate => Strategy::Surrogate { secret: secret.clone() },
        };
        // The scan: the project's configuration and learned terms, plus every term the steward
        // rejected in this dataset (decided not to be PHI), through the same union as detection,
        // so the scan is as strong as what the steward reviewed.
        let scan_config = plan.scan_config(self.learned_config(&store)?.0);
        let detector = self.detector_for(&store, scan_config)?;
        let strategy_name = localdx_review::redact::strategy_name(&strategy_value);
        let pending = match release::build(&store, plan, &strategy_value, &secret, &|text| detector.detect(text), self.actor(), reporter, cancel) {
            Err(localdx_review::Error::Leaks(leaks)) => {
                self.audit("release.blocked", &format!("dataset:{dataset_id}"), json!(null), json!({"leaks": leaks.0.len(), "strategy": strategy_name}), "")?;
                return Err(localdx_review::Error::Leaks(leaks).into());
            }
            built => built?,
        };
        pending.writer().audit(&localdx_store::AuditEntry {
            actor: self.actor(),
            action: "release",
            subject: &format!("dataset:{dataset_id}"),
            before: json!(null),
            after: json!({"versionId": pending.version_id, "releaseId": pending.release_id, "strategy": pending.strategy, "sha256": pending.sha256, "records": pending.records, "spans": pending.spans}),
            reason: "",
        })?;
        Ok(pending.commit()?.into())
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
