//! The master key that encrypts TOTP keys at rest: from `NIDAN_MASTER_KEY`
//! (Base64 of 32 bytes), else from the key file, which the embedded setup
//! creates on first run with mode 0600.

use std::fs;
use std::io::Write;

use base64::Engine;
use nidan_core::secrets::MasterKey;
use zeroize::Zeroizing;

use crate::config::Config;

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "NIDAN_MASTER_KEY";

fn decode(text: &str, source: &str) -> anyhow::Result<MasterKey> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("{source} is not Base64"))?,
    );
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{source} must hold 32 bytes, not {}", bytes.len()))?;
    Ok(MasterKey::from_bytes(array))
}

/// Loads the master key, creating the key file if neither it nor the
/// environment variable exists.
pub fn load_or_create(config: &Config) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        return decode(&text, MASTER_KEY_ENV);
    }
    let path = config.master_key_path();
    match fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = nidan_core::secrets::random_bytes::<32>()?;
            let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key));
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(|e| {
                anyhow::anyhow!(
                    "could not create the master key file {}: {e}",
                    path.display()
                )
            })?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created a new master key file; back it up: without it the stored authenticator keys cannot be read");
            Ok(MasterKey::from_bytes(key))
        }
        Err(e) => Err(anyhow::anyhow!(
            "could not read the master key file {}: {e}",
            path.display()
        )),
    }
}
