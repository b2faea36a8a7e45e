//! Password reset by an emailed link: the way back for someone who forgot
//! the password, and what unlocks code entry after a lockout (SPEC §4.5)
//! or restarts sending after an abuse pause (§7.1). A reset never turns
//! two-step verification off: the next sign-in still needs a code.

use super::Nidan;
use super::notices::Notice;
use super::signin::{check_password_length, normalize_email};
use crate::error::{Error, Result};
use crate::model::{Account, LinkPurpose, Origin};
use crate::secrets::{new_token, token_hash};
use crate::store::Store;
use zeroize::Zeroizing;

/// Reset links emailed per account per hour; more are silently dropped.
const RESETS_PER_HOUR: i64 = 3;

/// How long a "This wasn't me" link in a notice works.
pub const NOT_ME_DAYS: i64 = 14;

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
        let token = self
            .issue_link(
                &account,
                LinkPurpose::Reset,
                self.policy.password_reset_minutes * 60,
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
        let account = self.spend_link(token, LinkPurpose::Reset).await?;
        let hash = self.hasher.hash(new).await?;
        self.store.set_password_hash(&account.id, &hash).await?;
        self.sign_out_everywhere(&account).await?;
        self.store
            .reset_guard(&account.id, Some(self.now()))
            .await?;
        self.record(Some(&account.id), "password_reset", origin, "")
            .await?;
        self.notify(&account, Notice::PasswordReset, "", origin)
            .await;
        Ok(())
    }

    /// A "This wasn't me" link for a security notice (§7.2), valid for
    /// [`NOT_ME_DAYS`] and once; `None` if it could not be stored (the
    /// notice then goes without it).
    pub(crate) async fn not_me_link(&self, account: &Account) -> Option<String> {
        let token = self
            .issue_link(account, LinkPurpose::NotMe, NOT_ME_DAYS * 86_400)
            .await
            .ok()?;
        Some(self.link(&format!("/not-me/{}", token.as_str())))
    }

    /// "This wasn't me": someone who knows the password changed the
    /// account (and could otherwise enrol their own phone and stay). Ends
    /// every session, forgets every remembered browser, and opens a
    /// password reset (1 hour) for the owner, whose token is returned.
    pub async fn not_me(&self, token: &str, origin: &Origin) -> Result<Zeroizing<String>> {
        let account = self.spend_link(token, LinkPurpose::NotMe).await?;
        self.sign_out_everywhere(&account).await?;
        let reset = self
            .issue_link(
                &account,
                LinkPurpose::Reset,
                self.policy.password_reset_minutes * 60,
            )
            .await?;
        self.record(
            Some(&account.id),
            "not_me",
            origin,
            "signed out everywhere, remembered browsers forgotten",
        )
        .await?;
        Ok(reset)
    }

    /// Stores a new emailed link for `account`, valid `seconds`; its token.
    async fn issue_link(
        &self,
        account: &Account,
        purpose: LinkPurpose,
        seconds: i64,
    ) -> Result<Zeroizing<String>> {
        let token = new_token()?;
        let now = self.now();
        self.store
            .insert_password_reset(
                &token_hash(&token),
                &account.id,
                purpose,
                now,
                now + seconds,
            )
            .await?;
        Ok(token)
    }

    /// Spends an emailed link of `purpose` (once, unexpired); its account.
    async fn spend_link(&self, token: &str, purpose: LinkPurpose) -> Result<Account> {
        let account_id = self
            .store
            .use_password_reset(&token_hash(token), purpose, self.now())
            .await?
            .ok_or(Error::ResetLinkInvalid)?;
        self.store
            .account_by_id(&account_id)
            .await?
            .ok_or(Error::ResetLinkInvalid)
    }

    /// Ends every session of `account`, forgets its remembered browsers and
    /// ends its sign-in attempts waiting for a code (someone who knew the
    /// password must not finish one after the owner acted).
    async fn sign_out_everywhere(&self, account: &Account) -> Result<()> {
        self.store.delete_sessions_except(&account.id, None).await?;
        self.store.delete_browsers(&account.id).await?;
        self.store
            .end_open_challenges(&account.id, self.now())
            .await?;
        Ok(())
    }
}
