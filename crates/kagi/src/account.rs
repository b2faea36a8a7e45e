//! One authenticator account: its name in the vault, the issuer and account
//! label it came with, its key and code parameters.

use nidan_otp::{Algorithm, CodeFormat, Digits, Hotp, KeyUri, OtpKind, Secret, Totp};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// An account in the vault. Names are unique (ignoring case) within a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// What the user calls it; how `kagi code NAME` finds it.
    pub name: String,
    /// The service, such as `Amazon`.
    pub issuer: Option<String>,
    /// The account at the service, usually an e-mail address.
    pub label: String,
    /// The shared key.
    pub secret: Secret,
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits or Steam.
    pub format: CodeFormat,
    /// TOTP with a period, or HOTP with the next counter.
    pub kind: OtpKind,
    /// When it was added (Unix seconds).
    pub added_at: u64,
}

/// A code to show: the code and, for TOTP, the seconds it stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownCode {
    /// The code.
    pub code: String,
    /// Seconds left for a TOTP code; `None` for HOTP (valid until used).
    pub seconds_left: Option<u64>,
    /// The period, for drawing a countdown.
    pub period: Option<u64>,
}

impl Account {
    /// An account from a parsed `otpauth://` URI.
    pub fn from_key_uri(name: String, uri: KeyUri, added_at: u64) -> Self {
        Self {
            name,
            issuer: uri.issuer,
            label: uri.account,
            secret: uri.secret,
            algorithm: uri.algorithm,
            format: uri.format,
            kind: uri.kind,
            added_at,
        }
    }

    /// The `otpauth://` form of this account.
    pub fn to_key_uri(&self) -> KeyUri {
        KeyUri {
            kind: self.kind,
            secret: self.secret.clone(),
            issuer: self.issuer.clone(),
            account: self.label.clone(),
            algorithm: self.algorithm,
            format: self.format,
        }
    }

    /// A name for an imported account: `Issuer (label)`, or whichever exists.
    pub fn suggested_name(issuer: Option<&str>, label: &str) -> String {
        match (
            issuer.map(str::trim).filter(|i| !i.is_empty()),
            label.trim(),
        ) {
            (Some(i), "") => i.to_owned(),
            (Some(i), l) if i.eq_ignore_ascii_case(l) => i.to_owned(),
            (Some(i), l) => format!("{i} ({l})"),
            (None, "") => "unnamed".to_owned(),
            (None, l) => l.to_owned(),
        }
    }

    /// Whether this is a counter-based (HOTP) account.
    pub fn is_hotp(&self) -> bool {
        matches!(self.kind, OtpKind::Hotp { .. })
    }

    /// The TOTP code at `now`, or `None` for an HOTP account (showing an
    /// HOTP code uses it up, so that is [`Account::next_hotp`]'s job).
    pub fn code_at(&self, now: u64) -> Option<ShownCode> {
        let OtpKind::Totp { period } = self.kind else {
            return None;
        };
        let totp = Totp::new(self.algorithm, self.format, period).ok()?;
        Some(ShownCode {
            code: totp.generate(&self.secret, now),
            seconds_left: Some(totp.seconds_left(now)),
            period: Some(period),
        })
    }

    /// The next HOTP code; advances the counter, which the caller saves.
    pub fn next_hotp(&mut self) -> Option<ShownCode> {
        let OtpKind::Hotp { counter } = self.kind else {
            return None;
        };
        let hotp = Hotp {
            algorithm: self.algorithm,
            format: self.format,
        };
        let code = hotp.generate(&self.secret, counter);
        self.kind = OtpKind::Hotp {
            counter: counter.saturating_add(1),
        };
        Some(ShownCode {
            code,
            seconds_left: None,
            period: None,
        })
    }

    /// The code to show now, advancing an HOTP counter.
    pub fn take_code(&mut self, now: u64) -> Option<ShownCode> {
        if self.is_hotp() {
            self.next_hotp()
        } else {
            self.code_at(now)
        }
    }

    /// A short description of the code parameters, e.g. `TOTP SHA1 6 digits 30 s`.
    pub fn describe(&self) -> String {
        let format = match self.format {
            CodeFormat::Numeric(d) => format!("{} digits", d.get()),
            CodeFormat::Steam => "Steam".to_owned(),
        };
        match self.kind {
            OtpKind::Totp { period } => format!("TOTP {} {format} {period} s", self.algorithm),
            OtpKind::Hotp { counter } => {
                format!("HOTP {} {format} counter {counter}", self.algorithm)
            }
        }
    }
}

/// The form an account takes inside the vault's JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredAccount {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default)]
    label: String,
    secret: Zeroizing<String>,
    algorithm: String,
    /// 6 to 8, or 0 for Steam.
    digits: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counter: Option<u64>,
    added_at: u64,
}

/// A stored account that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("account '{name}' in the vault is invalid: {reason}")]
pub struct InvalidStoredAccount {
    name: String,
    reason: String,
}

impl From<&Account> for StoredAccount {
    fn from(a: &Account) -> Self {
        let (period, counter) = match a.kind {
            OtpKind::Totp { period } => (Some(period), None),
            OtpKind::Hotp { counter } => (None, Some(counter)),
        };
        Self {
            name: a.name.clone(),
            issuer: a.issuer.clone(),
            label: a.label.clone(),
            secret: a.secret.to_base32(),
            algorithm: a.algorithm.as_str().to_owned(),
            digits: match a.format {
                CodeFormat::Numeric(d) => d.get(),
                CodeFormat::Steam => 0,
            },
            period,
            counter,
            added_at: a.added_at,
        }
    }
}

impl TryFrom<StoredAccount> for Account {
    type Error = InvalidStoredAccount;

    fn try_from(s: StoredAccount) -> Result<Self, Self::Error> {
        let invalid = |reason: String| InvalidStoredAccount {
            name: s.name.clone(),
            reason,
        };
        let secret = Secret::from_base32(&s.secret).map_err(|e| invalid(e.to_string()))?;
        let algorithm = s
            .algorithm
            .parse()
            .map_err(|e: nidan_otp::hotp::UnknownAlgorithm| invalid(e.to_string()))?;
        let format = match s.digits {
            0 => CodeFormat::Steam,
            n => CodeFormat::Numeric(Digits::new(n).map_err(|e| invalid(e.to_string()))?),
        };
        let kind = match (s.period, s.counter) {
            (Some(period), None) if period > 0 => OtpKind::Totp { period },
            (None, Some(counter)) => OtpKind::Hotp { counter },
            _ => {
                return Err(invalid(
                    "needs either a positive period or a counter".into(),
                ));
            }
        };
        Ok(Self {
            name: s.name,
            issuer: s.issuer,
            label: s.label,
            secret,
            algorithm,
            format,
            kind,
            added_at: s.added_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(kind: OtpKind) -> Account {
        Account {
            name: "Example".into(),
            issuer: Some("Example".into()),
            label: "me@example.com".into(),
            secret: Secret::from_bytes(b"12345678901234567890").unwrap(),
            algorithm: Algorithm::Sha1,
            format: CodeFormat::Numeric(Digits::EIGHT),
            kind,
            added_at: 0,
        }
    }

    #[test]
    fn totp_codes_follow_rfc_6238() {
        let a = account(OtpKind::Totp { period: 30 });
        let shown = a.code_at(59).unwrap();
        assert_eq!(shown.code, "94287082");
        assert_eq!(shown.seconds_left, Some(1));
    }

    #[test]
    fn hotp_codes_advance_the_counter() {
        let mut a = account(OtpKind::Hotp { counter: 0 });
        assert!(a.code_at(0).is_none());
        assert_eq!(a.next_hotp().unwrap().code, "84755224");
        assert_eq!(a.kind, OtpKind::Hotp { counter: 1 });
    }

    #[test]
    fn stored_form_round_trips() {
        for kind in [OtpKind::Totp { period: 45 }, OtpKind::Hotp { counter: 9 }] {
            let a = account(kind);
            let back = Account::try_from(StoredAccount::from(&a)).unwrap();
            assert_eq!(back, a);
        }
    }

    #[test]
    fn imported_names_read_naturally() {
        assert_eq!(
            Account::suggested_name(Some("Amazon"), "me@example.com"),
            "Amazon (me@example.com)"
        );
        assert_eq!(Account::suggested_name(Some("GitHub"), ""), "GitHub");
        assert_eq!(Account::suggested_name(None, "bob"), "bob");
        assert_eq!(Account::suggested_name(Some(" "), " "), "unnamed");
    }
}
