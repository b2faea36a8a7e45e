//! 2FAS Authenticator's `.2fas` backup: `{"services":[{"name","secret",
//! "otp":{"account","issuer","digits","period","algorithm","tokenType","counter"}}],
//! "schemaVersion":..}`. Password-protected backups carry
//! `servicesEncrypted` instead, which kagi does not read.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Fields, ImportEntry, ImportError, Imported};
use crate::account::Account;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    services: Vec<serde_json::Value>,
    #[serde(default, rename = "servicesEncrypted")]
    services_encrypted: Option<String>,
}

#[derive(Deserialize)]
struct Service {
    #[serde(default)]
    name: String,
    secret: Zeroizing<String>,
    #[serde(default)]
    otp: Otp,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Otp {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    digits: u32,
    #[serde(default)]
    period: u64,
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    counter: u64,
}

/// Reads a plain `.2fas` backup.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let file: File = serde_json::from_str(text).map_err(|e| ImportError::Invalid {
        format: "2FAS",
        reason: e.to_string(),
    })?;
    if file.services_encrypted.is_some() && file.services.is_empty() {
        return Err(ImportError::Unsupported(
            "this 2FAS backup is password-protected; in 2FAS, export it again without a password, import it, then delete the file".into(),
        ));
    }
    let entries = file
        .services
        .into_iter()
        .enumerate()
        .map(
            |(i, value)| match serde_json::from_value::<Service>(value) {
                Err(e) => ImportEntry::failed(format!("service {}", i + 1), e.to_string()),
                Ok(s) => {
                    let issuer = s.otp.issuer.clone().unwrap_or_else(|| s.name.clone());
                    let label = s
                        .otp
                        .account
                        .clone()
                        .or(s.otp.label.clone())
                        .unwrap_or_default();
                    let source = Account::suggested_name(Some(&issuer), &label);
                    let fields = Fields {
                        secret: &s.secret,
                        issuer: &issuer,
                        label: &label,
                        algorithm: &s.otp.algorithm,
                        digits: s.otp.digits,
                        kind: &s.otp.token_type,
                        period: s.otp.period,
                        counter: s.otp.counter,
                    };
                    fields.entry(source)
                }
            },
        )
        .collect();
    Ok(Imported {
        entries,
        warnings: Vec::new(),
    })
}
