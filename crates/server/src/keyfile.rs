//! The master key that encrypts TOTP keys at rest: from `NIDAN_MASTER_KEY`
//! (Base64 of 32 bytes), else from the key file, which the embedded setup
//! creates on first run with mode 0600.

use std::fs;
use std::io::Write;
use std::path::Path;

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
pub fn load_or_create(config: &Config, sealed_data: bool) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        return decode(&text, MASTER_KEY_ENV);
    }
    let path = config.master_key_path();
    match fs::read_to_string(&path) {
        // An empty file is a creation that failed before anything was
        // written (a full disk, in versions that wrote in place): while
        // nothing is sealed in the database, it is replaced.
        Ok(text) if text.trim().is_empty() && !sealed_data => create(&path, true),
        Ok(text) if text.trim().is_empty() => Err(anyhow::anyhow!(
            "the master key file {} is empty, but the database holds keys sealed with a master key: restore the file from your backup",
            path.display()
        )),
        Ok(text) => decode(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path, false),
        Err(e) => Err(anyhow::anyhow!(
            "could not read the master key file {}: {e}",
            path.display()
        )),
    }
}

/// Writes a new key file whole or not at all: a temporary file beside it
/// (mode 0600) is written and synced, then linked into place — or renamed
/// over an empty leftover when `replace_empty` — and the folder synced. A
/// failure (a full disk) removes the temporary file and leaves no key file,
/// so the next start simply tries again. If another process created the
/// key first, that key is used.
fn create(path: &Path, replace_empty: bool) -> anyhow::Result<MasterKey> {
    let key = nidan_core::secrets::random_bytes::<32>()?;
    let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key));
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let suffix = nidan_core::secrets::new_id()?;
    let tmp = dir.join(format!(
        ".{}.{suffix}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("master.key")
    ));
    let written = write_new(&tmp, text.as_bytes()).and_then(|()| {
        if replace_empty {
            fs::rename(&tmp, path)
        } else {
            fs::hard_link(&tmp, path)
        }
    });
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another node or process created it a moment ago.
            let text = fs::read_to_string(path)?;
            return decode(&text, &path.display().to_string());
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "could not create the master key file {}: {e} (nothing was left behind; free some space or fix the permissions and start again)",
                path.display()
            ));
        }
    }
    if let Ok(folder) = fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    tracing::info!(path = %path.display(), "created a new master key file; back it up: without it the stored authenticator keys cannot be read");
    Ok(MasterKey::from_bytes(key))
}

/// Creates `path` (mode 0600), writes `bytes` and a newline, and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
}
