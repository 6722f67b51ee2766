//! Retraining with new local data. Clinicians' verdicts on suggestions become labels of a new
//! dataset ([`Api::feedback_dataset`]): each judged note with its recorded labels, plus the
//! diagnoses they accepted or added, less those they rejected. That dataset is reviewed and
//! released like any import (the PHI rules still hold: training reads releases only). Then
//! [`Api::retrain`] trains a successor of a run, with the run's settings, on the run's release
//! plus the new one, and compares it with the run in use on the same held-out notes: the old
//! release's test split, less any note that went into the new data. It offers the successor for
//! promotion only when its macro-F1 there is not lower.

use crate::training::{execute, next_run_id, store_records, train_data_of, PreparedRun, Scorer, TrainEvent, TrainResultDto};
use crate::{Api, ApiError, Cancel, Command, ErrorCode, Result};
use localdx_store::{NewDataset, NewRecord, Split};
use localdx_train::checkpoint::RunFiles;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackDatasetDto {
    pub dataset_id: i64,
    pub name: String,
    /// Notes in the new dataset (judged stored cases and saved typed notes with a label left).
    pub notes: u64,
    /// Verdicts used.
    pub verdicts: u64,
    /// Records of the source version that the new dataset repeats (kept out of the held-out
    /// comparison of a successor).
    pub from_records: Vec<i64>,
}

/// A successor's comparison with the run in use.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessorDto {
    pub successor: String,
    /// The run it is compared with: the one in use, else the run it succeeds.
    pub compared_with: String,
    /// Held-out notes both were scored on, and those left out because the new data repeats them.
    pub held_out: usize,
    pub left_out: usize,
    /// Macro-F1 on the held-out notes of the run compared with, and of the successor.
    pub macro_f1_before: f64,
    pub macro_f1_after: f64,
    /// The paired bootstrap difference (after − before) with its 95% interval, and its p-value.
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    pub p_value: f64,
    /// Whether the successor is offered for promotion (its macro-F1 is not lower).
    pub offered: bool,
}

/// A successor trained, and its comparison (snake_case run result: the CLI's `train` contract).
#[derive(Debug, Clone, Serialize)]
pub struct RetrainDto {
    pub run: TrainResultDto,
    pub comparison: SuccessorDto,
}

impl Api {
    /// A new dataset from the clinicians' verdicts on suggestions for notes of `version_id` (a
    /// released version), to review and release like any import.
    pub fn feedback_dataset(&self, version_id: i64, name: Option<&str>) -> Result<FeedbackDatasetDto> {
        let store = self.permit(Command::ImportDataset)?;
        let version = store.dataset(version_id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {version_id}")))?;
        let feedback: Vec<_> = store.feedback()?.into_iter().filter(|f| f.dataset_id == Some(version_id)).collect();
        // One note per stored record, and one per saved typed note.
        let mut notes: BTreeMap<String, (Option<i64>, String, BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        let mut verdicts = 0u64;
        for f in &feedback {
            let (key, record, text, gold) = match (f.record_id, &f.note_text) {
                (Some(id), _) => match store.record(id)? {
                    Some(r) if r.dataset_id == version_id => (format!("r{id}"), Some(id), r.text, r.labels),
                    _ => continue,
                },
                (None, Some(text)) => (format!("t{}", f.id), None, text.clone(), Vec::new()),
                (None, None) => continue,
            };
            let entry = notes.entry(key).or_insert_with(|| (record, text, gold.into_iter().collect(), BTreeSet::new()));
            match f.verdict.as_str() {
                "accept" | "add" => {
                    entry.2.insert(f.label.clone());
                }
                "reject" => {
                    entry.3.insert(f.label.clone());
                }
                _ => continue,
            }
            verdicts += 1;
        }
        let rows: Vec<(Option<i64>, String, Vec<String>)> = notes
            .into_values()
            .map(|(record, text, keep, rejected)| (record, text, keep.difference(&rejected).cloned().collect::<Vec<_>>()))
            .filter(|(_, _, labels)| !labels.is_empty())
            .collect();
        if rows.is_empty() {
            return Err(ApiError::new(ErrorCode::Blocked, format!("no verdict on suggestions for notes of dataset {version_id} leaves a label: nothing to learn from yet")));
        }
        let from_records: Vec<i64> = rows.iter().filter_map(|r| r.0).collect();
        let name = name.map(str::to_owned).unwrap_or_else(|| format!("{} feedback", version.name));
        let new = NewDataset {
            name: name.clone(),
            source_path: None,
            format: "feedback".into(),
            column_mapping: serde_json::json!({}),
            source_sha256: None,
            parent_id: Some(version_id),
            seed: None,
            options: serde_json::json!({"from_feedback_of": version_id, "from_records": from_records}),
            created_by: self.actor().to_owned(),
        };
        // The dataset and its audit entry in one transaction (the writer's).
        let mut writer = store.dataset_writer(&new)?;
        for (_, text, labels) in &rows {
            writer.insert(&NewRecord { external_id: None, patient_id: None, text, labels, split: Split::Train, source_line: 0 })?;
        }
        let after = serde_json::json!({"dataset_id": writer.dataset_id(), "notes": rows.len(), "verdicts": verdicts, "from_records": from_records});
        writer.audit(&localdx_store::AuditEntry {
            actor: self.actor(),
            action: "dataset.from_feedback",
            subject: &format!("dataset:{version_id}"),
            before: serde_json::Value::Null,
            after,
            reason: "clinicians' verdicts as labels, to review and release",
        })?;
        let id = writer.finish()?;
        Ok(FeedbackDatasetDto { dataset_id: id, name, notes: rows.len() as u64, verdicts, from_records })
    }

    /// Trains a successor of `from_run` (its settings and base model) on its release plus the
    /// released version `with_version`, then compares it with the run in use (else `from_run`)
    /// on the old release's test notes that the new data does not repeat.
    pub fn retrain(&self, from_run: &str, with_version: i64, cancel: &Cancel, on_event: &dyn Fn(&str, &TrainEvent)) -> Result<RetrainDto> {
        let run = execute(self.prepare_retrain(from_run, with_version)?, cancel, on_event)?;
        let comparison = self.compare_successor(from_run, &run.run_id, with_version)?;
        Ok(RetrainDto { run, comparison })
    }

    /// The successor run [`Api::retrain`] trains, read and checked: executing it needs no
    /// database (the app trains it on a worker, as any run).
    pub fn prepare_retrain(&self, from_run: &str, with_version: i64) -> Result<PreparedRun> {
        Ok({
            let store = self.permit(Command::Train)?;
            let files = RunFiles::open(&self.run_dir(from_run)?, &self.vault())?;
            let old: i64 = files.meta.context.get("dataset_id").and_then(|d| d.parse().ok()).ok_or_else(|| ApiError::invalid(format!("run {from_run} does not name its dataset")))?;
            let Some(release) = store.release_of_version(with_version)? else {
                return Err(ApiError::new(ErrorCode::Blocked, format!("dataset {with_version} is not a released version: review and release it first (training reads releases only)")));
            };
            let mut records = store_records(&store, old)?;
            let mut added = store_records(&store, with_version)?;
            // The successor keeps its predecessor's task: a single-label (multi-class) run learns
            // only from new notes with exactly one label.
            let single = files.meta.config.head_kind != localdx_model::HeadKind::MultiLabel;
            let before = added.len();
            added.retain(|r| !single || r.labels.len() == 1);
            let dropped = before - added.len();
            for r in &mut added {
                r.split = Split::Train;
            }
            let new_notes = added.len();
            records.extend(added);
            let (data, _) = train_data_of(&records, Some(&self.layout.models))?;
            let run_id = next_run_id(&self.layout.runs);
            let dir = self.layout.runs.join(&run_id);
            let model_name = files.meta.context.get("model").cloned().unwrap_or_default();
            let settings = serde_json::json!({
                "successor_of": from_run, "released_version": old, "also_trained_on": with_version, "release_sha256": release.sha256,
                "new_notes": new_notes, "left_out_with_several_labels": dropped,
            });
            self.audit("training.start", &format!("run:{run_id}"), serde_json::Value::Null, settings, "successor from clinicians' feedback")?;
            PreparedRun::new_run(run_id, dir, files.meta.model_path.clone(), model_name, old, data, files.meta.config.clone(), self.vault())
        })
    }

    /// Compares `successor` (trained by [`Api::prepare_retrain`] from `from_run` with
    /// `with_version`) with the run in use on the held-out notes; audited.
    pub fn compare_successor(&self, from_run: &str, successor: &str, with_version: i64) -> Result<SuccessorDto> {
        let facts = self.run_facts(from_run)?;
        let compared_with = self.promoted(facts.dataset_id)?.map(|p| p.run_id).unwrap_or_else(|| from_run.to_owned());
        let left_out: HashSet<i64> = {
            let store = self.permit(Command::ReadReleased)?;
            let options = store.dataset(with_version)?.map(|d| d.options).unwrap_or_default();
            let source = store.release_of_version(with_version)?.map(|r| r.dataset_id);
            let from = source.and_then(|s| store.dataset(s).ok().flatten()).map(|d| d.options).unwrap_or(options);
            from["from_records"].as_array().map(|a| a.iter().filter_map(|v| v.as_i64()).collect()).unwrap_or_default()
        };
        let held = |scorer: Scorer| -> Result<Vec<crate::eval::PredictionRow>> {
            Ok(self.predict(scorer, facts.dataset_id, "test")?.into_iter().filter(|p| !left_out.contains(&p.record_id)).map(crate::eval::PredictionRow::from).collect())
        };
        let before = held(Scorer::Run(&compared_with))?;
        let after = held(Scorer::Run(successor))?;
        let total = self.predict(Scorer::Run(&compared_with), facts.dataset_id, "test")?.len();
        if before.is_empty() {
            return Err(ApiError::new(ErrorCode::Blocked, format!("no held-out note is left to compare on: the new data repeats all {total} test notes")));
        }
        let a = crate::eval::Scores { test: &before, validation: None };
        let b = crate::eval::Scores { test: &after, validation: None };
        let dto = crate::eval::evaluate_scores(&a, Some(&b), &crate::eval::EvalOptions::default())?;
        let diff = dto.comparison.as_ref().and_then(|c| c.metrics.iter().find(|m| m.metric == "macro_f1").cloned());
        let (difference, low, high, p_value, macro_f1_after) = match diff {
            Some(d) => (d.difference, d.low, d.high, d.p_value, d.b),
            None => (0.0, 0.0, 0.0, 1.0, dto.evaluation.macro_f1),
        };
        let offered = difference >= 0.0;
        let after_audit = serde_json::json!({"compared_with": compared_with, "held_out": before.len(), "macro_f1_difference": difference, "low": low, "high": high, "offered": offered});
        self.audit("training.successor", &format!("run:{successor}"), serde_json::Value::Null, after_audit, "")?;
        Ok(SuccessorDto {
            successor: successor.to_owned(),
            compared_with,
            held_out: before.len(),
            left_out: total - before.len(),
            macro_f1_before: dto.evaluation.macro_f1,
            macro_f1_after,
            difference,
            low,
            high,
            p_value,
            offered,
        })
    }
}
