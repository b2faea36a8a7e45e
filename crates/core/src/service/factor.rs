//! Checking a second factor. A code is either an authenticator code
//! (digits, checked against every active app over the policy's window) or
//! a backup code (letters and digits). Single use is decided by the
//! database: an app's `last_step` only moves forward through an atomic
//! conditional update, and a backup code is spent by an update that
//! matches only while it is unused.

use nidan_otp::{CodeFormat, Secret, Totp, Window};

use super::Nidan;
use crate::error::{Error, Result};
use crate::model::{Account, Method, MethodKind};
use crate::secrets::{backup_code_hash, normalize_backup_code};
use crate::store::Store;

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
}

/// Why a well-formed code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No method matched.
    Wrong,
    /// It matched a step already used (a replay), for the app named.
    Replayed(String),
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
    /// The TOTP key of an app method, unsealed with the master key.
    pub(crate) fn app_secret(&self, method: &Method) -> Result<Secret> {
        let sealed = method.secret_sealed.as_ref().ok_or(Error::NoSuchMethod)?;
        Secret::from_bytes(&self.key.open(sealed, &method.id)?)
            .map_err(|e| Error::Crypto(e.to_string()))
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
                let hash = backup_code_hash(&account.id, &normalized);
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
            && methods.iter().any(|m| m.active && m.phone.is_some())
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
            if !method.active || method.kind != MethodKind::App {
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
