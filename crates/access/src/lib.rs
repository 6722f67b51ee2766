//! Who may do what in LocalDx, and how the database key is kept.
//!
//! - [`Role`] and [`Command`], and [`PERMISSIONS`]: the permission matrix as data (command -> the
//!   roles allowed), checked by every `Api` method before it does anything ([`check`], which
//!   returns the [`Grant`] the store asks for before it returns note text; [`Command::reads`] says
//!   which text each command may read).
//! - [`password`]: Argon2id password hashes (PHC strings) for the users table.
//! - [`keyfile`]: the random 256-bit master key that opens the encrypted database, wrapped once per
//!   user by a key derived from that user's password (Argon2id, per-user salt, ChaCha20-Poly1305),
//!   in a small key file beside the database. Adding or removing a user or changing a password
//!   rewrites one entry of that file and never re-encrypts the data.
//! - [`login_delay`]: how long a login waits after failed attempts.
//!
//! This crate never touches the database, the network or the clock, and never writes a password
//! or an unwrapped key anywhere.

pub mod keyfile;
pub mod password;
mod permissions;

pub use keyfile::{KeyFile, MasterKey, Unlocked};
pub use permissions::{check, login_delay, Command, Grant, Reads, Role, Session, PERMISSIONS};

/// Everything that can go wrong with accounts and keys.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The key file could not be read or written.
    #[error("cannot access the key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The key file exists but is not a LocalDx key file (or a newer version).
    #[error("the key file {path} is damaged or not a LocalDx key file: {reason}")]
    KeyFile { path: String, reason: String },
    /// The user does not exist, or the password is wrong (deliberately not told apart).
    #[error("unknown user or wrong password")]
    BadCredentials,
    /// An account with this name already exists.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// No account with this name.
    #[error("no user {0:?}")]
    UnknownUser(String),
    /// A name or password that accounts refuse (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The role has no right to run the command.
    #[error("{role} accounts may not {command}")]
    Forbidden { command: Command, role: Role },
    /// The operating system's randomness or a cipher failed (should never happen).
    #[error("cryptography failed: {0}")]
    Crypto(String),
}

pub type Result<T, E = AccessError> = std::result::Result<T, E>;

/// The smallest password length accepted for a new account or a changed password.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Checks a new user name: 1 to 64 chars of letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!("invalid user name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'")))
    }
}

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] chars.
pub fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccessError::Invalid(format!("a password needs at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords() {
        for (name, ok) in [("ana", true), ("ana.lopez@clinic", true), ("Ñusta_2", true), ("", false), ("a b", false), ("x;drop", false), (&"a".repeat(65), false)] {
            assert_eq!(validate_name(name).is_ok(), ok, "{name:?}");
        }
        for (pw, ok) in [("12345678", true), ("correct horse", true), ("1234567", false), ("", false)] {
            assert_eq!(validate_password(pw).is_ok(), ok, "{pw:?}");
        }
    }
}
