//! Every test vector of RFC 4226 Appendix D and RFC 6238 Appendix B.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

use nidan_otp::{Algorithm, CodeFormat, Digits, Hotp, Secret, Step, Totp, Window};

#[test]
fn rfc4226_appendix_d_hotp_values() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let hotp = Hotp::default();
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(
            hotp.generate(&secret, counter as u64),
            *code,
            "counter {counter}"
        );
    }
}

#[test]
fn rfc4226_look_ahead_returns_the_counter_that_matched() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let hotp = Hotp::default();
    assert_eq!(hotp.verify(&secret, "969429", 0, 5), Ok(3));
    assert!(hotp.verify(&secret, "969429", 0, 2).is_err());
    assert!(hotp.verify(&secret, "755224", 1, 10).is_err());
}

fn rfc6238_secret(algorithm: Algorithm) -> Secret {
    let seed = match algorithm {
        Algorithm::Sha1 => &b"12345678901234567890"[..],
        Algorithm::Sha256 => &b"12345678901234567890123456789012"[..],
        Algorithm::Sha512 => {
            &b"1234567890123456789012345678901234567890123456789012345678901234"[..]
        }
    };
    Secret::from_bytes(seed).unwrap()
}

#[test]
fn rfc6238_appendix_b_totp_values() {
    let table: &[(u64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];
    for &(time, sha1, sha256, sha512) in table {
        for (algorithm, expected) in [
            (Algorithm::Sha1, sha1),
            (Algorithm::Sha256, sha256),
            (Algorithm::Sha512, sha512),
        ] {
            let totp = Totp::new(algorithm, CodeFormat::Numeric(Digits::EIGHT), 30).unwrap();
            let secret = rfc6238_secret(algorithm);
            assert_eq!(
                totp.generate(&secret, time),
                expected,
                "{algorithm} at {time}"
            );
            assert_eq!(
                totp.verify(&secret, expected, time, Window::STRICT),
                Ok(totp.step_at(time)),
                "{algorithm} at {time}"
            );
        }
    }
}

#[test]
fn rfc6238_step_numbers_match_the_table() {
    // The "Value of T (hex)" column of Appendix B.
    let totp = Totp::default();
    assert_eq!(totp.step_at(59), Step(0x1));
    assert_eq!(totp.step_at(1111111109), Step(0x23523EC));
    assert_eq!(totp.step_at(1234567890), Step(0x273EF07));
    assert_eq!(totp.step_at(20000000000), Step(0x27BC86AA));
}

#[test]
fn six_digit_codes_are_the_last_six_of_the_eight() {
    let secret = rfc6238_secret(Algorithm::Sha1);
    assert_eq!(Totp::default().generate(&secret, 59), "287082");
    let seven = Totp::new(
        Algorithm::Sha1,
        CodeFormat::Numeric(Digits::new(7).unwrap()),
        30,
    )
    .unwrap();
    assert_eq!(seven.generate(&secret, 59), "4287082");
}

#[test]
fn steam_codes_are_five_symbols_of_the_steam_alphabet() {
    let secret = rfc6238_secret(Algorithm::Sha1);
    let steam = Totp::new(Algorithm::Sha1, CodeFormat::Steam, 30).unwrap();
    for time in [59u64, 1111111109, 2000000000] {
        let code = steam.generate(&secret, time);
        assert_eq!(code.len(), 5);
        assert!(
            code.bytes()
                .all(|b| b"23456789BCDFGHJKMNPQRTVWXY".contains(&b))
        );
        assert_eq!(
            steam.verify(&secret, &code.to_lowercase(), time, Window::STRICT),
            Ok(steam.step_at(time))
        );
    }
}
