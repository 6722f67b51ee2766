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
use serde::Serialize;
use std::path::PathBuf;
use tauri::{AppHandle, Emitter, State};

/// The name of the window event that carries every progress report.
pub const PROGRESS_EVENT: &str = "progress";

/// What the UI shows in its footer: where the data lives.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    database: String,
    version: &'static str,
}

#[tauri::command]
pub fn workspace_info(ws: State<'_, Workspace>) -> WorkspaceInfo {
    WorkspaceInfo {
        database: ws.path.display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
    }
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
pub async fn review_open_notes(ws: State<'_, Workspace>, dataset_id: i64) -> Result<Vec<i64>, ApiError> {
    ws.call(move |api| api.review_open_notes(dataset_id)).await
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
