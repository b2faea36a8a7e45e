//! Signed-in sessions and remembered browsers.

use std::future::Future;

use crate::error::Result;
use crate::model::{RememberedBrowser, Session};

/// Signed-in sessions and remembered browsers.
pub trait Sessions: Send + Sync + 'static {
    /// Inserts a session under the hash of its token.
    fn insert_session(
        &self,
        session: &Session,
        token_hash: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The unexpired session with this token hash.
    fn session_by_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Session>>> + Send;
    /// Records a fresh password entry in a session.
    fn touch_session_password(
        &self,
        session_id: &str,
        at: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Ends one session.
    fn delete_session(&self, session_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Ends every session of an account except `keep`.
    fn delete_sessions_except(
        &self,
        account_id: &str,
        keep: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Inserts a remembered browser under the hash of its token.
    fn insert_browser(
        &self,
        browser: &RememberedBrowser,
        token_hash: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The unexpired remembered browser of this account with this token
    /// hash; marks it used at `now`.
    fn use_browser(
        &self,
        account_id: &str,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<RememberedBrowser>>> + Send;
    /// The unexpired remembered browsers of an account.
    fn browsers(
        &self,
        account_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Vec<RememberedBrowser>>> + Send;
    /// Forgets one browser of an account.
    fn delete_browser(
        &self,
        account_id: &str,
        browser_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Forgets every browser of an account.
    fn delete_browsers(&self, account_id: &str) -> impl Future<Output = Result<()>> + Send;
}
