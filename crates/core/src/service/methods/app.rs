//! Authenticator apps (TOTP): enrolment by QR code or key, confirmed by
//! the first code the app shows. Their codes are checked on the one
//! counted path in [`super::super::factor`].

use nidan_otp::{KeyUri, Secret};
use zeroize::Zeroizing;

use super::super::factor::Purpose;
use super::super::{Nidan, clean_name};
use crate::error::{Error, Result};
use crate::model::{Account, Factor, Method, MethodKind, MethodRole, Origin};
use crate::secrets::new_id;
use crate::store::Store;

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

impl<S: Store> Nidan<S> {
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
        let role = self.enrolment_role(account, role).await?;
        let secret = Secret::generate().map_err(|e| Error::Crypto(e.to_string()))?;
        let id = new_id()?;
        let method = Method {
            id: id.clone(),
            account_id: account.id.clone(),
            factor: Factor::App {
                secret_sealed: self.key.seal(secret.expose(), &id)?,
                last_step: None,
            },
            role,
            name,
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
                    && m.kind() == MethodKind::App
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
                !m.active && m.kind() == MethodKind::App
            })
            .await?;
        self.confirm_new_method(account, &method, Purpose::ConfirmApp(&method), code, origin)
            .await?;
        let mut confirmed = method;
        confirmed.confirmed_at = Some(self.now());
        Ok(confirmed)
    }

    /// The TOTP key of an app method, unsealed with the master key.
    pub(crate) fn app_secret(&self, method: &Method) -> Result<Secret> {
        let Factor::App { secret_sealed, .. } = &method.factor else {
            return Err(Error::NoSuchMethod);
        };
        Secret::from_bytes(&self.key.open(secret_sealed, &method.id)?)
            .map_err(|e| Error::Crypto(e.to_string()))
    }
}
