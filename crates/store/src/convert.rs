//! Converting a plain database into a new encrypted one: every table, index, trigger and view is
//! copied by SQLCipher's `sqlcipher_export` into a new file keyed with the caller's key, the schema
//! version (`PRAGMA user_version`) is carried over, and the row count of every table is checked on
//! both sides before the copy is accepted.
//!
//! The plain file is opened read-only (an SQLite URI with `mode=ro`) and never written; deleting
//! it afterwards is the caller's business.

use crate::{audit::hex, Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// What was copied.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The schema version of the plain file, kept by the copy.
    pub user_version: i64,
    /// Each table and its rows, by name.
    pub tables: Vec<(String, i64)>,
}

/// `path` as an SQLite URI (`file:` with the characters that URIs reserve escaped), read-only.
fn read_only_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' | b'\'' | b'"' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

fn tables(conn: &Connection, schema: &str) -> Result<Vec<(String, i64)>> {
    let names: Vec<String> = conn
        .prepare(&format!("SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names
        .into_iter()
        .map(|name| {
            let quoted = name.replace('"', "\"\"");
            let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {schema}.\"{quoted}\""), [], |r| r.get(0))?;
            Ok((name, rows))
        })
        .collect()
}

/// Copies the plain database at `plain` into a new file at `target` encrypted with `key`.
/// Refuses an existing `target`, a `plain` that does not exist or is not a plain SQLite file.
/// On failure the partial `target` is removed.
pub fn encrypt_copy(plain: &Path, target: &Path, key: &[u8; 32]) -> Result<Converted> {
    if target.exists() {
        return Err(StoreError::Invalid(format!("{} already exists", target.display())));
    }
    if !plain.is_file() {
        return Err(StoreError::Invalid(format!("{} is not a file", plain.display())));
    }
    let result = copy(plain, target, key);
    if result.is_err() {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = target.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
    result
}

fn copy(plain: &Path, target: &Path, key: &[u8; 32]) -> Result<Converted> {
    let conn = Connection::open(target)?;
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex(key)))?;
    // An empty key attaches the plain file as plain SQLite.
    conn.execute("ATTACH DATABASE ?1 AS plain KEY ''", [read_only_uri(plain)])?;
    let user_version: i64 = match conn.query_row("PRAGMA plain.user_version", [], |r| r.get(0)) {
        Ok(v) => v,
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => {
            return Err(StoreError::Invalid(format!("{} is not a plain SQLite database (is it already encrypted?)", plain.display())))
        }
        Err(e) => return Err(e.into()),
    };
    let source = tables(&conn, "plain")?;
    if source.is_empty() {
        return Err(StoreError::Invalid(format!("{} holds no tables: not a LocalDx database", plain.display())));
    }
    conn.query_row("SELECT sqlcipher_export('main', 'plain')", [], |_| Ok(()))?;
    conn.execute_batch(&format!("PRAGMA main.user_version = {user_version};"))?;
    let copied = tables(&conn, "main")?;
    conn.execute_batch("DETACH DATABASE plain;")?;
    if copied != source {
        return Err(StoreError::Invalid(format!("the encrypted copy differs from {}: {source:?} became {copied:?}", plain.display())));
    }
    Ok(Converted { user_version, tables: copied })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_sqlite_would_read_as_query() {
        assert_eq!(read_only_uri(Path::new("/a b/c?d#e%f.sqlite")), "file:/a b/c%3Fd%23e%25f.sqlite?mode=ro");
    }
}
