//! Sign-in methods and backup codes.

use std::future::Future;

use crate::error::Result;
use crate::model::{Ceremony, CeremonyPurpose, Method, MethodRole};

/// Sign-in methods and backup codes.
pub trait Methods: Send + Sync + 'static {
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
    /// by [`Write::UseBackupCode`](super::Write::UseBackupCode)).
    fn backup_code_unused(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Unused backup codes left.
    fn backup_codes_left(&self, account_id: &str) -> impl Future<Output = Result<i64>> + Send;
    /// Backup-code hashes stored before they were keyed (at most `limit`):
    /// account id and hash.
    fn legacy_backup_code_hashes(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// The passkey with this credential id (base64url), whoever's it is.
    fn method_by_credential_id(
        &self,
        credential_id: &str,
    ) -> impl Future<Output = Result<Option<Method>>> + Send;
    /// Stores a WebAuthn ceremony under way, in place of any unfinished one
    /// of the same account, purpose and attempt (one at a time: a caller
    /// who begins again and again never piles rows up).
    fn insert_ceremony(&self, ceremony: &Ceremony) -> impl Future<Output = Result<()>> + Send;
    /// Takes the ceremony `id` of `account_id` for `purpose` (and, for a
    /// sign-in, of the attempt `challenge_id`), once: marks it used and
    /// returns it, or `None` if it is unknown, someone else's, another
    /// attempt's, for another purpose, expired at `now` or already taken.
    fn take_ceremony(
        &self,
        id: &str,
        account_id: Option<&str>,
        challenge_id: Option<&str>,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> impl Future<Output = Result<Option<Ceremony>>> + Send;
    /// Replaces one backup code's stored hash.
    fn rehash_backup_code(
        &self,
        account_id: &str,
        old: &str,
        new: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}
