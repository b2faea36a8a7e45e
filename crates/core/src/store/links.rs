//! Emailed links: password resets and sign-ups.

use std::future::Future;

use crate::error::Result;
use crate::model::{LinkPurpose, PendingSignUp};

/// Emailed links: password resets and sign-ups.
pub trait Links: Send + Sync + 'static {
    /// Stores an emailed link (a password reset, or "This wasn't me")
    /// under the hash of its token.
    fn insert_password_reset(
        &self,
        token_hash: &str,
        account_id: &str,
        purpose: LinkPurpose,
        at: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The account of an unexpired, unused link of this purpose (spent by
    /// [`Write::SpendLink`](super::Write::SpendLink)).
    fn link_account(
        &self,
        token_hash: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Keeps a sign-up waiting for its address to be confirmed.
    fn insert_sign_up(&self, sign_up: &PendingSignUp) -> impl Future<Output = Result<()>> + Send;
    /// The unexpired, unused sign-up with this link (spent by
    /// [`Write::SpendSignUp`](super::Write::SpendSignUp)).
    fn pending_sign_up(
        &self,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<PendingSignUp>>> + Send;
}
