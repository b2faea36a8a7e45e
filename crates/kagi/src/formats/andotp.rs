//! andOTP's plain JSON backup: an array of
//! `{"secret","issuer","label","digits","type","algorithm","period","counter",...}`.
//! Old andOTP versions put `Issuer - label` into `label` with no `issuer`.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Fields, ImportEntry, ImportError, Imported};
use crate::account::Account;

#[derive(Deserialize)]
struct Entry {
    secret: Zeroizing<String>,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    digits: u32,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    period: u64,
    #[serde(default)]
    counter: u64,
}

/// Reads an andOTP JSON array.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let raw: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ImportError::Invalid {
            format: "andOTP",
            reason: e.to_string(),
        })?;
    let entries = raw
        .into_iter()
        .enumerate()
        .map(|(i, value)| match serde_json::from_value::<Entry>(value) {
            Err(e) => ImportEntry::failed(format!("entry {}", i + 1), e.to_string()),
            Ok(e) => {
                let source = Account::suggested_name(Some(&e.issuer), &e.label);
                let fields = Fields {
                    secret: &e.secret,
                    issuer: &e.issuer,
                    label: &e.label,
                    algorithm: &e.algorithm,
                    digits: e.digits,
                    kind: &e.kind,
                    period: e.period,
                    counter: e.counter,
                };
                fields.entry(source)
            }
        })
        .collect();
    Ok(Imported {
        entries,
        warnings: Vec::new(),
    })
}
