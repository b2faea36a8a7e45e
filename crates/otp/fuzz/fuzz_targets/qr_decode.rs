//! Any bytes given to the QR image decoder give codes or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = nidan_otp::qr::decode_image(bytes);
});
