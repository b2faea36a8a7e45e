//! Import and export. Fixtures are written here from each format's
//! published description (Aegis docs/vault.md, andOTP's backup JSON, 2FAS
//! schema, Bitwarden's export, Google's MigrationPayload .proto); no other
//! project's test files are used.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use kagi::account::Account;
use kagi::formats::{self, Format, ImportError, Imported};
use kagi::password::PasswordError;
use kagi::vault::{DerivedKey, KdfParams, Protection, Vault};
use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret};
use zeroize::Zeroizing;

fn no_password() -> impl FnMut() -> Result<Zeroizing<String>, PasswordError> {
    || panic!("no password should be asked for")
}

fn with_password(p: &'static str) -> impl FnMut() -> Result<Zeroizing<String>, PasswordError> {
    move || Ok(Zeroizing::new(p.to_owned()))
}

fn import(format: Format, bytes: &[u8]) -> Imported {
    assert_eq!(formats::detect(bytes), Some(format), "detected");
    formats::import(format, bytes, &mut no_password()).unwrap()
}

fn ok(imported: &Imported) -> Vec<&KeyUri> {
    imported
        .entries
        .iter()
        .filter_map(|e| e.result.as_ref().ok())
        .collect()
}

fn failures(imported: &Imported) -> Vec<(&str, &str)> {
    imported
        .entries
        .iter()
        .filter_map(|e| {
            e.result
                .as_ref()
                .err()
                .map(|r| (e.source.as_str(), r.as_str()))
        })
        .collect()
}

const KEY: &str = "JBSWY3DPEHPK3PXP";

#[test]
fn otpauth_lines_report_each_bad_line_by_number() {
    let text = format!(
        "# WinAuth export\notpauth://totp/Amazon:me@example.com?secret={KEY}&issuer=Amazon\n\notpauth://totp/Broken?secret=0000\notpauth://hotp/Bank:me?secret={KEY}&counter=4\n"
    );
    let imported = import(Format::Otpauth, text.as_bytes());
    let good = ok(&imported);
    assert_eq!(good.len(), 2);
    assert_eq!(good[1].kind, OtpKind::Hotp { counter: 4 });
    let bad = failures(&imported);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, "line 4");
    assert!(bad[0].1.contains("'0'"), "{}", bad[0].1);
    assert!(
        !bad[0].0.contains("0000"),
        "the report never repeats a secret"
    );
}

fn aegis_db() -> serde_json::Value {
    serde_json::json!({
        "version": 2,
        "entries": [
            {"type": "totp", "uuid": "1", "name": "me@example.com", "issuer": "Amazon", "note": "", "favorite": false, "icon": null,
             "info": {"secret": KEY, "algo": "SHA256", "digits": 8, "period": 60}},
            {"type": "hotp", "uuid": "2", "name": "me", "issuer": "Bank", "note": "", "favorite": false, "icon": null,
             "info": {"secret": "jbsw y3dp", "algo": "SHA1", "digits": 6, "counter": 7}},
            {"type": "steam", "uuid": "3", "name": "gamer", "issuer": "Steam", "note": "", "favorite": false, "icon": null,
             "info": {"secret": KEY, "algo": "SHA1", "digits": 5, "period": 30}},
            {"type": "totp", "uuid": "4", "name": "bad", "issuer": "Broken", "note": "", "favorite": false, "icon": null,
             "info": {"secret": "not base32!", "algo": "SHA1", "digits": 6, "period": 30}}
        ],
        "groups": []
    })
}

fn check_aegis_entries(imported: &Imported) {
    let good = ok(imported);
    assert_eq!(good.len(), 3);
    assert_eq!(good[0].issuer.as_deref(), Some("Amazon"));
    assert_eq!(good[0].algorithm, Algorithm::Sha256);
    assert_eq!(good[0].format, CodeFormat::Numeric(Digits::EIGHT));
    assert_eq!(good[0].kind, OtpKind::Totp { period: 60 });
    assert_eq!(good[1].kind, OtpKind::Hotp { counter: 7 });
    assert_eq!(good[2].format, CodeFormat::Steam);
    let bad = failures(imported);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, "Broken (bad)");
}

#[test]
fn aegis_plain_json_is_read_entry_by_entry() {
    let file = serde_json::json!({"version": 1, "header": {"slots": null, "params": null}, "db": aegis_db()});
    check_aegis_entries(&import(Format::Aegis, file.to_string().as_bytes()));
}

/// Seals with AES-256-GCM and returns (ciphertext, nonce hex, tag hex), as
/// Aegis stores them apart.
fn seal(key: &[u8], plain: &[u8]) -> (Vec<u8>, String, String) {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).unwrap();
    let sealed = Aes256Gcm::new_from_slice(key)
        .unwrap()
        .encrypt(&Nonce::from(nonce), plain)
        .unwrap();
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    (ciphertext.to_vec(), hex::encode(nonce), hex::encode(tag))
}

fn encrypted_aegis(password: &str) -> String {
    let mut master = [0u8; 32];
    getrandom::fill(&mut master).unwrap();
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).unwrap();
    let mut derived = [0u8; 32];
    scrypt::scrypt(
        password.as_bytes(),
        &salt,
        &scrypt::Params::new(15, 8, 1).unwrap(),
        &mut derived,
    )
    .unwrap();
    let (wrapped, key_nonce, key_tag) = seal(&derived, &master);
    let (db, db_nonce, db_tag) = seal(&master, aegis_db().to_string().as_bytes());
    serde_json::json!({
        "version": 1,
        "header": {
            "slots": [
                {"type": 2, "uuid": "b", "key": hex::encode([0u8; 32]), "key_params": {"nonce": hex::encode([0u8; 12]), "tag": hex::encode([0u8; 16])}},
                {"type": 1, "uuid": "p", "key": hex::encode(wrapped), "key_params": {"nonce": key_nonce, "tag": key_tag},
                 "n": 32768, "r": 8, "p": 1, "salt": hex::encode(salt), "repaired": true, "is_backup": false}
            ],
            "params": {"nonce": db_nonce, "tag": db_tag}
        },
        "db": base64::engine::general_purpose::STANDARD.encode(db)
    })
    .to_string()
}

#[test]
fn aegis_encrypted_backups_open_with_the_password() {
    let file = encrypted_aegis("aegis pass");
    assert_eq!(formats::detect(file.as_bytes()), Some(Format::Aegis));
    let imported = formats::import(
        Format::Aegis,
        file.as_bytes(),
        &mut with_password("aegis pass"),
    )
    .unwrap();
    check_aegis_entries(&imported);
    let wrong = formats::import(Format::Aegis, file.as_bytes(), &mut with_password("nope"));
    assert!(
        matches!(wrong, Err(ImportError::WrongPassword("Aegis"))),
        "{wrong:?}"
    );
}

#[test]
fn andotp_json_is_read_with_its_types() {
    let file = serde_json::json!([
        {"secret": KEY, "issuer": "Amazon", "label": "me@example.com", "digits": 6, "type": "TOTP", "algorithm": "SHA1",
         "thumbnail": "Default", "last_used": 0, "used_frequency": 0, "period": 30, "tags": []},
        {"secret": KEY, "issuer": "Bank", "label": "me", "digits": 8, "type": "HOTP", "algorithm": "SHA512", "counter": 3,
         "thumbnail": "Default", "last_used": 0, "used_frequency": 0, "tags": []},
        {"secret": KEY, "issuer": "Steam", "label": "gamer", "digits": 5, "type": "STEAM", "algorithm": "SHA1", "period": 30, "tags": []},
        {"issuer": "NoSecret", "label": "x", "type": "TOTP"}
    ]);
    let imported = import(Format::Andotp, file.to_string().as_bytes());
    let good = ok(&imported);
    assert_eq!(good.len(), 3);
    assert_eq!(good[1].kind, OtpKind::Hotp { counter: 3 });
    assert_eq!(good[1].algorithm, Algorithm::Sha512);
    assert_eq!(good[2].format, CodeFormat::Steam);
    assert_eq!(failures(&imported)[0].0, "entry 4");
}

#[test]
fn twofas_plain_backups_are_read_and_encrypted_ones_explained() {
    let file = serde_json::json!({
        "services": [
            {"name": "Amazon", "secret": "jbsw y3dp ehpk 3pxp", "updatedAt": 1,
             "otp": {"label": "me@example.com", "account": "me@example.com", "issuer": "Amazon", "digits": 6, "period": 30,
                     "algorithm": "SHA1", "tokenType": "TOTP", "source": "Link"},
             "order": {"position": 0}},
            {"name": "Bank", "secret": KEY, "otp": {"account": "me", "digits": 6, "algorithm": "SHA1", "tokenType": "HOTP", "counter": 2}}
        ],
        "groups": [], "updatedAt": 1, "schemaVersion": 4, "appVersionCode": 5000000, "appOrigin": "android"
    });
    let imported = import(Format::TwoFas, file.to_string().as_bytes());
    let good = ok(&imported);
    assert_eq!(good.len(), 2);
    assert_eq!(good[0].secret, Secret::from_base32(KEY).unwrap());
    assert_eq!(
        good[1].issuer.as_deref(),
        Some("Bank"),
        "the service name stands in for a missing issuer"
    );
    assert_eq!(good[1].kind, OtpKind::Hotp { counter: 2 });

    let encrypted =
        serde_json::json!({"services": [], "servicesEncrypted": "abc:def:ghi", "schemaVersion": 4});
    let err = formats::import(
        Format::TwoFas,
        encrypted.to_string().as_bytes(),
        &mut no_password(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("password-protected"), "{err}");
}

#[test]
fn bitwarden_exports_give_every_login_with_a_totp() {
    let file = serde_json::json!({
        "encrypted": false,
        "folders": [],
        "items": [
            {"id": "1", "type": 1, "name": "GitHub", "login": {"username": "me", "password": "pw",
             "totp": format!("otpauth://totp/GitHub:me?secret={KEY}&issuer=GitHub&digits=8")}},
            {"id": "2", "type": 1, "name": "Amazon", "login": {"username": "me@example.com", "totp": "jbsw y3dp ehpk 3pxp"}},
            {"id": "3", "type": 1, "name": "Steam", "login": {"username": "gamer", "totp": format!("steam://{KEY}")}},
            {"id": "4", "type": 1, "name": "Forum", "login": {"username": "me", "password": "pw", "totp": null}},
            {"id": "5", "type": 2, "name": "A note", "secureNote": {"type": 0}},
            {"id": "6", "type": 1, "name": "Typo", "login": {"username": "me", "totp": "abc1"}}
        ]
    });
    let imported = import(Format::Bitwarden, file.to_string().as_bytes());
    let good = ok(&imported);
    assert_eq!(good.len(), 3);
    assert_eq!(good[0].format, CodeFormat::Numeric(Digits::EIGHT));
    assert_eq!(good[1].issuer.as_deref(), Some("Amazon"));
    assert_eq!(good[2].format, CodeFormat::Steam);
    assert_eq!(failures(&imported).len(), 1);
    assert!(
        imported.warnings[0].starts_with("2 item(s) without a TOTP"),
        "{:?}",
        imported.warnings
    );

    let encrypted = serde_json::json!({"encrypted": true, "items": []});
    assert!(matches!(
        formats::import(
            Format::Bitwarden,
            encrypted.to_string().as_bytes(),
            &mut no_password()
        ),
        Err(ImportError::Unsupported(_))
    ));
}

/// Protobuf encoding by hand, straight from the wire-format description, so
/// the fixture does not depend on the importer's own message definitions.
mod pb {
    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    pub fn bytes(field: u64, data: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }
    pub fn int(field: u64, v: u64, out: &mut Vec<u8>) {
        varint(field << 3, out);
        varint(v, out);
    }
}

/// One OtpParameters: secret=1, name=2, issuer=3, algorithm=4, digits=5, type=6, counter=7.
fn otp_parameters(
    secret: &[u8],
    name: &str,
    issuer: &str,
    algorithm: u64,
    digits: u64,
    kind: u64,
    counter: u64,
) -> Vec<u8> {
    let mut m = Vec::new();
    pb::bytes(1, secret, &mut m);
    pb::bytes(2, name.as_bytes(), &mut m);
    pb::bytes(3, issuer.as_bytes(), &mut m);
    pb::int(4, algorithm, &mut m);
    pb::int(5, digits, &mut m);
    pb::int(6, kind, &mut m);
    pb::int(7, counter, &mut m);
    m
}

/// A MigrationPayload: otp_parameters=1, version=2, batch_size=3, batch_index=4, batch_id=5.
fn migration_uri(params: &[Vec<u8>], size: u64, index: u64, id: u64) -> String {
    let mut m = Vec::new();
    for p in params {
        pb::bytes(1, p, &mut m);
    }
    pb::int(2, 1, &mut m);
    pb::int(3, size, &mut m);
    pb::int(4, index, &mut m);
    pb::int(5, id, &mut m);
    let data = base64::engine::general_purpose::STANDARD.encode(m);
    format!(
        "otpauth-migration://offline?data={}",
        data.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    )
}

#[test]
fn google_transfer_uris_are_read_and_missing_batches_named() {
    let first = migration_uri(
        &[
            otp_parameters(
                b"12345678901234567890",
                "Amazon:me@example.com",
                "Amazon",
                1,
                1,
                2,
                0,
            ),
            otp_parameters(b"12345678901234567890", "me", "Bank", 3, 2, 1, 9),
            otp_parameters(b"12345678901234567890", "old", "Legacy", 4, 1, 2, 0),
        ],
        3,
        0,
        77,
    );
    let third = migration_uri(
        &[otp_parameters(b"abcdefghij", "GitHub:me", "", 1, 1, 2, 0)],
        3,
        2,
        77,
    );
    let text = format!("{first}\n{third}\n");
    let imported = import(Format::Google, text.as_bytes());
    let good = ok(&imported);
    assert_eq!(good.len(), 3);
    assert_eq!(good[0].account, "me@example.com");
    assert_eq!(good[0].secret.expose(), b"12345678901234567890");
    assert_eq!(good[1].kind, OtpKind::Hotp { counter: 9 });
    assert_eq!(good[1].algorithm, Algorithm::Sha512);
    assert_eq!(good[1].format, CodeFormat::Numeric(Digits::EIGHT));
    assert_eq!(
        good[2].issuer.as_deref(),
        Some("GitHub"),
        "issuer from the name's prefix"
    );
    let bad = failures(&imported);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].1.contains("MD5"));
    assert_eq!(imported.warnings.len(), 1);
    assert!(
        imported.warnings[0].contains("missing: 2"),
        "{:?}",
        imported.warnings
    );
}

fn vault_accounts() -> Vec<Account> {
    let make =
        |name: &str, uri: &str| Account::from_key_uri(name.into(), KeyUri::parse(uri).unwrap(), 0);
    vec![
        make(
            "Amazon",
            &format!("otpauth://totp/Amazon:me@example.com?secret={KEY}&issuer=Amazon"),
        ),
        make(
            "Amazon seller",
            "otpauth://totp/Amazon:shop@example.com?secret=GEZDGNBVGY3TQOJQ&issuer=Amazon",
        ),
        make(
            "Bank",
            &format!("otpauth://hotp/Bank:me?secret={KEY}&algorithm=SHA512&digits=8&counter=5"),
        ),
        make(
            "Odd",
            &format!("otpauth://totp/Odd:me?secret={KEY}&digits=7&period=45&algorithm=SHA256"),
        ),
        make(
            "Steam",
            &format!("otpauth://totp/Steam:gamer?secret={KEY}&encoder=steam"),
        ),
    ]
}

fn assert_same_keys(imported: &Imported, expected: &[Account]) {
    let good = ok(imported);
    assert_eq!(good.len(), expected.len(), "{:?}", failures(imported));
    for (uri, account) in good.iter().zip(expected) {
        assert_eq!(**uri, account.to_key_uri(), "{}", account.name);
    }
}

#[test]
fn every_export_format_imports_back() {
    let accounts = vault_accounts();
    // kagi backup
    let key = DerivedKey::new("backup pw", KdfParams::MINIMUM).unwrap();
    let backup = Vault {
        accounts: accounts.clone(),
    }
    .to_bytes(&Protection::Password(key))
    .unwrap();
    assert_eq!(formats::detect(&backup), Some(Format::Kagi));
    let imported = formats::import(Format::Kagi, &backup, &mut with_password("backup pw")).unwrap();
    assert_same_keys(&imported, &accounts);
    // otpauth lines
    assert_same_keys(
        &import(
            Format::Otpauth,
            formats::otpauth::export(&accounts).as_bytes(),
        ),
        &accounts,
    );
    // Aegis plain
    assert_same_keys(
        &import(
            Format::Aegis,
            formats::aegis::export(&accounts).unwrap().as_bytes(),
        ),
        &accounts,
    );
    // one QR image per account
    for account in &accounts {
        let png = nidan_otp::qr::render_png(&account.to_key_uri().to_uri(), 8).unwrap();
        assert_same_keys(&import(Format::Qr, &png), std::slice::from_ref(account));
    }
}

#[test]
fn google_export_renders_batches_of_ten_that_import_back() {
    let mut accounts = Vec::new();
    for i in 0..23 {
        let uri = KeyUri::new_totp(
            Secret::generate().unwrap(),
            Some(format!("Service {i}")),
            format!("user{i}@example.com"),
        );
        accounts.push(Account::from_key_uri(format!("s{i}"), uri, 0));
    }
    accounts.extend(vault_accounts());
    let (uris, left_out) = formats::google::export(&accounts);
    assert_eq!(uris.len(), 3, "26 expressible accounts in batches of ten");
    let left: Vec<&str> = left_out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(left, ["Odd", "Steam"]);
    let mut texts = Vec::new();
    for uri in &uris {
        let png = nidan_otp::qr::render_png(uri, 4).unwrap();
        texts.extend(nidan_otp::qr::decode_image(&png).unwrap());
    }
    let imported = formats::import_qr_texts(&texts);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    let expressible: Vec<Account> = accounts
        .into_iter()
        .filter(|a| a.name != "Odd" && a.name != "Steam")
        .collect();
    assert_same_keys(&imported, &expressible);

    // One batch missing is named.
    let partial = formats::import_qr_texts(&texts[..2]);
    assert!(
        partial.warnings[0].contains("missing: 3"),
        "{:?}",
        partial.warnings
    );
}

#[test]
fn unknown_files_are_not_guessed() {
    assert_eq!(formats::detect(b"hello"), None);
    assert_eq!(formats::detect(b"{\"something\": 1}"), None);
    assert!(matches!(
        formats::import(Format::Aegis, b"{not json", &mut no_password()),
        Err(ImportError::Invalid {
            format: "Aegis",
            ..
        })
    ));
}
