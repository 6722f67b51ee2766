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
