//! Aegis Authenticator's vault JSON (`docs/vault.md` in the Aegis
//! repository): `{"version":1,"header":{"slots":..,"params":..},"db":..}`.
//! In a plain export `db` is an object; in an encrypted one it is Base64
//! AES-256-GCM ciphertext under a master key, which each password slot
//! wraps with a key derived by scrypt.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{Fields, ImportError, Imported};
use crate::account::Account;
use crate::password::PasswordError;
use nidan_otp::{CodeFormat, OtpKind};

#[derive(Deserialize)]
struct File {
    version: u32,
    header: Header,
    db: Value,
}

#[derive(Deserialize)]
struct Header {
    slots: Option<Vec<Slot>>,
    params: Option<KeyParams>,
}

#[derive(Deserialize)]
struct Slot {
    #[serde(rename = "type")]
    kind: u32,
    key: String,
    key_params: KeyParams,
    n: Option<u64>,
    r: Option<u32>,
    p: Option<u32>,
    salt: Option<String>,
}

#[derive(Deserialize)]
struct KeyParams {
    nonce: String,
    tag: String,
}

#[derive(Deserialize, Serialize)]
struct Db {
    version: u32,
    entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<Value>,
}

#[derive(Deserialize, Serialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    favorite: bool,
    #[serde(default)]
    icon: Option<Value>,
    info: Info,
}

#[derive(Deserialize, Serialize)]
struct Info {
    secret: Zeroizing<String>,
    #[serde(default)]
    algo: String,
    #[serde(default)]
    digits: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counter: Option<u64>,
}

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: "Aegis",
        reason: reason.into(),
    }
}

/// Reads a plain or encrypted Aegis export.
pub fn import(
    text: &str,
    password: &mut dyn FnMut() -> Result<Zeroizing<String>, PasswordError>,
) -> Result<Imported, ImportError> {
    let file: File = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if file.version != 1 {
        return Err(invalid(format!("unknown version {}", file.version)));
    }
    let db: Db = match file.db {
        Value::Object(_) => serde_json::from_value(file.db).map_err(|e| invalid(e.to_string()))?,
        Value::String(ciphertext) => {
            let plain = decrypt(&file.header, &ciphertext, password)?;
            serde_json::from_slice(&plain).map_err(|e| invalid(e.to_string()))?
        }
        _ => return Err(invalid("db is neither an object nor encrypted text")),
    };
    let entries = db
        .entries
        .iter()
        .map(|e| {
            let source = Account::suggested_name(Some(&e.issuer), &e.name);
            let fields = Fields {
                secret: &e.info.secret,
                issuer: &e.issuer,
                label: &e.name,
                algorithm: &e.info.algo,
                digits: e.info.digits,
                kind: &e.kind,
                period: e.info.period.unwrap_or(0),
                counter: e.info.counter.unwrap_or(0),
            };
            fields.entry(source)
        })
        .collect();
    Ok(Imported {
        entries,
        warnings: Vec::new(),
    })
}

fn decrypt(
    header: &Header,
    ciphertext: &str,
    password: &mut dyn FnMut() -> Result<Zeroizing<String>, PasswordError>,
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let slots: Vec<&Slot> = header
        .slots
        .iter()
        .flatten()
        .filter(|s| s.kind == 1)
        .collect();
    if slots.is_empty() {
        return Err(ImportError::Unsupported(
            "this Aegis backup has no password slot (only biometric or raw keys); export it again with a password".into(),
        ));
    }
    let params = header
        .params
        .as_ref()
        .ok_or_else(|| invalid("encrypted, but header.params is missing"))?;
    let password = password()?;
    let mut master = None;
    for slot in slots {
        let (Some(n), Some(r), Some(p), Some(salt)) = (slot.n, slot.r, slot.p, &slot.salt) else {
            return Err(invalid("a password slot lacks its scrypt parameters"));
        };
        if !n.is_power_of_two() || n < 2 {
            return Err(invalid(format!("scrypt n = {n} is not a power of two")));
        }
        let log_n = n.trailing_zeros() as u8;
        let scrypt_params =
            scrypt::Params::new(log_n, r, p).map_err(|e| invalid(format!("scrypt: {e}")))?;
        let salt = hex::decode(salt).map_err(|_| invalid("slot salt is not hex"))?;
        let mut derived = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(
            password.as_bytes(),
            &salt,
            &scrypt_params,
            derived.as_mut_slice(),
        )
        .map_err(|e| invalid(format!("scrypt: {e}")))?;
        if let Ok(key) = open(
            derived.as_slice(),
            &slot.key_params,
            &hex_decode(&slot.key)?,
        ) {
            master = Some(key);
            break;
        }
    }
    let master = master.ok_or(ImportError::WrongPassword("Aegis"))?;
    let body = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.trim())
        .map_err(|_| invalid("db is not Base64"))?;
    open(&master, params, &body)
        .map_err(|_| invalid("the content does not decrypt with the master key (damaged file)"))
}

fn hex_decode(text: &str) -> Result<Vec<u8>, ImportError> {
    hex::decode(text).map_err(|_| invalid("a key or nonce is not hex"))
}

/// AES-256-GCM open of `ciphertext` with the tag kept apart, as Aegis stores it.
fn open(
    key: &[u8],
    params: &KeyParams,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let nonce: [u8; 12] = hex_decode(&params.nonce)?
        .try_into()
        .map_err(|_| invalid("nonce is not 12 bytes"))?;
    let mut sealed = ciphertext.to_vec();
    sealed.extend_from_slice(&hex_decode(&params.tag)?);
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| invalid("key is not 32 bytes"))?;
    cipher
        .decrypt(&Nonce::from(nonce), sealed.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| ImportError::WrongPassword("Aegis"))
}

/// A plain (unencrypted) Aegis export, which Aegis and most other apps import.
pub fn export(accounts: &[Account]) -> Result<Zeroizing<String>, serde_json::Error> {
    let entries = accounts
        .iter()
        .map(|a| {
            let (kind, digits) = match a.format {
                CodeFormat::Steam => ("steam", 5),
                CodeFormat::Numeric(d) => (if a.is_hotp() { "hotp" } else { "totp" }, d.get()),
            };
            let (period, counter) = match a.kind {
                OtpKind::Totp { period } => (Some(period), None),
                OtpKind::Hotp { counter } => (None, Some(counter)),
            };
            Entry {
                kind: kind.to_owned(),
                uuid: None,
                name: if a.label.is_empty() {
                    a.name.clone()
                } else {
                    a.label.clone()
                },
                issuer: a.issuer.clone().unwrap_or_default(),
                note: a.name.clone(),
                favorite: false,
                icon: None,
                info: Info {
                    secret: a.secret.to_base32(),
                    algo: a.algorithm.as_str().to_owned(),
                    digits,
                    period,
                    counter,
                },
            }
        })
        .collect();
    let db = Db {
        version: 2,
        entries,
        groups: Some(Value::Array(Vec::new())),
    };
    let file = serde_json::json!({
        "version": 1,
        "header": { "slots": null, "params": null },
        "db": db,
    });
    serde_json::to_string_pretty(&file).map(Zeroizing::new)
}
