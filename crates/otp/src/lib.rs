//! The one-time-password core shared by the `nidan` server and the `kagi`
//! authenticator. It owns no I/O: bytes go in, values come out, and time is
//! always a parameter.
//!
//! # Layout
//! - [`secret`]: [`Secret`], the shared key, with forgiving Base32 input and
//!   grouped output, zeroized on drop and never printed.
//! - [`hotp`]: RFC 4226 codes and [`Algorithm`], [`Digits`], [`CodeFormat`]
//!   (including Steam's five-character codes).
//! - [`totp`]: RFC 6238 codes over a [`Totp`] configuration, with
//!   verification over a [`Window`] that returns the [`Step`] that matched so
//!   a server can refuse replays.
//! - [`uri`]: the `otpauth://` Key URI format, parsed and built.
//! - [`qr`]: QR codes rendered as SVG, PNG or terminal text, and decoded
//!   from screenshots.

pub mod hotp;
pub mod qr;
pub mod secret;
pub mod totp;
pub mod uri;

pub use hotp::{Algorithm, CodeFormat, Digits, Hotp};
pub use secret::{Secret, SecretError};
pub use totp::{Step, Totp, VerifyError, Window};
pub use uri::{KeyUri, OtpKind, UriError};
