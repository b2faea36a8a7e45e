//! Counters and the guards on codes and passwords (SPEC §4.5, §7.1): every claim is one atomic conditional update.

use std::future::Future;

use super::Claim;
use crate::error::Result;

/// Counters and the guards on codes and passwords (SPEC §4.5, §7.1): every claim is one atomic conditional update.
pub trait Limits: Send + Sync + 'static {
    /// Atomically adds one to a counter for the window starting at
    /// `window_start` and returns the new count.
    fn bump_counter(
        &self,
        key: &str,
        window_start: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// The current count of a counter window (0 if none).
    fn counter(&self, key: &str, window_start: i64) -> impl Future<Output = Result<i64>> + Send;
    /// Claims the right to check one code (SPEC §4.5), in one transaction:
    /// counts it as a failure of the account until it proves right
    /// (failure count from `seen_failures` to `seen_failures + 1`, next
    /// check not before `retry_at`, only if the count is still
    /// `seen_failures`) and takes one try from the sign-in attempt
    /// `challenge_id`. Both or neither.
    fn claim_code_check(
        &self,
        account_id: &str,
        seen_failures: i64,
        retry_at: Option<i64>,
        challenge_id: &str,
    ) -> impl Future<Output = Result<Claim>> + Send;
    /// Claims one code check outside a sign-in attempt (turning 2SV off,
    /// confirming a new app or phone): the account's failure count moves
    /// from `seen_failures` to `seen_failures + 1` and the next check waits
    /// until `retry_at`, only if the count is still `seen_failures`.
    /// `Ok(false)`: another check got there first.
    fn claim_account_check(
        &self,
        account_id: &str,
        seen_failures: i64,
        retry_at: Option<i64>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// A right code: the failure count and slow-down start again.
    fn clear_code_failures(&self, account_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Atomically marks the owner alerted at `at` unless already alerted
    /// at or after `since`. `Ok(true)` if this call should send the alert.
    fn mark_abuse_alerted(
        &self,
        account_id: &str,
        at: i64,
        since: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Stops sending codes to the account (kept until the password changes).
    fn pause_codes(&self, account_id: &str, at: i64) -> impl Future<Output = Result<()>> + Send;
    /// A new password (or an admin unlock when `password_changed` is
    /// `None`): failure count, slow-down, pause and alert are cleared.
    fn reset_guard(
        &self,
        account_id: &str,
        password_changed: Option<i64>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The password throttle under `key` (a hash of the address tried and
    /// the client IP): wrong passwords in a row, and when the next check
    /// may run.
    fn password_throttle(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(i64, Option<i64>)>>> + Send;
    /// Claims one password check as a failure until it proves right:
    /// the count moves from `seen` (`None`: no row yet) to one more and the
    /// next check waits until `retry_at`, only if nobody moved it first.
    /// `Ok(false)`: another check got there first.
    fn claim_password_check(
        &self,
        key: &str,
        seen: Option<i64>,
        retry_at: Option<i64>,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// A right password: the throttle under `key` starts again.
    fn clear_password_throttle(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
}
