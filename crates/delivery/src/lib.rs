//! Senders for nidan's codes, implementing the traits of
//! [`nidan_core::delivery`]:
//!
//! - [`outbox`]: the development provider, keeping messages in the database.
//! - [`smtp`]: email through an SMTP server.
//! - [`twilio`]: Twilio's Messages API for SMS and Calls API with inline
//!   TwiML for voice.
//! - [`webhook`]: a JSON POST to the operator's URL, signed with
//!   HMAC-SHA256 over the timestamp and body, retried on failure.
//!
//! Senders only send: whether to send, how often, and what to say when a
//! send fails are decided in `nidan-core`.

pub mod outbox;
pub mod smtp;
pub mod twilio;
pub mod webhook;

use std::time::Duration;

use nidan_core::delivery::DeliveryError;

/// How long a provider may take to answer one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Maps a transport failure to a delivery error.
fn transport(e: &reqwest::Error) -> DeliveryError {
    if e.is_timeout() {
        DeliveryError::Timeout
    } else {
        DeliveryError::Unavailable(if e.is_connect() {
            "could not connect".into()
        } else {
            "request failed".into()
        })
    }
}
