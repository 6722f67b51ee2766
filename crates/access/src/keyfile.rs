//! The key file: the database's master key, wrapped once per user, readable before the database
//! is opened (the encrypted database cannot hold the key that opens it).
//!
//! `<database>.keys` is JSON: per user, a random salt, the Argon2id cost, a random nonce and the
//! master key sealed with ChaCha20-Poly1305 under Argon2id(password, salt); the user name is bound
//! as associated data, so an entry copied under another name does not open. It also counts failed
//! unlocks per user, which [`crate::login_delay`] turns into a growing wait. Writes are atomic
//! (temporary file, then rename) and the file is readable by its owner only.
//!
//! The master key itself never touches the disk, and nothing here ever re-encrypts the database:
//! adding a user seals the same key once more; removing one deletes an entry.

use crate::{AccessError, Result};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// The random 256-bit key of the database. Wiped from memory when dropped.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<MasterKey> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| AccessError::Crypto(e.to_string()))?;
        Ok(MasterKey(k))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

const FORMAT: &str = "localdx-keys";
const VERSION: u32 = 1;
const AAD_PREFIX: &[u8] = b"localdx master key v1\0";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileData {
    format: String,
    version: u32,
    users: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// Argon2id memory in KiB, passes, lanes.
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    /// The sealed master key (32 bytes + 16-byte tag), hex.
    sealed: String,
    /// Failed unlocks since the last successful one.
    #[serde(default)]
    failures: u32,
}

/// What a successful unlock gives: the key, and how many failed attempts preceded it (for the audit
/// trail, which cannot be written before the database is open).
#[derive(Debug)]
pub struct Unlocked {
    pub key: MasterKey,
    pub failures_before: u32,
}

/// An open key file.
#[derive(Debug)]
pub struct KeyFile {
    path: PathBuf,
    data: FileData,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AccessError::Crypto(e.to_string()))?;
    Ok(b)
}

fn aad(user: &str) -> Vec<u8> {
    [AAD_PREFIX, user.as_bytes()].concat()
}

/// The most Argon2id work an entry may ask for: 1 GiB, 16 passes, 16 lanes (LocalDx writes 19 MiB,
/// 2 passes, 1 lane). The cost is read from the file, so without a bound an edited key file could
/// make every login allocate what the workstation does not have.
const MAX_M_KIB: u32 = 1 << 20;
const MAX_T: u32 = 16;
const MAX_P: u32 = 16;

/// The wrapping key: Argon2id(password, salt) with the entry's cost, 32 bytes.
fn derive(password: &str, salt: &[u8], m_kib: u32, t: u32, p: u32) -> Result<Zeroizing<[u8; 32]>> {
    let params = Params::new(m_kib, t, p, Some(32)).map_err(|e| AccessError::Crypto(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, out.as_mut())
        .map_err(|e| AccessError::Crypto(e.to_string()))?;
    Ok(out)
}

fn seal(user: &str, password: &str, key: &MasterKey) -> Result<Entry> {
    let (m_kib, t, p) = (Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST);
    let salt: [u8; 16] = random()?;
    let nonce: [u8; 12] = random()?;
    let wrapping = derive(password, &salt, m_kib, t, p)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(wrapping.as_ref()));
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: key.bytes(), aad: &aad(user) })
        .map_err(|e| AccessError::Crypto(e.to_string()))?;
    Ok(Entry { m_kib, t, p, salt: hex(&salt), nonce: hex(&nonce), sealed: hex(&sealed), failures: 0 })
}

/// Opens an entry; `None` when the password (or the name bound into it) is wrong.
fn open_entry(user: &str, password: &str, e: &Entry) -> Result<Option<MasterKey>> {
    let bad = || AccessError::Crypto(format!("the key file entry of {user:?} is malformed"));
    let salt = unhex(&e.salt).ok_or_else(bad)?;
    let nonce = unhex(&e.nonce).filter(|n| n.len() == 12).ok_or_else(bad)?;
    let sealed = unhex(&e.sealed).ok_or_else(bad)?;
    let wrapping = derive(password, &salt, e.m_kib, e.t, e.p)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(wrapping.as_ref()));
    match cipher.decrypt(Nonce::from_slice(&nonce), Payload { msg: &sealed, aad: &aad(user) }) {
        Ok(plain) => {
            let plain = Zeroizing::new(plain);
            let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| bad())?;
            Ok(Some(MasterKey(bytes)))
        }
        Err(_) => Ok(None),
    }
}

impl KeyFile {
    /// Where the key file of the database at `db` lives: `<db>.keys`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".keys");
        db.with_file_name(name)
    }

    /// Creates the key file at `path` with its first user. Refuses to overwrite one.
    pub fn create(path: &Path, user: &str, password: &str, key: &MasterKey) -> Result<KeyFile> {
        if path.exists() {
            return Err(AccessError::Invalid(format!("{} already exists: this database is already set up", path.display())));
        }
        crate::validate_name(user)?;
        crate::validate_password(password)?;
        let mut users = BTreeMap::new();
        users.insert(user.to_owned(), seal(user, password, key)?);
        let kf = KeyFile { path: path.to_owned(), data: FileData { format: FORMAT.into(), version: VERSION, users } };
        kf.save()?;
        Ok(kf)
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<KeyFile> {
        let io = |source| AccessError::Io { path: path.display().to_string(), source };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let damaged = |reason: String| AccessError::KeyFile { path: path.display().to_string(), reason };
        let data: FileData = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        if data.format != FORMAT {
            return Err(damaged(format!("format {:?}", data.format)));
        }
        if data.version != VERSION {
            return Err(damaged(format!("version {} (this LocalDx reads version {VERSION})", data.version)));
        }
        for (user, e) in &data.users {
            if e.m_kib > MAX_M_KIB || e.t > MAX_T || e.p > MAX_P {
                return Err(damaged(format!(
                    "the entry of {user:?} asks Argon2id for {} KiB × {} passes × {} lanes, beyond what LocalDx writes or accepts ({MAX_M_KIB} KiB, {MAX_T}, {MAX_P})",
                    e.m_kib, e.t, e.p
                )));
            }
        }
        Ok(KeyFile { path: path.to_owned(), data })
    }

    /// The users who can unlock the database, by name.
    pub fn users(&self) -> Vec<String> {
        self.data.users.keys().cloned().collect()
    }

    /// Failed unlocks of `user` since their last successful one (0 for unknown users).
    pub fn failures(&self, user: &str) -> u32 {
        self.data.users.get(user).map_or(0, |e| e.failures)
    }

    /// Unwraps the master key with `user`'s password. A wrong password counts a failure in the
    /// file; a right one resets the count. Call [`crate::login_delay`] with [`KeyFile::failures`]
    /// and wait *before* this, whatever the password.
    pub fn unlock(&mut self, user: &str, password: &str) -> Result<Unlocked> {
        let Some(entry) = self.data.users.get(user).cloned() else {
            // Spend the same Argon2id work as for a real user, so that the answer's timing does
            // not tell which user names exist.
            let _ = derive(password, &[0u8; 16], Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST);
            return Err(AccessError::BadCredentials);
        };
        match open_entry(user, password, &entry)? {
            Some(key) => {
                let failures_before = entry.failures;
                if failures_before > 0 {
                    if let Some(e) = self.data.users.get_mut(user) {
                        e.failures = 0;
                    }
                    self.save()?;
                }
                Ok(Unlocked { key, failures_before })
            }
            None => {
                if let Some(e) = self.data.users.get_mut(user) {
                    e.failures = e.failures.saturating_add(1);
                }
                self.save()?;
                Err(AccessError::BadCredentials)
            }
        }
    }

    /// Seals the master key for a new user.
    pub fn add(&mut self, user: &str, password: &str, key: &MasterKey) -> Result<()> {
        crate::validate_name(user)?;
        crate::validate_password(password)?;
        if self.data.users.contains_key(user) {
            return Err(AccessError::UserExists(user.to_owned()));
        }
        self.data.users.insert(user.to_owned(), seal(user, password, key)?);
        self.save()
    }

    /// Re-seals the master key for `user` under a new password (the data is not touched).
    pub fn set_password(&mut self, user: &str, password: &str, key: &MasterKey) -> Result<()> {
        crate::validate_password(password)?;
        if !self.data.users.contains_key(user) {
            return Err(AccessError::UnknownUser(user.to_owned()));
        }
        self.data.users.insert(user.to_owned(), seal(user, password, key)?);
        self.save()
    }

    /// Deletes `user`'s entry: that password no longer opens the database.
    pub fn remove(&mut self, user: &str) -> Result<()> {
        if self.data.users.remove(user).is_none() {
            return Err(AccessError::UnknownUser(user.to_owned()));
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        let io = |source| AccessError::Io { path: self.path.display().to_string(), source };
        let text = serde_json::to_string_pretty(&self.data).map_err(|e| AccessError::Crypto(e.to_string()))?;
        let tmp = self.path.with_extension("keys.tmp");
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_round_trips_per_user_and_never_stores_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyFile::path_for(&dir.path().join("db.sqlite"));
        assert_eq!(path.file_name().unwrap(), "db.sqlite.keys");
        let key = MasterKey::generate().unwrap();
        let mut kf = KeyFile::create(&path, "ana", "ana-password", &key).unwrap();
        kf.add("ben", "ben-password", &key).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert!(!on_disk.windows(32).any(|w| w == key.bytes()), "raw key on disk");
        assert!(!String::from_utf8_lossy(&on_disk).contains(&hex(key.bytes())), "hex key on disk");

        let mut kf = KeyFile::load(&path).unwrap();
        assert_eq!(kf.users(), vec!["ana".to_owned(), "ben".to_owned()]);
        for (user, pw) in [("ana", "ana-password"), ("ben", "ben-password")] {
            assert_eq!(kf.unlock(user, pw).unwrap().key.bytes(), key.bytes());
        }
        // Negative rows: wrong password, another user's password, unknown user.
        for (user, pw) in [("ana", "ben-password"), ("ben", "ana-password"), ("ana", "ana-passwor"), ("cy", "ana-password")] {
            assert!(matches!(kf.unlock(user, pw), Err(AccessError::BadCredentials)), "{user}/{pw}");
        }
        assert_eq!((kf.failures("ana"), kf.failures("ben")), (2, 1));
        assert_eq!(KeyFile::load(&path).unwrap().failures("ana"), 2, "failures are recorded in the file");
        let ok = kf.unlock("ana", "ana-password").unwrap();
        assert_eq!((ok.failures_before, kf.failures("ana")), (2, 0));

        // A changed password: the old one stops working, the key stays the same.
        kf.set_password("ana", "new-password", &key).unwrap();
        assert!(kf.unlock("ana", "ana-password").is_err());
        assert_eq!(kf.unlock("ana", "new-password").unwrap().key.bytes(), key.bytes());
        // A removed user cannot unlock.
        kf.remove("ben").unwrap();
        assert!(matches!(kf.unlock("ben", "ben-password"), Err(AccessError::BadCredentials)));
        assert!(matches!(kf.add("ana", "whatever-pw", &key), Err(AccessError::UserExists(_))));
        assert!(KeyFile::create(&path, "x", "whatever-pw", &key).is_err(), "never overwritten");
    }

    #[test]
    fn an_entry_moved_to_another_name_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        let key = MasterKey::generate().unwrap();
        KeyFile::create(&path, "ana", "ana-password", &key).unwrap();
        let text = std::fs::read_to_string(&path).unwrap().replace("\"ana\"", "\"eve\"");
        std::fs::write(&path, text).unwrap();
        let mut kf = KeyFile::load(&path).unwrap();
        assert!(matches!(kf.unlock("eve", "ana-password"), Err(AccessError::BadCredentials)));
        std::fs::write(&path, "{\"format\":\"other\"}").unwrap();
        assert!(matches!(KeyFile::load(&path), Err(AccessError::KeyFile { .. })));
    }

    /// The Argon2id cost comes from the file: a key file asking for 4 GiB (or a thousand passes)
    /// is refused as damaged when it is read, before any login spends it.
    #[test]
    fn an_entry_asking_for_unbounded_work_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        KeyFile::create(&path, "ana", "ana-password", &MasterKey::generate().unwrap()).unwrap();
        let good = std::fs::read_to_string(&path).unwrap();
        let m = format!("\"m_kib\": {}", Params::DEFAULT_M_COST);
        let t = format!("\"t\": {}", Params::DEFAULT_T_COST);
        assert!(good.contains(&m) && good.contains(&t), "{good}");
        for edited in [good.replace(&m, "\"m_kib\": 4194304"), good.replace(&t, "\"t\": 1000")] {
            std::fs::write(&path, edited).unwrap();
            let e = KeyFile::load(&path).unwrap_err();
            assert!(matches!(&e, AccessError::KeyFile { reason, .. } if reason.contains("\"ana\" asks Argon2id")), "{e}");
        }
        std::fs::write(&path, good).unwrap();
        assert!(KeyFile::load(&path).is_ok());
    }
}
