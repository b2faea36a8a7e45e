//! kagi's codes agree with an independent implementation, oathtool (from
//! the `oathtool` Debian package, which `.ci/run` installs), for random
//! keys, algorithms, digit counts, periods, times and counters.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::process::Command;

use kagi::account::Account;
use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret};

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn oathtool(args: &[String]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .expect("oathtool is installed (apt-get install oathtool; .ci/run does it)");
    assert!(
        out.status.success(),
        "oathtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn account(secret: &Secret, algorithm: Algorithm, digits: u32, kind: OtpKind) -> Account {
    let uri = KeyUri {
        kind,
        secret: secret.clone(),
        issuer: Some("Test".into()),
        account: "me".into(),
        algorithm,
        format: CodeFormat::Numeric(Digits::new(digits).unwrap()),
    };
    Account::from_key_uri("test".into(), uri, 0)
}

#[test]
fn totp_codes_match_oathtool_for_random_parameters() {
    let algorithms = [
        (Algorithm::Sha1, "SHA1"),
        (Algorithm::Sha256, "SHA256"),
        (Algorithm::Sha512, "SHA512"),
    ];
    for case in 0..60 {
        let len = 10 + (random_u64() % 55) as usize;
        let mut key = vec![0u8; len];
        getrandom::fill(&mut key).unwrap();
        let secret = Secret::from_bytes(&key).unwrap();
        let (algorithm, name) = algorithms[case % 3];
        let digits = 6 + (random_u64() % 3) as u32;
        let period = [30, 60, 15, 45, 10][case % 5];
        let time = random_u64() % 4_000_000_000;
        let ours = account(&secret, algorithm, digits, OtpKind::Totp { period })
            .code_at(time)
            .unwrap()
            .code;
        let theirs = oathtool(&[
            format!("--totp={name}"),
            format!("--digits={digits}"),
            format!("--time-step-size={period}s"),
            format!("--now=@{time}"),
            hex::encode(&key),
        ]);
        assert_eq!(
            ours,
            theirs,
            "case {case}: {name} {digits} digits {period} s at {time}, key {}",
            hex::encode(&key)
        );
    }
}

#[test]
fn hotp_codes_match_oathtool_for_random_counters() {
    for case in 0..20 {
        let mut key = [0u8; 20];
        getrandom::fill(&mut key).unwrap();
        let secret = Secret::from_bytes(&key).unwrap();
        let digits = 6 + (case % 3) as u32;
        let counter = random_u64() % 1_000_000_000;
        let mut acct = account(&secret, Algorithm::Sha1, digits, OtpKind::Hotp { counter });
        let ours = acct.next_hotp().unwrap().code;
        let theirs = oathtool(&[
            "--hotp".into(),
            format!("--digits={digits}"),
            format!("--counter={counter}"),
            hex::encode(key),
        ]);
        assert_eq!(ours, theirs, "case {case}: counter {counter}");
        assert_eq!(
            acct.kind,
            OtpKind::Hotp {
                counter: counter + 1
            }
        );
    }
}

#[test]
fn base32_keys_as_typed_give_oathtools_codes() {
    // oathtool reads the same Base32 key; kagi is given it the way a person
    // copies it off a page: lowercase, grouped, unpadded.
    let secret = Secret::generate().unwrap();
    let typed = secret.to_base32_grouped().to_lowercase();
    let parsed = Secret::from_base32(&typed).unwrap();
    let time = random_u64() % 4_000_000_000;
    let ours = account(&parsed, Algorithm::Sha1, 6, OtpKind::Totp { period: 30 })
        .code_at(time)
        .unwrap()
        .code;
    let theirs = oathtool(&[
        "--totp".into(),
        "--base32".into(),
        format!("--now=@{time}"),
        secret.to_base32().to_string(),
    ]);
    assert_eq!(ours, theirs);
}
