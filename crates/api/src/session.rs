//! Opening a workspace as a user: `init` (a new encrypted database and its admin), `open` (log in,
//! or open a plain database), the permission check every `Api` method starts with, and accounts
//! (add, list, disable, change password).
//!
//! Two kinds of database:
//! - **Encrypted** (made by [`Api::init`]): SQLCipher with a random master key, wrapped per user in
//!   `<db>.keys` (see `localdx-access`). Opening needs a user and password; failed attempts make
//!   the next attempt wait longer ([`localdx_access::login_delay`]) and are written to the audit
//!   trail at the next successful login.
//! - **Plain** (no key file beside it; what the Quick start's synthetic samples and the tests of
//!   other features use): no accounts. Whoever can read the file can read everything in it, so
//!   the API does not pretend otherwise: the caller acts as the `local` admin. A clinic's data
//!   belongs in an encrypted database; `localdx init` makes one.
//!
//! Nothing here stores or logs a password or an unwrapped key.

use crate::{Api, ApiError, ErrorCode, Result};
use localdx_access::{login_delay, password, AccessError, Command, KeyFile, MasterKey, Role, Session};
use localdx_sealed::{Sealer, Vault};
use localdx_store::{AuditEntry, Store};
use serde::Serialize;
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

/// A user name and password, as typed. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { user: user.into(), password: password.into() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).finish_non_exhaustive()
    }
}

/// The key material of an encrypted workspace, kept while it is open (to add users), and the
/// vault that seals its run files (a key derived from the master key for that purpose only).
pub(crate) struct Keys {
    file: Mutex<KeyFile>,
    master: MasterKey,
    vault: Vault,
}

impl Keys {
    pub(crate) fn new(file: KeyFile, master: MasterKey) -> Keys {
        let vault = Vault::sealed(Sealer::derive(master.bytes(), localdx_sealed::RUN_FILES));
        Keys { file: Mutex::new(file), master, vault }
    }
}

/// The session of a plain database: no accounts, so the caller is the local admin.
pub const LOCAL_USER: &str = "local";

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        let code = match &e {
            AccessError::BadCredentials => ErrorCode::Unauthorized,
            AccessError::Forbidden { .. } => ErrorCode::Forbidden,
            AccessError::UserExists(_) | AccessError::Invalid(_) => ErrorCode::InvalidInput,
            AccessError::UnknownUser(_) => ErrorCode::NotFound,
            AccessError::Io { .. } | AccessError::KeyFile { .. } => ErrorCode::Store,
            AccessError::Crypto(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

/// One account as listed (never its hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub created_by: String,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub user: String,
    pub role: Role,
    /// Whether the database is encrypted (false: a plain database without accounts).
    pub encrypted: bool,
}

/// Adds `user` (password hash `hash`) as the first account of a new database, an admin, and audits
/// it with `reason`. Call inside the transaction that makes the database.
pub(crate) fn add_first_admin(store: &Store, user: &str, hash: &str, reason: &str) -> Result<()> {
    store.add_user(user, Role::Admin.as_str(), hash, user)?;
    store.audit(&AuditEntry {
        actor: user,
        action: "user.add",
        subject: &format!("user:{user}"),
        before: json!(null),
        after: json!({"role": "admin", "firstUser": true}),
        reason,
    })?;
    Ok(())
}

fn user_dto(u: &localdx_store::User) -> Result<UserDto> {
    Ok(UserDto {
        name: u.name.clone(),
        role: Role::parse(&u.role)?,
        disabled: u.disabled,
        created_at: u.created_at.clone(),
        created_by: u.created_by.clone(),
    })
}

/// Whether the database at `path` is an encrypted LocalDx database (it has a key file).
pub fn is_encrypted(path: &Path) -> bool {
    KeyFile::path_for(path).exists()
}

/// What a shell finds at a database path before anyone logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Neither the database nor its key file exists: the first run, which creates an encrypted
    /// database with its administrator ([`Api::init`]).
    Nothing,
    /// A key file: an encrypted database; someone must log in ([`Api::open`] with credentials).
    Encrypted,
    /// A database file without a key file: plain, no accounts ([`Api::open`] without).
    Plain,
}

/// Looks at `path` (and its key file) without opening anything.
pub fn probe(path: &Path) -> Found {
    if is_encrypted(path) {
        Found::Encrypted
    } else if path.exists() {
        Found::Plain
    } else {
        Found::Nothing
    }
}

/// Where a workspace stands in a shell: `first_run` (nothing at the path), `locked` (encrypted,
/// nobody logged in) or `open` (a session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceState {
    FirstRun,
    Locked,
    Open,
}

/// What the desktop shell shows before and around a session.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceStatusDto {
    pub state: WorkspaceState,
    /// The database file.
    pub path: String,
    /// Whether the database is (or, at first run, will be) encrypted with accounts.
    pub encrypted: bool,
    /// Who is logged in, when `open`.
    pub session: Option<SessionDto>,
    /// The shortest password accepted (the rule the first-run and password screens show).
    pub min_password_chars: usize,
    /// Why the database could not be opened, if it could not (the shell shows it).
    pub error: Option<ApiError>,
}

impl WorkspaceStatusDto {
    pub fn new(state: WorkspaceState, path: &Path, session: Option<SessionDto>, error: Option<ApiError>) -> Self {
        let encrypted = match state {
            WorkspaceState::FirstRun | WorkspaceState::Locked => true,
            WorkspaceState::Open => session.as_ref().is_some_and(|s| s.encrypted),
        };
        WorkspaceStatusDto {
            state,
            path: path.display().to_string(),
            encrypted,
            session,
            min_password_chars: localdx_access::MIN_PASSWORD_CHARS,
            error,
        }
    }
}

impl Api {
    /// Creates a new encrypted database at `path` with `admin` as its first user (role admin) and
    /// logs them in. Refuses a path where a database or key file already exists.
    pub fn init(path: &Path, admin: &Credentials) -> Result<Api> {
        localdx_access::validate_name(&admin.user)?;
        localdx_access::validate_password(&admin.password)?;
        let key_path = KeyFile::path_for(path);
        if path.exists() || key_path.exists() {
            return Err(ApiError::invalid(format!("{} already exists; `init` only creates a new database", path.display())));
        }
        let master = MasterKey::generate()?;
        let hash = password::hash(&admin.password)?;
        let store = Store::open(path, Some(master.bytes()))?;
        store.atomically(|| add_first_admin(&store, &admin.user, &hash, "database created"))?;
        // The key file last: a failure before this leaves a database nobody can open, which
        // `init` refuses to overwrite; the message says which file to remove.
        let file = KeyFile::create(&key_path, &admin.user, &admin.password, &master).map_err(|e| {
            ApiError::new(ErrorCode::Store, format!("{e}; remove {} and try again", path.display()))
        })?;
        let session = Session { user: admin.user.clone(), role: Role::Admin };
        Ok(Api::assemble(store, session, Some(Keys::new(file, master)), path))
    }

    /// Opens the database at `path`. With `login`, it must be an encrypted database and the user
    /// must exist, be enabled and give the right password (after the wait earned by earlier
    /// failures). Without, it must be a plain database (created if missing): the caller acts as
    /// the `local` admin.
    pub fn open(path: &Path, login: Option<&Credentials>) -> Result<Api> {
        let key_path = KeyFile::path_for(path);
        let Some(login) = login else {
            if key_path.exists() {
                return Err(ApiError::new(ErrorCode::Unauthorized, format!("{} is encrypted: log in with a user name and password", path.display())));
            }
            let store = Store::open(path, None)?;
            return Ok(Api::assemble(store, Session { user: LOCAL_USER.into(), role: Role::Admin }, None, path));
        };
        if !key_path.exists() {
            return Err(ApiError::invalid(format!(
                "{} has no accounts (it is not encrypted; no key file {}): open it without a user, or create an encrypted one with `localdx init`",
                path.display(),
                key_path.display()
            )));
        }
        let mut file = KeyFile::load(&key_path)?;
        std::thread::sleep(login_delay(file.failures(&login.user)));
        let unlocked = file.unlock(&login.user, &login.password)?;
        let store = Store::open(path, Some(unlocked.key.bytes()))?;
        let user = store.user(&login.user)?.filter(|u| password::verify(&login.password, &u.password_hash));
        let Some(user) = user else { return Err(AccessError::BadCredentials.into()) };
        if user.disabled {
            return Err(ApiError::new(ErrorCode::Unauthorized, format!("the account {:?} is disabled", user.name)));
        }
        let role = Role::parse(&user.role)?;
        store.audit(&AuditEntry {
            actor: &user.name,
            action: "login",
            subject: &format!("user:{}", user.name),
            before: json!(null),
            after: json!({"role": role, "failedAttemptsBefore": unlocked.failures_before}),
            reason: "",
        })?;
        let session = Session { user: user.name, role };
        Ok(Api::assemble(store, session, Some(Keys::new(file, unlocked.key)), path))
    }

    /// How this workspace stores the files it writes beside the database (training runs):
    /// sealed with a key derived from the master key when the database is encrypted, plain when
    /// it is not.
    pub fn vault(&self) -> Vault {
        self.keys.as_ref().map_or(Vault::Plain, |k| k.vault.clone())
    }

    /// Ends the session: appends a `logout` entry to the audit trail of an encrypted database
    /// (a plain one has no accounts and nothing to end). The caller drops the `Api` afterwards.
    pub fn logout(&self) -> Result<()> {
        self.check(Command::Logout)?;
        if self.keys.is_none() {
            return Err(ApiError::invalid("this database has no accounts (it is not encrypted): there is no session to end"));
        }
        self.audit("logout", &format!("user:{}", self.session.user), json!(null), json!(null), "")
    }

    /// Who is acting.
    pub fn session(&self) -> SessionDto {
        SessionDto { user: self.session.user.clone(), role: self.session.role, encrypted: self.keys.is_some() }
    }

    fn keys(&self) -> Result<&Keys> {
        self.keys
            .as_ref()
            .ok_or_else(|| ApiError::invalid("this database is not encrypted and has no accounts: create an encrypted one with `localdx init`"))
    }

    /// Adds an account (admins only). Its password seals the same master key: nothing is
    /// re-encrypted.
    pub fn add_user(&self, name: &str, role: &str, new_password: &str) -> Result<UserDto> {
        let store = self.permit(Command::ManageUsers)?;
        let keys = self.keys()?;
        let role = Role::parse(role)?;
        localdx_access::validate_name(name)?;
        localdx_access::validate_password(new_password)?;
        if store.user(name)?.is_some() {
            return Err(AccessError::UserExists(name.to_owned()).into());
        }
        let hash = password::hash(new_password)?;
        let mut file = keys.file.lock().map_err(|_| ApiError::new(ErrorCode::Internal, "the key file lock is poisoned"))?;
        store.atomically(|| -> Result<()> {
            store.add_user(name, role.as_str(), &hash, &self.session.user)?;
            self.audit("user.add", &format!("user:{name}"), json!(null), json!({"role": role}), "")?;
            // Inside the transaction: if sealing fails, the account is not created either.
            file.add(name, new_password, &keys.master)?;
            Ok(())
        })?;
        let user = store.user(name)?.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
        user_dto(&user)
    }

    /// Every account (admins only).
    pub fn users(&self) -> Result<Vec<UserDto>> {
        let store = self.permit(Command::ListUsers)?;
        store.users()?.iter().map(user_dto).collect()
    }

    /// Disables an account (admins only): its key file entry is removed, so its password no longer
    /// opens the database; the account stays for the audit trail. An admin cannot disable
    /// themselves.
    pub fn disable_user(&self, name: &str, reason: &str) -> Result<()> {
        let store = self.permit(Command::ManageUsers)?;
        let keys = self.keys()?;
        if name == self.session.user {
            return Err(ApiError::invalid("you cannot disable your own account"));
        }
        let user = store.user(name)?.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
        let mut file = keys.file.lock().map_err(|_| ApiError::new(ErrorCode::Internal, "the key file lock is poisoned"))?;
        store.atomically(|| -> Result<()> {
            store.set_user_disabled(name, true)?;
            self.audit("user.disable", &format!("user:{name}"), json!({"disabled": user.disabled}), json!({"disabled": true}), reason)?;
            if file.users().iter().any(|u| u == name) {
                file.remove(name)?;
            }
            Ok(())
        })
    }

    /// Changes the acting user's password: their key file entry is sealed again, the data is
    /// not touched.
    pub fn change_password(&self, current: &str, new_password: &str) -> Result<()> {
        let store = self.permit(Command::ChangeOwnPassword)?;
        let keys = self.keys()?;
        let user = store.user(&self.session.user)?.ok_or_else(|| ApiError::not_found("the logged-in user no longer exists"))?;
        if !password::verify(current, &user.password_hash) {
            return Err(AccessError::BadCredentials.into());
        }
        localdx_access::validate_password(new_password)?;
        let hash = password::hash(new_password)?;
        let mut file = keys.file.lock().map_err(|_| ApiError::new(ErrorCode::Internal, "the key file lock is poisoned"))?;
        store.atomically(|| -> Result<()> {
            store.set_user_password_hash(&user.name, &hash)?;
            self.audit("user.password", &format!("user:{}", user.name), json!(null), json!(null), "")?;
            file.set_password(&user.name, new_password, &keys.master)?;
            Ok(())
        })
    }
}
