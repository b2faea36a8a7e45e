//! Bitwarden's unencrypted JSON export: `{"encrypted":false,"items":[{"name",
//! "login":{"username","totp"}}]}`. `login.totp` holds an `otpauth://` URI,
//! a bare Base32 key, or `steam://KEY`. Items without a TOTP are not
//! authenticator accounts and are counted, not listed.

use nidan_otp::{CodeFormat, KeyUri, Secret};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{ImportEntry, ImportError, Imported};
use crate::account::Account;

#[derive(Deserialize)]
struct File {
    encrypted: bool,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    name: String,
    #[serde(default)]
    login: Option<Login>,
}

#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    totp: Option<Zeroizing<String>>,
}

/// Reads the TOTP of every login in an unencrypted Bitwarden export.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let file: File = serde_json::from_str(text).map_err(|e| ImportError::Invalid {
        format: "Bitwarden",
        reason: e.to_string(),
    })?;
    if file.encrypted {
        return Err(ImportError::Unsupported(
            "this Bitwarden export is encrypted; export again as \"JSON\" (not \"JSON (Encrypted)\")".into(),
        ));
    }
    let mut imported = Imported::default();
    let mut without_totp = 0;
    for item in file.items {
        let Some(login) = item.login else {
            without_totp += 1;
            continue;
        };
        let Some(totp) = login.totp.filter(|t| !t.trim().is_empty()) else {
            without_totp += 1;
            continue;
        };
        let username = login.username.unwrap_or_default();
        let source = Account::suggested_name(Some(&item.name), &username);
        let totp = totp.trim();
        let result = if totp.to_ascii_lowercase().starts_with("otpauth://") {
            KeyUri::parse(totp).map_err(|e| e.to_string())
        } else if let Some(key) = totp.strip_prefix("steam://") {
            Secret::from_base32(key)
                .map(|secret| KeyUri {
                    format: CodeFormat::Steam,
                    ..KeyUri::new_totp(secret, Some(item.name.clone()), username.clone())
                })
                .map_err(|e| format!("bad secret: {e}"))
        } else {
            Secret::from_base32(totp)
                .map(|secret| KeyUri::new_totp(secret, Some(item.name.clone()), username.clone()))
                .map_err(|e| format!("bad secret: {e}"))
        };
        imported.entries.push(ImportEntry { source, result });
    }
    if without_totp > 0 {
        imported.warnings.push(format!(
            "{without_totp} item(s) without a TOTP key were not imported (passwords, notes, cards)"
        ));
    }
    Ok(imported)
}
