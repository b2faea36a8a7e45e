//! What the domain needs from persistence. Implementations only store and
//! fetch; every rule lives in [`crate::service`]. The operations that
//! carry single use and limits are atomic conditional updates, so they
//! hold across processes sharing one database.

use std::future::Future;

use crate::error::Result;

mod write;

use crate::model::{
    Account, CaseStatus, Challenge, Event, EventFilter, LinkPurpose, Method, MethodRole,
    OutboxMessage, PendingSignUp, RecoveryCase, RememberedBrowser, SentCode, Session,
};
pub use write::{Purge, Write};

/// The outcome of [`Store::claim_code_check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Claimed; this many tries are left in the attempt after this one.
    Claimed(i64),
    /// Another check of the account got there first.
    Busy,
    /// The attempt has no tries left, or is completed.
    Exhausted,
}

/// Persistence for the domain. All times are Unix seconds.
pub trait Store: Send + Sync + 'static {
    /// Applies `writes` in order as one transaction: all of them, or —
    /// if any fails, or a conditional one ([`Write::SpendLink`],
    /// [`Write::DecideRecoveryCase`]) changes nothing — none.
    fn apply(&self, writes: Vec<Write>) -> impl Future<Output = Result<()>> + Send;

    /// Inserts an account; `Ok(false)` if the email is taken.
    fn insert_account(&self, account: &Account) -> impl Future<Output = Result<bool>> + Send;
    /// The account with this (lowercased) email.
    fn account_by_email(&self, email: &str)
    -> impl Future<Output = Result<Option<Account>>> + Send;
    /// The account with this id.
    fn account_by_id(&self, id: &str) -> impl Future<Output = Result<Option<Account>>> + Send;
    /// Replaces the password hash.
    fn set_password_hash(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Sets or clears `two_sv_on_since`.
    fn set_two_sv(
        &self,
        account_id: &str,
        on_since: Option<i64>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Sets the preferred language.
    fn set_locale(&self, account_id: &str, locale: &str)
    -> impl Future<Output = Result<()>> + Send;

    /// Inserts a method.
    fn insert_method(&self, method: &Method) -> impl Future<Output = Result<()>> + Send;
    /// Every method of an account, oldest first.
    fn methods(&self, account_id: &str) -> impl Future<Output = Result<Vec<Method>>> + Send;
    /// Marks a method's first code verified at `step`.
    fn confirm_method(
        &self,
        method_id: &str,
        at: i64,
        step: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Makes the given methods active with the given roles.
    fn activate_methods(
        &self,
        account_id: &str,
        roles: &[(String, MethodRole)],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Changes a method's role.
    fn set_method_role(
        &self,
        method_id: &str,
        role: MethodRole,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Renames a method.
    fn rename_method(&self, method_id: &str, name: &str)
    -> impl Future<Output = Result<()>> + Send;
    /// Deletes one method.
    fn delete_method(&self, method_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the inactive (unfinished wizard) methods of an account.
    fn delete_inactive_methods(&self, account_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Deletes every method of an account.
    fn delete_all_methods(&self, account_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Atomically records `step` as the last accepted step of a method if
    /// it is newer than the one stored. `Ok(true)` means accepted; `false`
    /// means this step or a later one was already used (a replay).
    fn advance_last_step(
        &self,
        method_id: &str,
        step: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Replaces an account's backup codes with these hashes.
    fn replace_backup_codes(
        &self,
        account_id: &str,
        hashes: &[String],
        at: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Atomically marks an unused backup code used. `Ok(true)` if it was.
    fn use_backup_code(
        &self,
        account_id: &str,
        hash: &str,
        at: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Whether the account has an unused backup code with this hash (spent
    /// by [`Write::UseBackupCode`]).
    fn backup_code_unused(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Unused backup codes left.
    fn backup_codes_left(&self, account_id: &str) -> impl Future<Output = Result<i64>> + Send;

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
    /// Ends the account's sign-in attempts still waiting for a code (they
    /// expire at `at`); how many.
    fn end_open_challenges(
        &self,
        account_id: &str,
        at: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Appends to the audit log.
    fn insert_event(&self, event: &Event) -> impl Future<Output = Result<()>> + Send;
    /// An account's most recent events, newest first.
    fn events(
        &self,
        account_id: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;

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
    /// Atomically adds one to a counter for the window starting at
    /// `window_start` and returns the new count.
    fn bump_counter(
        &self,
        key: &str,
        window_start: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// The current count of a counter window (0 if none).
    fn counter(&self, key: &str, window_start: i64) -> impl Future<Output = Result<i64>> + Send;

    /// Keeps a message in the development outbox.
    fn insert_outbox(&self, message: &OutboxMessage) -> impl Future<Output = Result<()>> + Send;
    /// The newest outbox messages first.
    fn outbox(&self, limit: i64) -> impl Future<Output = Result<Vec<OutboxMessage>>> + Send;

    /// Accounts whose email contains `query` (all when empty), newest first.
    fn search_accounts(
        &self,
        query: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Account>>> + Send;
    /// Replaces an account's roles.
    fn set_roles(
        &self,
        account_id: &str,
        roles: &[String],
    ) -> impl Future<Output = Result<()>> + Send;

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
    /// Uncompleted sign-in attempts of an account created strictly after
    /// `since` (a password change in the same second starts afresh),
    /// newest first.
    fn unfinished_challenges(
        &self,
        account_id: &str,
        since: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Challenge>>> + Send;

    /// Opens a recovery case with its sealed document. `Ok(false)` if the
    /// account already has an open case.
    fn insert_recovery_case(
        &self,
        case: &RecoveryCase,
        sealed: &[u8],
    ) -> impl Future<Output = Result<bool>> + Send;
    /// One case.
    fn recovery_case(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Option<RecoveryCase>>> + Send;
    /// Cases with this status (all when `None`), oldest first for open
    /// cases, newest first otherwise.
    fn recovery_cases(
        &self,
        status: Option<CaseStatus>,
        account_id: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecoveryCase>>> + Send;
    /// A case's sealed document, if not deleted.
    fn recovery_document(
        &self,
        case_id: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Atomically decides an open case. `Ok(false)` if it was not open.
    fn decide_recovery_case(
        &self,
        case_id: &str,
        status: CaseStatus,
        reason: &str,
        by: &str,
        at: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes the documents of cases decided before `decided_before`;
    /// returns how many.
    fn purge_recovery_documents(
        &self,
        decided_before: i64,
        at: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

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
    /// [`Write::SpendLink`]).
    fn link_account(
        &self,
        token_hash: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// The audit log, newest first, each event with its account's email
    /// (one query).
    fn filtered_events_with_emails(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<Vec<(Event, Option<String>)>>> + Send;
    /// The audit log, newest first.
    fn filtered_events(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;

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

    /// Keeps a sign-up waiting for its address to be confirmed.
    fn insert_sign_up(&self, sign_up: &PendingSignUp) -> impl Future<Output = Result<()>> + Send;
    /// The unexpired, unused sign-up with this link (spent by
    /// [`Write::SpendSignUp`]).
    fn pending_sign_up(
        &self,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<PendingSignUp>>> + Send;

    /// Backup-code hashes stored before they were keyed (at most `limit`):
    /// account id and hash.
    fn legacy_backup_code_hashes(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Replaces one backup code's stored hash.
    fn rehash_backup_code(
        &self,
        account_id: &str,
        old: &str,
        new: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes what has run its course (see [`Purge`]); how many rows of
    /// each kind. Plain conditional deletes: any number of nodes may run it
    /// at once.
    fn purge(&self, purge: &Purge)
    -> impl Future<Output = Result<Vec<(&'static str, u64)>>> + Send;

    /// Whether the database answers (for `/readyz`).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
}
