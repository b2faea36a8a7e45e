//! Sign-up by email (SPEC §1.1, §1.7; issue 13, finding 9). The answer
//! to a sign-up is the same whether the address has an account or not,
//! and costs the same (the password is hashed either way): a new address
//! gets a link that creates the account when opened (24 hours, once); an
//! address that has an account gets a notice that someone tried to sign
//! up with it. Nobody learns from sign-up which addresses have accounts,
//! and nobody creates an account for an address they cannot read.

use zeroize::Zeroizing;

use super::Nidan;
use super::notices::{Links, Notice, compose};
use super::signin::{SignedIn, check_password_length, normalize_email};
use crate::error::{Error, Result};
use crate::model::{Account, AccountGuard, EventKind, Origin, PendingSignUp};
use crate::secrets::{new_id, new_token, token_hash};
use crate::store::{Store, Write};

/// How long a sign-up link works.
pub const SIGN_UP_HOURS: i64 = 24;

/// Sign-up emails per address per hour; more are silently dropped (no one
/// floods an inbox through the sign-up form).
const SIGN_UP_MAILS_PER_HOUR: i64 = 3;

impl<S: Store> Nidan<S> {
    /// Starts a sign-up: checks the address and the password's length and
    /// emails the address. `Ok(())` whether or not it has an account.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        locale: &str,
        origin: &Origin,
    ) -> Result<()> {
        let email = normalize_email(email)?;
        check_password_length(password)?;
        // Hashed whether or not it is kept: the answer takes as long.
        let password_hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mails = self
            .store
            .bump_counter(
                &format!("sign-up:{}", token_hash(&email)),
                now - now.rem_euclid(3600),
            )
            .await?;
        if let Some(account) = self.store.account_by_email(&email).await? {
            self.record(Some(&account.id), EventKind::SignUpAttempted, origin, "")
                .await?;
            if mails <= SIGN_UP_MAILS_PER_HOUR {
                self.notify_with(
                    &account,
                    Notice::SignUpAttempt,
                    "",
                    Some(&self.link("/signin")),
                    origin,
                )
                .await;
            }
            return Ok(());
        }
        if mails > SIGN_UP_MAILS_PER_HOUR {
            return Ok(());
        }
        let token = new_token()?;
        self.store
            .insert_sign_up(&PendingSignUp {
                token_hash: token_hash(&token),
                email: email.clone(),
                password_hash,
                locale: locale.to_owned(),
                created_at: now,
                expires_at: now + SIGN_UP_HOURS * 3600,
            })
            .await?;
        self.email_sign_up_link(&email, locale, &token, origin)
            .await;
        Ok(())
    }

    /// The link that finishes a sign-up, to an address with no account
    /// yet (so no [`Self::notify`], which needs one). Best effort, like
    /// every notice: the answer must not depend on it.
    async fn email_sign_up_link(
        &self,
        email: &str,
        locale: &str,
        token: &Zeroizing<String>,
        origin: &Origin,
    ) {
        let link = self.link(&format!("/signup/confirm/{}", token.as_str()));
        let to = Account {
            id: String::new(),
            email: email.to_owned(),
            password_hash: String::new(),
            roles: Vec::new(),
            locale: locale.to_owned(),
            two_sv_on_since: None,
            created_at: self.now(),
            guard: AccountGuard::default(),
        };
        let (subject, body) = compose(
            Notice::ConfirmSignUp,
            &to,
            &self.policy.service_name,
            "",
            Links {
                action: Some(&link),
                not_me: None,
            },
            &crate::calendar::utc_datetime(self.now()),
            origin,
        );
        if let Err(e) = self
            .senders
            .email
            .send_email_boxed(email, &subject, &body)
            .await
        {
            let _ = self
                .record(
                    None,
                    EventKind::NoticeFailed,
                    origin,
                    &format!("{subject}: {e}"),
                )
                .await;
        }
    }

    /// Opens a sign-up link: creates the account and signs it in. A link
    /// that expired, was used, or whose address got an account meanwhile
    /// is [`Error::SignUpLinkInvalid`].
    pub async fn confirm_sign_up(&self, token: &str, origin: &Origin) -> Result<SignedIn> {
        let hash = token_hash(token);
        let pending = self
            .store
            .pending_sign_up(&hash, self.now())
            .await?
            .ok_or(Error::SignUpLinkInvalid)?;
        let account = Account {
            id: new_id()?,
            email: pending.email,
            password_hash: pending.password_hash,
            roles: Vec::new(),
            locale: pending.locale,
            two_sv_on_since: None,
            created_at: self.now(),
            guard: AccountGuard::default(),
        };
        // The link is spent, the account created and signed in, in one
        // unit: a link used twice at once, or an address that got an
        // account meanwhile, changes nothing.
        let first = vec![
            Write::SpendSignUp {
                token_hash: hash,
                now: self.now(),
            },
            Write::InsertAccount {
                account: account.clone(),
            },
            self.event(Some(&account.id), EventKind::SignedUp, origin, "")?,
        ];
        match self
            .start_session(&account, false, false, first, origin)
            .await
        {
            Err(Error::Conflict) => Err(Error::SignUpLinkInvalid),
            other => other,
        }
    }
}
