//! Any text given to the Base32 parser either gives a key that re-encodes
//! to itself, or an error; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nidan_otp::Secret;

fuzz_target!(|text: &str| {
    if let Ok(secret) = Secret::from_base32(text) {
        let again = Secret::from_base32(&secret.to_base32_grouped());
        assert_eq!(again.ok().as_ref(), Some(&secret));
    }
});
