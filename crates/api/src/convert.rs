//! `localdx init --from PLAIN`: a plain workspace becomes a new encrypted one. The plain database
//! is copied table by table into a new SQLCipher file under a fresh master key (schema version
//! kept, row counts checked), the admin is created and sealed into the key file as `init` does,
//! the plain workspace's training runs are sealed into the new workspace's `runs/` folder, and
//! the audit trail (carried over from the plain file) gets a `database.convert` entry with the
//! plain file's SHA-256 and what was copied.
//!
//! The plain database and its runs are read, never written or deleted: the caller tells the user
//! to delete them securely once the new workspace is checked.

use crate::session::Keys;
use crate::workspace::Layout;
use crate::{Api, ApiError, Credentials, ErrorCode, Result};
use localdx_access::{password, KeyFile, MasterKey, Role, Session};
use localdx_sealed::{Sealer, Vault};
use localdx_store::{AuditEntry, Store};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a conversion did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertDto {
    /// The new encrypted database.
    pub database: String,
    /// The plain database it was copied from (left as it was).
    pub from: String,
    pub from_sha256: String,
    pub admin: String,
    /// The schema version carried over.
    pub user_version: i64,
    /// Rows of each table copied.
    pub tables: BTreeMap<String, i64>,
    /// The run folder files sealed into the new workspace.
    pub run_files: usize,
    /// The plain run folder they came from (left as it was), when there was one.
    pub from_runs: Option<String>,
}

fn sha256_file(path: &Path) -> Result<String> {
    let io = |e: std::io::Error| ApiError::invalid(format!("{}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

impl Api {
    /// Creates a new encrypted database at `path` from the plain database `plain`, with `admin`
    /// as a new admin account, and logs them in. The plain workspace's runs (its `runs/` folder,
    /// [`Layout::for_db`]) are sealed into the new workspace's. Refuses an existing `path` or key
    /// file, a `plain` that is encrypted or missing, and a new runs folder that already holds
    /// files while there are runs to seal into it (the same folder included).
    pub fn init_from(path: &Path, admin: &Credentials, plain: &Path) -> Result<(Api, ConvertDto)> {
        let (plain_runs, runs) = (&Layout::for_db(plain).runs, &Layout::for_db(path).runs);
        localdx_access::validate_name(&admin.user)?;
        localdx_access::validate_password(&admin.password)?;
        let key_path = KeyFile::path_for(path);
        if path.exists() || key_path.exists() {
            return Err(ApiError::invalid(format!("{} already exists; `init --from` only creates a new database", path.display())));
        }
        if !plain.is_file() {
            return Err(ApiError::not_found(format!("no database {}", plain.display())));
        }
        if KeyFile::path_for(plain).exists() {
            return Err(ApiError::invalid(format!("{} is already encrypted (it has a key file)", plain.display())));
        }
        let with_runs = has_entries(plain_runs);
        if with_runs && has_entries(runs) {
            return Err(ApiError::invalid(format!(
                "{} already holds files, and the runs of {} must be sealed into it: create the new database in its own folder",
                runs.display(),
                plain.display()
            )));
        }
        let from_sha256 = sha256_file(plain)?;
        let master = MasterKey::generate()?;
        let converted = localdx_store::encrypt_copy(plain, path, master.bytes())?;
        let tables: BTreeMap<String, i64> = converted.tables.iter().cloned().collect();
        let vault = Vault::sealed(Sealer::derive(master.bytes(), localdx_sealed::RUN_FILES));
        let mut sealed: Vec<PathBuf> = Vec::new();
        let result = (|| -> Result<(Store, KeyFile)> {
            let store = Store::open(path, Some(master.bytes()))?;
            if with_runs {
                sealed = vault.import_folder(plain_runs, runs).map_err(|e| ApiError::new(ErrorCode::Store, e.to_string()))?;
            }
            let hash = password::hash(&admin.password)?;
            store.atomically(|| -> Result<()> {
                if store.user(&admin.user)?.is_some() {
                    return Err(localdx_access::AccessError::UserExists(admin.user.clone()).into());
                }
                crate::session::add_first_admin(&store, &admin.user, &hash, "database converted")?;
                store.audit(&AuditEntry {
                    actor: &admin.user,
                    action: "database.convert",
                    subject: "database",
                    before: json!({"file": plain.display().to_string(), "sha256": from_sha256, "encrypted": false}),
                    after: json!({
                        "file": path.display().to_string(),
                        "encrypted": true,
                        "userVersion": converted.user_version,
                        "tables": tables,
                        "runFilesSealed": sealed.len(),
                    }),
                    reason: "database converted",
                })?;
                Ok(())
            })?;
            let file = KeyFile::create(&key_path, &admin.user, &admin.password, &master)?;
            Ok((store, file))
        })();
        let (store, file) = match result {
            Ok(v) => v,
            Err(e) => {
                // Nothing half-made stays behind: the new database nobody could open, the copies.
                remove_database(path);
                for f in &sealed {
                    let _ = std::fs::remove_file(f);
                }
                return Err(e);
            }
        };
        let dto = ConvertDto {
            database: path.display().to_string(),
            from: plain.display().to_string(),
            from_sha256,
            admin: admin.user.clone(),
            user_version: converted.user_version,
            tables,
            run_files: sealed.len(),
            from_runs: with_runs.then(|| plain_runs.display().to_string()),
        };
        let session = Session { user: admin.user.clone(), role: Role::Admin };
        Ok((Api::assemble(store, session, Some(Keys::new(file, master)), path), dto))
    }
}
