//! HMAC-based one-time passwords (RFC 4226) and the choices every OTP code
//! shares: the hash [`Algorithm`], the number of [`Digits`] and the
//! [`CodeFormat`] (decimal digits, or Steam's five characters).

use std::fmt;
use std::str::FromStr;

use hmac::{EagerHash, Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::Secret;

/// The HMAC hash function of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1: the default, and the only one many apps support.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// HMAC of `message` under `key`.
    fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn run<D: EagerHash>(key: &[u8], message: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length (long ones are hashed first), so
            // `new_from_slice` cannot fail; an empty MAC would fail to match.
            match <Hmac<D> as KeyInit>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(message);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(key, message),
            Self::Sha256 => run::<sha2::Sha256>(key, message),
            Self::Sha512 => run::<sha2::Sha512>(key, message),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm name that is not SHA1, SHA256 or SHA512.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm '{0}'; expected SHA1, SHA256 or SHA512")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Accepts `SHA1`, `sha-256`, `HmacSHA512` and the like.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match folded.trim_start_matches("HMAC") {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// The number of decimal digits in a code: 6, 7 or 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits(u8);

/// A digit count outside 6 to 8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("codes have 6 to 8 digits, not {0}")]
pub struct UnsupportedDigits(pub u32);

impl Digits {
    /// Six digits, what nearly every service uses.
    pub const SIX: Self = Self(6);
    /// Eight digits, used by the RFC 6238 test vectors and some banks.
    pub const EIGHT: Self = Self(8);

    /// Checks that `n` is 6, 7 or 8.
    pub fn new(n: u32) -> Result<Self, UnsupportedDigits> {
        match n {
            6..=8 => Ok(Self(n as u8)),
            _ => Err(UnsupportedDigits(n)),
        }
    }

    /// The count as a number.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

/// What a code looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// The RFC 4226 decimal code.
    Numeric(Digits),
    /// Steam Guard: five characters from a 26-symbol alphabet.
    Steam,
}

impl Default for CodeFormat {
    fn default() -> Self {
        Self::Numeric(Digits::SIX)
    }
}

impl CodeFormat {
    /// Length of a code in characters.
    pub fn len(self) -> usize {
        match self {
            Self::Numeric(d) => d.0 as usize,
            Self::Steam => STEAM_ALPHABET.len().min(5),
        }
    }

    /// Always false; present for API symmetry with [`CodeFormat::len`].
    pub fn is_empty(self) -> bool {
        false
    }

    /// Turns a 31-bit dynamically truncated value into a code.
    fn render(self, value: u32) -> String {
        match self {
            Self::Numeric(d) => {
                let modulus = 10u32.pow(d.get());
                format!("{:0width$}", value % modulus, width = d.0 as usize)
            }
            Self::Steam => {
                let mut rest = value as usize;
                let mut code = String::with_capacity(5);
                for _ in 0..5 {
                    let symbol = STEAM_ALPHABET.get(rest % STEAM_ALPHABET.len()).copied();
                    code.push(char::from(symbol.unwrap_or(b'2')));
                    rest /= STEAM_ALPHABET.len();
                }
                code
            }
        }
    }

    /// Normalises what a person typed: folds full-width digits (a Japanese
    /// IME left on), drops spaces and hyphens, folds Steam codes to uppercase, and checks length and characters.
    pub fn normalize(self, typed: &str) -> Result<String, VerifyError> {
        let code: String = typed
            .chars()
            .map(crate::secret::fold_full_width)
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let well_formed = code.chars().count() == self.len()
            && match self {
                Self::Numeric(_) => code.bytes().all(|b| b.is_ascii_digit()),
                Self::Steam => code.bytes().all(|b| STEAM_ALPHABET.contains(&b)),
            };
        if well_formed {
            Ok(code)
        } else {
            Err(VerifyError::Malformed {
                expected_len: self.len(),
                steam: matches!(self, Self::Steam),
            })
        }
    }
}

const STEAM_ALPHABET: &[u8; 26] = b"23456789BCDFGHJKMNPQRTVWXY";

/// Why a code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The text cannot be a code at all (wrong length or characters).
    #[error("{}", if *.steam { format!("a code is {expected_len} letters and digits") } else { format!("a code is {expected_len} digits") })]
    Malformed {
        /// How many characters a code has.
        expected_len: usize,
        /// Whether this is a Steam code (letters and digits).
        steam: bool,
    },
    /// Well formed, but not the code for any step or counter in the window.
    #[error("the code is not correct")]
    Mismatch,
}

/// The RFC 4226 dynamic truncation of an HMAC value to 31 bits.
fn truncate(mac: &[u8]) -> u32 {
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    match mac.get(offset..offset + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a & 0x7f, b, c, d]),
        _ => 0,
    }
}

/// The code for one counter value, the core of HOTP and TOTP.
pub(crate) fn code_for(
    secret: &Secret,
    algorithm: Algorithm,
    format: CodeFormat,
    counter: u64,
) -> String {
    let mac = algorithm.mac(secret.expose(), &counter.to_be_bytes());
    format.render(truncate(&mac))
}

/// Compares a normalised code with every candidate counter in constant time
/// per candidate, returning the first counter (in the given order) that
/// matched. Every candidate is computed, so timing does not depend on where
/// the match is.
pub(crate) fn find_match(
    secret: &Secret,
    algorithm: Algorithm,
    format: CodeFormat,
    code: &str,
    candidates: impl IntoIterator<Item = u64>,
) -> Option<u64> {
    let mut matched = None;
    for counter in candidates {
        let expected = code_for(secret, algorithm, format, counter);
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && matched.is_none() {
            matched = Some(counter);
        }
    }
    matched
}

/// An HOTP (counter-based) configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hotp {
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits or Steam.
    pub format: CodeFormat,
}

impl Hotp {
    /// The code for `counter`.
    pub fn generate(&self, secret: &Secret, counter: u64) -> String {
        code_for(secret, self.algorithm, self.format, counter)
    }

    /// Checks `code` against `counter` and up to `look_ahead` counters after
    /// it (RFC 4226 §7.4 resynchronisation). Returns the counter that
    /// matched; the caller stores `matched + 1` as the next counter.
    pub fn verify(
        &self,
        secret: &Secret,
        code: &str,
        counter: u64,
        look_ahead: u64,
    ) -> Result<u64, VerifyError> {
        let code = self.format.normalize(code)?;
        let last = counter.saturating_add(look_ahead);
        find_match(secret, self.algorithm, self.format, &code, counter..=last)
            .ok_or(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_forgiving() {
        for (text, algorithm) in [
            ("SHA1", Algorithm::Sha1),
            ("sha-1", Algorithm::Sha1),
            ("HmacSHA256", Algorithm::Sha256),
            ("sha512", Algorithm::Sha512),
        ] {
            assert_eq!(text.parse::<Algorithm>(), Ok(algorithm));
        }
        assert!("MD5".parse::<Algorithm>().is_err());
    }

    #[test]
    fn digits_are_six_to_eight() {
        assert!(Digits::new(5).is_err());
        assert!(Digits::new(9).is_err());
        assert_eq!(Digits::new(7).map(Digits::get), Ok(7));
    }

    #[test]
    fn typed_codes_are_normalised() {
        let six = CodeFormat::default();
        assert_eq!(six.normalize(" 123 456 ").as_deref(), Ok("123456"));
        assert_eq!(six.normalize("123-456").as_deref(), Ok("123456"));
        assert!(six.normalize("12345").is_err());
        assert!(six.normalize("12345a").is_err());
        assert_eq!(six.normalize("１２３　４５６").as_deref(), Ok("123456"));
        assert_eq!(CodeFormat::Steam.normalize("b2c3d").as_deref(), Ok("B2C3D"));
        assert!(CodeFormat::Steam.normalize("AAAAA").is_err());
    }

    #[test]
    fn malformed_message_says_how_many_digits() {
        let err = CodeFormat::default().normalize("12").unwrap_err();
        assert_eq!(err.to_string(), "a code is 6 digits");
    }
}
