//! The Tauri commands: each one takes the [`Workspace`] state, calls ONE `localdx_api::Api`
//! function on a blocking thread and returns its DTO, or its [`ApiError`] as `{code, message}`.
//!
//! Long work (import) forwards `localdx_job::Progress` to the window as the one event type
//! [`PROGRESS_EVENT`], and stops when `cancel_import` sets its cancel flag. Nothing here decides
//! anything about the data; that is the API's job.

use crate::state::Workspace;
use localdx_api::datasets::{
    DatasetDetailDto, DatasetDto, ImportOptionsDto, ImportReportDto, PreviewDto, RecordDto,
    RecordPageDto,
};
use localdx_api::{ApiError, Progress};
use std::path::PathBuf;
use tauri::{AppHandle, Emitter, State};

/// The name of the window event that carries every progress report.
pub const PROGRESS_EVENT: &str = "progress";

/// What the UI shows in its footer: where the data lives.
#[tauri::command]
pub fn workspace_info(ws: State<'_, Workspace>) -> localdx_api::workspace::WorkspaceInfoDto {
    localdx_api::workspace::WorkspaceInfoDto::for_db(&ws.path)
}

#[tauri::command]
pub async fn preview_import(
    ws: State<'_, Workspace>,
    path: PathBuf,
    options: ImportOptionsDto,
) -> Result<PreviewDto, ApiError> {
    ws.call(move |api| api.preview_import(&path, &options))
        .await
}

#[tauri::command]
pub async fn import_dataset(
    app: AppHandle,
    ws: State<'_, Workspace>,
    path: PathBuf,
    options: ImportOptionsDto,
) -> Result<ImportReportDto, ApiError> {
    let cancel = ws.start_job();
    let reporter = move |p: &Progress| {
        // A window that is gone cannot be told; the import itself goes on.
        let _ = app.emit(PROGRESS_EVENT, p);
    };
    ws.call(move |api| api.import(&path, &options, &reporter, &cancel))
        .await
}

#[tauri::command]
pub fn cancel_import(ws: State<'_, Workspace>) -> bool {
    ws.cancel_job()
}

#[tauri::command]
pub async fn list_datasets(ws: State<'_, Workspace>) -> Result<Vec<DatasetDto>, ApiError> {
    ws.call(|api| api.datasets()).await
}

#[tauri::command]
pub async fn get_dataset(ws: State<'_, Workspace>, id: i64) -> Result<DatasetDetailDto, ApiError> {
    ws.call(move |api| api.dataset(id)).await
}

/// What the dataset can support before training (its Statistics tab, the Training screen's warnings).
#[tauri::command]
pub async fn dataset_stats(ws: State<'_, Workspace>, dataset_id: i64) -> Result<localdx_api::stats::DatasetStatsDto, ApiError> {
    ws.call(move |api| api.dataset_stats(dataset_id)).await
}

#[tauri::command]
pub async fn list_records(
    ws: State<'_, Workspace>,
    dataset_id: i64,
    offset: u64,
    limit: u64,
    search: Option<String>,
) -> Result<RecordPageDto, ApiError> {
    ws.call(move |api| api.records(dataset_id, offset, limit, search.as_deref()))
        .await
}

#[tauri::command]
pub async fn get_record(ws: State<'_, Workspace>, id: i64) -> Result<RecordDto, ApiError> {
    ws.call(move |api| api.record(id)).await
}

// --- Redaction review and release (thin shims over `localdx_api::review` and `::release`). ---

use localdx_api::phi::StrategyDto;
use localdx_api::release::ReleaseDto;
use localdx_api::review::{
    BulkAcceptDto, BulkResultDto, DecisionDto, DetectSummaryDto, ReviewCountsDto, ReviewNoteDto,
    ReviewSpanDto,
};
use localdx_api::SessionDto;

#[tauri::command]
pub async fn session(ws: State<'_, Workspace>) -> Result<SessionDto, ApiError> {
    ws.call(|api| Ok(api.session())).await
}

#[tauri::command]
pub async fn review_detect(
    app: AppHandle,
    ws: State<'_, Workspace>,
    dataset_id: i64,
) -> Result<DetectSummaryDto, ApiError> {
    let cancel = ws.start_job();
    let reporter = move |p: &Progress| {
        let _ = app.emit(PROGRESS_EVENT, p);
    };
    ws.call(move |api| api.review_detect(dataset_id, &reporter, &cancel))
        .await
}

#[tauri::command]
pub async fn review_counts(ws: State<'_, Workspace>, dataset_id: i64) -> Result<ReviewCountsDto, ApiError> {
    ws.call(move |api| api.review_counts(dataset_id)).await
}

#[tauri::command]
pub async fn review_open_notes(ws: State<'_, Workspace>, dataset_id: i64, uncertain_first: Option<bool>) -> Result<Vec<i64>, ApiError> {
    ws.call(move |api| api.review_open_notes(dataset_id, uncertain_first.unwrap_or(false))).await
}

#[tauri::command]
pub async fn review_note(ws: State<'_, Workspace>, record_id: i64) -> Result<ReviewNoteDto, ApiError> {
    ws.call(move |api| api.review_note(record_id)).await
}

#[tauri::command]
pub async fn review_decide(
    ws: State<'_, Workspace>,
    span_id: i64,
    decision: DecisionDto,
) -> Result<ReviewSpanDto, ApiError> {
    ws.call(move |api| api.review_decide(span_id, &decision, "")).await
}

#[tauri::command]
pub async fn review_add_span(
    ws: State<'_, Workspace>,
    record_id: i64,
    start: usize,
    end: usize,
    entity: String,
) -> Result<ReviewSpanDto, ApiError> {
    ws.call(move |api| api.review_add_span(record_id, start, end, &entity, ""))
        .await
}

#[tauri::command]
pub async fn review_undo(ws: State<'_, Workspace>, record_id: i64) -> Result<ReviewNoteDto, ApiError> {
    ws.call(move |api| api.review_undo(record_id)).await
}

#[tauri::command]
pub async fn review_sign_off(ws: State<'_, Workspace>, record_id: i64) -> Result<(), ApiError> {
    ws.call(move |api| api.review_sign_off(record_id)).await
}

#[tauri::command]
pub async fn review_accept_all(
    ws: State<'_, Workspace>,
    dataset_id: i64,
    request: BulkAcceptDto,
) -> Result<BulkResultDto, ApiError> {
    ws.call(move |api| api.review_accept_all(dataset_id, &request)).await
}

#[tauri::command]
pub async fn release_dataset(
    app: AppHandle,
    ws: State<'_, Workspace>,
    dataset_id: i64,
    strategy: StrategyDto,
) -> Result<ReleaseDto, ApiError> {
    let cancel = ws.start_job();
    let reporter = move |p: &Progress| {
        let _ = app.emit(PROGRESS_EVENT, p);
    };
    ws.call(move |api| api.release(dataset_id, strategy, &reporter, &cancel))
        .await
}

// --- Learned terms, gold notes and detector quality (shims over `localdx_api::review`, `::gold`). ---

use localdx_api::gold::{GoldImportDto, GoldSampleDto, QualityDto};
use localdx_api::review::TermDto;

#[tauri::command]
pub async fn review_terms(ws: State<'_, Workspace>) -> Result<Vec<TermDto>, ApiError> {
    ws.call(|api| api.review_terms()).await
}

#[tauri::command]
pub async fn review_confirm_term(ws: State<'_, Workspace>, term_id: i64) -> Result<(), ApiError> {
    ws.call(move |api| api.review_confirm_term(term_id)).await
}

#[tauri::command]
pub async fn gold_sample(
    ws: State<'_, Workspace>,
    dataset_id: i64,
    size: usize,
    seed: Option<u64>,
) -> Result<GoldSampleDto, ApiError> {
    ws.call(move |api| api.gold_sample(dataset_id, size, seed)).await
}

#[tauri::command]
pub async fn gold_import(
    ws: State<'_, Workspace>,
    dataset_id: i64,
    path: PathBuf,
    format: String,
) -> Result<GoldImportDto, ApiError> {
    ws.call(move |api| api.gold_import(dataset_id, &path, &format)).await
}

#[tauri::command]
pub async fn review_quality(ws: State<'_, Workspace>, dataset_id: i64) -> Result<QualityDto, ApiError> {
    ws.call(move |api| api.review_quality(dataset_id)).await
}

/// Retrains the PHI tagger on the dataset's decisions; progress as [`PROGRESS_EVENT`], stopped by
/// `cancel_job`.
#[tauri::command]
pub async fn review_retrain_detector(app: AppHandle, ws: State<'_, Workspace>, dataset_id: i64) -> Result<RetrainDto, ApiError> {
    let cancel = ws.start_job();
    let reporter = move |p: &Progress| {
        let _ = app.emit(PROGRESS_EVENT, p);
    };
    ws.call(move |api| api.review_retrain_detector(dataset_id, &reporter, &cancel)).await
}

#[tauri::command]
pub async fn detector_versions(ws: State<'_, Workspace>) -> Result<Vec<DetectorVersionDto>, ApiError> {
    ws.call(|api| api.detector_versions()).await
}

/// Cancels the running import, detection or retraining (the job `start_job` began).
#[tauri::command]
pub fn cancel_job(ws: State<'_, Workspace>) -> bool {
    ws.cancel_job()
}

// ---------------------------------------------------------------------------------------------
// Training, suggestions and reports. Training runs on its own thread WITHOUT the database lock
// (the data is read first), so the other screens keep working for the minutes a run takes; it
// reports through [`TRAIN_EVENT`] and ends with one [`TRAIN_DONE_EVENT`].

use localdx_api::promotion::PromotionDto;
use localdx_api::eval::{EvalOptions, ReportDto, RunRequest, Versus};
use localdx_api::phi::SpanDto;
use localdx_api::retrain::{DetectorVersionDto, RetrainDto};
use localdx_api::suggest::{self, FeedbackDto, FeedbackInputDto, ModelChoice, Occlusion, SuggestionDto};
use localdx_api::training::{self, RunDto, TrainDoneDto, TrainPlanDto, TrainProgressDto, TrainRequest};
use localdx_api::{Cancel, ErrorCode};
use std::sync::Mutex;
use tauri::Manager;

/// The window event carrying a running training's progress ([`TrainProgressDto`]).
pub const TRAIN_EVENT: &str = "train-progress";
/// The window event sent once when a run ends ([`TrainDoneDto`]).
pub const TRAIN_DONE_EVENT: &str = "train-done";

/// The models loaded for suggestions (the last two), kept between calls.
pub struct LoadedModels(std::sync::Arc<Mutex<suggest::Suggester>>);

impl Default for LoadedModels {
    fn default() -> Self {
        LoadedModels(std::sync::Arc::new(Mutex::new(suggest::Suggester::new(2))))
    }
}

/// The cancel flag of the training run in progress, if any (one at a time).
#[derive(Default)]
pub struct TrainingJob(Mutex<Option<Cancel>>);

#[tauri::command]
pub async fn list_runs(ws: State<'_, Workspace>) -> Result<Vec<RunDto>, ApiError> {
    ws.call(|api| api.runs()).await
}

#[tauri::command]
pub async fn training_datasets(ws: State<'_, Workspace>) -> Result<Vec<DatasetDto>, ApiError> {
    ws.call(|api| api.training_datasets()).await
}

#[tauri::command]
pub async fn training_plan(ws: State<'_, Workspace>, dataset_id: i64) -> Result<TrainPlanDto, ApiError> {
    ws.call(move |api| api.train_plan(dataset_id)).await
}

/// Starts a new run (`request`), resumes `resume_run`, or trains a successor of `successor_of`
/// on its release plus `with_version` (clinicians' feedback, released); returns the run id at once.
#[tauri::command]
pub async fn start_training(
    app: AppHandle,
    ws: State<'_, Workspace>,
    job: State<'_, TrainingJob>,
    request: Option<TrainRequest>,
    resume_run: Option<String>,
    successor_of: Option<String>,
    with_version: Option<i64>,
) -> Result<String, ApiError> {
    let cancel = {
        let mut slot = job.0.lock().map_err(|_| ApiError::new(ErrorCode::Internal, "the training state is poisoned"))?;
        if slot.is_some() {
            return Err(ApiError::invalid("a training run is already in progress; cancel it first"));
        }
        let cancel = Cancel::new();
        *slot = Some(cancel.clone());
        cancel
    };
    let prepared = ws
        .call(move |api| match (request, resume_run, successor_of, with_version) {
            (_, _, Some(from), Some(with)) => api.prepare_retrain(&from, with),
            (_, Some(run), _, _) => api.prepare_resume(&run),
            (Some(req), None, _, _) => api.prepare_train(&req),
            _ => Err(ApiError::invalid("give a training request, a run to resume, or a run and a released version to retrain with")),
        })
        .await;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            if let Ok(mut slot) = job.0.lock() {
                *slot = None;
            }
            return Err(e);
        }
    };
    let run_id = prepared.run_id.clone();
    let done_id = run_id.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let emitter = app.clone();
        let on = move |run: &str, e: &training::TrainEvent| {
            let _ = emitter.emit(TRAIN_EVENT, TrainProgressDto::from_event(run, e));
        };
        let outcome = training::execute(prepared, &cancel, &on);
        if let Some(job) = app.try_state::<TrainingJob>() {
            if let Ok(mut slot) = job.0.lock() {
                *slot = None;
            }
        }
        let done = TrainDoneDto { run_id: done_id, ok: outcome.is_ok(), error: outcome.err() };
        let _ = app.emit(TRAIN_DONE_EVENT, done);
    });
    Ok(run_id)
}

#[tauri::command]
pub fn cancel_training(job: State<'_, TrainingJob>) -> bool {
    match job.0.lock().ok().and_then(|slot| slot.clone()) {
        Some(cancel) => {
            cancel.cancel();
            true
        }
        None => false,
    }
}

#[tauri::command]
pub async fn detect_phi(ws: State<'_, Workspace>, text: String) -> Result<Vec<SpanDto>, ApiError> {
    ws.call(move |api| api.detect_text(&text)).await
}

#[tauri::command]
pub async fn test_cases(ws: State<'_, Workspace>, dataset_id: i64) -> Result<Vec<RecordDto>, ApiError> {
    ws.call(move |api| api.test_cases(dataset_id, 200)).await
}

#[tauri::command]
pub async fn suggest_note(
    ws: State<'_, Workspace>,
    cache: State<'_, LoadedModels>,
    choice: ModelChoice,
    text: String,
    top_k: usize,
    attribution: bool,
    record_id: Option<i64>,
) -> Result<SuggestionDto, ApiError> {
    let occlusion = attribution.then(Occlusion::default);
    let loaded = cache.0.clone();
    ws.call(move |api| {
        let mut loaded = loaded.lock().map_err(|_| ApiError::new(ErrorCode::Internal, "an earlier suggestion panicked"))?;
        loaded.suggest(api, &choice, &text, top_k, occlusion, record_id)
    })
    .await
}

#[tauri::command]
pub async fn save_feedback(ws: State<'_, Workspace>, input: FeedbackInputDto) -> Result<FeedbackDto, ApiError> {
    ws.call(move |api| api.save_feedback(&input)).await
}

#[tauri::command]
pub async fn list_feedback(ws: State<'_, Workspace>) -> Result<Vec<FeedbackDto>, ApiError> {
    ws.call(|api| api.feedback()).await
}

/// The report of `run_id` on `split`, compared with `vs_run` or the base model (`vs_base`).
#[tauri::command]
pub async fn run_report(
    ws: State<'_, Workspace>,
    run_id: String,
    vs_run: Option<String>,
    vs_base: bool,
    split: String,
    date: String,
) -> Result<ReportDto, ApiError> {
    ws.call(move |api| api.run_report(RunRequest { run_id: &run_id, vs: versus(&vs_run, vs_base), split: &split }, &date, &EvalOptions::default())).await
}

/// What a report compares its run with: another run, the default base model, or nothing.
fn versus(vs_run: &Option<String>, vs_base: bool) -> Option<Versus<'_>> {
    match (vs_run, vs_base) {
        (Some(r), _) => Some(Versus::Run(r)),
        (None, true) => Some(Versus::Base("default")),
        (None, false) => None,
    }
}

/// Writes the report of `run_id` on `split` (compared as `run_report` is) as a PDF into exports/.
#[tauri::command]
pub async fn export_report_pdf(
    ws: State<'_, Workspace>,
    run_id: String,
    vs_run: Option<String>,
    vs_base: bool,
    split: String,
    date: String,
    path: String,
) -> Result<String, ApiError> {
    ws.call(move |api| api.export_report_pdf(RunRequest { run_id: &run_id, vs: versus(&vs_run, vs_base), split: &split }, &date, std::path::Path::new(&path))).await
}

/// Makes a dataset of the clinicians' verdicts on notes of `version_id`, to review and release.
#[tauri::command]
pub async fn feedback_dataset(ws: State<'_, Workspace>, version_id: i64) -> Result<localdx_api::successor::FeedbackDatasetDto, ApiError> {
    ws.call(move |api| api.feedback_dataset(version_id, None)).await
}

/// Compares a trained successor with the run in use on the held-out notes (audited).
#[tauri::command]
pub async fn compare_successor(ws: State<'_, Workspace>, from_run: String, successor: String, with_version: i64) -> Result<localdx_api::successor::SuccessorDto, ApiError> {
    ws.call(move |api| api.compare_successor(&from_run, &successor, with_version)).await
}

/// Puts `run_id` into use for its dataset's task (its test report is built first; audited).
#[tauri::command]
pub async fn promote_run(ws: State<'_, Workspace>, run_id: String, reason: String) -> Result<PromotionDto, ApiError> {
    ws.call(move |api| api.promote(&run_id, &reason)).await
}

/// Withdraws the run in use for `dataset_id`'s task (audited).
#[tauri::command]
pub async fn demote_run(ws: State<'_, Workspace>, dataset_id: i64, reason: String) -> Result<PromotionDto, ApiError> {
    ws.call(move |api| api.demote(dataset_id, &reason)).await
}

/// The run in use for `dataset_id`'s task, if any (the Suggestions screen's default).
#[tauri::command]
pub async fn promoted_run(ws: State<'_, Workspace>, dataset_id: i64) -> Result<Option<PromotionDto>, ApiError> {
    ws.call(move |api| api.promoted(dataset_id)).await
}

#[tauri::command]
pub async fn list_promotions(ws: State<'_, Workspace>) -> Result<Vec<PromotionDto>, ApiError> {
    ws.call(|api| api.promotions(None)).await
}

/// Weekly quality and drift of every model that suggested (the Monitoring screen).
#[tauri::command]
pub async fn monitor(ws: State<'_, Workspace>) -> Result<localdx_api::monitor::MonitorDto, ApiError> {
    ws.call(|api| api.monitor(None)).await
}

/// Sets where monitoring raises alerts (admins; audited).
#[tauri::command]
pub async fn set_monitor_thresholds(ws: State<'_, Workspace>, thresholds: localdx_api::monitor::Thresholds) -> Result<localdx_api::monitor::Thresholds, ApiError> {
    ws.call(move |api| api.set_monitor_thresholds(&thresholds)).await
}

/// Writes the model card of `run_id` (Markdown for `.md`, HTML for `.html`) into exports/.
#[tauri::command]
pub async fn export_model_card(ws: State<'_, Workspace>, run_id: String, path: String) -> Result<String, ApiError> {
    ws.call(move |api| api.export_model_card(&run_id, std::path::Path::new(&path))).await
}

/// Where exports go unless the user picks another place: `exports/` beside the database.
#[tauri::command]
pub fn export_dir(ws: State<'_, Workspace>) -> String {
    localdx_api::workspace::Layout::for_db(&ws.path).exports.display().to_string()
}

/// Writes an evaluation report the UI holds (`.html` or `.csv`) through the API, which checks,
/// refuses the workspace's own files and audits; returns the path written.
#[tauri::command]
pub async fn export_report(ws: State<'_, Workspace>, path: PathBuf, contents: String) -> Result<String, ApiError> {
    ws.call(move |api| api.export_report(&path, &contents)).await
}

/// Writes the clinicians' feedback as CSV through the API; returns the path written.
#[tauri::command]
pub async fn export_feedback(ws: State<'_, Workspace>, path: PathBuf) -> Result<String, ApiError> {
    ws.call(move |api| api.export_feedback(&path)).await
}

// ---------------------------------------------------------------------------------------------
// Accounts, the session and the audit trail (thin shims over `localdx_api::session` and
// `::audit`; the phases first run / locked / open live in `state`), and the released versions
// clinicians read.

use localdx_api::audit::{AuditEntryDto, AuditExportDto, AuditFilterDto, AuditVerifyDto};
use localdx_api::{Credentials, UserDto, WorkspaceStatusDto};

#[tauri::command]
pub fn workspace_status(ws: State<'_, Workspace>) -> Result<WorkspaceStatusDto, ApiError> {
    ws.status()
}

#[tauri::command]
pub async fn create_admin(ws: State<'_, Workspace>, user: String, password: String) -> Result<SessionDto, ApiError> {
    ws.create_admin(Credentials::new(user, password)).await
}

#[tauri::command]
pub async fn login(ws: State<'_, Workspace>, user: String, password: String) -> Result<SessionDto, ApiError> {
    ws.login(Credentials::new(user, password)).await
}

#[tauri::command]
pub async fn logout(ws: State<'_, Workspace>) -> Result<WorkspaceStatusDto, ApiError> {
    ws.logout().await
}

#[tauri::command]
pub async fn change_password(ws: State<'_, Workspace>, current: String, new_password: String) -> Result<(), ApiError> {
    ws.call(move |api| api.change_password(&current, &new_password)).await
}

#[tauri::command]
pub async fn list_users(ws: State<'_, Workspace>) -> Result<Vec<UserDto>, ApiError> {
    ws.call(|api| api.users()).await
}

#[tauri::command]
pub async fn add_user(ws: State<'_, Workspace>, name: String, role: String, password: String) -> Result<UserDto, ApiError> {
    ws.call(move |api| api.add_user(&name, &role, &password)).await
}

#[tauri::command]
pub async fn disable_user(ws: State<'_, Workspace>, name: String, reason: String) -> Result<(), ApiError> {
    ws.call(move |api| api.disable_user(&name, &reason)).await
}

#[tauri::command]
pub async fn audit_list(ws: State<'_, Workspace>, filter: AuditFilterDto) -> Result<Vec<AuditEntryDto>, ApiError> {
    ws.call(move |api| api.audit_list(&filter)).await
}

#[tauri::command]
pub async fn audit_verify(ws: State<'_, Workspace>) -> Result<AuditVerifyDto, ApiError> {
    ws.call(|api| api.audit_verify(None)).await
}

/// Writes the entries matching `filter` to `path` (`csv` or `jsonl`); the export is audited.
#[tauri::command]
pub async fn audit_export(ws: State<'_, Workspace>, filter: AuditFilterDto, format: String, path: PathBuf) -> Result<AuditExportDto, ApiError> {
    ws.call(move |api| api.audit_export(&filter, &format, &path)).await
}

#[tauri::command]
pub async fn list_releases(ws: State<'_, Workspace>) -> Result<Vec<ReleaseDto>, ApiError> {
    ws.call(|api| api.releases(None)).await
}

#[tauri::command]
pub async fn released_records(ws: State<'_, Workspace>, version_id: i64, offset: u64, limit: u64) -> Result<RecordPageDto, ApiError> {
    ws.call(move |api| api.released_records(version_id, offset, limit)).await
}
