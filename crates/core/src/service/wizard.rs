//! The enable wizard (SPEC §3): page 1 verifies a primary method, page 2 a
//! backup, page 3 turns two-step verification on and shows backup codes
//! once. Methods verified on pages 1 and 2 stay inactive — unusable for
//! sign-in — until page 3, so leaving midway leaves 2SV off and nothing
//! half-enrolled in use (§3.4). Starting page 1 again discards them.

use nidan_otp::{KeyUri, Secret};
use zeroize::Zeroizing;

use super::factor::Purpose;
use super::notices::Notice;
use super::{Nidan, clean_name};
use crate::error::{Error, Result};
use crate::model::{Account, Method, MethodKind, MethodRole, Origin, Session};
use crate::policy::BackupRule;
use crate::secrets::{new_backup_code, new_id, normalize_backup_code};
use crate::store::{Store, Write};

/// A new authenticator app waiting for its first code.
#[derive(Debug)]
pub struct NewApp {
    /// The method's id, to confirm it.
    pub method_id: String,
    /// The key, to show as Base32 in groups of four.
    pub secret: Secret,
    /// The `otpauth://` URI for the QR code.
    pub uri: Zeroizing<String>,
}

/// Where the wizard stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardState {
    /// The verified primary, once page 1 is done.
    pub primary: Option<Method>,
    /// The verified backup, once page 2 is done.
    pub backup: Option<Method>,
    /// Whether page 2 may be skipped (policy: backup codes suffice).
    pub backup_optional: bool,
}

/// What page 3 produces.
#[derive(Debug)]
pub struct Enabled {
    /// The backup codes, shown once.
    pub backup_codes: Vec<Zeroizing<String>>,
    /// A remembered-browser token if "Don't require codes on this
    /// browser" was ticked.
    pub remember_token: Option<Zeroizing<String>>,
}

impl<S: Store> Nidan<S> {
    /// The wizard's progress for this account.
    pub async fn wizard_state(&self, account: &Account) -> Result<WizardState> {
        let pending: Vec<Method> = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .filter(|m| !m.active && m.confirmed_at.is_some())
            .collect();
        Ok(WizardState {
            primary: pending
                .iter()
                .find(|m| m.role == MethodRole::Primary)
                .cloned(),
            backup: pending
                .iter()
                .find(|m| m.role == MethodRole::Backup)
                .cloned(),
            backup_optional: self.policy.backup_rule == BackupRule::BackupCodesSuffice,
        })
    }

    /// Creates an authenticator app for the wizard (`role` primary or
    /// backup) or, with 2SV on, as an added backup. Returns the key and URI
    /// to show; the app is unusable until [`Nidan::confirm_app`].
    pub async fn begin_app(
        &self,
        account: &Account,
        role: MethodRole,
        name: &str,
    ) -> Result<NewApp> {
        let name = clean_name(name)?;
        let on = account.two_sv_on_since.is_some();
        if !on {
            let state = self.wizard_state(account).await?;
            match role {
                // Page 1 again: start over.
                MethodRole::Primary => self.store.delete_inactive_methods(&account.id).await?,
                MethodRole::Backup if state.primary.is_none() => {
                    return Err(Error::WizardOrder("set up the primary method first"));
                }
                MethodRole::Backup
                    if self.policy.backup_rule == BackupRule::PhoneIfPrimaryApp
                        && state
                            .primary
                            .as_ref()
                            .is_some_and(|p| p.kind == MethodKind::App) =>
                {
                    return Err(Error::BackupMustBePhone);
                }
                MethodRole::Backup => {
                    // Drop an earlier unfinished backup attempt, keep the primary.
                    for m in self.store.methods(&account.id).await? {
                        if !m.active && m.role == MethodRole::Backup {
                            self.store.delete_method(&m.id).await?;
                        }
                    }
                }
            }
        }
        let secret = Secret::generate().map_err(|e| Error::Crypto(e.to_string()))?;
        let id = new_id()?;
        let method = Method {
            id: id.clone(),
            account_id: account.id.clone(),
            kind: MethodKind::App,
            role: if on { MethodRole::Backup } else { role },
            name,
            secret_sealed: Some(self.key.seal(secret.expose(), &id)?),
            phone: None,
            last_step: None,
            created_at: self.now(),
            confirmed_at: None,
            active: false,
        };
        self.store.insert_method(&method).await?;
        let uri = KeyUri::new_totp(
            secret.clone(),
            Some(self.policy.service_name.clone()),
            account.email.clone(),
        )
        .to_uri();
        Ok(NewApp {
            method_id: id,
            secret,
            uri,
        })
    }

    /// The key and URI of an app still waiting for its first code, to show
    /// the QR code again (a reload, a wrong code).
    pub async fn pending_app(&self, account: &Account, method_id: &str) -> Result<NewApp> {
        let method = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .find(|m| {
                m.id == method_id
                    && !m.active
                    && m.confirmed_at.is_none()
                    && m.kind == MethodKind::App
            })
            .ok_or(Error::NoSuchMethod)?;
        let secret = self.app_secret(&method)?;
        let uri = KeyUri::new_totp(
            secret.clone(),
            Some(self.policy.service_name.clone()),
            account.email.clone(),
        )
        .to_uri();
        Ok(NewApp {
            method_id: method.id,
            secret,
            uri,
        })
    }

    /// Verifies the first code of a new app. In the wizard it then waits
    /// for page 3; with 2SV already on it is active at once (§2.3 "add
    /// another app").
    pub async fn confirm_app(
        &self,
        account: &Account,
        method_id: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<Method> {
        let method = self
            .method_where(&account.id, method_id, |m| {
                !m.active && m.kind == MethodKind::App
            })
            .await?;
        self.confirm_new_method(account, &method, Purpose::ConfirmApp(&method), code, origin)
            .await?;
        let mut confirmed = method;
        confirmed.confirmed_at = Some(self.now());
        Ok(confirmed)
    }

    /// Page 3: turns 2SV on with the verified methods, replaces the backup
    /// codes and returns them for showing once. Every session of the
    /// account but `keep` (the one 2SV was turned on in) ends: a session
    /// from before, perhaps someone else's with the password, must not
    /// stay signed in past the new second step.
    pub async fn enable(
        &self,
        account: &Account,
        keep: Option<&Session>,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<Enabled> {
        if account.two_sv_on_since.is_some() {
            return Err(Error::AlreadyOn);
        }
        let state = self.wizard_state(account).await?;
        let primary = state
            .primary
            .ok_or(Error::WizardOrder("set up the primary method first"))?;
        let mut roles = vec![(primary.id.clone(), MethodRole::Primary)];
        match state.backup {
            Some(backup) => roles.push((backup.id, MethodRole::Backup)),
            None if state.backup_optional => {}
            None => return Err(Error::WizardOrder("set up a backup method first")),
        }
        // One unit: the methods, the codes, the flag, the other sessions
        // ended, the browser remembered and the audit record — all of it or
        // none (an interrupted enable must not leave active methods behind
        // with 2SV off).
        let (backup_codes, hashes) = self.new_backup_codes(account)?;
        let now = self.now();
        // With 2SV off no method may be active: any that is was left by an
        // enable interrupted before units of work (issue 14, finding 1),
        // and its key must not become a second factor now.
        let mut writes: Vec<Write> = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .filter(|m| m.active)
            .map(|m| Write::DeleteMethod { method_id: m.id })
            .collect();
        writes.extend([
            Write::ActivateMethods {
                account_id: account.id.clone(),
                roles,
            },
            Write::DeleteInactiveMethods {
                account_id: account.id.clone(),
            },
            Write::ReplaceBackupCodes {
                account_id: account.id.clone(),
                hashes,
                at: now,
            },
            Write::SetTwoSv {
                account_id: account.id.clone(),
                on_since: Some(now),
            },
            Write::DeleteSessionsExcept {
                account_id: account.id.clone(),
                keep: keep.map(|s| s.id.clone()),
            },
            self.event(Some(&account.id), "two_sv_on", origin, &primary.name)?,
        ]);
        let remember = if remember_browser {
            let (token, label, more) = self.browser_to_remember(account, origin)?;
            writes.extend(more);
            Some((token, label))
        } else {
            None
        };
        self.store.apply(writes).await?;
        self.notify(account, Notice::TwoStepOn, "", origin).await;
        let remember_token = match remember {
            Some((token, label)) => {
                self.notify(account, Notice::BrowserRemembered, &label, origin)
                    .await;
                Some(token)
            }
            None => None,
        };
        Ok(Enabled {
            backup_codes,
            remember_token,
        })
    }

    /// Keys the backup-code hashes stored before they were keyed (see
    /// [`crate::secrets::MasterKey::backup_code_hash`]); run at start, on
    /// every node (each row is rewritten once, by whichever gets there).
    /// How many were rewritten.
    pub async fn key_stored_backup_codes(&self) -> Result<usize> {
        let mut done = 0;
        loop {
            let legacy = self.store.legacy_backup_code_hashes(500).await?;
            if legacy.is_empty() {
                return Ok(done);
            }
            for (account_id, old) in legacy {
                let new = self.key.keyed_backup_code_hash(&old);
                self.store
                    .rehash_backup_code(&account_id, &old, &new)
                    .await?;
                done += 1;
            }
        }
    }

    /// A fresh set of backup codes: the codes to show once, and the hashes
    /// to store.
    pub(crate) fn new_backup_codes(
        &self,
        account: &Account,
    ) -> Result<(Vec<Zeroizing<String>>, Vec<String>)> {
        let mut codes = Vec::with_capacity(self.policy.backup_code_count);
        let mut hashes = Vec::with_capacity(self.policy.backup_code_count);
        for _ in 0..self.policy.backup_code_count {
            let code = new_backup_code()?;
            let normalized = normalize_backup_code(&code)
                .ok_or_else(|| Error::Crypto("backup code alphabet".into()))?;
            hashes.push(self.key.backup_code_hash(&account.id, &normalized));
            codes.push(code);
        }
        Ok((codes, hashes))
    }
}
