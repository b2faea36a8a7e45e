//! Sign-in attempts waiting for a code, and the codes sent for them.

use std::future::Future;

use crate::error::Result;
use crate::model::{Account, Challenge, Method, SentCode};

/// Sign-in attempts waiting for a code, and the codes sent for them.
pub trait Challenges: Send + Sync + 'static {
    /// Inserts a sign-in attempt under the hash of its token.
    fn insert_challenge(
        &self,
        challenge: &Challenge,
        token_hash: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The attempt with this token hash.
    fn challenge_by_token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<Challenge>>> + Send;
    /// The attempt with this token hash and its account, in one read.
    fn challenge_with_account(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(Challenge, Account)>>> + Send;
    /// The attempt with this token hash, its account and the account's
    /// active methods (oldest first), in one read: all the code step
    /// needs to decide a code.
    fn code_step_state(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(Challenge, Account, Vec<Method>)>>> + Send;
    /// Atomically takes one try from an open attempt; returns the tries
    /// left after it, or `None` if none were left or it was completed.
    fn take_attempt(&self, challenge_id: &str) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Atomically completes an open attempt (its try was taken by the
    /// claim of the code that completes it). `Ok(false)` if it already was.
    fn complete_challenge(
        &self,
        challenge_id: &str,
        at: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Ends the account's sign-in attempts still waiting for a code (they
    /// expire at `at`); how many.
    fn end_open_challenges(
        &self,
        account_id: &str,
        at: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Records a code sent by text or call.
    fn insert_sent_code(&self, code: &SentCode) -> impl Future<Output = Result<()>> + Send;
    /// Atomically spends an unexpired, unused code with this hash among the
    /// last three sent for a sign-in attempt. `Ok(true)` if one was spent.
    fn use_sent_code_for_challenge(
        &self,
        challenge_id: &str,
        code_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The same for the codes sent to a phone being enrolled.
    fn use_sent_code_for_method(
        &self,
        method_id: &str,
        code_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// When the account was last sent a code, if ever.
    fn last_code_sent_at(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Uncompleted sign-in attempts of an account created strictly after
    /// `since` (a password change in the same second starts afresh),
    /// newest first.
    fn unfinished_challenges(
        &self,
        account_id: &str,
        since: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Challenge>>> + Send;
}
