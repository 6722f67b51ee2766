//! Sealed files: what an encrypted workspace writes beside its database (training runs: adapter
//! and head weights, optimizer state, label lists, metrics) is written through a [`Vault`], which
//! in an encrypted workspace encrypts each file with an authenticated cipher and in a plain one
//! writes it as it is.
//!
//! A sealed file is `LDXSEAL` + a version byte, a random 96-bit nonce, then the content sealed
//! with ChaCha20-Poly1305 (its 16-byte tag last). The header and the file's name are bound as
//! associated data, so a file renamed to another (a checkpoint put in place of the best
//! adapters) does not open, and any truncated or altered byte is refused with the file's path.
//! The key is derived from the database's master key with HKDF-SHA256 and a domain-separation
//! label ([`Sealer::derive`]); the master key itself never encrypts a file.
//!
//! A plain [`Vault`] refuses a sealed file (it cannot open it), and a sealed one refuses a plain
//! file (in an encrypted workspace it would be a file someone put there). Writes are atomic: a
//! temporary file beside the target, synced, then renamed over it.
//!
//! This crate knows nothing of users, passwords or the database; callers hand it the key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The first bytes of every sealed file.
pub const MAGIC: &[u8; 7] = b"LDXSEAL";
/// The format version this crate writes and reads.
pub const VERSION: u8 = 1;
const HEADER: usize = MAGIC.len() + 1;
const NONCE: usize = 12;
const TAG: usize = 16;

/// The label under which training runs' files are sealed (one key per purpose).
pub const RUN_FILES: &str = "localdx sealed run files v1";

/// What can go wrong reading or writing a file through a [`Vault`]. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The file could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A plain file where an encrypted workspace expects a sealed one.
    #[error("{path} is not encrypted, but this workspace is: refusing a file that LocalDx did not write here")]
    NotSealed { path: String },
    /// A sealed file read without the key (from a plain workspace or without logging in).
    #[error("{path} is encrypted: open it from its encrypted workspace, logged in")]
    Sealed { path: String },
    /// A sealed file of a newer format.
    #[error("{path} is sealed with format version {version}; this LocalDx reads version {VERSION}")]
    Version { path: String, version: u8 },
    /// The tag does not match: the file is truncated, damaged, altered, renamed, or sealed with
    /// another workspace's key.
    #[error("{path} is truncated, damaged or was altered (it does not authenticate with this workspace's key)")]
    Damaged { path: String },
    /// The operating system's randomness or the cipher failed (should never happen).
    #[error("sealing {path} failed: {message}")]
    Crypto { path: String, message: String },
}

pub type Result<T, E = SealError> = std::result::Result<T, E>;

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| -> Zeroizing<[u8; BLOCK]> {
        let mut p = Zeroizing::new([0u8; BLOCK]);
        for (o, i) in p.iter_mut().zip(k.iter()) {
            *o = i ^ byte;
        }
        p
    };
    let mut inner = Sha256::new();
    inner.update(pad(0x36).as_ref());
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(pad(0x5c).as_ref());
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The first 32 bytes of HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info`.
fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = Zeroizing::new(hmac(salt, &[ikm]));
    Zeroizing::new(hmac(prk.as_ref(), &[info, &[1u8][..]]))
}

/// A file key: seals and opens file contents. Wiped from memory when dropped.
pub struct Sealer {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn aad(path: &Path) -> Vec<u8> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [&MAGIC[..], &[VERSION], name.as_bytes()].concat()
}

/// Whether `bytes` start like a sealed file.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

impl Sealer {
    /// The key for files of purpose `label` (e.g. [`RUN_FILES`]), derived from the workspace's
    /// master key: HKDF-SHA256 with a fixed salt and the label as info. Different labels give
    /// unrelated keys, and none of them reveals the master key.
    pub fn derive(master: &[u8; 32], label: &str) -> Sealer {
        Sealer { key: hkdf32(b"localdx-sealed", master, label.as_bytes()) }
    }

    /// The sealed bytes of `plain`, to be stored at `path` (its file name is bound into them).
    pub fn seal(&self, path: &Path, plain: &[u8]) -> Result<Vec<u8>> {
        let crypto = |message: String| SealError::Crypto { path: shown(path), message };
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| crypto(e.to_string()))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.key.as_ref()));
        let sealed = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &aad(path) }).map_err(|e| crypto(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER + NONCE + sealed.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The content of sealed bytes read from `path`.
    pub fn open(&self, path: &Path, stored: &[u8]) -> Result<Vec<u8>> {
        if !is_sealed(stored) {
            return Err(SealError::NotSealed { path: shown(path) });
        }
        let Some(&version) = stored.get(MAGIC.len()) else { return Err(SealError::Damaged { path: shown(path) }) };
        if version != VERSION {
            return Err(SealError::Version { path: shown(path), version });
        }
        if stored.len() < HEADER + NONCE + TAG {
            return Err(SealError::Damaged { path: shown(path) });
        }
        let (nonce, body) = stored[HEADER..].split_at(NONCE);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.key.as_ref()));
        cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad(path) }).map_err(|_| SealError::Damaged { path: shown(path) })
    }
}

/// How a workspace stores its side files: as they are (a plain workspace) or sealed (an encrypted
/// one). Cheap to clone; the key is shared.
#[derive(Debug, Clone, Default)]
pub enum Vault {
    #[default]
    Plain,
    Sealed(Arc<Sealer>),
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

impl Vault {
    /// A vault sealing with `sealer`.
    pub fn sealed(sealer: Sealer) -> Vault {
        Vault::Sealed(Arc::new(sealer))
    }

    /// Whether files are sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Vault::Sealed(_))
    }

    /// Writes `plain` to `path` (sealed when the vault is), atomically: a temporary file beside
    /// it, synced, then renamed over it. A reader sees the old file or the new one, never a part.
    pub fn write(&self, path: &Path, plain: &[u8]) -> Result<()> {
        let bytes = match self {
            Vault::Plain => None,
            Vault::Sealed(s) => Some(s.seal(path, plain)?),
        };
        let tmp = temporary(path);
        let io = |p: &Path| {
            let p = shown(p);
            move |source| SealError::Io { path: p, source }
        };
        let written = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes.as_deref().unwrap_or(plain)).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))
        })();
        if written.is_err() {
            // A full disk or a failed rename: the part written goes, the old file stays.
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// The content of the file at `path`: opened when the vault seals, as stored when plain. A
    /// sealed vault refuses a plain file and a plain vault a sealed one.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>> {
        let stored = std::fs::read(path).map_err(|source| SealError::Io { path: shown(path), source })?;
        match self {
            Vault::Sealed(s) => s.open(path, &stored),
            Vault::Plain if is_sealed(&stored) => Err(SealError::Sealed { path: shown(path) }),
            Vault::Plain => Ok(stored),
        }
    }

    /// Copies every file under the plain folder `from` into `to` (created), written through this
    /// vault (sealed when it seals), keeping relative paths. Temporary files left by a killed
    /// write (`*.tmp`) are skipped; an already sealed file is refused. Returns the files written.
    pub fn import_folder(&self, from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
        while let Some((src, dst)) = stack.pop() {
            std::fs::create_dir_all(&dst).map_err(|source| SealError::Io { path: shown(&dst), source })?;
            let entries = std::fs::read_dir(&src).map_err(|source| SealError::Io { path: shown(&src), source })?;
            let mut entries: Vec<_> = entries.collect::<std::io::Result<_>>().map_err(|source| SealError::Io { path: shown(&src), source })?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let target = dst.join(entry.file_name());
                let kind = entry.file_type().map_err(|source| SealError::Io { path: shown(&path), source })?;
                if kind.is_dir() {
                    stack.push((path, target));
                } else if kind.is_file() && path.extension().is_none_or(|e| e != "tmp") {
                    let plain = Vault::Plain.read(&path)?;
                    self.write(&target, &plain)?;
                    written.push(target);
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn hmac_and_hkdf_match_the_rfc_vectors() {
        // RFC 4231 test case 2.
        let mac = hmac(b"Jefe", &[&b"what do ya "[..], &b"want for nothing?"[..]]);
        assert_eq!(mac.to_vec(), unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
        // RFC 4231 test case 6: a key longer than the block is hashed first.
        let mac = hmac(&[0xaa; 131], &[&b"Test Using Larger Than Block-Size Key - Hash Key First"[..]]);
        assert_eq!(mac.to_vec(), unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
        // RFC 5869 test case 1 (the first 32 bytes of the 42-byte output).
        let okm = hkdf32(&unhex("000102030405060708090a0b0c"), &[0x0b; 22], &unhex("f0f1f2f3f4f5f6f7f8f9"));
        assert_eq!(okm.to_vec(), unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"));
    }

    #[test]
    fn labels_give_unrelated_keys_and_never_the_master() {
        let master = [7u8; 32];
        let a = Sealer::derive(&master, RUN_FILES);
        let b = Sealer::derive(&master, "another purpose");
        assert_ne!(a.key.as_ref(), b.key.as_ref());
        assert_ne!(a.key.as_ref(), &master);
        let path = Path::new("best.safetensors");
        let sealed = a.seal(path, b"weights").unwrap();
        assert!(matches!(b.open(path, &sealed), Err(SealError::Damaged { .. })));
    }

    /// A write that fails (here the rename: a folder holds the name) leaves no temporary file;
    /// `tests/faults/full-disk.sh` does the same with a real full disk.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("best.safetensors");
        std::fs::create_dir_all(path.join("occupied")).unwrap();
        for vault in [Vault::Plain, Vault::sealed(Sealer::derive(&[1u8; 32], RUN_FILES))] {
            assert!(matches!(vault.write(&path, b"weights"), Err(SealError::Io { .. })));
            assert!(!temporary(&path).exists(), "the part written is removed");
        }
    }

    #[test]
    fn sealed_files_round_trip_and_refuse_every_alteration() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::sealed(Sealer::derive(&[1u8; 32], RUN_FILES));
        let path = dir.path().join("run.json");
        let secret = b"{\"labels\":[\"Zebulon Quackenbush\"]}";
        vault.write(&path, secret).unwrap();
        let stored = std::fs::read(&path).unwrap();
        assert!(is_sealed(&stored) && !stored.windows(9).any(|w| w == b"Zebulon Q"));
        assert_eq!(vault.read(&path).unwrap(), secret);
        assert!(!dir.path().join("run.json.tmp").exists(), "the temporary file is renamed");
        // A second write of the same content uses a fresh nonce.
        vault.write(&path, secret).unwrap();
        assert_ne!(std::fs::read(&path).unwrap(), stored);

        // Negative rows: each alteration is refused with the file's path in the message.
        let stored = std::fs::read(&path).unwrap();
        let mut flipped = stored.clone();
        flipped[HEADER + NONCE + 3] ^= 1;
        let mut future = stored.clone();
        future[MAGIC.len()] = VERSION + 1;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", stored[..stored.len() - 1].to_vec()),
            ("header only", stored[..HEADER + 2].to_vec()),
            ("a flipped bit", flipped),
            ("a newer version", future),
            ("plain", secret.to_vec()),
        ];
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let err = vault.read(&path).unwrap_err();
            assert!(err.to_string().contains(&path.display().to_string()), "{what}: {err}");
            let expected = match what {
                "plain" => matches!(err, SealError::NotSealed { .. }),
                "a newer version" => matches!(err, SealError::Version { .. }),
                _ => matches!(err, SealError::Damaged { .. }),
            };
            assert!(expected, "{what}: {err:?}");
        }
        // A sealed file renamed to another name does not open.
        let other = dir.path().join("checkpoint.safetensors");
        std::fs::write(&other, &stored).unwrap();
        assert!(matches!(vault.read(&other), Err(SealError::Damaged { .. })));
        // A plain vault refuses a sealed file rather than handing back ciphertext.
        assert!(matches!(Vault::Plain.read(&other), Err(SealError::Sealed { .. })));
    }

    #[test]
    fn a_plain_folder_is_sealed_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("plain/runs");
        std::fs::create_dir_all(from.join("run-1")).unwrap();
        std::fs::write(from.join("run-1/run.json"), b"{\"labels\":[\"flu\"]}").unwrap();
        std::fs::write(from.join("run-1/best.safetensors"), b"weights of flu").unwrap();
        std::fs::write(from.join("run-1/checkpoint.tmp"), b"half a write").unwrap();
        let to = dir.path().join("sealed/runs");
        let vault = Vault::sealed(Sealer::derive(&[2u8; 32], RUN_FILES));
        let written = vault.import_folder(&from, &to).unwrap();
        assert_eq!(written, vec![to.join("run-1/best.safetensors"), to.join("run-1/run.json")]);
        assert!(!to.join("run-1/checkpoint.tmp").exists());
        assert_eq!(vault.read(&to.join("run-1/run.json")).unwrap(), b"{\"labels\":[\"flu\"]}");
        assert!(!std::fs::read(to.join("run-1/run.json")).unwrap().windows(3).any(|w| w == b"flu"));
        assert_eq!(std::fs::read(from.join("run-1/run.json")).unwrap(), b"{\"labels\":[\"flu\"]}", "the source is untouched");
        // Sealing a folder that already holds sealed files is refused.
        assert!(matches!(vault.import_folder(&to, &dir.path().join("again")), Err(SealError::Sealed { .. })));
    }
}
