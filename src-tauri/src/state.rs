//! The shell's state: one open [`Api`] behind a mutex, and the cancel flag of the running job.
//!
//! Every call into the API runs on Tauri's blocking thread pool ([`Workspace::call`]), never on the
//! main thread, so a long import cannot freeze the window. This module never interprets data.

use localdx_api::{Api, ApiError, Cancel, ErrorCode};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Manager};

/// The database file: `LOCALDX_DB` when set and not empty, else `localdx.sqlite` in the app data dir.
pub fn database_path(app: &AppHandle) -> tauri::Result<PathBuf> {
    if let Some(path) = std::env::var_os("LOCALDX_DB").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = app.path().app_data_dir()?;
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join("localdx.sqlite"))
}

/// The open workspace. If the database could not be opened, every command answers with that error
/// (the UI shows it) instead of the app refusing to start.
pub struct Workspace {
    pub path: PathBuf,
    api: Result<Arc<Mutex<Api>>, ApiError>,
    /// The cancel flag of the import that is running, if any.
    job: Mutex<Option<Cancel>>,
}

impl Workspace {
    /// Opens the database. An encrypted one logs in with `LOCALDX_USER` / `LOCALDX_PASSWORD` until
    /// the app has its login screen; a plain one opens without accounts.
    pub fn open(path: PathBuf) -> Self {
        let login = if localdx_api::session::is_encrypted(&path) {
            let var = |k: &str| std::env::var(k).unwrap_or_default();
            Some(localdx_api::Credentials::new(var("LOCALDX_USER"), var("LOCALDX_PASSWORD")))
        } else {
            None
        };
        let api = Api::open(&path, login.as_ref()).map(|api| Arc::new(Mutex::new(api)));
        if let Err(e) = &api {
            eprintln!("localdx-app: cannot open {}: {e}", path.display());
        }
        Workspace {
            path,
            api,
            job: Mutex::new(None),
        }
    }

    /// Runs `f` with the API on a blocking thread and waits for it without blocking the caller.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Api) -> Result<T, ApiError> + Send + 'static,
    {
        let api = self.api.clone()?;
        tauri::async_runtime::spawn_blocking(move || {
            let api = api
                .lock()
                .map_err(|_| internal("an earlier call panicked while holding the database"))?;
            f(&api)
        })
        .await
        .map_err(|e| internal(format!("the background task failed: {e}")))?
    }

    /// Registers a new job and returns its cancel flag; a job already running is cancelled first.
    pub fn start_job(&self) -> Cancel {
        let cancel = Cancel::new();
        if let Ok(mut job) = self.job.lock() {
            if let Some(previous) = job.replace(cancel.clone()) {
                previous.cancel();
            }
        }
        cancel
    }

    /// Sets the cancel flag of the running job; returns whether there was one.
    pub fn cancel_job(&self) -> bool {
        match self.job.lock().ok().and_then(|mut job| job.take()) {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Internal, message)
}
