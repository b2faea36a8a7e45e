//! One module per kind of sign-in method, each with the same shape:
//!
//! - **begin**: `begin_app`, `begin_phone`, `begin_passkey` — start
//!   enrolling (inactive until the wizard or settings confirm it),
//!   returning what the page shows (a QR code, a masked number, the
//!   WebAuthn options), under the order rules of `enrolment_role`;
//! - **pending**: `pending_app`, `pending_phone` — the same again, to show
//!   the page once more;
//! - **confirm**: `confirm_app`, `confirm_phone` — the first code, through
//!   the counted check ([`super::factor::Purpose`]); `confirm_passkey` —
//!   the browser's answer to the registration ceremony;
//! - **check**: at sign-in every kind is checked on the one counted path,
//!   [`super::factor`], which matches on [`crate::model::Factor`];
//! - **describe**: [`crate::model::Method::kind`] and the method's name.
//!
//! What the kinds share — the wizard order (primary, then a backup under
//! `policy.backup_rule`) — is in [`super::wizard`]. A new kind is a new
//! [`crate::model::Factor`] variant and a module here; the compiler points
//! at the rest (see "Adding a sign-in method" in the README).

pub mod app;
mod authenticators;
pub mod backup_codes;
pub mod passkey;
mod passkey_sign_in;
pub mod phone;

use super::Nidan;
use crate::error::{Error, Result};
use crate::model::{Account, MethodRole};
use crate::store::Store;

impl<S: Store> Nidan<S> {
    /// The role a method being added will have, after the wizard's order
    /// rules (SPEC §2.2): page 1 again starts over; a backup needs a
    /// primary, and under `backup_rule = phone_if_primary_app` a primary
    /// that is not a phone needs a phone as backup. With 2SV on, every
    /// added method is a backup.
    pub(crate) async fn enrolment_role(
        &self,
        account: &Account,
        role: MethodRole,
    ) -> Result<MethodRole> {
        if account.two_sv_on_since.is_some() {
            return Ok(MethodRole::Backup);
        }
        let state = self.wizard_state(account).await?;
        match role {
            MethodRole::Primary => self.store.delete_inactive_methods(&account.id).await?,
            MethodRole::Backup if state.primary.is_none() => {
                return Err(Error::WizardOrder("set up the primary method first"));
            }
            MethodRole::Backup
                if self.policy.backup_rule == crate::policy::BackupRule::PhoneIfPrimaryApp
                    && state.primary.as_ref().is_some_and(|p| !p.is_phone()) =>
            {
                return Err(Error::BackupMustBePhone);
            }
            MethodRole::Backup => {
                for m in self.store.methods(&account.id).await? {
                    if !m.active && m.role == MethodRole::Backup {
                        self.store.delete_method(&m.id).await?;
                    }
                }
            }
        }
        Ok(role)
    }
}
