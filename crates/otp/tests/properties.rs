//! Property tests: round trips of Base32 and `otpauth://` URIs, and parsers
//! that never panic on arbitrary input.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret, Totp, Window};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn format() -> impl Strategy<Value = CodeFormat> {
    prop_oneof![
        (6u32..=8).prop_map(|d| CodeFormat::Numeric(Digits::new(d).unwrap())),
        Just(CodeFormat::Steam),
    ]
}

fn label_part() -> impl Strategy<Value = String> {
    // Colons separate issuer and account; edge spaces are trimmed on parse.
    "[^:\\x00-\\x1f]{1,24}".prop_filter("no edge spaces", |s| s.trim() == s)
}

proptest! {
    #[test]
    fn base32_round_trips_in_every_form(bytes in proptest::collection::vec(any::<u8>(), 1..64)) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let plain = secret.to_base32();
        prop_assert_eq!(Secret::from_base32(&plain).unwrap().expose().to_vec(), bytes.clone());
        prop_assert_eq!(Secret::from_base32(&secret.to_base32_grouped()).unwrap().expose().to_vec(), bytes.clone());
        prop_assert_eq!(Secret::from_base32(&plain.to_lowercase()).unwrap().expose().to_vec(), bytes.clone());
    }

    #[test]
    fn base32_parsing_never_panics(text in "\\PC{0,80}") {
        let _ = Secret::from_base32(&text);
    }

    #[test]
    fn uri_round_trips(
        bytes in proptest::collection::vec(any::<u8>(), 10..40),
        issuer in proptest::option::of(label_part()),
        account in label_part(),
        algorithm in algorithm(),
        format in format(),
        hotp in any::<bool>(),
        number in 1u64..1_000_000,
    ) {
        let kind = if hotp { OtpKind::Hotp { counter: number } } else { OtpKind::Totp { period: number } };
        let uri = KeyUri {
            kind,
            secret: Secret::from_bytes(&bytes).unwrap(),
            issuer,
            account,
            algorithm,
            format,
        };
        let text = uri.to_uri();
        prop_assert_eq!(KeyUri::parse(&text).unwrap(), uri);
    }

    #[test]
    fn uri_parsing_never_panics(text in "(otpauth://(totp|hotp|steam)/)?\\PC{0,120}") {
        let _ = KeyUri::parse(&text);
    }

    #[test]
    fn a_fresh_code_verifies_at_its_own_step(
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
        algorithm in algorithm(),
        format in format(),
        period in 1u64..300,
        time in 0u64..10_000_000_000,
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let totp = Totp::new(algorithm, format, period).unwrap();
        let code = totp.generate(&secret, time);
        prop_assert_eq!(code.len(), format.len());
        prop_assert_eq!(totp.verify(&secret, &code, time, Window::STRICT), Ok(totp.step_at(time)));
    }

    #[test]
    fn code_verification_never_panics(code in "\\PC{0,20}", time in any::<u64>()) {
        let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
        let _ = Totp::default().verify(&secret, &code, time, Window::symmetric(2));
    }
}
