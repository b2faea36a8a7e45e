//! Google Authenticator's "Transfer accounts": QR codes holding
//! `otpauth-migration://offline?data=<Base64 protobuf>`, at most ten
//! accounts each. A transfer of more accounts is several batches sharing a
//! `batch_id`; importing says which are missing.
//!
//! The protobuf (`MigrationPayload`) is declared here with prost derives,
//! so no protoc is needed. Google's format has no period field (always
//! 30 s) and only 6 or 8 digits.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose};
use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use prost::Message;
use zeroize::Zeroizing;

use super::{ImportEntry, Imported};
use crate::account::Account;

/// One transfer QR code's content.
#[derive(Clone, PartialEq, Message)]
pub struct MigrationPayload {
    /// The accounts in this batch.
    #[prost(message, repeated, tag = "1")]
    pub otp_parameters: Vec<OtpParameters>,
    /// Format version (1).
    #[prost(int32, tag = "2")]
    pub version: i32,
    /// How many QR codes the transfer has.
    #[prost(int32, tag = "3")]
    pub batch_size: i32,
    /// This QR code's position, from 0.
    #[prost(int32, tag = "4")]
    pub batch_index: i32,
    /// Shared by all QR codes of one transfer.
    #[prost(int32, tag = "5")]
    pub batch_id: i32,
}

/// One account inside a transfer.
#[derive(Clone, PartialEq, Message)]
pub struct OtpParameters {
    /// The raw key bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub secret: Vec<u8>,
    /// `Issuer:account` or just the account.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The issuer.
    #[prost(string, tag = "3")]
    pub issuer: String,
    /// 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5.
    #[prost(int32, tag = "4")]
    pub algorithm: i32,
    /// 0 unspecified, 1 six, 2 eight.
    #[prost(int32, tag = "5")]
    pub digits: i32,
    /// 0 unspecified, 1 HOTP, 2 TOTP.
    #[prost(int32, tag = "6")]
    pub r#type: i32,
    /// HOTP counter.
    #[prost(int64, tag = "7")]
    pub counter: i64,
}

const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_uri(text: &str) -> Result<MigrationPayload, String> {
    let rest = text
        .trim()
        .strip_prefix("otpauth-migration://offline?")
        .ok_or("not an otpauth-migration://offline URI")?;
    let data = rest
        .split('&')
        .find_map(|p| p.strip_prefix("data="))
        .ok_or("the URI has no data parameter")?;
    let data = percent_decode_str(data)
        .decode_utf8()
        .map_err(|_| "bad percent-encoding in data")?
        .replace(' ', "+");
    let bytes = Zeroizing::new(
        BASE64_LENIENT
            .decode(data.as_bytes())
            .map_err(|_| "data is not Base64")?,
    );
    MigrationPayload::decode(bytes.as_slice())
        .map_err(|e| format!("data is not a transfer payload: {e}"))
}

fn to_key_uri(p: &OtpParameters) -> Result<KeyUri, String> {
    let secret = Secret::from_bytes(&p.secret).map_err(|e| format!("bad secret: {e}"))?;
    let algorithm = match p.algorithm {
        0 | 1 => Algorithm::Sha1,
        2 => Algorithm::Sha256,
        3 => Algorithm::Sha512,
        4 => return Err("MD5 codes are not supported".into()),
        n => return Err(format!("unknown algorithm number {n}")),
    };
    let digits = match p.digits {
        0 | 1 => Digits::SIX,
        2 => Digits::EIGHT,
        n => return Err(format!("unknown digit count number {n}")),
    };
    let kind = match p.r#type {
        1 => OtpKind::Hotp {
            counter: u64::try_from(p.counter).map_err(|_| "negative HOTP counter")?,
        },
        0 | 2 => OtpKind::Totp { period: 30 },
        n => return Err(format!("unknown OTP type number {n}")),
    };
    let (name_issuer, account) = match p.name.split_once(':') {
        Some((i, a)) => (Some(i.trim()), a.trim()),
        None => (None, p.name.trim()),
    };
    let issuer = Some(p.issuer.trim())
        .filter(|i| !i.is_empty())
        .or(name_issuer)
        .map(str::to_owned);
    Ok(KeyUri {
        kind,
        secret,
        issuer,
        account: account.to_owned(),
        algorithm,
        format: CodeFormat::Numeric(digits),
    })
}

/// Reads transfer URIs (lines of text, or the contents of QR codes). Blank
/// lines are skipped; every batch's completeness is checked.
pub fn import_uris<'a>(uris: impl IntoIterator<Item = &'a str>) -> Imported {
    let mut imported = Imported::default();
    // batch_id -> (batch_size, indices seen)
    let mut batches: BTreeMap<i32, (i32, Vec<i32>)> = BTreeMap::new();
    for (n, text) in uris
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .enumerate()
    {
        let payload = match decode_uri(text) {
            Ok(p) => p,
            Err(reason) => {
                imported.entries.push(ImportEntry::failed(
                    format!("transfer code {}", n + 1),
                    reason,
                ));
                continue;
            }
        };
        let seen = batches
            .entry(payload.batch_id)
            .or_insert((payload.batch_size.max(1), Vec::new()));
        if seen.1.contains(&payload.batch_index) {
            imported.warnings.push(format!(
                "transfer QR code {} of {} was given twice; its accounts were read once",
                payload.batch_index + 1,
                seen.0
            ));
            continue;
        }
        seen.1.push(payload.batch_index);
        for p in &payload.otp_parameters {
            let source = Account::suggested_name(Some(&p.issuer), &p.name);
            imported.entries.push(match to_key_uri(p) {
                Ok(uri) => ImportEntry::ok(source, uri),
                Err(reason) => ImportEntry::failed(source, reason),
            });
        }
    }
    for (size, seen) in batches.values() {
        let missing: Vec<String> = (0..*size)
            .filter(|i| !seen.contains(i))
            .map(|i| (i + 1).to_string())
            .collect();
        if !missing.is_empty() {
            imported.warnings.push(format!(
                "this Google Authenticator transfer has {size} QR codes; missing: {} — scan or import those too",
                missing.join(", ")
            ));
        }
    }
    imported
}

/// Accounts in Google's format, in batches of at most ten, as
/// `otpauth-migration://` URIs; plus the accounts that cannot be expressed
/// (and why).
pub fn export(accounts: &[Account]) -> (Vec<Zeroizing<String>>, Vec<(String, String)>) {
    let mut left_out = Vec::new();
    let mut params = Vec::new();
    for a in accounts {
        match to_parameters(a) {
            Ok(p) => params.push(p),
            Err(reason) => left_out.push((a.name.clone(), reason)),
        }
    }
    let mut id_bytes = [0u8; 4];
    let batch_id = match getrandom::fill(&mut id_bytes) {
        Ok(()) => i32::from_le_bytes(id_bytes) & 0x7fff_ffff,
        Err(_) => 1,
    };
    let chunks: Vec<&[OtpParameters]> = params.chunks(10).collect();
    let size = chunks.len() as i32;
    let uris = chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let payload = MigrationPayload {
                otp_parameters: chunk.to_vec(),
                version: 1,
                batch_size: size,
                batch_index: i as i32,
                batch_id,
            };
            let bytes = Zeroizing::new(payload.encode_to_vec());
            let data = Zeroizing::new(general_purpose::STANDARD.encode(bytes.as_slice()));
            Zeroizing::new(format!(
                "otpauth-migration://offline?data={}",
                utf8_percent_encode(&data, NON_ALPHANUMERIC)
            ))
        })
        .collect();
    (uris, left_out)
}

fn to_parameters(a: &Account) -> Result<OtpParameters, String> {
    let digits = match a.format {
        CodeFormat::Numeric(d) if d == Digits::SIX => 1,
        CodeFormat::Numeric(d) if d == Digits::EIGHT => 2,
        CodeFormat::Numeric(d) => {
            return Err(format!(
                "Google Authenticator has no {}-digit codes",
                d.get()
            ));
        }
        CodeFormat::Steam => return Err("Google Authenticator has no Steam codes".into()),
    };
    let (r#type, counter) = match a.kind {
        OtpKind::Totp { period: 30 } => (2, 0),
        OtpKind::Totp { period } => {
            return Err(format!(
                "Google Authenticator transfers only 30-second codes, not {period} s"
            ));
        }
        OtpKind::Hotp { counter } => (1, i64::try_from(counter).map_err(|_| "counter too large")?),
    };
    let algorithm = match a.algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    };
    let name = match &a.issuer {
        Some(i) if !a.label.is_empty() => format!("{i}:{}", a.label),
        Some(i) => i.clone(),
        None if a.label.is_empty() => a.name.clone(),
        None => a.label.clone(),
    };
    Ok(OtpParameters {
        secret: a.secret.expose().to_vec(),
        name,
        issuer: a.issuer.clone().unwrap_or_default(),
        algorithm,
        digits,
        r#type,
        counter,
    })
}
