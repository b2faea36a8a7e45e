//! Any bytes given to any import reader (otpauth lines, Aegis, andOTP,
//! 2FAS, Bitwarden, Google transfer URIs, QR images, kagi backups) give a
//! list of entries — each added or failed with a reason — or an error; the
//! format detector never panics either. The first byte picks the reader.
#![no_main]

use kagi::formats::{Format, detect, import};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

const FORMATS: [Format; 8] = [
    Format::Kagi,
    Format::Otpauth,
    Format::Aegis,
    Format::Andotp,
    Format::TwoFas,
    Format::Bitwarden,
    Format::Google,
    Format::Qr,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let _ = detect(bytes);
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let mut password = || Ok(Zeroizing::new("fuzz".to_owned()));
    if let Ok(imported) = import(format, bytes, &mut password) {
        for entry in imported.entries {
            if let Ok(uri) = entry.result {
                // Every accepted entry is a key kagi can store and show.
                let _ = uri.to_uri();
            }
        }
    }
});
