//! Checking a second factor. A code is either an authenticator code
//! (digits, checked against every active app over the policy's window) or
//! a backup code (letters and digits). Single use is decided by the
//! database: an app's `last_step` only moves forward through an atomic
//! conditional update, and a backup code is spent by an update that
//! matches only while it is unused.
//!
//! Every place that accepts a code — the sign-in's code step, turning 2SV
//! off, confirming a new app or phone — goes through
//! [`Nidan::counted_check`]: the check is claimed as a failure of the
//! account first (and as a try of the sign-in attempt, if any), so the
//! slow-down and the lockout of §4.5 count every wrong code wherever it
//! was typed.

use nidan_otp::{CodeFormat, Totp, Window};

use super::Nidan;
use super::guard::slowdown_seconds;
use super::notices::Notice;
use crate::error::{Error, Result};
use crate::model::{Account, EventKind, Factor, Method, MethodKind, MethodRole, Origin};
use crate::secrets::normalize_backup_code;
use crate::store::{Store, Write};

/// What a code is typed for, which says what may accept it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose<'a> {
    /// The code step of the sign-in attempt with this id: any active
    /// method, or a code sent for this attempt.
    SignIn(&'a str),
    /// Turning 2SV off: any active app or a backup code.
    TurnOff,
    /// The first code of an app being set up.
    ConfirmApp(&'a Method),
    /// A code sent to a phone being set up.
    ConfirmPhone(&'a Method),
    /// A passkey's answer (the "code" is the WebAuthn assertion, as JSON)
    /// for the sign-in attempt `challenge_id`, against the ceremony state.
    Passkey {
        /// The attempt.
        challenge_id: &'a str,
        /// The ceremony's stored state.
        state: &'a str,
    },
    /// A discoverable passkey's answer, signing in with no password.
    Passwordless {
        /// The ceremony's stored state.
        state: &'a str,
    },
}

impl Purpose<'_> {
    /// For the audit log.
    fn label(self) -> &'static str {
        match self {
            Purpose::SignIn(_) => "sign-in",
            Purpose::TurnOff => "turning two-step verification off",
            Purpose::ConfirmApp(_) => "confirming a new app",
            Purpose::ConfirmPhone(_) => "confirming a new phone",
            Purpose::Passkey { .. } => "sign-in with a passkey",
            Purpose::Passwordless { .. } => "sign-in with a passkey, without a password",
        }
    }
}

/// What [`Nidan::match_app`] found.
#[derive(Debug, Default)]
pub(crate) struct AppMatch {
    /// An app whose unused step made the code: its id, name and the step.
    pub fresh: Option<(String, String, i64)>,
    /// An app that made the code for a step already used.
    pub replayed: Option<String>,
    /// Whether the account has an active phone.
    pub phones: bool,
}

/// What accepted a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A code sent by text or call for this attempt.
    Phone,
    /// The authenticator app with this name.
    App(String),
    /// A backup code; this many are left.
    BackupCode {
        /// Unused codes remaining.
        left: i64,
    },
    /// The first code of a method being set up, at this TOTP step (0 for
    /// a phone); the caller confirms the method with the rest of its change.
    FirstCode {
        /// The step to record as used.
        step: i64,
    },
    /// A right code not spent yet: the caller spends it with this write in
    /// the unit of the change it allows (refused if spent meanwhile).
    Unspent(crate::store::Write),
    /// The passkey named; `used` advances its counter, in the unit that
    /// ends the attempt (refused if another sign-in used it meanwhile).
    Passkey {
        /// Its name.
        name: String,
        /// The write that records its use.
        used: crate::store::Write,
    },
}

/// Why a well-formed code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No method matched.
    Wrong,
    /// It matched a step already used (a replay), for the app named.
    Replayed(String),
    /// A passkey answer that did not prove itself: another site's key, a
    /// key not on the account, a bad signature.
    BadKey,
    /// The passkey named answered with a counter that did not move
    /// forward: perhaps a copy of it.
    Cloned(String),
}

/// What a typed code is, once its form is checked.
pub(crate) enum Typed {
    /// A backup code, normalized.
    Backup(String),
    /// Digits for an app or a sent code, normalized.
    Digits(String),
}

/// Checks the form of a typed code (spaces, hyphens, full-width digits
/// allowed) without looking anything up: malformed input never counts as
/// a try.
pub(crate) fn parse_code(typed: &str) -> Result<Typed> {
    let digits_only: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let looks_numeric = !digits_only.is_empty()
        && digits_only
            .chars()
            .all(|c| c.is_ascii_digit() || ('０'..='９').contains(&c));
    if looks_numeric {
        return CodeFormat::default()
            .normalize(typed)
            .map(Typed::Digits)
            .map_err(|e| Error::MalformedCode(e.to_string()));
    }
    normalize_backup_code(typed)
        .map(Typed::Backup)
        .ok_or_else(|| {
            Error::MalformedCode(
                "enter the 6-digit code from your app, or a backup code like abcde-fghij".into(),
            )
        })
}

impl<S: Store> Nidan<S> {
    /// The one counted code check (SPEC §4.5). Malformed input is refused
    /// before anything is counted; otherwise the check is claimed as a
    /// failure, the code checked for `purpose`, and a right code clears
    /// the count. A wrong or replayed code is recorded (a replay is also
    /// emailed to the owner: someone saw the code being typed) and comes
    /// back as the error to show: the tries left in the attempt, or
    /// outside one the tries before the slow-down and then the wait.
    pub(crate) async fn counted_check(
        &self,
        account: &Account,
        purpose: Purpose<'_>,
        typed: &str,
        origin: &Origin,
    ) -> Result<Accepted> {
        match purpose {
            Purpose::SignIn(_) | Purpose::TurnOff => {
                parse_code(typed)?;
            }
            Purpose::ConfirmApp(_) | Purpose::ConfirmPhone(_) => {
                CodeFormat::default()
                    .normalize(typed)
                    .map_err(|_| Error::MalformedCode("a code is 6 digits".into()))?;
            }
            // Its form was checked before the ceremony was taken.
            Purpose::Passkey { .. } | Purpose::Passwordless { .. } => {}
        }
        let challenge_id = match purpose {
            Purpose::SignIn(id)
            | Purpose::Passkey {
                challenge_id: id, ..
            } => Some(id),
            Purpose::TurnOff
            | Purpose::ConfirmApp(_)
            | Purpose::ConfirmPhone(_)
            | Purpose::Passwordless { .. } => None,
        };
        let claim = self.claim_code_check(account, challenge_id).await?;
        let refused = match self.check_for(account, purpose, typed).await? {
            Ok(accepted) => {
                self.code_check_passed(account).await?;
                return Ok(accepted);
            }
            Err(refused) => refused,
        };
        self.code_check_failed(account, claim, origin).await?;
        match &refused {
            Refused::Replayed(name) => {
                let detail = format!("{name}, {}", purpose.label());
                self.record(Some(&account.id), EventKind::CodeReplayed, origin, &detail)
                    .await?;
                self.notify(account, Notice::CodeReplayed, name, origin)
                    .await;
            }
            Refused::Wrong => {
                self.record(
                    Some(&account.id),
                    EventKind::CodeRefused,
                    origin,
                    purpose.label(),
                )
                .await?;
            }
            Refused::BadKey => {
                self.record(
                    Some(&account.id),
                    EventKind::PasskeyRefused,
                    origin,
                    purpose.label(),
                )
                .await?;
            }
            Refused::Cloned(name) => {
                self.record(
                    Some(&account.id),
                    EventKind::PasskeyCloneSuspected,
                    origin,
                    name,
                )
                .await?;
            }
        }
        match (claim.left, refused) {
            (Some(left), _) if left <= 0 => {
                self.store
                    .apply(vec![self.attempt_ended_event(account, origin)?])
                    .await?;
                Err(Error::TooManyAttempts)
            }
            (_, Refused::BadKey | Refused::Cloned(_)) => Err(Error::PasskeyRefused),
            (_, Refused::Replayed(_)) => Err(Error::CodeAlreadyUsed),
            (Some(left), Refused::Wrong) => Err(Error::WrongCode {
                attempts_left: left,
            }),
            (None, Refused::Wrong) => {
                let failures = claim.failures;
                let p = &self.policy;
                if failures >= p.lockout_after_failures {
                    return Err(Error::CodeEntryLocked);
                }
                match slowdown_seconds(failures, p.slowdown_after_failures, p.slowdown_max_seconds)
                {
                    Some(wait) => Err(Error::SlowDown { retry_after: wait }),
                    None => Err(Error::WrongCode {
                        attempts_left: p.slowdown_after_failures - failures,
                    }),
                }
            }
        }
    }

    /// The first code of a method being set up (`purpose` is
    /// [`Purpose::ConfirmApp`] or [`Purpose::ConfirmPhone`]), counted like
    /// any code; then the method is confirmed (its step can't be replayed at
    /// the next sign-in) and, with 2SV on, in use at once (§2.3) — one unit.
    pub(crate) async fn confirm_new_method(
        &self,
        account: &Account,
        method: &Method,
        purpose: Purpose<'_>,
        code: &str,
        origin: &Origin,
    ) -> Result<()> {
        let Accepted::FirstCode { step } =
            self.counted_check(account, purpose, code, origin).await?
        else {
            return Err(Error::NoSuchMethod);
        };
        let mut writes = vec![Write::ConfirmMethod {
            method_id: method.id.clone(),
            at: self.now(),
            step,
        }];
        let on = account.two_sv_on_since.is_some();
        if on {
            writes.push(Write::ActivateMethods {
                account_id: account.id.clone(),
                roles: vec![(method.id.clone(), MethodRole::Backup)],
            });
            writes.push(self.event(
                Some(&account.id),
                EventKind::MethodAdded,
                origin,
                &method.name,
            )?);
        }
        self.store.apply(writes).await?;
        if on {
            self.notify(account, Notice::MethodAdded, &method.name, origin)
                .await;
        }
        Ok(())
    }

    /// Checks a well-formed code for `purpose`, spending it if right.
    async fn check_for(
        &self,
        account: &Account,
        purpose: Purpose<'_>,
        typed: &str,
    ) -> Result<std::result::Result<Accepted, Refused>> {
        match purpose {
            Purpose::SignIn(challenge_id) => {
                self.check_factor(account, typed, Some(challenge_id)).await
            }
            Purpose::TurnOff => self.check_unspent(account, typed).await,
            Purpose::ConfirmApp(method) => {
                let secret = self.app_secret(method)?;
                let now = u64::try_from(self.now()).unwrap_or(0);
                let window = Window::symmetric(self.policy.totp_window);
                let Ok(step) = Totp::default().verify(&secret, typed, now, window) else {
                    return Ok(Err(Refused::Wrong));
                };
                Ok(Ok(Accepted::FirstCode {
                    step: i64::try_from(step.0).unwrap_or(i64::MAX),
                }))
            }
            Purpose::ConfirmPhone(method) => {
                let code = CodeFormat::default()
                    .normalize(typed)
                    .map_err(|e| Error::MalformedCode(e.to_string()))?;
                let spent = self
                    .store
                    .use_sent_code_for_method(
                        &method.id,
                        &self.sent_code_hash(&account.id, &code),
                        self.now(),
                    )
                    .await?;
                if !spent {
                    return Ok(Err(Refused::Wrong));
                }
                Ok(Ok(Accepted::FirstCode { step: 0 }))
            }
            Purpose::Passkey { state, .. } => {
                self.check_passkey(account, state, typed, false).await
            }
            Purpose::Passwordless { state } => {
                self.check_passkey(account, state, typed, true).await
            }
        }
    }

    /// Checks an app or backup code without spending it: the write that
    /// spends it goes into the unit of the change it allows, so the code is
    /// used if and only if the change is made.
    async fn check_unspent(
        &self,
        account: &Account,
        typed: &str,
    ) -> Result<std::result::Result<Accepted, Refused>> {
        let code = match parse_code(typed)? {
            Typed::Backup(normalized) => {
                let hash = self.key.backup_code_hash(&account.id, &normalized);
                return Ok(
                    if self.store.backup_code_unused(&account.id, &hash).await? {
                        Ok(Accepted::Unspent(crate::store::Write::UseBackupCode {
                            account_id: account.id.clone(),
                            hash,
                            at: self.now(),
                        }))
                    } else {
                        Err(Refused::Wrong)
                    },
                );
            }
            Typed::Digits(code) => code,
        };
        let found = self.match_app(self.store.methods(&account.id).await?, &code)?;
        Ok(match (found.fresh, found.replayed) {
            (Some((method_id, _, step)), _) => {
                Ok(Accepted::Unspent(crate::store::Write::AdvanceLastStep {
                    method_id,
                    step,
                }))
            }
            (None, replayed) => Err(replayed.map_or(Refused::Wrong, Refused::Replayed)),
        })
    }

    /// Which of the active apps among `methods` made `code` (six digits),
    /// without writing: the first whose step is not used yet, else the
    /// name of one whose step was (a replay); and whether any active phone
    /// is among them (its codes are checked in the database).
    pub(crate) fn match_app(&self, methods: Vec<Method>, code: &str) -> Result<AppMatch> {
        let totp = Totp::default();
        let window = Window::symmetric(self.policy.totp_window);
        let now = u64::try_from(self.now()).unwrap_or(0);
        let mut found = AppMatch::default();
        for method in methods.into_iter().filter(|m| m.active) {
            let last_step = match &method.factor {
                Factor::App { last_step, .. } => last_step,
                Factor::Phone { .. } => {
                    found.phones = true;
                    continue;
                }
                // Never a typed code.
                Factor::Passkey { .. } => continue,
            };
            let last_step = *last_step;
            let secret = self.app_secret(&method)?;
            let Ok(step) = totp.verify(&secret, code, now, window) else {
                continue;
            };
            let step = i64::try_from(step.0).unwrap_or(i64::MAX);
            if last_step.is_some_and(|last| last >= step) {
                found.replayed = Some(method.name);
                continue;
            }
            found.fresh = Some((method.id, method.name, step));
            break;
        }
        Ok(found)
    }

    /// Checks `typed` for `account`. `Err` only for malformed input or
    /// storage failure; a wrong or replayed code is `Ok(Err(..))`.
    pub(crate) async fn check_factor(
        &self,
        account: &Account,
        typed: &str,
        challenge_id: Option<&str>,
    ) -> Result<std::result::Result<Accepted, Refused>> {
        let code = match parse_code(typed)? {
            Typed::Backup(normalized) => {
                let hash = self.key.backup_code_hash(&account.id, &normalized);
                if self
                    .store
                    .use_backup_code(&account.id, &hash, self.now())
                    .await?
                {
                    let left = self.store.backup_codes_left(&account.id).await?;
                    return Ok(Ok(Accepted::BackupCode { left }));
                }
                return Ok(Err(Refused::Wrong));
            }
            Typed::Digits(code) => code,
        };
        let methods = self.store.methods(&account.id).await?;
        // A code texted or spoken for this sign-in attempt (any of the
        // last three sent), spent atomically. Accounts without a phone
        // have none, and skip the write.
        if let Some(challenge_id) = challenge_id
            && methods.iter().any(|m| m.active && m.phone().is_some())
            && self
                .store
                .use_sent_code_for_challenge(
                    challenge_id,
                    &self.sent_code_hash(&account.id, &code),
                    self.now(),
                )
                .await?
        {
            return Ok(Ok(Accepted::Phone));
        }
        let totp = Totp::default();
        let window = Window::symmetric(self.policy.totp_window);
        let now = u64::try_from(self.now()).unwrap_or(0);
        let mut replayed = None;
        for method in methods {
            if !method.active || method.kind() != MethodKind::App {
                continue;
            }
            let secret = self.app_secret(&method)?;
            let Ok(step) = totp.verify(&secret, &code, now, window) else {
                continue;
            };
            let step = i64::try_from(step.0).unwrap_or(i64::MAX);
            if self.store.advance_last_step(&method.id, step).await? {
                return Ok(Ok(Accepted::App(method.name)));
            }
            replayed = Some(method.name);
        }
        Ok(Err(replayed.map_or(Refused::Wrong, Refused::Replayed)))
    }
}
