//! Password reset by an emailed link: the way back for someone who forgot
//! the password, and what unlocks code entry after a lockout (SPEC §4.5)
//! or restarts sending after an abuse pause (§7.1). A reset never turns
//! two-step verification off: the next sign-in still needs a code.

use super::Nidan;
use super::notices::Notice;
use super::signin::{check_password_length, normalize_email};
use crate::error::{Error, Result};
use crate::model::Origin;
use crate::secrets::{new_token, token_hash};
use crate::store::Store;

/// Reset links emailed per account per hour; more are silently dropped.
const RESETS_PER_HOUR: i64 = 3;

impl<S: Store> Nidan<S> {
    /// Emails a reset link if an account has this address. The answer is
    /// the same whether or not it exists.
    pub async fn request_password_reset(&self, email: &str, origin: &Origin) -> Result<()> {
        let email = normalize_email(email)?;
        let Some(account) = self.store.account_by_email(&email).await? else {
            return Ok(());
        };
        let now = self.now();
        let hour = now - now.rem_euclid(3600);
        if self
            .store
            .bump_counter(&format!("reset:{}", account.id), hour)
            .await?
            > RESETS_PER_HOUR
        {
            return self
                .record(Some(&account.id), "password_reset_limited", origin, "")
                .await;
        }
        let token = new_token()?;
        self.store
            .insert_password_reset(
                &token_hash(&token),
                &account.id,
                now,
                now + self.policy.password_reset_minutes * 60,
            )
            .await?;
        self.record(Some(&account.id), "password_reset_requested", origin, "")
            .await?;
        let link = self.link(&format!("/password/reset/{}", token.as_str()));
        self.notify_with(&account, Notice::PasswordResetLink, "", Some(&link), origin)
            .await;
        Ok(())
    }

    /// Sets a new password with a reset link's token: every session ends,
    /// every remembered browser is forgotten, and the lockout and abuse
    /// pause are cleared.
    pub async fn reset_password(&self, token: &str, new: &str, origin: &Origin) -> Result<()> {
        check_password_length(new)?;
        let account_id = self
            .store
            .use_password_reset(&token_hash(token), self.now())
            .await?
            .ok_or(Error::ResetLinkInvalid)?;
        let account = self
            .store
            .account_by_id(&account_id)
            .await?
            .ok_or(Error::ResetLinkInvalid)?;
        let hash = self.hasher.hash(new).await?;
        self.store.set_password_hash(&account.id, &hash).await?;
        self.store.delete_sessions_except(&account.id, None).await?;
        self.store.delete_browsers(&account.id).await?;
        self.store
            .reset_guard(&account.id, Some(self.now()))
            .await?;
        self.record(Some(&account.id), "password_reset", origin, "")
            .await?;
        self.notify(&account, Notice::PasswordReset, "", origin)
            .await;
        Ok(())
    }
}
