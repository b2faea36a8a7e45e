//! Sign-up and sign-in. Sign-in is a state machine with one method per
//! transition:
//!
//! ```text
//! EmailGiven --password()--> PasswordAccepted --+--> SignedIn            (2SV off, or a remembered browser)
//!                                               +--> CodeRequired(token) --verify_code()--> SignedIn
//! ```
//! The session exists only once the last transition succeeds (SPEC §1.4).

use zeroize::Zeroizing;

use super::Nidan;
use super::at_once::AtOnce;
use super::factor::{Accepted, Purpose};
use super::notices::Notice;
use crate::error::{Error, Result};
use crate::model::{
    Account, Challenge, EventKind, MethodKind, MethodRole, Origin, RememberedBrowser, Session,
};
use crate::secrets::{new_id, new_token, token_hash};
use crate::store::{Store, Write};

/// A new session: the token goes in a cookie or an `Authorization` header.
#[derive(Debug)]
pub struct SignedIn {
    /// The session token (shown to the client once, stored hashed).
    pub session_token: Zeroizing<String>,
    /// The session.
    pub session: Session,
    /// A remembered-browser token when the user ticked "Don't require
    /// codes on this browser".
    pub remember_token: Option<Zeroizing<String>>,
    /// What mandatory 2SV asks of this account (§8.1): the server sends a
    /// `Required` account straight to the wizard.
    pub mandate: super::mandate::Mandate,
}

/// A sign-in method as the code page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSummary {
    /// Id, to ask for a code by text or call.
    pub id: String,
    /// App, SMS or voice.
    pub kind: MethodKind,
    /// Primary or backup.
    pub role: MethodRole,
    /// The app's name, or the masked number.
    pub name: String,
    /// For phones: the last two digits ("ending in 78").
    pub last_two: Option<String>,
    /// For phones: whether the number can receive texts.
    pub can_text: bool,
}

impl MethodSummary {
    fn of(m: crate::model::Method) -> Self {
        let number = m
            .phone()
            .and_then(|(p, _)| crate::phone::PhoneNumber::from_e164(p).ok());
        let kind = m.kind();
        Self {
            id: m.id,
            kind,
            role: m.role,
            name: m.name,
            last_two: number.as_ref().map(|n| n.last_two().to_owned()),
            can_text: number
                .as_ref()
                .is_some_and(crate::phone::PhoneNumber::can_receive_sms),
        }
    }
}

/// The code step a sign-in is waiting for.
#[derive(Debug)]
pub struct CodeRequired {
    /// Identifies this sign-in attempt (cookie or JSON), stored hashed.
    pub challenge_token: Zeroizing<String>,
    /// The primary method's kind, to choose what the code page asks for.
    pub primary: MethodKind,
    /// The active methods, primary first.
    pub methods: Vec<MethodSummary>,
    /// When the primary is a phone: the outcome of texting or calling it
    /// as the code page opens (§4.1); an error to show in plain words.
    pub delivery: Option<Result<()>>,
}

/// The outcome of the password step.
#[derive(Debug)]
pub enum PasswordStep {
    /// No code needed.
    SignedIn(SignedIn),
    /// A code is needed.
    CodeRequired(CodeRequired),
}

/// A checked email address (trimmed, lowercased).
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(Error::InvalidEmail)
    }
}

pub(crate) fn check_password_length(password: &str) -> Result<()> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(Error::PasswordLength)
    }
}

impl<S: Store> Nidan<S> {
    /// The password step. `remembered` is the remembered-browser token the
    /// browser sent, if any.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        keep_signed_in: bool,
        remembered: Option<&str>,
        origin: &Origin,
    ) -> Result<PasswordStep> {
        let account = self.check_password(email, password, origin).await?;
        self.after_password(account, keep_signed_in, remembered, origin)
            .await
    }

    /// `PasswordAccepted → SignedIn | CodeRequired`.
    async fn after_password(
        &self,
        account: Account,
        keep_signed_in: bool,
        remembered: Option<&str>,
        origin: &Origin,
    ) -> Result<PasswordStep> {
        if account.two_sv_on_since.is_none() {
            return self
                .start_session(&account, keep_signed_in, false, Vec::new(), origin)
                .await
                .map(PasswordStep::SignedIn);
        }
        let browser = match remembered {
            Some(token) => {
                self.store
                    .use_browser(&account.id, &token_hash(token), self.now())
                    .await?
            }
            None => None,
        };
        if let Some(browser) = browser {
            // The browser was remembered at a code step: it is the second
            // step.
            let used = self.event(
                Some(&account.id),
                EventKind::RememberedBrowserUsed,
                origin,
                &browser.label,
            )?;
            return self
                .start_session(&account, keep_signed_in, true, vec![used], origin)
                .await
                .map(PasswordStep::SignedIn);
        }
        let token = new_token()?;
        let challenge = Challenge {
            id: new_id()?,
            account_id: account.id.clone(),
            expires_at: self.now() + self.policy.challenge_minutes * 60,
            attempts_left: self.policy.max_code_attempts,
            keep_signed_in,
            completed_at: None,
            created_at: self.now(),
            ip: origin.ip.clone(),
            browser: origin.browser_label.clone(),
        };
        self.store
            .insert_challenge(&challenge, &token_hash(&token))
            .await?;
        let paused = self.after_unfinished_sign_in(&account, origin).await?;
        let mut active: Vec<crate::model::Method> = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .filter(|m| m.active)
            .collect();
        active.sort_by_key(|m| m.role != MethodRole::Primary);
        let primary = active.first().map_or(MethodKind::App, |m| m.kind());
        let delivery = match active.first() {
            Some(m) if m.phone().is_some() && paused => Some(Err(Error::CodesPaused)),
            Some(m) if m.phone().is_some() => Some(
                self.send_code(&account, m, None, Some(&challenge.id), origin)
                    .await,
            ),
            _ => None,
        };
        Ok(PasswordStep::CodeRequired(CodeRequired {
            challenge_token: token,
            primary,
            methods: active.into_iter().map(MethodSummary::of).collect(),
            delivery,
        }))
    }

    /// The password step for clients with no code page (SPEC §1.5): the
    /// field holds the password, or the password with the current 6-digit
    /// code appended. Both forms are tried.
    pub async fn sign_in_combined(
        &self,
        email: &str,
        field: &str,
        keep_signed_in: bool,
        origin: &Origin,
    ) -> Result<SignedIn> {
        let split = field
            .char_indices()
            .rev()
            .nth(5)
            .map(|(i, _)| field.split_at(i))
            .filter(|(password, code)| {
                !password.is_empty() && code.chars().all(|c| c.is_ascii_digit())
            });
        if let Some((password, code)) = split {
            match self.check_password(email, password, origin).await {
                Ok(account) if account.two_sv_on_since.is_some() => {
                    if let PasswordStep::CodeRequired(required) = self
                        .after_password(account, keep_signed_in, None, origin)
                        .await?
                    {
                        return self
                            .verify_code(&required.challenge_token, code, false, origin)
                            .await;
                    }
                }
                // Without 2SV the digits belong to the password itself:
                // only the whole-field check below may sign in.
                Ok(_) | Err(Error::BadCredentials) => {}
                Err(other) => return Err(other),
            }
        }
        match self.sign_in(email, field, keep_signed_in, None, origin).await? {
            PasswordStep::SignedIn(signed_in) => Ok(signed_in),
            PasswordStep::CodeRequired(_) => Err(Error::MalformedCode(
                "this account uses two-step verification: append the current 6-digit code to the password".into(),
            )),
        }
    }

    /// Verifies email and password, recording the attempt. Unknown emails
    /// cost the same time as wrong passwords and get the same error.
    pub(super) async fn check_password(
        &self,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<Account> {
        let throttle = self.claim_password_check(email, origin).await?;
        let account = match normalize_email(email) {
            Ok(email) => self.store.account_by_email(&email).await?,
            Err(_) => None,
        };
        let matched = self
            .hasher
            .verify(password, account.as_ref().map(|a| a.password_hash.as_str()))
            .await?;
        match account {
            Some(account) if matched => {
                self.password_check_passed(&throttle).await?;
                self.record(Some(&account.id), EventKind::PasswordAccepted, origin, "")
                    .await?;
                Ok(account)
            }
            Some(account) => {
                self.record(Some(&account.id), EventKind::PasswordRefused, origin, "")
                    .await?;
                self.password_check_failed(Some(&account), origin).await?;
                Err(Error::BadCredentials)
            }
            None => {
                self.password_check_failed(None, origin).await?;
                Err(Error::BadCredentials)
            }
        }
    }

    /// The open (unexpired, uncompleted) sign-in attempt with this token.
    pub(crate) async fn open_challenge(&self, challenge_token: &str) -> Result<Challenge> {
        self.store
            .challenge_by_token(&token_hash(challenge_token))
            .await?
            .filter(|c| c.completed_at.is_none() && c.expires_at > self.now())
            .ok_or(Error::ChallengeExpired)
    }

    /// The active methods of the account a sign-in attempt belongs to,
    /// primary first, for the code page's "Didn't receive the code?" list.
    /// Only a holder of the attempt's token (who passed the password) sees them.
    pub async fn pending_methods(&self, challenge_token: &str) -> Result<Vec<MethodSummary>> {
        let challenge = self.open_challenge(challenge_token).await?;
        let mut active: Vec<crate::model::Method> = self
            .store
            .methods(&challenge.account_id)
            .await?
            .into_iter()
            .filter(|m| m.active)
            .collect();
        active.sort_by_key(|m| m.role != MethodRole::Primary);
        Ok(active.into_iter().map(MethodSummary::of).collect())
    }

    /// The code step: checks `code` for the attempt `challenge_token`;
    /// on success ends the attempt and starts a session, remembering this
    /// browser if asked.
    pub async fn verify_code(
        &self,
        challenge_token: &str,
        code: &str,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<SignedIn> {
        let (challenge, account, methods) = self
            .store
            .code_step_state(&token_hash(challenge_token))
            .await?
            .filter(|(c, _, _)| c.completed_at.is_none() && c.expires_at > self.now())
            .ok_or(Error::ChallengeExpired)?;
        if challenge.attempts_left <= 0 {
            return Err(Error::TooManyAttempts);
        }
        // Malformed input is not a try; everything after this is. The
        // common cases are decided in one unit sent at once; when that is
        // refused (something moved since the read), the counted path
        // decides.
        match self.check_at_once(&challenge, &account, methods, code)? {
            AtOnce::Right {
                method_id,
                name,
                step,
            } => {
                let first = self.right_code_writes(&challenge, &account, method_id, step);
                match self
                    .finish_sign_in(
                        &challenge,
                        &account,
                        Accepted::App(name),
                        first,
                        remember_browser,
                        origin,
                    )
                    .await
                {
                    Err(Error::Conflict) => {}
                    other => return other,
                }
            }
            AtOnce::Wrong => match self.refuse_at_once(&challenge, &account, origin).await {
                Err(Error::Conflict) => {}
                Ok(answer) => return Err(answer),
                Err(e) => return Err(e),
            },
            AtOnce::Counted => {}
        }
        let accepted = self
            .counted_check(&account, Purpose::SignIn(&challenge.id), code, origin)
            .await?;
        self.finish_counted(
            &challenge,
            &account,
            accepted,
            Vec::new(),
            remember_browser,
            origin,
        )
        .await
    }

    /// After the counted path accepted the second step of `challenge`:
    /// completes the attempt and starts the session with `more` (what
    /// spends what was accepted) in one unit; a unit refused because the
    /// attempt ended meanwhile is [`Error::ChallengeExpired`].
    pub(crate) async fn finish_counted(
        &self,
        challenge: &Challenge,
        account: &Account,
        accepted: Accepted,
        more: Vec<Write>,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<SignedIn> {
        let mut first = vec![Write::CompleteChallenge {
            challenge_id: challenge.id.clone(),
            at: self.now(),
        }];
        first.extend(more);
        match self
            .finish_sign_in(
                challenge,
                account,
                accepted,
                first,
                remember_browser,
                origin,
            )
            .await
        {
            Err(Error::Conflict) => Err(Error::ChallengeExpired),
            other => other,
        }
    }

    /// Ends the attempt and starts the session (remembering the browser,
    /// if asked) in one unit with `first`, the writes that accept the
    /// code: all of it, or none ([`Error::Conflict`]).
    pub(crate) async fn finish_sign_in(
        &self,
        challenge: &Challenge,
        account: &Account,
        accepted: Accepted,
        first: Vec<Write>,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<SignedIn> {
        let (kind, detail) = match &accepted {
            Accepted::BackupCode { left } => (EventKind::BackupCodeUsed, format!("{left} left")),
            Accepted::App(name) => (EventKind::CodeAccepted, name.clone()),
            Accepted::Passkey { name, .. } => (EventKind::PasskeyAccepted, name.clone()),
            Accepted::Phone | Accepted::FirstCode { .. } | Accepted::Unspent(_) => {
                (EventKind::CodeAccepted, "phone".to_owned())
            }
        };
        let mut writes = first;
        writes.push(self.event(Some(&account.id), kind, origin, &detail)?);
        let remember = if remember_browser {
            let (token, label, more) = self.browser_to_remember(account, origin)?;
            writes.extend(more);
            Some((token, label))
        } else {
            None
        };
        let (token, session, more) =
            self.session_to_start(account, challenge.keep_signed_in, true, origin)?;
        writes.extend(more);
        // Every write of the unit touches its own row: it can go at once.
        self.store.apply_at_once(writes).await?;
        if matches!(accepted, Accepted::BackupCode { .. }) {
            self.notify(account, Notice::BackupCodeUsed, &detail, origin)
                .await;
        }
        let remember_token = match remember {
            Some((token, label)) => {
                self.notify(account, Notice::BrowserRemembered, &label, origin)
                    .await;
                Some(token)
            }
            None => None,
        };
        Ok(SignedIn {
            session_token: token,
            session,
            remember_token,
            mandate: self.mandate(account),
        })
    }

    /// A remembered browser for `account` (a token for its cookie, its
    /// label, and the writes that store it), to be applied with the change
    /// it belongs to; the notice goes out after.
    pub(crate) fn browser_to_remember(
        &self,
        account: &Account,
        origin: &Origin,
    ) -> Result<(Zeroizing<String>, String, Vec<Write>)> {
        let token = new_token()?;
        let now = self.now();
        let browser = RememberedBrowser {
            id: new_id()?,
            account_id: account.id.clone(),
            label: origin.browser_label.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.policy.remember_browser_days * 86_400,
        };
        let label = browser.label.clone();
        let writes = vec![
            self.event(
                Some(&account.id),
                EventKind::BrowserRemembered,
                origin,
                &label,
            )?,
            Write::InsertBrowser {
                browser,
                token_hash: token_hash(&token),
            },
        ];
        Ok((token, label, writes))
    }

    /// Sets the account's language.
    pub async fn set_locale(&self, account: &Account, locale: &str) -> Result<()> {
        self.store.set_locale(&account.id, locale).await
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "a@b@example.com",
            "alice@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
