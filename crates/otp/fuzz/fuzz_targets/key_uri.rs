//! Any text given to the `otpauth://` parser either parses, round-trips
//! through `to_uri`, or returns an error; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nidan_otp::KeyUri;

fuzz_target!(|text: &str| {
    if let Ok(uri) = KeyUri::parse(text) {
        let again = KeyUri::parse(&uri.to_uri());
        assert!(again.is_ok(), "a built URI must parse");
    }
});
