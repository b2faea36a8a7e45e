//! Phone numbers as people type them (SPEC §3.1): `090-1234-5678`,
//! `09012345678`, `+81 90 1234 5678`, even with full-width digits from a
//! Japanese IME. Parsed with libphonenumber's metadata (the `phonenumber`
//! crate) against a default region, stored as E.164, shown masked, and
//! classified so that numbers that cannot receive texts — fixed lines and
//! VoIP such as Japan's `050` (seeds 001 and 002) — are offered a call.

use std::fmt;

use phonenumber::country::Id;
use phonenumber::{Mode, Type};

/// What kind of line a number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A mobile phone: texts and calls.
    Mobile,
    /// Regions where mobile and fixed numbers look alike (USA, Canada):
    /// texts are attempted.
    FixedOrMobile,
    /// A fixed line: calls only.
    FixedLine,
    /// Voice over IP (Japan's 050): calls only.
    Voip,
    /// Free-phone, premium, shared-cost and other service numbers.
    Service,
    /// Anything else the metadata knows (pagers, personal numbers...).
    Other,
}

/// A valid phone number, always in E.164.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    kind: LineKind,
}

/// Why a typed number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was typed.
    #[error("enter a phone number")]
    Empty,
    /// Letters or symbols that are not part of a phone number.
    #[error("a phone number has only digits, spaces, hyphens, parentheses and a leading +")]
    NotANumber,
    /// Digits that form no number in service (too short, too long, no such range).
    #[error("this is not a valid phone number; check the digits and the country code")]
    Invalid,
    /// Free-phone, premium-rate and similar numbers cannot receive codes.
    #[error("this is a service number (such as 0120 or 0570), which cannot receive codes")]
    ServiceNumber,
    /// The configured default region is not a region code.
    #[error("unknown region '{0}' in the configuration")]
    UnknownRegion(String),
}

/// Maps full-width digits and symbols (U+FF01..U+FF5E) to ASCII.
fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' => '-',
        '\u{3000}' => ' ',
        _ => c,
    }
}

impl PhoneNumber {
    /// Parses what a person typed; national formats use `default_region`
    /// (ISO 3166 code such as `JP`).
    pub fn parse(input: &str, default_region: &str) -> Result<Self, PhoneError> {
        let folded: String = input.trim().chars().map(fold_full_width).collect();
        if folded.is_empty() {
            return Err(PhoneError::Empty);
        }
        let allowed =
            |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '+');
        if !folded.chars().all(allowed) || folded.chars().skip(1).any(|c| c == '+') {
            return Err(PhoneError::NotANumber);
        }
        let region: Id = default_region
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| PhoneError::UnknownRegion(default_region.to_owned()))?;
        let number = phonenumber::parse(Some(region), &folded).map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        let kind = match number.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile => LineKind::Mobile,
            Type::FixedLineOrMobile => LineKind::FixedOrMobile,
            Type::FixedLine => LineKind::FixedLine,
            Type::Voip => LineKind::Voip,
            Type::TollFree | Type::PremiumRate | Type::SharedCost | Type::Uan | Type::Voicemail => {
                return Err(PhoneError::ServiceNumber);
            }
            _ => LineKind::Other,
        };
        Ok(Self {
            e164: number.format().mode(Mode::E164).to_string(),
            kind,
        })
    }

    /// A number already stored in E.164 (from the database). Its kind is
    /// recomputed from the metadata.
    pub fn from_e164(e164: &str) -> Result<Self, PhoneError> {
        if !e164.starts_with('+') {
            return Err(PhoneError::Invalid);
        }
        Self::parse(e164, "US")
    }

    /// The E.164 form, e.g. `+819012345678`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The kind of line.
    pub fn kind(&self) -> LineKind {
        self.kind
    }

    /// Whether a text message can be delivered (mobile, or a region where
    /// mobile and fixed numbers cannot be told apart).
    pub fn can_receive_sms(&self) -> bool {
        matches!(self.kind, LineKind::Mobile | LineKind::FixedOrMobile)
    }

    /// The last two digits, as the code page names a phone ("ending in 78").
    pub fn last_two(&self) -> &str {
        self.e164
            .get(self.e164.len().saturating_sub(2)..)
            .unwrap_or("")
    }

    /// The number masked for display: `•••-••••-5678`.
    pub fn masked(&self) -> String {
        let last4 = self
            .e164
            .get(self.e164.len().saturating_sub(4)..)
            .unwrap_or("");
        format!("•••-••••-{last4}")
    }

    /// The country calling code's digits after `+` (`81` for Japan), for
    /// per-country send caps and the allow-list.
    pub fn country_code(&self) -> String {
        phonenumber::parse(None, &self.e164)
            .map(|n| n.code().value().to_string())
            .unwrap_or_default()
    }
}

/// Shows the masked form: numbers are personal data and stay out of logs.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({}, {:?})", self.masked(), self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_numbers_as_people_type_them() {
        let cases: &[(&str, &str, LineKind)] = &[
            ("090-1234-5678", "+819012345678", LineKind::Mobile),
            ("09012345678", "+819012345678", LineKind::Mobile),
            ("+81 90 1234 5678", "+819012345678", LineKind::Mobile),
            (
                "０９０－１２３４－５６７８",
                "+819012345678",
                LineKind::Mobile,
            ),
            ("080 1234 5678", "+818012345678", LineKind::Mobile),
            ("070-1234-5678", "+817012345678", LineKind::Mobile),
            ("03-1234-5678", "+81312345678", LineKind::FixedLine),
            ("(06) 1234-5678", "+81612345678", LineKind::FixedLine),
            ("050-1234-5678", "+815012345678", LineKind::Voip),
        ];
        for (typed, e164, kind) in cases {
            let number = PhoneNumber::parse(typed, "JP").unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(number.e164(), *e164, "{typed}");
            assert_eq!(number.kind(), *kind, "{typed}");
        }
    }

    #[test]
    fn only_mobiles_get_texts() {
        assert!(
            PhoneNumber::parse("090-1234-5678", "JP")
                .unwrap()
                .can_receive_sms()
        );
        assert!(
            !PhoneNumber::parse("03-1234-5678", "JP")
                .unwrap()
                .can_receive_sms()
        );
        assert!(
            !PhoneNumber::parse("050-1234-5678", "JP")
                .unwrap()
                .can_receive_sms()
        );
    }

    #[test]
    fn foreign_numbers_and_the_default_region() {
        let uk = PhoneNumber::parse("+44 7911 123456", "JP").unwrap();
        assert_eq!((uk.e164(), uk.kind()), ("+447911123456", LineKind::Mobile));
        assert_eq!(uk.country_code(), "44");
        let us = PhoneNumber::parse("(202) 555-0143", "US").unwrap();
        assert_eq!(us.e164(), "+12025550143");
        assert!(us.can_receive_sms(), "US numbers may be mobile");
        assert_eq!(
            PhoneNumber::parse("090-1234-5678", "JP")
                .unwrap()
                .country_code(),
            "81"
        );
    }

    #[test]
    fn bad_input_gets_a_specific_error() {
        assert_eq!(PhoneNumber::parse("  ", "JP"), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("090-abcd-5678", "JP"),
            Err(PhoneError::NotANumber)
        );
        assert_eq!(
            PhoneNumber::parse("81+90", "JP"),
            Err(PhoneError::NotANumber)
        );
        assert_eq!(
            PhoneNumber::parse("090-1234", "JP"),
            Err(PhoneError::Invalid)
        );
        assert_eq!(
            PhoneNumber::parse("0120-123-456", "JP"),
            Err(PhoneError::ServiceNumber)
        );
        assert_eq!(
            PhoneNumber::parse("090-1234-5678", "XX"),
            Err(PhoneError::UnknownRegion("XX".into()))
        );
    }

    #[test]
    fn shown_masked_and_named_by_the_last_two_digits() {
        let n = PhoneNumber::parse("090-1234-5678", "JP").unwrap();
        assert_eq!(n.masked(), "•••-••••-5678");
        assert_eq!(n.last_two(), "78");
        assert!(!format!("{n:?}").contains("1234"));
        assert_eq!(PhoneNumber::from_e164("+819012345678").unwrap(), n);
    }
}
