//! The unit of work: the changes a domain operation lists for
//! [`super::Store::apply`] to make all or nothing, and what
//! [`super::Store::purge`] deletes.

use crate::model::{
    Account, CaseStatus, Event, LinkPurpose, MethodRole, RememberedBrowser, Session,
};

/// One change in a unit of work ([`Store::apply`]): the domain lists what
/// an operation changes, and the store makes it all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Sets or clears `two_sv_on_since`.
    SetTwoSv {
        /// The account.
        account_id: String,
        /// When 2SV was turned on; `None` turns it off.
        on_since: Option<i64>,
    },
    /// Replaces the password hash.
    SetPasswordHash {
        /// The account.
        account_id: String,
        /// The new hash (PHC string).
        hash: String,
    },
    /// Replaces the roles.
    SetRoles {
        /// The account.
        account_id: String,
        /// The roles.
        roles: Vec<String>,
    },
    /// Clears the failure count, slow-down, pause and alert; with
    /// `password_changed`, records a new password (see
    /// [`Store::reset_guard`]).
    ResetGuard {
        /// The account.
        account_id: String,
        /// When the password changed, if it did.
        password_changed: Option<i64>,
    },
    /// Makes methods active with these roles.
    ActivateMethods {
        /// The account.
        account_id: String,
        /// Method ids and roles.
        roles: Vec<(String, MethodRole)>,
    },
    /// Marks a method's first code verified at `step`.
    ConfirmMethod {
        /// The method.
        method_id: String,
        /// When.
        at: i64,
        /// The step used (0 for phones).
        step: i64,
    },
    /// Renames a method.
    RenameMethod {
        /// The method.
        method_id: String,
        /// Its new name.
        name: String,
    },
    /// Changes a method's role.
    SetMethodRole {
        /// The method.
        method_id: String,
        /// Its new role.
        role: MethodRole,
    },
    /// Deletes one method.
    DeleteMethod {
        /// The method.
        method_id: String,
    },
    /// Deletes the account's inactive (unfinished wizard) methods.
    DeleteInactiveMethods {
        /// The account.
        account_id: String,
    },
    /// Deletes every method of the account.
    DeleteAllMethods {
        /// The account.
        account_id: String,
    },
    /// Replaces the account's backup codes with these hashes.
    ReplaceBackupCodes {
        /// The account.
        account_id: String,
        /// The new hashes (none deletes them all).
        hashes: Vec<String>,
        /// When.
        at: i64,
    },
    /// A right code at sign-in, counted and cleared at once: the account's
    /// wrong-code count (still `seen_failures`, else the unit is refused)
    /// starts again, and the attempt (open, unexpired, with a try left)
    /// spends its try and is completed at `at`.
    ClaimRightCode {
        /// The account.
        account_id: String,
        /// The count read before the check.
        seen_failures: i64,
        /// The attempt.
        challenge_id: String,
        /// When.
        at: i64,
    },
    /// A wrong code at sign-in, counted: the account's count moves from
    /// `seen_failures` up by one with the next check not before
    /// `retry_at`, and the attempt's tries go from `seen_left` down by one;
    /// the unit is refused if either moved meanwhile.
    ClaimWrongCode {
        /// The account.
        account_id: String,
        /// The count read before the check.
        seen_failures: i64,
        /// The slow-down this failure starts, if any.
        retry_at: Option<i64>,
        /// The attempt.
        challenge_id: String,
        /// Its tries left, read before the check.
        seen_left: i64,
    },
    /// Completes an open sign-in attempt; the whole unit is refused
    /// ([`crate::Error::Conflict`]) if it already was.
    CompleteChallenge {
        /// The attempt.
        challenge_id: String,
        /// When.
        at: i64,
    },
    /// Inserts a session under the hash of its token.
    InsertSession {
        /// The session.
        session: Session,
        /// Its token's hash.
        token_hash: String,
    },
    /// Ends one session.
    DeleteSession {
        /// The session.
        session_id: String,
    },
    /// Ends every session of the account except `keep`.
    DeleteSessionsExcept {
        /// The account.
        account_id: String,
        /// The session to keep.
        keep: Option<String>,
    },
    /// Records a fresh password entry in a session.
    TouchSessionPassword {
        /// The session.
        session_id: String,
        /// When.
        at: i64,
    },
    /// Remembers a browser under the hash of its token.
    InsertBrowser {
        /// The browser.
        browser: RememberedBrowser,
        /// Its token's hash.
        token_hash: String,
    },
    /// Forgets one remembered browser of the account.
    DeleteBrowser {
        /// The account.
        account_id: String,
        /// The browser.
        browser_id: String,
    },
    /// Forgets every remembered browser of the account.
    DeleteBrowsers {
        /// The account.
        account_id: String,
    },
    /// Ends the account's sign-in attempts waiting for a code.
    EndOpenChallenges {
        /// The account.
        account_id: String,
        /// Now.
        at: i64,
    },
    /// Stores an emailed link under the hash of its token.
    InsertLink {
        /// Its token's hash.
        token_hash: String,
        /// The account.
        account_id: String,
        /// What it is for.
        purpose: LinkPurpose,
        /// When.
        at: i64,
        /// When it stops working.
        expires_at: i64,
    },
    /// Spends an unexpired, unused link of `purpose`; the whole unit is
    /// refused ([`crate::Error::Conflict`]) unless it did.
    SpendLink {
        /// Its token's hash.
        token_hash: String,
        /// What it is for.
        purpose: LinkPurpose,
        /// Now.
        now: i64,
    },
    /// Decides an open recovery case; the whole unit is refused
    /// ([`crate::Error::Conflict`]) if it was not open.
    DecideRecoveryCase {
        /// The case.
        case_id: String,
        /// Approved or rejected.
        status: CaseStatus,
        /// The reason given.
        reason: String,
        /// Who decided.
        by: String,
        /// When.
        at: i64,
    },
    /// Creates an account; the whole unit is refused
    /// ([`crate::Error::Conflict`]) if the email is taken.
    InsertAccount {
        /// The account.
        account: Account,
    },
    /// Spends an unexpired, unused sign-up link; the whole unit is refused
    /// ([`crate::Error::Conflict`]) unless it did.
    SpendSignUp {
        /// Its token's hash.
        token_hash: String,
        /// Now.
        now: i64,
    },
    /// Spends an unused backup code; the whole unit is refused
    /// ([`crate::Error::Conflict`]) if it was used meanwhile.
    UseBackupCode {
        /// The account.
        account_id: String,
        /// The code's stored hash.
        hash: String,
        /// Now.
        at: i64,
    },
    /// Records `step` as an app's last accepted step; the whole unit is
    /// refused ([`crate::Error::Conflict`]) if it or a later one was used.
    AdvanceLastStep {
        /// The app.
        method_id: String,
        /// The step.
        step: i64,
    },
    /// Stores a passkey ceremony in place of the unfinished ones of the
    /// same account, purpose and sign-in attempt.
    ReplaceCeremony(crate::model::Ceremony),
    /// Adds a method; refused ([`crate::Error::Conflict`]) if it is a
    /// passkey whose credential id is already registered.
    InsertMethod(crate::model::Method),
    /// Records a passkey's use: its new counter and credential, if the
    /// counter is still `seen_count` (the whole unit is refused otherwise,
    /// [`crate::Error::Conflict`]: another sign-in used it meanwhile).
    PasskeyUsed {
        /// The passkey.
        method_id: String,
        /// The counter read before the check.
        seen_count: i64,
        /// The counter the authenticator sent.
        sign_count: i64,
        /// The credential with its counter and flags updated.
        credential: String,
        /// Now.
        at: i64,
    },
    /// Appends to the audit log.
    Event(Event),
}

/// What [`Store::purge`] deletes: rows whose time is before these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purge {
    /// Now: expired sessions, remembered browsers, sign-up and emailed
    /// links end here.
    pub now: i64,
    /// Sign-in attempts that ended (or expired) before this, with their
    /// sent codes.
    pub attempts_before: i64,
    /// Rate counters whose window started before this, and password
    /// throttles last touched before it.
    pub counters_before: i64,
    /// Audit events before this.
    pub events_before: i64,
    /// Development outbox messages before this.
    pub outbox_before: i64,
}
