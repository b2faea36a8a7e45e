//! The shared key of an authenticator ([`Secret`]) and its Base32 text form.
//!
//! People copy keys from sites that show them as `ABCD EFGH IJKL ...`, paste
//! them from e-mails in lowercase, type them with an IME that produces
//! full-width letters, or drop the `=` padding. All of that is accepted;
//! anything else is refused with an error that says which character, where,
//! and why.

use std::fmt;
use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Base32 (RFC 4648) without padding, tolerant of non-zero trailing bits,
/// which some generators leave in keys whose length is not a multiple of 5.
static BASE32: LazyLock<Option<Encoding>> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.check_trailing_bits = false;
    spec.encoding().ok()
});

/// A shared HMAC key. Always holds between 1 and [`Secret::MAX_LEN`] bytes.
///
/// It is zeroized on drop, compares in constant time, and its `Debug`
/// output never shows the key.
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Nothing but spaces, hyphens or padding was given.
    #[error("the key is empty")]
    Empty,
    /// A character outside the Base32 alphabet (A–Z and 2–7).
    #[error("{}", invalid_character_message(*.character, *.position))]
    InvalidCharacter {
        /// The offending character as typed.
        character: char,
        /// Its 1-based position in the text as typed.
        position: usize,
    },
    /// `=` somewhere other than at the end.
    #[error("'=' padding may only appear at the end of the key (position {position})")]
    MisplacedPadding {
        /// 1-based position of the first misplaced `=`.
        position: usize,
    },
    /// A symbol count no Base32 encoding produces (1, 3 or 6 modulo 8).
    #[error(
        "the key has {symbols} letters and digits, which is not a whole Base32 key; a character is probably missing or extra"
    )]
    InvalidLength {
        /// Symbols left after removing spaces, hyphens and padding.
        symbols: usize,
    },
    /// Longer than [`Secret::MAX_LEN`] bytes.
    #[error("the key is {bytes} bytes long; at most {max} are accepted", max = Secret::MAX_LEN)]
    TooLong {
        /// Decoded length.
        bytes: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Rng(String),
}

fn invalid_character_message(character: char, position: usize) -> String {
    let hint = match character {
        '0' => " (zero; did you mean the letter O?)",
        '1' => " (one; did you mean the letter I or L?)",
        '8' => " (eight; did you mean the letter B?)",
        '9' => " (nine; Base32 has only the digits 2 to 7)",
        _ => "",
    };
    format!(
        "'{character}' at position {position} is not a Base32 character{hint}; keys use the letters A-Z and the digits 2-7"
    )
}

impl Secret {
    /// Bytes in a generated key: 160 bits, as RFC 4226 recommends.
    pub const GENERATED_LEN: usize = 20;
    /// The longest key accepted (SHA-512's block size is 128 bytes; this
    /// leaves room for anything seen in the wild).
    pub const MAX_LEN: usize = 256;

    /// A new random 160-bit key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| SecretError::Rng(e.to_string()))?;
        Ok(Self { bytes })
    }

    /// A key from raw bytes (1 to [`Secret::MAX_LEN`]).
    ///
    /// Short keys are accepted because some services still issue them and
    /// an authenticator must be able to hold what it is given; a server
    /// generating keys should use [`Secret::generate`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(SecretError::TooLong { bytes: bytes.len() });
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Parses Base32 as people type or paste it: spaces (including the
    /// full-width space), hyphens and dots are ignored, lowercase and
    /// full-width letters are folded, trailing `=` padding is optional.
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let mut symbols = Zeroizing::new(String::with_capacity(text.len()));
        let mut padding_from: Option<usize> = None;
        for (index, raw) in text.chars().enumerate() {
            let position = index + 1;
            let c = fold_full_width(raw);
            if c.is_whitespace() || c == '-' || c == '.' {
                continue;
            }
            if c == '=' {
                padding_from.get_or_insert(position);
                continue;
            }
            if let Some(at) = padding_from {
                return Err(SecretError::MisplacedPadding { position: at });
            }
            let upper = c.to_ascii_uppercase();
            if !matches!(upper, 'A'..='Z' | '2'..='7') {
                return Err(SecretError::InvalidCharacter {
                    character: raw,
                    position,
                });
            }
            symbols.push(upper);
        }
        if symbols.is_empty() {
            return Err(SecretError::Empty);
        }
        if matches!(symbols.len() % 8, 1 | 3 | 6) {
            return Err(SecretError::InvalidLength {
                symbols: symbols.len(),
            });
        }
        let encoding = BASE32.as_ref().ok_or(SecretError::Empty)?;
        let bytes = Zeroizing::new(encoding.decode(symbols.as_bytes()).map_err(|_| {
            SecretError::InvalidLength {
                symbols: symbols.len(),
            }
        })?);
        Self::from_bytes(&bytes)
    }

    /// The raw key bytes, for HMAC and for encryption at rest.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bytes in the key.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a `Secret` is never empty. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Unpadded uppercase Base32, as `otpauth://` URIs carry it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(match BASE32.as_ref() {
            Some(encoding) => encoding.encode(&self.bytes),
            None => data_encoding::BASE32_NOPAD.encode(&self.bytes),
        })
    }

    /// Base32 in groups of four separated by spaces (`ABCD EFGH IJKL ...`),
    /// the way a person copies it from a screen by hand.
    pub fn to_base32_grouped(&self) -> Zeroizing<String> {
        let plain = self.to_base32();
        let mut grouped = Zeroizing::new(String::with_capacity(plain.len() * 5 / 4 + 1));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        grouped
    }
}

/// Maps full-width ASCII (U+FF01..U+FF5E) and the ideographic space to their
/// ASCII forms, so keys typed with a Japanese IME still parse.
pub(crate) fn fold_full_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice()).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([REDACTED; {} bytes])", self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lenient_alphabet_builds() {
        assert!(BASE32.is_some());
    }

    #[test]
    fn accepts_what_people_type() {
        let canonical = Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        for typed in [
            "jbswy3dpehpk3pxp",
            "JBSW Y3DP EHPK 3PXP",
            "jbsw-y3dp-ehpk-3pxp",
            "  JBSWY3DPEHPK3PXP\n",
            "ＪＢＳＷ　Ｙ３ＤＰ　ＥＨＰＫ　３ＰＸＰ",
        ] {
            assert_eq!(Secret::from_base32(typed).unwrap(), canonical, "{typed}");
        }
    }

    #[test]
    fn padding_is_optional_but_only_at_the_end() {
        let a = Secret::from_base32("MZXW6===").unwrap();
        let b = Secret::from_base32("mzxw6").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose(), b"foo");
        assert_eq!(
            Secret::from_base32("MZ=XW6"),
            Err(SecretError::MisplacedPadding { position: 3 })
        );
    }

    #[test]
    fn grouped_output_is_four_by_four() {
        let s = Secret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(
            s.to_base32_grouped().as_str(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Secret::from_bytes(b"12345678901234567890").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("GEZD"));
        assert!(!shown.contains("1234"));
        assert_eq!(shown, "Secret([REDACTED; 20 bytes])");
    }

    #[test]
    fn generated_keys_are_160_bits_and_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
