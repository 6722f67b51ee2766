//! User accounts: name, role, Argon2id password hash (a PHC string made by `localdx-access`),
//! disabled flag. This module stores what it is given; it never hashes or checks passwords and
//! never interprets roles beyond the names the schema allows.

use crate::{Result, Store};
use rusqlite::{params, OptionalExtension};

/// One account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    /// `steward`, `clinician` or `admin`.
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: String,
    pub created_by: String,
}

const USER_COLUMNS: &str = "id, name, role, password_hash, disabled, created_at, created_by";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        password_hash: r.get(3)?,
        disabled: r.get::<_, i64>(4)? != 0,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
    })
}

impl Store {
    /// All accounts, oldest first.
    pub fn users(&self) -> Result<Vec<User>> {
        let mut stmt = self.conn().prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The account called `name`, if any.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"), [name], user_from_row)
            .optional()?)
    }

    /// Creates an account and returns its id (a taken name is a constraint error).
    pub fn add_user(&self, name: &str, role: &str, password_hash: &str, created_by: &str) -> Result<i64> {
        self.conn().execute(
            "INSERT INTO users (name, role, password_hash, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, password_hash, created_by],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Replaces an account's password hash; returns whether the account exists.
    pub fn set_user_password_hash(&self, name: &str, password_hash: &str) -> Result<bool> {
        Ok(self.conn().execute("UPDATE users SET password_hash = ?2 WHERE name = ?1", params![name, password_hash])? == 1)
    }

    /// Disables or re-enables an account; returns whether the account exists.
    pub fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        Ok(self.conn().execute("UPDATE users SET disabled = ?2 WHERE name = ?1", params![name, disabled as i64])? == 1)
    }
}
