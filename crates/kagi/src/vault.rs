//! The vault: every account in one file, encrypted with a password.
//!
//! # File format (version 1, integers little-endian)
//! ```text
//! magic      8 bytes  "KAGI\0VLT"
//! version    u16      1
//! mode       u8       0 = unencrypted (an explicit choice), 1 = password
//! -- mode 1 only --
//! m_cost     u32      Argon2id memory in KiB
//! t_cost     u32      Argon2id passes
//! p_cost     u32      Argon2id lanes
//! salt       16 bytes
//! check      32 bytes SHA-256 of the second half of the Argon2id output
//! nonce      24 bytes XChaCha20-Poly1305 nonce, new on every save
//! -- always --
//! body_len   u64
//! header_sum 16 bytes first half of SHA-256 of everything above
//! body       body_len bytes: mode 1: ciphertext of the JSON, the whole header as
//!            associated data; mode 0: the JSON followed by SHA-256(header ‖ JSON)
//! ```
//! The Argon2id output is 64 bytes: the first half is the encryption key,
//! the second half only proves the password, so a wrong password and a
//! damaged file are told apart. The header checksum catches damage to the
//! header; `body_len` catches truncation.
//!
//! Saving writes a temporary file beside the vault, syncs it, renames it
//! over the vault and syncs the directory: a crash at any point leaves
//! either the old vault or the new one, never a broken one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::account::{Account, StoredAccount};

pub(crate) const MAGIC: &[u8; 8] = b"KAGI\0VLT";
const VERSION: u16 = 1;
const MODE_PLAIN: u8 = 0;
const MODE_PASSWORD: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const CHECK_LEN: usize = 32;
const SUM_LEN: usize = 16;

/// Argon2id cost parameters, stored in each vault so they can be raised
/// later without breaking old files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 128 MiB, 6 passes, 1 lane: about half a second on our 2-core x86-64
    /// machines (3 passes took 0.25 s), far above OWASP's Argon2id minimum
    /// (19 MiB, t=2). Memory stays at 128 MiB so old PCs can still open it.
    fn default() -> Self {
        Self {
            m_cost: 128 * 1024,
            t_cost: 6,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// The smallest parameters accepted when reading a vault, so a
    /// tampered header cannot make the password trivially guessable.
    pub const MINIMUM: Self = Self {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    /// The largest, so a tampered header cannot exhaust memory or time.
    const MAXIMUM: Self = Self {
        m_cost: 4 * 1024 * 1024,
        t_cost: 64,
        p_cost: 16,
    };
}

/// Why a vault could not be read or written. Every variant leaves the file
/// on disk as it was.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No file at the path.
    #[error("there is no vault at {0}; create one with `kagi init`")]
    NotFound(PathBuf),
    /// `init` on a path that already has a vault.
    #[error("a vault already exists at {0}; it was left untouched")]
    AlreadyExists(PathBuf),
    /// The file does not start with the kagi magic bytes.
    #[error("{0} is not a kagi vault")]
    NotAVault(PathBuf),
    /// Written by a newer kagi.
    #[error("the vault is format version {0}, newer than this kagi understands; upgrade kagi")]
    UnsupportedVersion(u16),
    /// Shorter than its header says.
    #[error(
        "the vault file is truncated (it is {actual} bytes, {expected} expected); it was not changed — restore it from a backup (`kagi export --format kagi`)"
    )]
    Truncated {
        /// Bytes expected.
        expected: u64,
        /// Bytes found.
        actual: u64,
    },
    /// The checksums or the authentication tag do not match.
    #[error(
        "the vault file is damaged or was modified ({0}); it was not changed — restore it from a backup"
    )]
    Damaged(&'static str),
    /// The password does not open this vault.
    #[error("wrong password")]
    WrongPassword,
    /// The vault is encrypted and no password was given.
    #[error("this vault is encrypted; a password is needed")]
    PasswordRequired,
    /// The Argon2id parameters in the header are out of bounds.
    #[error("the vault's key-derivation parameters are out of bounds: {0}")]
    BadKdfParams(String),
    /// The decrypted content is not a valid account list.
    #[error("the vault's content is invalid: {0}")]
    BadContent(String),
    /// A file-system error.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another kagi holds the vault's lock for longer than we wait.
    #[error("the vault is busy: another kagi is changing it (it holds {0}); try again in a moment")]
    Busy(PathBuf),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// No password could be had.
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
}

/// How a vault is protected, with the derived key kept for re-saving so
/// a save does not pay for Argon2id again.
pub enum Protection {
    /// Stored in the clear, by the user's explicit choice.
    Plain,
    /// Encrypted under a key derived from a password.
    Password(DerivedKey),
}

/// A key derived from a password, with what is needed to re-derive it.
pub struct DerivedKey {
    key: Zeroizing<[u8; 32]>,
    check: [u8; CHECK_LEN],
    salt: [u8; SALT_LEN],
    params: KdfParams,
}

impl DerivedKey {
    /// Derives a key from `password` with a new random salt.
    pub fn new(password: &str, params: KdfParams) -> Result<Self, VaultError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| VaultError::Rng)?;
        Self::derive(password, salt, params)
    }

    fn derive(password: &str, salt: [u8; SALT_LEN], params: KdfParams) -> Result<Self, VaultError> {
        let argon_params = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(64))
            .map_err(|e| VaultError::BadKdfParams(e.to_string()))?;
        let argon = Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut out = Zeroizing::new([0u8; 64]);
        argon
            .hash_password_into(password.as_bytes(), &salt, out.as_mut_slice())
            .map_err(|e| VaultError::BadKdfParams(e.to_string()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        let (first, second) = out.split_at(32);
        key.copy_from_slice(first);
        let check: [u8; CHECK_LEN] = Sha256::new()
            .chain_update(b"kagi password check")
            .chain_update(second)
            .finalize()
            .into();
        Ok(Self {
            key,
            check,
            salt,
            params,
        })
    }

    /// The Argon2id parameters in use.
    pub fn params(&self) -> KdfParams {
        self.params
    }
}

/// The accounts of a vault, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vault {
    /// Every account.
    pub accounts: Vec<Account>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredVault {
    accounts: Vec<StoredAccount>,
}

impl Vault {
    /// Serialises and protects the vault as the bytes of a vault file.
    pub fn to_bytes(&self, protection: &Protection) -> Result<Vec<u8>, VaultError> {
        let stored = StoredVault {
            accounts: self.accounts.iter().map(StoredAccount::from).collect(),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&stored).map_err(|e| VaultError::BadContent(e.to_string()))?,
        );
        let mut header = Vec::with_capacity(128);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        match protection {
            Protection::Plain => {
                header.push(MODE_PLAIN);
                header.extend_from_slice(&((json.len() + 32) as u64).to_le_bytes());
                append_sum(&mut header);
                let body_sum = Sha256::new()
                    .chain_update(&header)
                    .chain_update(&*json)
                    .finalize();
                let mut file = header;
                file.extend_from_slice(&json);
                file.extend_from_slice(&body_sum);
                Ok(file)
            }
            Protection::Password(key) => {
                let mut nonce = [0u8; NONCE_LEN];
                getrandom::fill(&mut nonce).map_err(|_| VaultError::Rng)?;
                header.push(MODE_PASSWORD);
                header.extend_from_slice(&key.params.m_cost.to_le_bytes());
                header.extend_from_slice(&key.params.t_cost.to_le_bytes());
                header.extend_from_slice(&key.params.p_cost.to_le_bytes());
                header.extend_from_slice(&key.salt);
                header.extend_from_slice(&key.check);
                header.extend_from_slice(&nonce);
                // Poly1305 adds a 16-byte tag.
                header.extend_from_slice(&((json.len() + 16) as u64).to_le_bytes());
                append_sum(&mut header);
                let cipher = XChaCha20Poly1305::new_from_slice(key.key.as_slice())
                    .map_err(|_| VaultError::Damaged("key length"))?;
                let ciphertext = cipher
                    .encrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: &json,
                            aad: &header,
                        },
                    )
                    .map_err(|_| VaultError::Damaged("encryption failed"))?;
                let mut file = header;
                file.extend_from_slice(&ciphertext);
                Ok(file)
            }
        }
    }

    /// Reads vault bytes. `password` is asked for lazily: it is called only
    /// when the vault is encrypted.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        password: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Result<(Self, Protection), VaultError> {
        let mut r = Reader::new(bytes);
        if r.take(8)? != MAGIC {
            return Err(VaultError::NotAVault(path.to_owned()));
        }
        let version = u16::from_le_bytes(r.array()?);
        if version != VERSION {
            return Err(VaultError::UnsupportedVersion(version));
        }
        let mode = r.take(1)?.first().copied().unwrap_or(u8::MAX);
        let kdf = match mode {
            MODE_PLAIN => None,
            MODE_PASSWORD => {
                let params = KdfParams {
                    m_cost: u32::from_le_bytes(r.array()?),
                    t_cost: u32::from_le_bytes(r.array()?),
                    p_cost: u32::from_le_bytes(r.array()?),
                };
                let salt: [u8; SALT_LEN] = r.array()?;
                let check: [u8; CHECK_LEN] = r.array()?;
                let nonce: [u8; NONCE_LEN] = r.array()?;
                Some((params, salt, check, nonce))
            }
            _ => return Err(VaultError::Damaged("unknown protection mode")),
        };
        let body_len = u64::from_le_bytes(r.array()?);
        let header_end = r.position;
        let sum: [u8; SUM_LEN] = r.array()?;
        let header = bytes.get(..header_end).unwrap_or_default();
        let expected_sum = Sha256::digest(header);
        if expected_sum.get(..SUM_LEN).unwrap_or_default() != sum {
            return Err(VaultError::Damaged("header checksum mismatch"));
        }
        // Everything before the body, checksum included: the associated
        // data of the encryption and the prefix of the plain checksum.
        let header = bytes.get(..r.position).unwrap_or_default();
        let body = r.rest();
        if (body.len() as u64) < body_len {
            return Err(VaultError::Truncated {
                expected: r.position as u64 + body_len,
                actual: bytes.len() as u64,
            });
        }
        if body.len() as u64 > body_len {
            return Err(VaultError::Damaged("extra bytes after the content"));
        }
        let json = match kdf {
            None => {
                let split = body.len().saturating_sub(32);
                let (json, body_sum) = body.split_at(split);
                let expected = Sha256::new()
                    .chain_update(header)
                    .chain_update(json)
                    .finalize();
                if !bool::from(expected.as_slice().ct_eq(body_sum)) {
                    return Err(VaultError::Damaged("content checksum mismatch"));
                }
                Zeroizing::new(json.to_vec())
            }
            Some((params, salt, check, nonce)) => {
                check_bounds(params)?;
                let password = password()?;
                let key = DerivedKey::derive(&password, salt, params)?;
                if !bool::from(key.check.ct_eq(&check)) {
                    return Err(VaultError::WrongPassword);
                }
                let cipher = XChaCha20Poly1305::new_from_slice(key.key.as_slice())
                    .map_err(|_| VaultError::Damaged("key length"))?;
                let plain = cipher
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: body,
                            aad: header,
                        },
                    )
                    .map_err(|_| VaultError::Damaged("authentication failed"))?;
                let vault = parse_json(&Zeroizing::new(plain))?;
                return Ok((vault, Protection::Password(key)));
            }
        };
        Ok((parse_json(&json)?, Protection::Plain))
    }

    /// Reads the vault at `path`.
    pub fn open(
        path: &Path,
        password: impl FnOnce() -> Result<Zeroizing<String>, VaultError>,
    ) -> Result<(Self, Protection), VaultError> {
        let bytes = fs::read(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => VaultError::NotFound(path.to_owned()),
            _ => VaultError::Io {
                action: "could not read",
                path: path.to_owned(),
                source: e,
            },
        })?;
        Self::from_bytes(path, &bytes, password)
    }

    /// Whether the file at `path` is an encrypted vault (to know whether to
    /// ask for a password before doing anything slow).
    pub fn is_encrypted(path: &Path) -> Result<bool, VaultError> {
        let bytes = fs::read(path).map_err(|e| VaultError::Io {
            action: "could not read",
            path: path.to_owned(),
            source: e,
        })?;
        Ok(bytes.get(10) == Some(&MODE_PASSWORD))
    }

    /// Writes a new vault; refuses to overwrite an existing file.
    pub fn create(&self, path: &Path, protection: &Protection) -> Result<(), VaultError> {
        if path.exists() {
            return Err(VaultError::AlreadyExists(path.to_owned()));
        }
        self.save(path, protection)
    }

    /// Replaces the vault at `path` atomically.
    pub fn save(&self, path: &Path, protection: &Protection) -> Result<(), VaultError> {
        let bytes = self.to_bytes(protection)?;
        let temp = write_temp(path, &bytes)?;
        commit(temp, path)
    }

    /// The index of the account named `name` (ignoring case).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.name.to_lowercase() == name.to_lowercase())
    }

    /// `name`, or `name (2)`, `name (3)`... whichever is free.
    pub fn free_name(&self, name: &str) -> String {
        if self.position(name).is_none() {
            return name.to_owned();
        }
        (2..)
            .map(|n| format!("{name} ({n})"))
            .find(|candidate| self.position(candidate).is_none())
            .unwrap_or_else(|| name.to_owned())
    }
}

fn append_sum(header: &mut Vec<u8>) {
    let sum = Sha256::digest(&header[..]);
    header.extend_from_slice(sum.get(..SUM_LEN).unwrap_or_default());
}

fn check_bounds(p: KdfParams) -> Result<(), VaultError> {
    let (min, max) = (KdfParams::MINIMUM, KdfParams::MAXIMUM);
    let ok = (min.m_cost..=max.m_cost).contains(&p.m_cost)
        && (min.t_cost..=max.t_cost).contains(&p.t_cost)
        && (min.p_cost..=max.p_cost).contains(&p.p_cost);
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadKdfParams(format!("{p:?}")))
    }
}

fn parse_json(json: &[u8]) -> Result<Vault, VaultError> {
    let stored: StoredVault =
        serde_json::from_slice(json).map_err(|e| VaultError::BadContent(e.to_string()))?;
    let accounts = stored
        .accounts
        .into_iter()
        .map(Account::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| VaultError::BadContent(e.to_string()))?;
    Ok(Vault { accounts })
}

/// A cursor over the file bytes that reports running out as truncation.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], VaultError> {
        let slice =
            self.bytes
                .get(self.position..self.position + n)
                .ok_or(VaultError::Truncated {
                    expected: (self.position + n) as u64,
                    actual: self.bytes.len() as u64,
                })?;
        self.position += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], VaultError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }
}

/// Writes `bytes` to a new temporary file beside `path` (mode 0600) and
/// syncs it. Until [`commit`] renames it, the vault at `path` is untouched;
/// a crash leaves at most a stray temporary file, which is never read.
pub fn write_temp(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, VaultError> {
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(|e| VaultError::Io {
        action: "could not create the folder",
        path: dir.to_owned(),
        source: e,
    })?;
    let io_err = |action: &'static str| {
        let p = dir.to_owned();
        move |source| VaultError::Io {
            action,
            path: p,
            source,
        }
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".kagi-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err("could not create a temporary file in"))?;
    temp.write_all(bytes)
        .map_err(io_err("could not write a temporary file in"))?;
    temp.as_file()
        .sync_all()
        .map_err(io_err("could not sync a temporary file in"))?;
    Ok(temp)
}

/// Renames a synced temporary file over `path` and syncs the directory.
pub fn commit(temp: tempfile::NamedTempFile, path: &Path) -> Result<(), VaultError> {
    temp.persist(path).map_err(|e| VaultError::Io {
        action: "could not replace",
        path: path.to_owned(),
        source: e.error,
    })?;
    let dir = parent_dir(path);
    // Syncing the directory makes the rename itself durable; not every
    // platform supports opening a directory, and the data is safe either way.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An exclusive lock on a vault for one read-modify-write, so two kagi
/// processes never both read the old vault and both save (one account
/// lost). The lock is on a file of its own beside the vault
/// (`vault.kagi.lock`: the vault itself is replaced by a rename on every
/// save), held by the OS until this value is dropped or the process ends,
/// whatever way it ends.
#[derive(Debug)]
pub struct VaultLock {
    _file: fs::File,
}

impl VaultLock {
    /// Takes the lock of the vault at `vault`, waiting up to `wait` for
    /// another process to release it; then [`VaultError::Busy`].
    pub fn acquire(vault: &Path, wait: std::time::Duration) -> Result<Self, VaultError> {
        let dir = parent_dir(vault);
        let mut name = vault.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = dir.join(name);
        let io_err = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| VaultError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(dir).map_err(io_err("could not create the folder", dir))?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("could not open the lock file", &path))?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => return Err(VaultError::Busy(path)),
                Err(fs::TryLockError::Error(e)) => {
                    return Err(io_err("could not lock", &path)(e));
                }
            }
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
