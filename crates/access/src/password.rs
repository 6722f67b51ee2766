//! Password hashes for the users table: Argon2id (version 0x13) with the `argon2` crate's default
//! cost (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum), a fresh random salt per hash,
//! stored as a PHC string that carries its own parameters. Never stores or logs the password.

use crate::{AccessError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccessError::Crypto(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccessError::Crypto(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AccessError::Crypto(e.to_string()))?
        .to_string())
}

/// Whether `password` matches the stored PHC string. A malformed stored string never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_ne!(h, hash("correct horse").unwrap(), "a fresh salt each time");
        assert!(verify("correct horse", &h));
        for wrong in ["correct hors", "Correct horse", "", "correct horse "] {
            assert!(!verify(wrong, &h), "{wrong:?}");
        }
        assert!(!verify("correct horse", "not a hash"));
    }
}
