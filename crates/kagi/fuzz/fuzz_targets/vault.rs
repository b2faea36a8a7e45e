//! Any bytes given to the vault reader open as a vault, or are refused
//! with an error (not a vault, truncated, damaged, wrong password, out-of-
//! bounds parameters, bad content); it never panics. A vault that opens
//! saves and opens again to the same accounts.
#![no_main]

use std::path::Path;

use kagi::vault::{Protection, Vault};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.kagi");
    let Ok((vault, protection)) =
        Vault::from_bytes(path, bytes, || Ok(Zeroizing::new("fuzz".to_owned())))
    else {
        return;
    };
    if matches!(protection, Protection::Plain) {
        let again = vault.to_bytes(&protection).expect("a vault that opened saves");
        let (reopened, _) = Vault::from_bytes(path, &again, || unreachable!("plain"))
            .expect("a saved vault opens");
        assert_eq!(reopened.accounts.len(), vault.accounts.len());
    }
});
