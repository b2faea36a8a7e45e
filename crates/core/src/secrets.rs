//! Secrets and how they are kept: passwords hashed with Argon2id (OWASP
//! parameters, off the async threads, a bounded number at once); tokens
//! (sessions, remembered browsers, sign-in attempts) as 256-bit random
//! values stored only as SHA-256 hashes; TOTP keys encrypted with the
//! master key (XChaCha20-Poly1305, the record id as associated data so a
//! key cannot be moved to another record).

use std::sync::Arc;

use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Fills a buffer from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Crypto(e.to_string()))?;
    Ok(bytes)
}

/// A new 256-bit token, Base64url without padding (43 characters).
pub fn new_token() -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(random_bytes::<32>()?);
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice()),
    ))
}

/// The hash under which a token is stored and looked up (hex SHA-256).
/// Tokens carry 256 bits of entropy, so a fast hash is enough.
pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// A random identifier for records (128 bits, hex).
pub fn new_id() -> Result<String> {
    Ok(data_encoding::HEXLOWER.encode(&random_bytes::<16>()?))
}

/// Symbols of backup codes: RFC 4648 Base32 in lowercase. It has no 0, 1
/// or 8, so those typed for o, l and b are read as the letters.
const BACKUP_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A backup code as shown once: ten symbols (50 bits) as `abcde-fghjk`.
pub fn new_backup_code() -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(random_bytes::<10>()?);
    let mut code = Zeroizing::new(String::with_capacity(11));
    for (i, b) in bytes.iter().enumerate() {
        if i == 5 {
            code.push('-');
        }
        let symbol = BACKUP_ALPHABET
            .get(usize::from(b & 31))
            .copied()
            .unwrap_or(b'a');
        code.push(char::from(symbol));
    }
    Ok(code)
}

/// Normalises a typed backup code (case, spaces, hyphens) for hashing;
/// `None` when it cannot be a backup code.
pub fn normalize_backup_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' => 'l',
            '8' => 'b',
            other => other,
        })
        .collect();
    (code.len() == 10 && code.bytes().all(|b| BACKUP_ALPHABET.contains(&b))).then_some(code)
}

/// SHA-256 over the account id and the normalised backup code: the form
/// backup codes were stored in before they were keyed. About 50 bits of
/// code behind an unkeyed hash can be found offline by anyone with a copy
/// of the database, so it is now only the input of [`MasterKey::backup_code_hash`].
pub fn unkeyed_backup_code_hash(account_id: &str, normalized: &str) -> String {
    let digest = Sha256::new()
        .chain_update(account_id.as_bytes())
        .chain_update([0u8])
        .chain_update(normalized.as_bytes())
        .finalize();
    data_encoding::HEXLOWER.encode(&digest)
}

/// The key that encrypts TOTP keys (and later identity documents) at rest.
#[derive(Clone)]
pub struct MasterKey(Arc<Zeroizing<[u8; 32]>>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(Zeroizing::new(bytes)))
    }

    /// A new random key.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_bytes(random_bytes::<32>()?))
    }

    /// Encrypts `plain`, binding it to `context` (the record id). Output:
    /// 24-byte nonce followed by the ciphertext and tag.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new_from_slice(self.0.as_slice())
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let nonce = random_bytes::<24>()?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The stored form of a backup code: an HMAC under a key derived from
    /// the master key over [`unkeyed_backup_code_hash`], marked `k1:`.
    /// Without the master key a copy of the database reveals nothing
    /// (OWASP ASVS 5.0 §6.5.2: a keyed hash below 112 bits of entropy).
    pub fn backup_code_hash(&self, account_id: &str, normalized: &str) -> String {
        self.keyed_backup_code_hash(&unkeyed_backup_code_hash(account_id, normalized))
    }

    /// Keys a hash stored before backup codes were keyed.
    pub fn keyed_backup_code_hash(&self, unkeyed: &str) -> String {
        format!("k1:{}", self.mac("backup-code", unkeyed.as_bytes()))
    }

    /// A keyed hash (HMAC-SHA256 under a key derived for `purpose`) of
    /// `data`, hex. For short secrets such as 6-digit codes, where a plain
    /// hash of a stolen database could be reversed by trying every value.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let subkey = Sha256::new()
            .chain_update(b"nidan mac key:")
            .chain_update(purpose.as_bytes())
            .chain_update(self.0.as_slice())
            .finalize();
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&subkey) {
            Ok(mut mac) => {
                mac.update(data);
                data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }

    /// Decrypts what [`MasterKey::seal`] produced for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed
            .split_at_checked(24)
            .ok_or_else(|| Error::Crypto("sealed value too short".into()))?;
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| Error::Crypto("bad nonce".into()))?;
        let cipher = XChaCha20Poly1305::new_from_slice(self.0.as_slice())
            .map_err(|e| Error::Crypto(e.to_string()))?;
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::Crypto("a stored secret does not decrypt with this master key".into())
            })
    }
}

/// Argon2id password hashing (OWASP: 19 MiB, 2 passes, 1 lane), run on the
/// blocking pool with at most `permits` hashes at once, so a burst of
/// sign-ins cannot starve the request threads. Each permit owns one
/// reusable 19 MiB work area: memory stays at `permits` × 19 MiB however
/// many sign-ins come, instead of the allocator keeping a fresh area per
/// blocking thread.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    areas: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Hashes started; an idle hasher frees its work areas.
    started: Arc<std::sync::atomic::AtomicU64>,
    /// A hash verified when the email is unknown, so timing does not tell
    /// whether an account exists.
    dummy: Arc<String>,
}

/// How long an idle hasher keeps its work areas.
const IDLE_AREAS: std::time::Duration = std::time::Duration::from_secs(5);

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

/// Argon2id over `area`, growing it only for parameters above the default
/// (old hashes after a policy change), in which case a temporary area is used.
fn argon2id(
    password: &[u8],
    salt: &[u8],
    params: Params,
    out: &mut [u8],
    area: &mut Vec<Block>,
) -> Result<()> {
    let needed = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let result = if area.len() >= needed || area.is_empty() {
        if area.is_empty() {
            area.resize(needed, Block::new());
        }
        argon.hash_password_into_with_memory(
            password,
            salt,
            out,
            area.get_mut(..needed).unwrap_or_default(),
        )
    } else {
        let mut temporary = vec![Block::new(); needed];
        argon.hash_password_into_with_memory(password, salt, out, &mut temporary)
    };
    result.map_err(|e| Error::Crypto(e.to_string()))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

impl PasswordHasher {
    /// A hasher allowing `permits` concurrent hashes.
    pub fn new(permits: usize) -> Result<Self> {
        let permits = permits.max(1);
        let mut area = Vec::new();
        let dummy = Self::hash_with(b"nidan dummy password for unknown accounts", &mut area)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(permits)),
            areas: Arc::new(Mutex::new(vec![area])),
            started: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            dummy: Arc::new(dummy),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
    fn hash_with(password: &[u8], area: &mut Vec<Block>) -> Result<String> {
        let params = Params::default();
        let salt = random_bytes::<16>()?;
        let mut out = [0u8; 32];
        argon2id(password, &salt, params.clone(), &mut out, area)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            b64(&salt),
            b64(&out)
        ))
    }

    fn verify_with(password: &[u8], phc: &str, area: &mut Vec<Block>) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        if hash.algorithm.as_str() != "argon2id" {
            return false;
        }
        let (Ok(params), Some(salt), Some(expected)) = (
            Params::try_from(&hash),
            hash.salt.as_ref(),
            hash.hash.as_ref(),
        ) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        argon2id(password, salt, params, &mut out, area).is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }

    /// Runs `job` on the blocking pool with a work area, under a permit.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let mut area = self
            .areas
            .lock()
            .ok()
            .and_then(|mut areas| areas.pop())
            .unwrap_or_default();
        let (result, area) = tokio::task::spawn_blocking(move || {
            let result = job(&mut area);
            (result, area)
        })
        .await
        .map_err(|e| Error::Crypto(e.to_string()))?;
        if let Ok(mut areas) = self.areas.lock() {
            areas.push(area);
        }
        // Areas are kept while sign-ins keep coming, and freed once none
        // has started for a few seconds, so an idle server is small.
        let started = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let (counter, areas) = (self.started.clone(), self.areas.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                tokio::time::sleep(IDLE_AREAS).await;
                if counter.load(std::sync::atomic::Ordering::Relaxed) == started
                    && let Ok(mut areas) = areas.lock()
                {
                    areas.clear();
                    areas.shrink_to_fit();
                }
            });
        }
        Ok(result)
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        self.run(move |area| Self::hash_with(&password, area))
            .await?
    }

    /// Whether `password` matches `phc`; with `None` a dummy hash is
    /// checked and `false` returned, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let known = phc.is_some();
        let stored = phc.map_or_else(|| self.dummy.as_ref().clone(), str::to_owned);
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let matched = self
            .run(move |area| Self::verify_with(&password, &stored, area))
            .await?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_own_record() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal(b"totp key", "method-1").unwrap();
        assert_eq!(
            key.open(&sealed, "method-1").unwrap().as_slice(),
            b"totp key"
        );
        assert!(key.open(&sealed, "method-2").is_err());
        assert!(
            MasterKey::generate()
                .unwrap()
                .open(&sealed, "method-1")
                .is_err()
        );
    }

    #[test]
    fn backup_codes_are_ten_symbols_and_typed_forms_normalise() {
        let code = new_backup_code().unwrap();
        assert_eq!(code.len(), 11);
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(
            normalize_backup_code(&typed).as_deref(),
            Some(code.replace('-', "").as_str())
        );
        assert_eq!(normalize_backup_code("123456"), None);
    }

    #[test]
    fn tokens_are_256_bits_and_hash_stably() {
        let t = new_token().unwrap();
        assert_eq!(t.len(), 43);
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(token_hash(&t), token_hash(&new_token().unwrap()));
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_accounts_never_match() {
        let hasher = PasswordHasher::new(2).unwrap();
        let phc = hasher.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse battery", Some(&phc))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong", Some(&phc)).await.unwrap());
        assert!(
            !hasher
                .verify("nidan dummy password for unknown accounts", None)
                .await
                .unwrap()
        );
    }
}
