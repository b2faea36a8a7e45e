//! `kagi` (鍵, "key"): a terminal authenticator for people whose only
//! computer is a PC. It keeps TOTP/HOTP accounts in one encrypted file,
//! shows their codes, and moves them in and out of other authenticators so
//! that losing a device never loses an account.
//!
//! # Layout
//! - [`account`]: one account and its codes.
//! - [`vault`]: the encrypted file (Argon2id + XChaCha20-Poly1305), written
//!   atomically.
//! - [`matching`]: finding an account by exact name, prefix or fuzzy match.
//! - [`formats`]: import and export (otpauth lines, Aegis, andOTP, 2FAS,
//!   Bitwarden, Google Authenticator transfer, kagi backups).
//! - [`watch`]: the live terminal view.
//! - [`clipboard`]: copying a code and clearing it again.
//! - [`cli`] and [`commands`]: the command line.

pub mod account;
pub mod cli;
pub mod clipboard;
pub mod commands;
pub mod formats;
pub mod matching;
pub mod password;
pub mod vault;
pub mod watch;

/// Seconds since the Unix epoch, from the system clock. The only place
/// `kagi` reads the time; everything else takes it as a parameter.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
