//! The enable wizard (SPEC §3): page 1 verifies a primary method, page 2 a
//! backup, page 3 turns two-step verification on and shows backup codes
//! once. Methods verified on pages 1 and 2 stay inactive — unusable for
//! sign-in — until page 3, so leaving midway leaves 2SV off and nothing
//! half-enrolled in use (§3.4). Starting page 1 again discards them.

use zeroize::Zeroizing;

use super::Nidan;
use super::notices::Notice;
use crate::error::{Error, Result};
use crate::model::{Account, EventKind, Method, MethodRole, Origin, Session};
use crate::policy::BackupRule;
use crate::store::{Store, Write};

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
            self.event(Some(&account.id), EventKind::TwoSvOn, origin, &primary.name)?,
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
}
