//! The `otpauth://` Key URI format (Google Authenticator's Key-Uri-Format),
//! the text inside every enrolment QR code:
//!
//! ```text
//! otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30
//! ```
//!
//! Parsing is strict about what matters (type, secret, numbers) and lenient
//! about what people and exporters vary (case of the scheme, padding and
//! spacing of the secret, `+` for spaces, unknown parameters such as
//! `image=`). Steam Guard entries are recognised as `otpauth://steam/...` or
//! `encoder=steam`.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::hotp::{Algorithm, CodeFormat, Digits};
use crate::totp::Totp;
use crate::{Hotp, Secret, SecretError};

/// Characters escaped in labels and parameter values: everything except
/// RFC 3986 unreserved characters and `@`, which e-mail labels keep legible.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Counter- or time-based, with the parameter that goes with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpKind {
    /// TOTP with its period in seconds.
    Totp {
        /// Seconds per step (default 30).
        period: u64,
    },
    /// HOTP with the next counter value.
    Hotp {
        /// The counter for the next code.
        counter: u64,
    },
}

/// A parsed or to-be-built `otpauth://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUri {
    /// TOTP or HOTP.
    pub kind: OtpKind,
    /// The shared key.
    pub secret: Secret,
    /// The service (`issuer` parameter, or the label's prefix).
    pub issuer: Option<String>,
    /// The account name, usually an e-mail address. May be empty.
    pub account: String,
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits or Steam.
    pub format: CodeFormat,
}

/// What is wrong with a URI, part by part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Does not start with `otpauth://`.
    #[error("not an otpauth:// URI")]
    NotOtpauth,
    /// The type is not `totp`, `hotp` or `steam`.
    #[error("unknown OTP type '{0}'; expected totp or hotp")]
    UnknownType(String),
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8.
    #[error("bad percent-encoding in the {0}")]
    BadPercentEncoding(&'static str),
    /// A parameter appears twice.
    #[error("the parameter '{0}' appears more than once")]
    DuplicateParameter(String),
    /// No `secret=` parameter.
    #[error("the URI has no secret parameter")]
    MissingSecret,
    /// The secret is not valid Base32.
    #[error("the secret is invalid: {0}")]
    BadSecret(#[from] SecretError),
    /// An unknown `algorithm=`.
    #[error("unknown algorithm '{0}'; expected SHA1, SHA256 or SHA512")]
    BadAlgorithm(String),
    /// `digits=` is not 6, 7 or 8.
    #[error("digits must be 6, 7 or 8, not '{0}'")]
    BadDigits(String),
    /// `period=` is not a positive whole number of seconds.
    #[error("period must be a positive number of seconds, not '{0}'")]
    BadPeriod(String),
    /// An HOTP URI without `counter=`.
    #[error("an hotp URI needs a counter parameter")]
    MissingCounter,
    /// `counter=` is not a whole number.
    #[error("counter must be a whole number, not '{0}'")]
    BadCounter(String),
}

impl KeyUri {
    /// A TOTP URI with the usual parameters (SHA-1, 6 digits, 30 s).
    pub fn new_totp(secret: Secret, issuer: Option<String>, account: String) -> Self {
        Self {
            kind: OtpKind::Totp { period: 30 },
            secret,
            issuer,
            account,
            algorithm: Algorithm::Sha1,
            format: CodeFormat::default(),
        }
    }

    /// Parses a URI; see the module documentation for what is accepted.
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = text.trim();
        let rest = strip_prefix_ignore_case(text, "otpauth://").ok_or(UriError::NotOtpauth)?;
        let (kind_text, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let (label_text, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut steam = match kind_text.to_ascii_lowercase().as_str() {
            "totp" => false,
            "hotp" => false,
            "steam" => true,
            _ => return Err(UriError::UnknownType(kind_text.to_owned())),
        };
        let hotp = kind_text.eq_ignore_ascii_case("hotp");

        let label = decode(label_text, false, "label")?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer.trim().to_owned()), account.trim_start()),
            None => (None, label.as_str()),
        };

        let params = Params::parse(query)?;
        let secret_text = params.get("secret").ok_or(UriError::MissingSecret)?;
        let secret = Secret::from_base32(secret_text)?;
        let issuer = params
            .get("issuer")
            .map(str::to_owned)
            .or(label_issuer)
            .filter(|i| !i.is_empty());
        let algorithm = match params.get("algorithm") {
            None => Algorithm::Sha1,
            Some(a) => a
                .parse()
                .map_err(|_| UriError::BadAlgorithm(a.to_owned()))?,
        };
        if params
            .get("encoder")
            .is_some_and(|e| e.eq_ignore_ascii_case("steam"))
        {
            steam = true;
        }
        let format = if steam {
            CodeFormat::Steam
        } else {
            match params.get("digits") {
                None => CodeFormat::default(),
                Some(d) => d
                    .parse::<u32>()
                    .ok()
                    .and_then(|n| Digits::new(n).ok())
                    .map(CodeFormat::Numeric)
                    .ok_or_else(|| UriError::BadDigits(d.to_owned()))?,
            }
        };
        let kind = if hotp {
            let c = params.get("counter").ok_or(UriError::MissingCounter)?;
            let counter = c
                .parse::<u64>()
                .map_err(|_| UriError::BadCounter(c.to_owned()))?;
            OtpKind::Hotp { counter }
        } else {
            let period = match params.get("period") {
                None => 30,
                Some(p) => p
                    .parse::<u64>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| UriError::BadPeriod(p.to_owned()))?,
            };
            OtpKind::Totp { period }
        };
        Ok(Self {
            kind,
            secret,
            issuer,
            account: account.to_owned(),
            algorithm,
            format,
        })
    }

    /// The label as shown to people: `Issuer:account`, or just the account.
    pub fn label(&self) -> String {
        match &self.issuer {
            Some(issuer) => format!("{issuer}:{}", self.account),
            None => self.account.clone(),
        }
    }

    /// The TOTP configuration, for a time-based URI.
    pub fn totp(&self) -> Option<Totp> {
        match self.kind {
            OtpKind::Totp { period } => Totp::new(self.algorithm, self.format, period).ok(),
            OtpKind::Hotp { .. } => None,
        }
    }

    /// The HOTP configuration and next counter, for a counter-based URI.
    pub fn hotp(&self) -> Option<(Hotp, u64)> {
        match self.kind {
            OtpKind::Hotp { counter } => Some((
                Hotp {
                    algorithm: self.algorithm,
                    format: self.format,
                },
                counter,
            )),
            OtpKind::Totp { .. } => None,
        }
    }

    /// The URI text. It contains the secret, hence `Zeroizing`.
    pub fn to_uri(&self) -> Zeroizing<String> {
        let kind = match self.kind {
            OtpKind::Totp { .. } => "totp",
            OtpKind::Hotp { .. } => "hotp",
        };
        let mut uri = Zeroizing::new(format!("otpauth://{kind}/"));
        if let Some(issuer) = &self.issuer {
            uri.push_str(&encode(issuer));
            uri.push(':');
        }
        uri.push_str(&encode(&self.account));
        uri.push_str("?secret=");
        uri.push_str(&self.secret.to_base32());
        if let Some(issuer) = &self.issuer {
            uri.push_str("&issuer=");
            uri.push_str(&encode(issuer));
        }
        uri.push_str("&algorithm=");
        uri.push_str(self.algorithm.as_str());
        match self.format {
            CodeFormat::Numeric(d) => uri.push_str(&format!("&digits={}", d.get())),
            CodeFormat::Steam => uri.push_str("&digits=5&encoder=steam"),
        }
        match self.kind {
            OtpKind::Totp { period } => uri.push_str(&format!("&period={period}")),
            OtpKind::Hotp { counter } => uri.push_str(&format!("&counter={counter}")),
        }
        uri
    }
}

impl FromStr for KeyUri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Prints the label only: the secret is never displayed.
impl fmt::Display for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Query parameters, decoded, with names lowercased.
struct Params(Vec<(String, Zeroizing<String>)>);

impl Params {
    fn parse(query: &str) -> Result<Self, UriError> {
        let mut params: Vec<(String, Zeroizing<String>)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name, true, "parameter names")?.to_ascii_lowercase();
            let value = Zeroizing::new(decode(value, true, "parameter values")?);
            if params.iter().any(|(n, _)| *n == name) {
                return Err(UriError::DuplicateParameter(name));
            }
            params.push((name, value));
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Percent-decodes, refusing stray `%` and non-UTF-8 bytes. In the query,
/// `+` means a space, as form encoders write it.
fn decode(text: &str, plus_is_space: bool, part: &'static str) -> Result<String, UriError> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(UriError::BadPercentEncoding(part));
            }
        }
    }
    let spaced;
    let text = if plus_is_space {
        spaced = text.replace('+', " ");
        spaced.as_str()
    } else {
        text
    };
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UriError::BadPercentEncoding(part))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_googles_example() {
        let uri = KeyUri::parse(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        )
        .unwrap();
        assert_eq!(uri.issuer.as_deref(), Some("Example"));
        assert_eq!(uri.account, "alice@google.com");
        assert_eq!(uri.kind, OtpKind::Totp { period: 30 });
        assert_eq!(uri.format, CodeFormat::default());
        assert_eq!(uri.algorithm, Algorithm::Sha1);
    }

    #[test]
    fn issuer_comes_from_the_label_when_the_parameter_is_missing() {
        let uri =
            KeyUri::parse("otpauth://totp/ACME%20Co:%20john@example.com?secret=JBSWY3DPEHPK3PXP")
                .unwrap();
        assert_eq!(uri.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(uri.account, "john@example.com");
    }

    #[test]
    fn builds_what_it_parses() {
        let uri = KeyUri::parse(
            "OTPAUTH://hotp/Big%20Bank:me?secret=jbsw+y3dp+ehpk+3pxp&algorithm=sha512&digits=8&counter=7&image=x",
        )
        .unwrap();
        assert_eq!(uri.kind, OtpKind::Hotp { counter: 7 });
        assert_eq!(
            uri.to_uri().as_str(),
            "otpauth://hotp/Big%20Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Big%20Bank&algorithm=SHA512&digits=8&counter=7"
        );
    }

    #[test]
    fn steam_entries_are_recognised() {
        for text in [
            "otpauth://steam/Steam:gabe?secret=JBSWY3DPEHPK3PXP&issuer=Steam",
            "otpauth://totp/Steam:gabe?secret=JBSWY3DPEHPK3PXP&encoder=steam&digits=5",
        ] {
            let uri = KeyUri::parse(text).unwrap();
            assert_eq!(uri.format, CodeFormat::Steam, "{text}");
            assert_eq!(KeyUri::parse(&uri.to_uri()).unwrap(), uri);
        }
    }

    #[test]
    fn every_malformed_part_has_its_own_error() {
        let cases: &[(&str, UriError)] = &[
            ("https://example.com", UriError::NotOtpauth),
            (
                "otpauth://motp/x?secret=AA",
                UriError::UnknownType("motp".into()),
            ),
            (
                "otpauth://totp/a%zz?secret=JBSWY3DP",
                UriError::BadPercentEncoding("label"),
            ),
            ("otpauth://totp/a?issuer=x", UriError::MissingSecret),
            (
                "otpauth://totp/a?secret=JBSWY3DP&secret=JBSWY3DP",
                UriError::DuplicateParameter("secret".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DP&algorithm=MD5",
                UriError::BadAlgorithm("MD5".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DP&digits=4",
                UriError::BadDigits("4".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DP&period=0",
                UriError::BadPeriod("0".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DP&period=x",
                UriError::BadPeriod("x".into()),
            ),
            ("otpauth://hotp/a?secret=JBSWY3DP", UriError::MissingCounter),
            (
                "otpauth://hotp/a?secret=JBSWY3DP&counter=-1",
                UriError::BadCounter("-1".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(KeyUri::parse(text).as_ref(), Err(expected), "{text}");
        }
        assert!(matches!(
            KeyUri::parse("otpauth://totp/a?secret=JBSW0"),
            Err(UriError::BadSecret(SecretError::InvalidCharacter {
                character: '0',
                ..
            }))
        ));
    }

    #[test]
    fn display_never_shows_the_secret() {
        let uri = KeyUri::parse("otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(uri.to_string(), "X:y");
        assert!(!format!("{uri:?}").contains("JBSW"));
    }
}
