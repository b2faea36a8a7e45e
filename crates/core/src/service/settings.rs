//! Advanced Security Settings once two-step verification is on (SPEC §2):
//! what is shown, and the changes a person can make. The server checks
//! step-up ([`Nidan::require_recent_password`]) before calling these.

use super::factor::{Accepted, Purpose};
use super::notices::Notice;
use super::{Nidan, clean_name};
use crate::error::{Error, Result};
use crate::model::{Account, Event, EventKind, Method, MethodRole, Origin, RememberedBrowser};
use crate::store::{Store, Write};

/// Everything the settings page shows.
#[derive(Debug)]
pub struct Overview {
    /// When 2SV was turned on, if it is.
    pub two_sv_on_since: Option<i64>,
    /// Active methods, primary first.
    pub methods: Vec<Method>,
    /// Browsers that skip the code.
    pub browsers: Vec<RememberedBrowser>,
    /// Unused backup codes.
    pub backup_codes_left: i64,
    /// Recent security events, newest first.
    pub events: Vec<Event>,
}

impl<S: Store> Nidan<S> {
    /// The settings overview.
    pub async fn overview(&self, account: &Account) -> Result<Overview> {
        let mut methods: Vec<Method> = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .filter(|m| m.active)
            .collect();
        methods.sort_by_key(|m| (m.role != MethodRole::Primary, m.created_at));
        Ok(Overview {
            two_sv_on_since: account.two_sv_on_since,
            methods,
            browsers: self.store.browsers(&account.id, self.now()).await?,
            backup_codes_left: self.store.backup_codes_left(&account.id).await?,
            events: self.store.events(&account.id, 20).await?,
        })
    }

    async fn active_method(
        &self,
        account: &Account,
        method_id: &str,
    ) -> Result<(Method, Vec<Method>)> {
        let active: Vec<Method> = self
            .store
            .methods(&account.id)
            .await?
            .into_iter()
            .filter(|m| m.active)
            .collect();
        let method = active
            .iter()
            .find(|m| m.id == method_id)
            .cloned()
            .ok_or(Error::NoSuchMethod)?;
        Ok((method, active))
    }

    /// Removes a method. The last one cannot go while 2SV is on (§2.4);
    /// removing the primary makes the oldest backup primary.
    pub async fn remove_method(
        &self,
        account: &Account,
        method_id: &str,
        origin: &Origin,
    ) -> Result<()> {
        let (method, active) = self.active_method(account, method_id).await?;
        if active.len() <= 1 {
            return Err(Error::LastMethod);
        }
        let mut writes = vec![Write::DeleteMethod {
            method_id: method.id.clone(),
        }];
        let successor = active
            .iter()
            .filter(|m| m.id != method.id)
            .min_by_key(|m| m.created_at);
        if let (MethodRole::Primary, Some(next)) = (method.role, successor) {
            writes.push(Write::SetMethodRole {
                method_id: next.id.clone(),
                role: MethodRole::Primary,
            });
        }
        writes.push(self.event(
            Some(&account.id),
            EventKind::MethodRemoved,
            origin,
            &method.name,
        )?);
        self.store.apply(writes).await?;
        self.notify(account, Notice::MethodRemoved, &method.name, origin)
            .await;
        Ok(())
    }

    /// Renames a method.
    pub async fn rename_method(
        &self,
        account: &Account,
        method_id: &str,
        name: &str,
        origin: &Origin,
    ) -> Result<()> {
        let name = clean_name(name)?;
        let (method, _) = self.active_method(account, method_id).await?;
        let detail = format!("{} → {name}", method.name);
        self.store
            .apply(vec![
                Write::RenameMethod {
                    method_id: method.id.clone(),
                    name,
                },
                self.event(Some(&account.id), EventKind::MethodRenamed, origin, &detail)?,
            ])
            .await
    }

    /// Makes a backup the primary; the old primary becomes a backup.
    pub async fn make_primary(
        &self,
        account: &Account,
        method_id: &str,
        origin: &Origin,
    ) -> Result<()> {
        let (method, active) = self.active_method(account, method_id).await?;
        let mut writes: Vec<Write> = active
            .iter()
            .filter(|m| m.role == MethodRole::Primary && m.id != method.id)
            .map(|m| Write::SetMethodRole {
                method_id: m.id.clone(),
                role: MethodRole::Backup,
            })
            .collect();
        writes.push(Write::SetMethodRole {
            method_id: method.id.clone(),
            role: MethodRole::Primary,
        });
        writes.push(self.event(
            Some(&account.id),
            EventKind::PrimaryChanged,
            origin,
            &method.name,
        )?);
        self.store.apply(writes).await
    }

    /// Turns 2SV off; needs a current code or a backup code (§2.3). Every
    /// method, backup code and remembered browser is removed.
    pub async fn turn_off(&self, account: &Account, code: &str, origin: &Origin) -> Result<()> {
        if account.two_sv_on_since.is_none() {
            return Err(Error::NotOn);
        }
        // The code is spent in the same unit as 2SV goes off: both or neither.
        let mut writes = match self
            .counted_check(account, Purpose::TurnOff, code, origin)
            .await?
        {
            Accepted::Unspent(spend) => vec![spend],
            _ => Vec::new(),
        };
        writes.extend(self.second_steps_removed(&account.id));
        writes.push(self.event(Some(&account.id), EventKind::TwoSvOff, origin, "")?);
        match self.store.apply(writes).await {
            Err(Error::Conflict) => return Err(Error::CodeAlreadyUsed),
            other => other?,
        }
        self.notify(account, Notice::TwoStepOff, "", origin).await;
        Ok(())
    }

    /// The writes that turn 2SV off with everything that belongs to it:
    /// methods, backup codes and remembered browsers.
    pub(crate) fn second_steps_removed(&self, account_id: &str) -> Vec<Write> {
        vec![
            Write::SetTwoSv {
                account_id: account_id.to_owned(),
                on_since: None,
            },
            Write::DeleteAllMethods {
                account_id: account_id.to_owned(),
            },
            Write::ReplaceBackupCodes {
                account_id: account_id.to_owned(),
                hashes: Vec::new(),
                at: self.now(),
            },
            Write::DeleteBrowsers {
                account_id: account_id.to_owned(),
            },
        ]
    }

    /// Forgets one remembered browser.
    pub async fn forget_browser(
        &self,
        account: &Account,
        browser_id: &str,
        origin: &Origin,
    ) -> Result<()> {
        self.store
            .apply(vec![
                Write::DeleteBrowser {
                    account_id: account.id.clone(),
                    browser_id: browser_id.to_owned(),
                },
                self.event(Some(&account.id), EventKind::BrowserForgotten, origin, "")?,
            ])
            .await
    }

    /// "Require codes on all browsers".
    pub async fn forget_all_browsers(&self, account: &Account, origin: &Origin) -> Result<()> {
        self.store
            .apply(vec![
                Write::DeleteBrowsers {
                    account_id: account.id.clone(),
                },
                self.event(Some(&account.id), EventKind::BrowsersForgotten, origin, "")?,
            ])
            .await
    }
}
