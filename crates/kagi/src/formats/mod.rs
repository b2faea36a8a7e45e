//! Moving accounts in and out of `kagi`.
//!
//! Every importer returns one [`ImportEntry`] per account it found, each
//! either parsed or failed with the reason, so nothing is dropped silently.
//! Whole-file problems (not JSON, wrong password) are an [`ImportError`].

pub mod aegis;
pub mod andotp;
pub mod bitwarden;
pub mod google;
pub mod otpauth;
pub mod twofas;

use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret};
use zeroize::Zeroizing;

/// A file format kagi reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// kagi's own encrypted backup (the vault format).
    Kagi,
    /// `otpauth://` URIs, one per line (WinAuth's export).
    Otpauth,
    /// Aegis JSON, plain or password-encrypted.
    Aegis,
    /// andOTP JSON (plain).
    Andotp,
    /// 2FAS `.2fas` (plain).
    #[value(name = "2fas")]
    TwoFas,
    /// Bitwarden JSON export (unencrypted).
    Bitwarden,
    /// Google Authenticator transfer: `otpauth-migration://` URIs or QR images.
    Google,
    /// PNG or JPEG images holding QR codes (otpauth or transfer URIs).
    Qr,
}

/// One account found in an imported file.
#[derive(Debug)]
pub struct ImportEntry {
    /// How the file names it (for the report).
    pub source: String,
    /// The account, or why it could not be read.
    pub result: Result<KeyUri, String>,
}

impl ImportEntry {
    /// A parsed entry.
    pub fn ok(source: impl Into<String>, uri: KeyUri) -> Self {
        Self {
            source: source.into(),
            result: Ok(uri),
        }
    }

    /// A failed entry.
    pub fn failed(source: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            result: Err(reason.into()),
        }
    }
}

/// What an import found: the entries and any warnings about the file as a
/// whole (for example missing Google transfer batches).
#[derive(Debug, Default)]
pub struct Imported {
    /// One per account found.
    pub entries: Vec<ImportEntry>,
    /// Problems that concern no single entry.
    pub warnings: Vec<String>,
}

/// Why a whole file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The format could not be recognised.
    #[error(
        "could not tell the file's format; name it with --format (otpauth, aegis, andotp, 2fas, bitwarden, google, qr, kagi)"
    )]
    UnknownFormat,
    /// Not valid JSON, or not the expected structure.
    #[error("the file is not a valid {format} export: {reason}")]
    Invalid {
        /// The format expected.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The export is encrypted in a way kagi does not read.
    #[error("{0}")]
    Unsupported(String),
    /// The password does not decrypt the file.
    #[error("wrong password for this {0} backup")]
    WrongPassword(&'static str),
    /// A password was needed and could not be had.
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
    /// Reading a kagi backup failed.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// QR images could not be read.
    #[error(transparent)]
    Qr(#[from] nidan_otp::qr::QrError),
}

/// Builds a key URI from the loose fields most JSON exports carry.
pub struct Fields<'a> {
    /// Base32 secret as stored.
    pub secret: &'a str,
    /// Issuer, may be empty.
    pub issuer: &'a str,
    /// Account label, may be empty.
    pub label: &'a str,
    /// Algorithm name, empty for SHA1.
    pub algorithm: &'a str,
    /// Digit count; 0 for the default.
    pub digits: u32,
    /// `totp`, `hotp` or `steam` (any case).
    pub kind: &'a str,
    /// Period in seconds; 0 for 30.
    pub period: u64,
    /// HOTP counter.
    pub counter: u64,
}

impl Fields<'_> {
    /// The report entry for these fields, named `source`.
    pub fn entry(&self, source: String) -> ImportEntry {
        match self.to_key_uri() {
            Ok(uri) => ImportEntry::ok(source, uri),
            Err(reason) => ImportEntry::failed(source, reason),
        }
    }

    /// The URI, or why these fields are not a usable account.
    pub fn to_key_uri(&self) -> Result<KeyUri, String> {
        let secret = Secret::from_base32(self.secret).map_err(|e| format!("bad secret: {e}"))?;
        let algorithm = if self.algorithm.is_empty() {
            Algorithm::Sha1
        } else {
            self.algorithm.parse().map_err(|e| format!("{e}"))?
        };
        let kind_lower = self.kind.to_ascii_lowercase();
        let steam = kind_lower == "steam";
        let format = if steam {
            CodeFormat::Steam
        } else if self.digits == 0 {
            CodeFormat::default()
        } else {
            CodeFormat::Numeric(Digits::new(self.digits).map_err(|e| e.to_string())?)
        };
        let kind = match kind_lower.as_str() {
            "totp" | "steam" | "" => OtpKind::Totp {
                period: if self.period == 0 { 30 } else { self.period },
            },
            "hotp" => OtpKind::Hotp {
                counter: self.counter,
            },
            other => return Err(format!("unsupported type '{other}'")),
        };
        let issuer = Some(self.issuer.trim().to_owned()).filter(|i| !i.is_empty());
        Ok(KeyUri {
            kind,
            secret,
            issuer,
            account: self.label.trim().to_owned(),
            algorithm,
            format,
        })
    }
}

/// Guesses the format of an import file from its content.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(crate::vault::MAGIC) {
        return Some(Format::Kagi);
    }
    if bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"\xff\xd8\xff") {
        return Some(Format::Qr);
    }
    let text = std::str::from_utf8(bytes)
        .ok()?
        .trim_start_matches('\u{feff}')
        .trim();
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    if first_line.starts_with("otpauth-migration://") {
        return Some(Format::Google);
    }
    if first_line.to_ascii_lowercase().starts_with("otpauth://") {
        return Some(Format::Otpauth);
    }
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    match &json {
        serde_json::Value::Array(_) => Some(Format::Andotp),
        serde_json::Value::Object(map) => {
            if map.contains_key("db") && map.contains_key("header") {
                Some(Format::Aegis)
            } else if map.contains_key("services") || map.contains_key("servicesEncrypted") {
                Some(Format::TwoFas)
            } else if map.contains_key("items") && map.contains_key("encrypted") {
                Some(Format::Bitwarden)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Reads `bytes` as `format`. `password` is called only for encrypted files.
pub fn import(
    format: Format,
    bytes: &[u8],
    password: &mut dyn FnMut() -> Result<Zeroizing<String>, crate::password::PasswordError>,
) -> Result<Imported, ImportError> {
    let text = || {
        std::str::from_utf8(bytes).map_err(|_| ImportError::Invalid {
            format: "text",
            reason: "not UTF-8 text".into(),
        })
    };
    match format {
        Format::Otpauth => Ok(otpauth::import_lines(text()?)),
        Format::Aegis => aegis::import(text()?, password),
        Format::Andotp => andotp::import(text()?),
        Format::TwoFas => twofas::import(text()?),
        Format::Bitwarden => bitwarden::import(text()?),
        Format::Google => Ok(google::import_uris(text()?.lines())),
        Format::Qr => {
            let found = nidan_otp::qr::decode_image(bytes)?;
            Ok(import_qr_texts(&found))
        }
        Format::Kagi => {
            let (vault, _) =
                crate::vault::Vault::from_bytes(std::path::Path::new("backup"), bytes, || {
                    Ok(password()?)
                })?;
            Ok(Imported {
                entries: vault
                    .accounts
                    .into_iter()
                    .map(|a| ImportEntry::ok(a.name.clone(), a.to_key_uri()))
                    .collect(),
                warnings: Vec::new(),
            })
        }
    }
}

/// Sorts the strings read from QR codes into otpauth and transfer URIs.
pub fn import_qr_texts(texts: &[String]) -> Imported {
    let (migration, other): (Vec<&String>, Vec<&String>) = texts
        .iter()
        .partition(|t| t.starts_with("otpauth-migration://"));
    let mut imported = google::import_uris(migration.into_iter().map(String::as_str));
    for text in other {
        imported.entries.push(otpauth::import_line(text));
    }
    imported
}
