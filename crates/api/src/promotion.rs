//! A model in use: a steward or admin promotes a run for its dataset's task after reading its
//! report, and clinicians' suggestions default to the promoted run (any run stays selectable for
//! comparison). Promoting builds the run's report on its test split first, so no run is put into
//! use without one; the report's SHA-256 and headline figures are stored with the promotion.
//! Promoting, replacing and withdrawing are audited in the same transaction as the change.
//!
//! The task is the imported dataset a run's released version comes from: a retrained run on a
//! newer release of the same notes replaces the promoted one.

use crate::eval::{EvalOptions, RunRequest};
use crate::{Api, ApiError, Command, ErrorCode, Result};
use localdx_store::{NewPromotion, Promotion};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One promotion (current when `endedAt` is null).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionDto {
    pub id: i64,
    /// The imported dataset whose task the run serves.
    pub dataset_id: i64,
    pub run_id: String,
    /// The released version the run trained on.
    pub version_id: i64,
    pub report_sha256: String,
    /// The test-split figures of the report built at promotion: `cases`, `accuracy`, `microF1`,
    /// `macroF1`, `weightedF1`, and the macro-F1 interval (`macroF1Low`, `macroF1High`) when the
    /// bootstrap ran.
    pub metrics: serde_json::Value,
    pub reason: String,
    pub promoted_by: String,
    pub promoted_at: String,
    pub ended_by: Option<String>,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

impl From<Promotion> for PromotionDto {
    fn from(p: Promotion) -> Self {
        PromotionDto {
            id: p.id,
            dataset_id: p.dataset_id,
            run_id: p.run_id,
            version_id: p.version_id,
            report_sha256: p.report_sha256,
            metrics: p.metrics,
            reason: p.reason,
            promoted_by: p.promoted_by,
            promoted_at: p.promoted_at,
            ended_by: p.ended_by,
            ended_at: p.ended_at,
            end_reason: p.end_reason,
        }
    }
}

impl Api {
    /// The imported dataset whose task `dataset_id` belongs to: the source of a released
    /// version, else the dataset itself.
    fn task_of(&self, dataset_id: i64) -> Result<i64> {
        let store = self.permit(Command::ListReleases)?;
        Ok(store.release_of_version(dataset_id)?.map_or(dataset_id, |r| r.dataset_id))
    }

    /// Puts run `run_id` into use for its dataset's task, replacing the current promotion.
    /// Builds the run's report on its test split first (refused when the split has no labelled
    /// note); `reason` says why, in the audit trail.
    pub fn promote(&self, run_id: &str, reason: &str) -> Result<PromotionDto> {
        self.check(Command::PromoteModel)?;
        if reason.trim().is_empty() {
            return Err(ApiError::invalid("say why this run is put into use (--reason): it is kept in the audit trail"));
        }
        let facts = self.run_facts(run_id)?;
        let task = self.task_of(facts.dataset_id)?;
        let report = self.run_report(RunRequest { run_id, vs: None, split: "test" }, &crate::eval::today(), &EvalOptions::default()).map_err(|e| {
            ApiError::new(if e.code == ErrorCode::InvalidInput { ErrorCode::Blocked } else { e.code }, format!("run {run_id} has no report on its test split: {}", e.message))
        })?;
        let e = &report.evaluation.evaluation;
        let mut metrics = serde_json::json!({
            "cases": e.cases, "accuracy": e.accuracy, "microF1": e.micro_f1, "macroF1": e.macro_f1, "weightedF1": e.weighted_f1,
        });
        if let Some(i) = e.intervals.iter().find(|i| i.metric == "macro_f1") {
            metrics["macroF1Low"] = i.interval.low.into();
            metrics["macroF1High"] = i.interval.high.into();
        }
        let sha: String = Sha256::digest(report.html.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let store = self.permit(Command::PromoteModel)?;
        let new = NewPromotion { dataset_id: task, run_id, version_id: facts.dataset_id, report_sha256: &sha, metrics: &metrics, reason: reason.trim(), actor: self.actor() };
        let promoted = store.atomically(|| {
            let (promoted, replaced) = store.promote(&new)?;
            let before = replaced.as_ref().map_or(serde_json::Value::Null, |r| serde_json::json!({"run_id": r.run_id, "promotion_id": r.id}));
            let after = serde_json::json!({"run_id": run_id, "promotion_id": promoted.id, "version_id": facts.dataset_id, "report_sha256": sha, "metrics": metrics});
            self.audit("model.promote", &format!("dataset:{task}"), before, after, reason.trim())?;
            Ok::<_, ApiError>(promoted)
        })?;
        Ok(promoted.into())
    }

    /// Withdraws the promoted run of `dataset_id`'s task (suggestions then have no default);
    /// refused as `not_found` when none is in use.
    pub fn demote(&self, dataset_id: i64, reason: &str) -> Result<PromotionDto> {
        self.check(Command::PromoteModel)?;
        if reason.trim().is_empty() {
            return Err(ApiError::invalid("say why the model is withdrawn (--reason): it is kept in the audit trail"));
        }
        let task = self.task_of(dataset_id)?;
        let store = self.permit(Command::PromoteModel)?;
        let ended = store.atomically(|| {
            let Some(ended) = store.demote(task, self.actor(), reason.trim())? else {
                return Err(ApiError::not_found(format!("no model is in use for dataset {task}")));
            };
            self.audit("model.demote", &format!("dataset:{task}"), serde_json::json!({"run_id": ended.run_id, "promotion_id": ended.id}), serde_json::Value::Null, reason.trim())?;
            Ok(ended)
        })?;
        Ok(ended.into())
    }

    /// The run in use for `dataset_id`'s task (a released version or its source), if any: what
    /// the Suggestions screen chooses by default.
    pub fn promoted(&self, dataset_id: i64) -> Result<Option<PromotionDto>> {
        let task = self.task_of(dataset_id)?;
        let store = self.permit(Command::ListRuns)?;
        Ok(store.current_promotion(task)?.map(PromotionDto::from))
    }

    /// Every promotion, current and ended, oldest first (of one dataset's task when given).
    pub fn promotions(&self, dataset_id: Option<i64>) -> Result<Vec<PromotionDto>> {
        let task = dataset_id.map(|d| self.task_of(d)).transpose()?;
        let store = self.permit(Command::ListRuns)?;
        Ok(store.promotions(task)?.into_iter().map(PromotionDto::from).collect())
    }
}
