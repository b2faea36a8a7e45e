//! Accounts: who they are, their password, language and roles.

use std::future::Future;

use crate::error::Result;
use crate::model::Account;

/// Accounts: who they are, their password, language and roles.
pub trait Accounts: Send + Sync + 'static {
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
}
