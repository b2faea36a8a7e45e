//! `otpauth://` URIs one per line: what WinAuth exports and what most
//! authenticators accept line by line.

use nidan_otp::KeyUri;
use zeroize::Zeroizing;

use super::{ImportEntry, Imported};
use crate::account::Account;

/// One URI (from a line or a QR code). A failure names the line by its
/// position, never by its text, which may hold a secret.
pub fn import_line(text: &str) -> ImportEntry {
    match KeyUri::parse(text) {
        Ok(uri) => ImportEntry::ok(uri.label(), uri),
        Err(e) => ImportEntry::failed("otpauth URI", e.to_string()),
    }
}

/// Every non-empty line that is not a `#` comment.
pub fn import_lines(text: &str) -> Imported {
    let mut imported = Imported::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut entry = import_line(line);
        if entry.result.is_err() {
            entry.source = format!("line {}", n + 1);
        }
        imported.entries.push(entry);
    }
    imported
}

/// One URI per line.
pub fn export(accounts: &[Account]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for a in accounts {
        out.push_str(&a.to_key_uri().to_uri());
        out.push('\n');
    }
    out
}
