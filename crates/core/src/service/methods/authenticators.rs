//! Names for well-known authenticators by their AAGUID (the model id an
//! authenticator reports when a key is made), so a new passkey is named
//! "iCloud Keychain" or "YubiKey 5 NFC" rather than after the browser.
//! Only a default: the person can rename it. An authenticator that hides
//! its AAGUID (all zeros) or is not listed gets the browser's name.

/// Known authenticators: AAGUID (lowercase, hyphenated) and name.
const KNOWN: &[(&str, &str)] = &[
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    (
        "dd4ec289-e01d-41c9-bb89-70fa845d4bf2",
        "iCloud Keychain (Managed)",
    ),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("50726f74-6f6e-5061-7373-50726f746f6e", "Proton Pass"),
    ("fdb141b2-5d84-443e-8a35-4698c205a502", "KeePassXC"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 NFC"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 NFC"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 NFC"),
    ("c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci"),
    (
        "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa",
        "Security Key NFC by Yubico",
    ),
    (
        "149a2021-8ef6-4133-96b8-81f8d5b7f1f5",
        "Security Key by Yubico",
    ),
];

/// The AAGUID in a registration's attestation object (CBOR, with the
/// authenticator data under `authData`), if the authenticator gave one.
pub(crate) fn aaguid(attestation_object: &[u8]) -> Option<[u8; 16]> {
    let object: ciborium::Value = ciborium::from_reader(attestation_object).ok()?;
    let auth_data = object
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))?
        .1
        .as_bytes()?;
    // RP id hash (32) | flags (1) | counter (4) | AAGUID (16), the last
    // present when the "attested credential data" flag (0x40) is set.
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let id: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    (id != [0; 16]).then_some(id)
}

/// The name of a well-known authenticator.
pub(crate) fn name(aaguid: &[u8; 16]) -> Option<&'static str> {
    let hex: String = aaguid.iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8)?,
        hex.get(8..12)?,
        hex.get(12..16)?,
        hex.get(16..20)?,
        hex.get(20..32)?
    );
    KNOWN.iter().find(|(id, _)| *id == text).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An attestation object as an authenticator makes it: `fmt` none,
    /// empty `attStmt`, and authenticator data carrying `aaguid`.
    fn object(flags: u8, aaguid: [u8; 16]) -> Vec<u8> {
        let mut auth_data = vec![0u8; 32];
        auth_data.push(flags);
        auth_data.extend([0, 0, 0, 0]);
        auth_data.extend(aaguid);
        auth_data.extend([0, 16]);
        auth_data.extend([7u8; 16]);
        let value = ciborium::Value::Map(vec![
            ("fmt".into(), "none".into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            ("authData".into(), ciborium::Value::Bytes(auth_data)),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&value, &mut out).unwrap();
        out
    }

    #[test]
    fn a_known_authenticator_is_named_and_a_hidden_one_is_not() {
        let yubikey = [
            0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97,
            0x07, 0x2a,
        ];
        let id = aaguid(&object(0x45, yubikey)).unwrap();
        assert_eq!(name(&id), Some("YubiKey 5 NFC"));
        assert_eq!(aaguid(&object(0x45, [0; 16])), None, "hidden (all zeros)");
        assert_eq!(aaguid(&object(0x05, yubikey)), None, "no attested data");
        assert_eq!(name(&[1; 16]), None, "unknown");
        assert_eq!(aaguid(b"not cbor"), None);
    }
}
