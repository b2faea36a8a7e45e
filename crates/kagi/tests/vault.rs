//! The vault file: round trips, and every way a file can be wrong — wrong
//! password, truncation, a flipped byte anywhere, a crash mid-write — gives
//! its own error and leaves the file as it was.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::path::Path;

use kagi::account::Account;
use kagi::vault::{DerivedKey, KdfParams, Protection, Vault, VaultError, commit, write_temp};
use nidan_otp::{KeyUri, Secret};
use zeroize::Zeroizing;

fn sample(names: &[&str]) -> Vault {
    Vault {
        accounts: names
            .iter()
            .map(|n| {
                let uri = KeyUri::new_totp(
                    Secret::generate().unwrap(),
                    Some("Example".into()),
                    format!("{n}@example.com"),
                );
                Account::from_key_uri((*n).into(), uri, 1_700_000_000)
            })
            .collect(),
    }
}

fn password(p: &'static str) -> impl FnOnce() -> Result<Zeroizing<String>, VaultError> {
    move || Ok(Zeroizing::new(p.to_owned()))
}

fn protected(p: &str) -> Protection {
    Protection::Password(DerivedKey::new(p, KdfParams::MINIMUM).unwrap())
}

#[test]
fn an_encrypted_vault_opens_with_its_password_and_keeps_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.kagi");
    let vault = sample(&["Amazon", "GitHub"]);
    vault.create(&path, &protected("correct horse")).unwrap();
    let (opened, protection) = Vault::open(&path, password("correct horse")).unwrap();
    assert_eq!(opened, vault);
    assert!(matches!(protection, Protection::Password(_)));
    let raw = std::fs::read(&path).unwrap();
    let secret = vault.accounts[0].secret.to_base32();
    assert!(
        !String::from_utf8_lossy(&raw).contains(secret.as_str()),
        "the key is not in the clear"
    );
    assert!(
        !String::from_utf8_lossy(&raw).contains("Amazon"),
        "names are encrypted too"
    );
}

#[test]
fn the_default_kdf_is_memory_hard() {
    let p = KdfParams::default();
    assert!(p.m_cost >= 64 * 1024 && p.t_cost >= 3, "{p:?}");
}

#[cfg(unix)]
#[test]
fn vault_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.kagi");
    sample(&["a"]).create(&path, &Protection::Plain).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_wrong_password_is_told_apart_from_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.kagi");
    sample(&["a"]).create(&path, &protected("right")).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        Vault::open(&path, password("wrong")),
        Err(VaultError::WrongPassword)
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing changed");
}

#[test]
fn a_plain_vault_needs_no_password_and_an_encrypted_one_asks() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.kagi");
    sample(&["a"]).create(&plain, &Protection::Plain).unwrap();
    let (_, protection) = Vault::open(&plain, || panic!("must not ask")).unwrap();
    assert!(matches!(protection, Protection::Plain));
    assert!(!Vault::is_encrypted(&plain).unwrap());
    let enc = dir.path().join("enc.kagi");
    sample(&["a"]).create(&enc, &protected("pw")).unwrap();
    assert!(Vault::is_encrypted(&enc).unwrap());
}

fn check_every_truncation(
    bytes: &[u8],
    open: impl Fn(&[u8]) -> Result<(Vault, Protection), VaultError>,
) {
    for len in 0..bytes.len() {
        match open(&bytes[..len]) {
            Err(VaultError::Truncated { actual, .. }) => assert_eq!(actual, len as u64),
            Err(VaultError::NotAVault(_)) if len < 8 => {}
            other => panic!("cut to {len} bytes: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn every_truncation_is_reported_as_truncation() {
    let path = Path::new("v.kagi");
    for protection in [Protection::Plain, protected("pw")] {
        let bytes = sample(&["a", "b"]).to_bytes(&protection).unwrap();
        check_every_truncation(&bytes, |b| Vault::from_bytes(path, b, password("pw")));
    }
}

#[test]
fn a_flipped_byte_anywhere_is_damage_never_a_silent_change() {
    let path = Path::new("v.kagi");
    for protection in [Protection::Plain, protected("pw")] {
        let bytes = sample(&["a"]).to_bytes(&protection).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            match Vault::from_bytes(path, &bad, password("pw")) {
                Err(VaultError::Damaged(_)) => {}
                Err(VaultError::NotAVault(_)) if i < 8 => {}
                Err(VaultError::UnsupportedVersion(_)) if (8..10).contains(&i) => {}
                other => panic!("byte {i} flipped: {:?}", other.map(|_| ())),
            }
        }
    }
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_vault_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.kagi");
    let old = sample(&["old"]);
    let protection = protected("pw");
    old.create(&path, &protection).unwrap();

    // The new content reaches a temporary file, then the process "dies":
    // the temporary file is left behind and the rename never happens.
    let new = sample(&["old", "new"]);
    let temp = write_temp(&path, &new.to_bytes(&protection).unwrap()).unwrap();
    let (_file, leftover) = temp.keep().unwrap();
    assert!(leftover.exists());
    let (read, protection) = Vault::open(&path, password("pw")).unwrap();
    assert_eq!(read, old);

    // A later save still works, and the leftover is never mistaken for the vault.
    new.save(&path, &protection).unwrap();
    assert_eq!(Vault::open(&path, password("pw")).unwrap().0, new);

    // And a half-written temporary file likewise changes nothing.
    let bytes = sample(&["x"]).to_bytes(&protection).unwrap();
    let temp = write_temp(&path, &bytes[..bytes.len() / 2]).unwrap();
    drop(temp);
    assert_eq!(Vault::open(&path, password("pw")).unwrap().0, new);
    let _ = commit;
}

#[test]
fn init_never_overwrites_an_existing_vault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.kagi");
    sample(&["keep"]).create(&path, &Protection::Plain).unwrap();
    assert!(matches!(
        Vault::default().create(&path, &Protection::Plain),
        Err(VaultError::AlreadyExists(_))
    ));
    assert_eq!(
        Vault::open(&path, password("")).unwrap().0.accounts.len(),
        1
    );
}

#[test]
fn out_of_bounds_kdf_parameters_are_refused_before_any_work() {
    let weak = KdfParams {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };
    let vault = sample(&["a"])
        .to_bytes(&Protection::Password(DerivedKey::new("pw", weak).unwrap()))
        .unwrap();
    assert!(matches!(
        Vault::from_bytes(Path::new("v"), &vault, password("pw")),
        Err(VaultError::BadKdfParams(_))
    ));
}

#[test]
fn other_files_are_not_vaults() {
    assert!(matches!(
        Vault::from_bytes(Path::new("x"), b"{\"accounts\":[]}", password("")),
        Err(VaultError::NotAVault(_))
    ));
    assert!(matches!(
        Vault::open(Path::new("/nonexistent/kagi/v.kagi"), password("")),
        Err(VaultError::NotFound(_))
    ));
}
