//! Password reset by an emailed link: the way back for someone who forgot
//! the password, and what unlocks code entry after a lockout (SPEC §4.5)
//! or restarts sending after an abuse pause (§7.1). A reset never turns
//! two-step verification off: the next sign-in still needs a code.

use super::Nidan;
use super::notices::Notice;
use super::signin::{check_password_length, normalize_email};
use crate::error::{Error, Result};
use crate::model::{Account, EventKind, LinkPurpose, Origin};
use crate::secrets::{new_token, token_hash};
use crate::store::{Store, Write};
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
                .record(
                    Some(&account.id),
                    EventKind::PasswordResetLimited,
                    origin,
                    "",
                )
                .await;
        }
        let token = self
            .issue_link(
                &account,
                LinkPurpose::Reset,
                self.policy.password_reset_minutes * 60,
            )
            .await?;
        self.record(
            Some(&account.id),
            EventKind::PasswordResetRequested,
            origin,
            "",
        )
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
        let (account, spend) = self.link_to_spend(token, LinkPurpose::Reset).await?;
        let hash = self.hasher.hash(new).await?;
        let mut writes = vec![
            spend,
            Write::SetPasswordHash {
                account_id: account.id.clone(),
                hash,
            },
            Write::ResetGuard {
                account_id: account.id.clone(),
                password_changed: Some(self.now()),
            },
            self.event(Some(&account.id), EventKind::PasswordReset, origin, "")?,
        ];
        writes.extend(self.everywhere_else(&account.id, None));
        match self.store.apply(writes).await {
            Err(Error::Conflict) => return Err(Error::ResetLinkInvalid),
            other => other?,
        }
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
        let (account, spend) = self.link_to_spend(token, LinkPurpose::NotMe).await?;
        let (reset, issue) = self.new_link(
            &account,
            LinkPurpose::Reset,
            self.policy.password_reset_minutes * 60,
        )?;
        let mut writes = vec![
            spend,
            issue,
            self.event(
                Some(&account.id),
                EventKind::NotMe,
                origin,
                "signed out everywhere, remembered browsers forgotten",
            )?,
        ];
        writes.extend(self.everywhere_else(&account.id, None));
        match self.store.apply(writes).await {
            Err(Error::Conflict) => Err(Error::ResetLinkInvalid),
            other => other.map(|()| reset),
        }
    }

    /// A new emailed link for `account`, valid `seconds`: its token and the
    /// write that stores it.
    fn new_link(
        &self,
        account: &Account,
        purpose: LinkPurpose,
        seconds: i64,
    ) -> Result<(Zeroizing<String>, Write)> {
        let token = new_token()?;
        let now = self.now();
        let write = Write::InsertLink {
            token_hash: token_hash(&token),
            account_id: account.id.clone(),
            purpose,
            at: now,
            expires_at: now + seconds,
        };
        Ok((token, write))
    }

    /// Stores a new emailed link for `account`, valid `seconds`; its token.
    async fn issue_link(
        &self,
        account: &Account,
        purpose: LinkPurpose,
        seconds: i64,
    ) -> Result<Zeroizing<String>> {
        let (token, write) = self.new_link(account, purpose, seconds)?;
        self.store.apply(vec![write]).await?;
        Ok(token)
    }

    /// The account of an unexpired, unused emailed link of `purpose`, and
    /// the write that spends it (once: a unit holding it is refused with
    /// [`Error::Conflict`] if another spent it first).
    async fn link_to_spend(&self, token: &str, purpose: LinkPurpose) -> Result<(Account, Write)> {
        let hash = token_hash(token);
        let account_id = self
            .store
            .link_account(&hash, purpose, self.now())
            .await?
            .ok_or(Error::ResetLinkInvalid)?;
        let account = self
            .store
            .account_by_id(&account_id)
            .await?
            .ok_or(Error::ResetLinkInvalid)?;
        let spend = Write::SpendLink {
            token_hash: hash,
            purpose,
            now: self.now(),
        };
        Ok((account, spend))
    }

    /// The writes that end every session of `account_id` but `keep`,
    /// forget its remembered browsers and end its sign-in attempts waiting
    /// for a code (someone who knew the password must not finish one after
    /// the owner acted).
    pub(crate) fn everywhere_else(&self, account_id: &str, keep: Option<&str>) -> Vec<Write> {
        vec![
            Write::DeleteSessionsExcept {
                account_id: account_id.to_owned(),
                keep: keep.map(str::to_owned),
            },
            Write::DeleteBrowsers {
                account_id: account_id.to_owned(),
            },
            Write::EndOpenChallenges {
                account_id: account_id.to_owned(),
                at: self.now(),
            },
        ]
    }
}
