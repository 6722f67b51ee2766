//! The shell's state: the workspace at one database path, in one of three phases (first run,
//! locked, open), and the cancel flag of the running job.
//!
//! - **first run**: nothing at the path. The UI shows the first-run screen, which creates an
//!   encrypted database and its administrator ([`Workspace::create_admin`]).
//! - **locked**: an encrypted database (it has a key file) and nobody logged in. The UI shows the
//!   login screen ([`Workspace::login`]); [`Workspace::logout`] comes back here.
//! - **open**: an [`Api`] for the logged-in user, or for the `local` admin of a plain database (a
//!   file without a key file, as the Quick start makes), which opens at start without a login.
//!
//! Every call into the API runs on Tauri's blocking thread pool ([`Workspace::call`]), never on the
//! main thread, so a long import or a slowed login cannot freeze the window. This module never
//! interprets data, and never keeps a password: credentials go to the API and are dropped.

use localdx_api::session::{probe, Found};
use localdx_api::{Api, ApiError, Cancel, Credentials, ErrorCode, SessionDto, WorkspaceState, WorkspaceStatusDto};
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

/// Where the workspace stands.
enum Phase {
    FirstRun,
    Locked,
    /// The open API and its session (kept here so that asking who is logged in never waits for
    /// a long call holding the API).
    Open(Arc<Mutex<Api>>, SessionDto),
    /// A plain database that could not be opened: every command answers with this error.
    Broken(ApiError),
}

/// The workspace at [`Workspace::path`].
pub struct Workspace {
    pub path: PathBuf,
    phase: Mutex<Phase>,
    /// The cancel flag of the import that is running, if any.
    job: Mutex<Option<Cancel>>,
}

impl Workspace {
    /// Looks at `path`: nothing there is the first run, a key file means locked until someone
    /// logs in, and a plain database opens at once (with no accounts).
    pub fn open(path: PathBuf) -> Self {
        let phase = match probe(&path) {
            Found::Nothing => Phase::FirstRun,
            Found::Encrypted => Phase::Locked,
            Found::Plain => match Api::open(&path, None) {
                Ok(api) => opened(api),
                Err(e) => {
                    eprintln!("localdx-app: cannot open {}: {e}", path.display());
                    Phase::Broken(e)
                }
            },
        };
        Workspace { path, phase: Mutex::new(phase), job: Mutex::new(None) }
    }

    fn phase(&self) -> Result<std::sync::MutexGuard<'_, Phase>, ApiError> {
        self.phase.lock().map_err(|_| internal("an earlier call panicked while changing the session"))
    }

    /// The phase, the path and the session for the UI.
    pub fn status(&self) -> Result<WorkspaceStatusDto, ApiError> {
        let phase = self.phase()?;
        Ok(match &*phase {
            Phase::FirstRun => WorkspaceStatusDto::new(WorkspaceState::FirstRun, &self.path, None, None),
            Phase::Locked => WorkspaceStatusDto::new(WorkspaceState::Locked, &self.path, None, None),
            Phase::Open(_, session) => WorkspaceStatusDto::new(WorkspaceState::Open, &self.path, Some(session.clone()), None),
            Phase::Broken(e) => WorkspaceStatusDto::new(WorkspaceState::Open, &self.path, None, Some(e.clone())),
        })
    }

    /// The open API, or why there is none.
    fn api(&self) -> Result<Arc<Mutex<Api>>, ApiError> {
        match &*self.phase()? {
            Phase::Open(api, _) => Ok(api.clone()),
            Phase::FirstRun => Err(ApiError::new(ErrorCode::Unauthorized, "no database yet: create the administrator first")),
            Phase::Locked => Err(ApiError::new(ErrorCode::Unauthorized, "nobody is logged in: log in first")),
            Phase::Broken(e) => Err(e.clone()),
        }
    }

    /// Runs `f` with the API on a blocking thread and waits for it without blocking the caller.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Api) -> Result<T, ApiError> + Send + 'static,
    {
        let api = self.api()?;
        blocking(move || {
            let api = api.lock().map_err(|_| internal("an earlier call panicked while holding the database"))?;
            f(&api)
        })
        .await
    }

    /// First run only: creates the encrypted database with `admin` as its administrator, who is
    /// then logged in.
    pub async fn create_admin(&self, admin: Credentials) -> Result<SessionDto, ApiError> {
        if !matches!(&*self.phase()?, Phase::FirstRun) {
            return Err(ApiError::invalid(format!("{} already exists: log in instead", self.path.display())));
        }
        let path = self.path.clone();
        let api = blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| ApiError::new(ErrorCode::Store, format!("cannot create {}: {e}", dir.display())))?;
            }
            Api::init(&path, &admin)
        })
        .await?;
        self.enter(api, |p| matches!(p, Phase::FirstRun))
    }

    /// Locked only: logs `who` in (the API slows repeated failures down and audits the login).
    pub async fn login(&self, who: Credentials) -> Result<SessionDto, ApiError> {
        if !matches!(&*self.phase()?, Phase::Locked) {
            return Err(ApiError::invalid("someone is already logged in, or this database has no accounts"));
        }
        let path = self.path.clone();
        let api = blocking(move || Api::open(&path, Some(&who))).await?;
        self.enter(api, |p| matches!(p, Phase::Locked))
    }

    /// Ends the session of an encrypted database (audited as `logout`) and locks the workspace.
    /// A running import is cancelled first; the API is dropped once its last call returns.
    pub async fn logout(&self) -> Result<WorkspaceStatusDto, ApiError> {
        let api = self.api()?;
        self.cancel_job();
        blocking(move || {
            let api = api.lock().map_err(|_| internal("an earlier call panicked while holding the database"))?;
            api.logout()
        })
        .await?;
        *self.phase()? = Phase::Locked;
        self.status()
    }

    /// Moves to open with `api` if the phase is still the one `expected` accepts (two windows of
    /// the same app racing to log in: the first one wins, the other is refused).
    fn enter(&self, api: Api, expected: impl Fn(&Phase) -> bool) -> Result<SessionDto, ApiError> {
        let mut phase = self.phase()?;
        if !expected(&phase) {
            return Err(ApiError::invalid("the workspace changed meanwhile: reload"));
        }
        let next = opened(api);
        let session = match &next {
            Phase::Open(_, s) => s.clone(),
            _ => return Err(internal("opening did not give a session")),
        };
        *phase = next;
        Ok(session)
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

fn opened(api: Api) -> Phase {
    let session = api.session();
    Phase::Open(Arc::new(Mutex::new(api)), session)
}

/// Runs `f` on the blocking thread pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("the background task failed: {e}")))?
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Internal, message)
}
