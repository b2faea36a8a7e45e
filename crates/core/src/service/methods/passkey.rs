//! Passkeys and security keys (WebAuthn, on webauthn-rs): enrolled by a
//! registration ceremony, used at sign-in by an authentication ceremony.
//! Attestation `none`, user verification `preferred` (a passkey with a
//! fingerprint and a plain security key both work), resident keys allowed.
//!
//! A ceremony's state is kept in the database (`passkey_ceremonies`) and
//! taken once by a conditional UPDATE, so any node can finish what another
//! began and nobody can finish it twice; a sign-in ceremony belongs to its
//! attempt and expires with it. The assertion is checked on the one
//! counted path ([`super::super::factor`]) like a typed code, and its
//! signature counter advances in the same unit that ends the attempt: a
//! counter that did not move forward is refused as a possible clone.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    Credential, CredentialID, RegisterPublicKeyCredential, SecurityKey, SecurityKeyRegistration,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::super::{Nidan, clean_name};
use crate::error::{Error, Result};
use crate::model::{Account, Ceremony, CeremonyPurpose, Factor, Method, MethodRole, Origin};
use crate::secrets::new_id;
use crate::store::{Store, Write};

/// How long a browser has to answer a passkey request.
pub(super) const CEREMONY_SECONDS: i64 = 300;

/// Passwordless sign-ins one address may begin in an hour.
pub const DISCOVERS_PER_HOUR: i64 = 60;

/// The relying party: passkeys work only where it could be made.
#[derive(Clone)]
pub(crate) enum RelyingParty {
    /// Passkeys on, for this site.
    On(Arc<Webauthn>),
    /// Passkeys off, and why (for the log and the error).
    Off(&'static str),
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::On(_) => f.write_str("RelyingParty::On"),
            Self::Off(why) => write!(f, "RelyingParty::Off({why})"),
        }
    }
}

impl RelyingParty {
    /// The relying party for the site at `public_url`: its host is the
    /// relying-party id, which cannot be an IP address.
    pub(crate) fn for_site(public_url: &str, service_name: &str) -> Self {
        let Ok(url) = Url::parse(public_url) else {
            return Self::Off("the public URL is not a URL");
        };
        let Some(host) = url.host() else {
            return Self::Off("the public URL has no host name");
        };
        let url::Host::Domain(rp_id) = host else {
            return Self::Off(
                "the public URL is an IP address, and a passkey needs a host name: set public_url (or open http://localhost:PORT/)",
            );
        };
        let rp_id = rp_id.to_owned();
        // On this machine's own name the port may be any (a test server on
        // a port of its own, a second local instance).
        let local = rp_id.eq_ignore_ascii_case("localhost");
        match WebauthnBuilder::new(&rp_id, &url)
            .map(|b| b.rp_name(service_name).allow_any_port(local))
            .and_then(|b| b.build())
        {
            Ok(webauthn) => Self::On(Arc::new(webauthn)),
            Err(_) => Self::Off("the public URL cannot be a WebAuthn relying party"),
        }
    }
}

/// What the browser needs to run a ceremony: the options to pass to
/// `navigator.credentials.create()` / `.get()`, and the id to send back.
#[derive(Debug, Clone)]
pub struct PasskeyRequest {
    /// The ceremony to finish.
    pub ceremony_id: String,
    /// The WebAuthn options (`{"publicKey": {...}}`), as JSON.
    pub options: serde_json::Value,
}

/// A registration ceremony's state, with the role the key will have.
#[derive(Serialize, Deserialize)]
struct Registering {
    role: String,
    state: SecurityKeyRegistration,
}

/// A passkey as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyFacts {
    /// The authenticator keeps its credential in a synced account
    /// (backup eligible).
    pub backup_eligible: bool,
    /// It is backed up now.
    pub backed_up: bool,
    /// When it was last used.
    pub last_used_at: Option<i64>,
}

/// The facts of a passkey method, `None` for other kinds.
pub fn passkey_facts(method: &Method) -> Option<PasskeyFacts> {
    let Factor::Passkey {
        credential,
        last_used_at,
        ..
    } = &method.factor
    else {
        return None;
    };
    let cred: Credential = serde_json::from_str::<SecurityKey>(credential).ok()?.into();
    Some(PasskeyFacts {
        backup_eligible: cred.backup_eligible,
        backed_up: cred.backup_state,
        last_used_at: *last_used_at,
    })
}

/// The WebAuthn user handle of an account: stable, and not its email.
pub(super) fn user_handle(account: &Account) -> Uuid {
    let digest = Sha256::digest(account.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

pub(super) fn credential_id_text(id: &CredentialID) -> String {
    use base64::Engine;
    let bytes: &[u8] = id.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A name for a key the person did not name: the browser and system.
fn default_name(origin: &Origin) -> String {
    let label = origin.browser_label.trim();
    if label.is_empty() {
        "Passkey".to_owned()
    } else {
        format!("Passkey ({label})").chars().take(64).collect()
    }
}

pub(super) fn malformed(e: impl std::fmt::Display) -> Error {
    Error::MalformedPasskey(e.to_string())
}

pub(super) fn stored(e: impl std::fmt::Display) -> Error {
    Error::Store(format!("a passkey record could not be read: {e}"))
}

impl<S: Store> Nidan<S> {
    /// The relying party, or why passkeys are off.
    pub(super) fn webauthn(&self) -> Result<&Webauthn> {
        match &self.relying_party {
            RelyingParty::On(w) => Ok(w),
            RelyingParty::Off(why) => Err(Error::PasskeysOff(why)),
        }
    }

    /// Whether passkeys can be used here, or why not.
    pub fn passkeys_off(&self) -> Option<&'static str> {
        match &self.relying_party {
            RelyingParty::On(_) => None,
            RelyingParty::Off(why) => Some(why),
        }
    }

    /// The account's passkeys that may sign in, as webauthn-rs keys.
    pub(super) fn active_keys(methods: &[Method]) -> Result<Vec<(Method, SecurityKey)>> {
        methods
            .iter()
            .filter(|m| m.active)
            .filter_map(|m| match &m.factor {
                Factor::Passkey { credential, .. } => Some(
                    serde_json::from_str::<SecurityKey>(credential)
                        .map(|k| (m.clone(), k))
                        .map_err(stored),
                ),
                Factor::App { .. } | Factor::Phone { .. } => None,
            })
            .collect()
    }

    /// Starts adding a passkey or security key: in the wizard as `role`
    /// (the order rules of [`Nidan::enrolment_role`]), or with 2SV on as
    /// a backup. The browser runs `navigator.credentials.create()` with
    /// the options and sends the answer to [`Nidan::confirm_passkey`].
    pub async fn begin_passkey(
        &self,
        account: &Account,
        role: MethodRole,
    ) -> Result<PasskeyRequest> {
        let webauthn = self.webauthn()?;
        let role = self.enrolment_role(account, role).await?;
        let exclude: Vec<CredentialID> = self
            .store
            .methods(&account.id)
            .await?
            .iter()
            .filter_map(|m| match &m.factor {
                Factor::Passkey { credential, .. } => {
                    serde_json::from_str::<SecurityKey>(credential)
                        .ok()
                        .map(|k| k.cred_id().clone())
                }
                Factor::App { .. } | Factor::Phone { .. } => None,
            })
            .collect();
        let (options, state) = webauthn
            .start_securitykey_registration(
                user_handle(account),
                &account.email,
                &account.email,
                Some(exclude),
                None,
                None,
            )
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let state = serde_json::to_string(&Registering {
            role: role.as_str().to_owned(),
            state,
        })
        .map_err(stored)?;
        let mut options = serde_json::to_value(options).map_err(stored)?;
        // Passwordless sign-in needs the key to be discoverable: ask for
        // it (registration does not depend on it, and a key that cannot
        // still works as a second step).
        if self.policy.passwordless
            && let Some(selection) = options
                .pointer_mut("/publicKey/authenticatorSelection")
                .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
            selection.insert("requireResidentKey".into(), false.into());
        }
        self.start_ceremony(
            Some(&account.id),
            None,
            CeremonyPurpose::Register,
            state,
            options,
            self.now() + CEREMONY_SECONDS,
        )
        .await
    }

    /// Finishes adding a passkey: checks the browser's answer against the
    /// ceremony (taken once), and stores the key. In the wizard it then
    /// waits for the last page, like a confirmed app; with 2SV on it is in
    /// use at once, recorded and notified in one unit.
    pub async fn confirm_passkey(
        &self,
        account: &Account,
        ceremony_id: &str,
        answer: &str,
        name: &str,
        origin: &Origin,
    ) -> Result<Method> {
        let webauthn = self.webauthn()?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(answer).map_err(malformed)?;
        // Unnamed: the authenticator's model where known, else the browser.
        let name = if name.trim().is_empty() {
            super::authenticators::aaguid(&answer.response.attestation_object)
                .and_then(|id| super::authenticators::name(&id))
                .map_or_else(|| default_name(origin), str::to_owned)
        } else {
            clean_name(name)?
        };
        let ceremony = self
            .store
            .take_ceremony(
                ceremony_id,
                Some(&account.id),
                None,
                CeremonyPurpose::Register,
                self.now(),
            )
            .await?
            .ok_or(Error::CeremonyExpired)?;
        let saved: Registering = serde_json::from_str(&ceremony.state).map_err(stored)?;
        let key = webauthn
            .finish_securitykey_registration(&answer, &saved.state)
            .map_err(|_| Error::PasskeyRefused)?;
        let on = account.two_sv_on_since.is_some();
        let cred: Credential = key.clone().into();
        let now = self.now();
        let method = Method {
            id: new_id()?,
            account_id: account.id.clone(),
            factor: Factor::Passkey {
                credential: serde_json::to_string(&key).map_err(stored)?,
                credential_id: credential_id_text(key.cred_id()),
                sign_count: i64::from(cred.counter),
                last_used_at: None,
            },
            role: if on {
                MethodRole::Backup
            } else {
                MethodRole::parse(&saved.role).unwrap_or(MethodRole::Backup)
            },
            name,
            created_at: now,
            confirmed_at: Some(now),
            active: on,
        };
        let mut writes = vec![Write::InsertMethod(method.clone())];
        if on {
            writes.push(self.event(
                Some(&account.id),
                crate::model::EventKind::MethodAdded,
                origin,
                &method.name,
            )?);
        }
        self.store.apply(writes).await.map_err(|e| match e {
            Error::Conflict => Error::PasskeyAlreadyRegistered,
            e => e,
        })?;
        if on {
            self.notify(
                account,
                super::super::notices::Notice::MethodAdded,
                &method.name,
                origin,
            )
            .await;
        }
        Ok(method)
    }

    /// Stores a ceremony and returns what the browser needs.
    pub(super) async fn start_ceremony(
        &self,
        account_id: Option<&str>,
        challenge_id: Option<String>,
        purpose: CeremonyPurpose,
        state: String,
        options: impl Serialize,
        expires_at: i64,
    ) -> Result<PasskeyRequest> {
        let ceremony = Ceremony {
            id: new_id()?,
            account_id: account_id.map(str::to_owned),
            challenge_id,
            purpose,
            state,
            expires_at,
        };
        self.store.insert_ceremony(&ceremony).await?;
        Ok(PasskeyRequest {
            ceremony_id: ceremony.id,
            options: serde_json::to_value(options).map_err(stored)?,
        })
    }
}
