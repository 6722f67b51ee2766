//! How every command logs in: `LOCALDX_USER` and `LOCALDX_PASSWORD`, else a prompt (the password
//! is never echoed). A new account's password comes from `LOCALDX_NEW_PASSWORD` or a prompt.
//! Never prints or logs a password.

use anyhow::{bail, Context as _, Result};
use localdx_api::{Api, Credentials};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn prompt_line(label: &str) -> Result<String> {
    eprint!("{label}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn prompt_password(label: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(format!("{label}: ")).context("reading the password")?)
    } else {
        prompt_line(label)
    }
}

/// A new password: `LOCALDX_NEW_PASSWORD` (then `fallback`), else asked twice.
pub fn new_password(label: &str, fallback: Option<&str>) -> Result<String> {
    if let Some(p) = env("LOCALDX_NEW_PASSWORD").or_else(|| fallback.and_then(env)) {
        return Ok(p);
    }
    let first = prompt_password(label)?;
    if std::io::stdin().is_terminal() && prompt_password("again")? != first {
        bail!("the passwords differ");
    }
    Ok(first)
}

/// The acting user's credentials: `LOCALDX_USER` / `LOCALDX_PASSWORD`, else prompts.
pub fn credentials() -> Result<Credentials> {
    let user = match env("LOCALDX_USER") {
        Some(u) => u,
        None => prompt_line("user")?,
    };
    let password = match env("LOCALDX_PASSWORD") {
        Some(p) => p,
        None => prompt_password(&format!("password for {user}"))?,
    };
    Ok(Credentials::new(user, password))
}

/// Opens the database: logs in when it is encrypted, else opens it plain (no accounts).
pub fn open(db: &Path) -> Result<Api> {
    if localdx_api::session::is_encrypted(db) {
        Ok(Api::open(db, Some(&credentials()?))?)
    } else {
        Ok(Api::open(db, None)?)
    }
}
