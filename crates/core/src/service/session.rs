//! Sessions: starting one (in the unit of the change that signs it in),
//! finding it from its token, ending it, renewing it when 2SV is turned
//! on in it, step-up re-authentication, and the password change, which
//! ends every other session.

use zeroize::Zeroizing;

use super::Nidan;
use super::notices::Notice;
use super::signin::{SignedIn, check_password_length};
use crate::error::{Error, Result};
use crate::model::{Account, EventKind, Origin, Session};
use crate::secrets::{new_id, new_token, token_hash};
use crate::store::{Store, Write};

impl<S: Store> Nidan<S> {
    /// A new session for `account` (its token, the session, the writes
    /// that store it).
    pub(super) fn session_to_start(
        &self,
        account: &Account,
        keep_signed_in: bool,
        two_step: bool,
        origin: &Origin,
    ) -> Result<(Zeroizing<String>, Session, Vec<Write>)> {
        let token = new_token()?;
        let now = self.now();
        let lifetime = if keep_signed_in {
            self.policy.keep_signed_in_days * 86_400
        } else {
            self.policy.session_hours * 3_600
        };
        let session = Session {
            id: new_id()?,
            account_id: account.id.clone(),
            created_at: now,
            expires_at: now + lifetime,
            password_at: now,
            keep_signed_in,
            two_step_at: two_step.then_some(now),
        };
        let writes = vec![
            Write::InsertSession {
                session: session.clone(),
                token_hash: token_hash(&token),
            },
            self.event(Some(&account.id), EventKind::SignedIn, origin, "")?,
        ];
        Ok((token, session, writes))
    }

    /// Starts a session for `account` (with `first`, the writes of the
    /// change that signs it in, in the same unit).
    pub(crate) async fn start_session(
        &self,
        account: &Account,
        keep_signed_in: bool,
        two_step: bool,
        first: Vec<Write>,
        origin: &Origin,
    ) -> Result<SignedIn> {
        let (token, session, writes) =
            self.session_to_start(account, keep_signed_in, two_step, origin)?;
        let mut all = first;
        all.extend(writes);
        self.store.apply(all).await?;
        Ok(SignedIn {
            session_token: token,
            session,
            remember_token: None,
            mandate: self.mandate(account),
        })
    }

    /// The session and account for a session token.
    pub async fn authenticate(&self, session_token: &str) -> Result<(Session, Account)> {
        let session = self
            .store
            .session_by_token(&token_hash(session_token), self.now())
            .await?
            .ok_or(Error::NotSignedIn)?;
        let account = self
            .store
            .account_by_id(&session.account_id)
            .await?
            .ok_or(Error::NotSignedIn)?;
        Ok((session, account))
    }

    /// Ends a session.
    pub async fn sign_out(&self, session: &Session, origin: &Origin) -> Result<()> {
        self.store.delete_session(&session.id).await?;
        self.record(Some(&session.account_id), EventKind::SignedOut, origin, "")
            .await
    }

    /// Whether `session` passed two steps while the account has 2SV on:
    /// it came from a code, from a browser remembered after a code, or
    /// from [`Nidan::renew_session`] as the wizard finished. A
    /// password-only session (from before 2SV) does not count, nor one
    /// from before 2SV was last turned off and on again.
    pub fn passed_two_steps(&self, session: &Session, account: &Account) -> bool {
        match (session.two_step_at, account.two_sv_on_since) {
            (Some(at), Some(since)) => at >= since,
            _ => false,
        }
    }

    /// Replaces `old` with a new session (new token, same kind and
    /// password time) after its privileges changed — 2SV was just turned
    /// on in it, with a code confirmed — so the old token stops working
    /// and the new session counts as [`Nidan::passed_two_steps`].
    pub async fn renew_session(&self, old: &Session, account: &Account) -> Result<SignedIn> {
        let token = new_token()?;
        let now = self.now();
        let session = Session {
            id: new_id()?,
            account_id: account.id.clone(),
            created_at: now,
            expires_at: old.expires_at.max(now),
            password_at: old.password_at,
            keep_signed_in: old.keep_signed_in,
            two_step_at: Some(now),
        };
        self.store
            .apply(vec![
                Write::InsertSession {
                    session: session.clone(),
                    token_hash: token_hash(&token),
                },
                Write::DeleteSession {
                    session_id: old.id.clone(),
                },
            ])
            .await?;
        Ok(SignedIn {
            session_token: token,
            session,
            remember_token: None,
            mandate: self.mandate(account),
        })
    }

    /// Fails with [`Error::StepUpRequired`] when the password was last
    /// entered in this session longer ago than the policy allows.
    pub fn require_recent_password(&self, session: &Session) -> Result<()> {
        if self.now() - session.password_at <= self.policy.step_up_minutes * 60 {
            Ok(())
        } else {
            Err(Error::StepUpRequired)
        }
    }

    /// Re-enters the password in a session (step-up re-authentication).
    pub async fn step_up(
        &self,
        session: &Session,
        account: &Account,
        password: &str,
        origin: &Origin,
    ) -> Result<()> {
        self.check_password(&account.email, password, origin)
            .await?;
        self.store
            .touch_session_password(&session.id, self.now())
            .await?;
        self.record(Some(&account.id), EventKind::StepUp, origin, "")
            .await
    }

    /// Changes the password: every other session ends and every remembered
    /// browser is forgotten (SPEC §1.6).
    pub async fn change_password(
        &self,
        session: &Session,
        account: &Account,
        current: &str,
        new: &str,
        origin: &Origin,
    ) -> Result<()> {
        check_password_length(new)?;
        self.check_password(&account.email, current, origin).await?;
        let hash = self.hasher.hash(new).await?;
        let now = self.now();
        let mut writes = vec![
            Write::SetPasswordHash {
                account_id: account.id.clone(),
                hash,
            },
            Write::TouchSessionPassword {
                session_id: session.id.clone(),
                at: now,
            },
            Write::ResetGuard {
                account_id: account.id.clone(),
                password_changed: Some(now),
            },
            self.event(Some(&account.id), EventKind::PasswordChanged, origin, "")?,
        ];
        // Every other session, every remembered browser, and whoever
        // passed the old password and waits for a code, stop here.
        writes.extend(self.everywhere_else(&account.id, Some(&session.id)));
        self.store.apply(writes).await?;
        self.notify(account, Notice::PasswordChanged, "", origin)
            .await;
        Ok(())
    }
}
