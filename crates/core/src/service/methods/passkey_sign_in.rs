//! Passkeys at sign-in: the passkey step of a sign-in attempt, and
//! passwordless sign-in with a discoverable passkey (`policy.passwordless`).
//! Both check the assertion on the one counted path
//! ([`super::super::factor`], `Purpose::Passkey` / `Purpose::Passwordless`)
//! and advance the key's counter in the unit that ends the sign-in.

use webauthn_rs::prelude::{
    Credential, CredentialID, DiscoverableAuthentication, PublicKeyCredential, SecurityKey,
    SecurityKeyAuthentication, WebauthnError,
};

use super::super::Nidan;
use super::super::factor::{Accepted, Purpose, Refused};
use super::passkey::{
    CEREMONY_SECONDS, DISCOVERS_PER_HOUR, PasskeyRequest, credential_id_text, malformed, stored,
    user_handle,
};
use crate::error::{Error, Result};
use crate::model::{Account, CeremonyPurpose, Factor, Origin};
use crate::store::{Store, Write};

impl<S: Store> Nidan<S> {
    /// Starts the passkey step of the sign-in attempt `challenge_token`:
    /// the options for `navigator.credentials.get()` listing the account's
    /// keys. [`Error::NoSuchMethod`] if it has none.
    pub async fn begin_passkey_sign_in(&self, challenge_token: &str) -> Result<PasskeyRequest> {
        let webauthn = self.webauthn()?;
        let challenge = self.open_challenge(challenge_token).await?;
        if challenge.attempts_left <= 0 {
            return Err(Error::TooManyAttempts);
        }
        let methods = self.store.methods(&challenge.account_id).await?;
        let keys: Vec<SecurityKey> = Self::active_keys(&methods)?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        if keys.is_empty() {
            return Err(Error::NoSuchMethod);
        }
        let (options, state) = webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let state = serde_json::to_string(&state).map_err(stored)?;
        // The ceremony never outlives its attempt.
        let expires_at = (self.now() + CEREMONY_SECONDS).min(challenge.expires_at);
        self.start_ceremony(
            Some(&challenge.account_id),
            Some(challenge.id),
            CeremonyPurpose::SignIn,
            state,
            options,
            expires_at,
        )
        .await
    }

    /// The passkey step: checks the browser's assertion for the attempt
    /// `challenge_token` on the counted path; on success ends the attempt
    /// and starts a session (remembering the browser if asked), with the
    /// key's counter advanced in the same unit.
    pub async fn verify_passkey(
        &self,
        challenge_token: &str,
        ceremony_id: &str,
        answer: &str,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<crate::service::signin::SignedIn> {
        self.webauthn()?;
        // Malformed input is not a try.
        serde_json::from_str::<PublicKeyCredential>(answer).map_err(malformed)?;
        let challenge = self.open_challenge(challenge_token).await?;
        if challenge.attempts_left <= 0 {
            return Err(Error::TooManyAttempts);
        }
        let account = self
            .store
            .account_by_id(&challenge.account_id)
            .await?
            .ok_or(Error::ChallengeExpired)?;
        let ceremony = self
            .store
            .take_ceremony(
                ceremony_id,
                Some(&account.id),
                Some(&challenge.id),
                CeremonyPurpose::SignIn,
                self.now(),
            )
            .await?
            .ok_or(Error::CeremonyExpired)?;
        let accepted = self
            .counted_check(
                &account,
                Purpose::Passkey {
                    challenge_id: &challenge.id,
                    state: &ceremony.state,
                },
                answer,
                origin,
            )
            .await?;
        let Accepted::Passkey { used, .. } = &accepted else {
            return Err(Error::PasskeyRefused);
        };
        let used = vec![used.clone()];
        self.finish_counted(
            &challenge,
            &account,
            accepted,
            used,
            remember_browser,
            origin,
        )
        .await
    }

    /// Checks a WebAuthn assertion against the ceremony `state` (the
    /// counted path's check for [`Purpose::Passkey`], and with
    /// `discovered` for a passwordless sign-in): the key must be one of the
    /// account's active passkeys, the signature right (and, passwordless,
    /// the person verified), and its counter ahead of the one stored.
    pub(crate) async fn check_passkey(
        &self,
        account: &Account,
        state: &str,
        answer: &str,
        discovered: bool,
    ) -> Result<std::result::Result<Accepted, Refused>> {
        let webauthn = self.webauthn()?;
        let answer: PublicKeyCredential = serde_json::from_str(answer).map_err(malformed)?;
        let methods = self.store.methods(&account.id).await?;
        let Some((method, mut key)) = Self::active_keys(&methods)?.into_iter().find(|(m, _)| {
            matches!(&m.factor, Factor::Passkey { credential_id, .. } if *credential_id == answer.id)
        }) else {
            return Ok(Err(Refused::BadKey));
        };
        let checked = if discovered {
            let state: DiscoverableAuthentication = serde_json::from_str(state).map_err(stored)?;
            let cred: Credential = key.clone().into();
            webauthn
                .finish_discoverable_authentication_v2(&answer, state, &cred)
                .and_then(|r| {
                    if r.user_verified() {
                        Ok(r)
                    } else {
                        Err(WebauthnError::UserNotVerified)
                    }
                })
        } else {
            let state: SecurityKeyAuthentication = serde_json::from_str(state).map_err(stored)?;
            webauthn.finish_securitykey_authentication(&answer, &state)
        };
        let result = match checked {
            Ok(result) => result,
            // The counter is behind the one the ceremony knew.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Ok(Err(Refused::Cloned(method.name)));
            }
            Err(_) => return Ok(Err(Refused::BadKey)),
        };
        if result.cred_id() != key.cred_id() {
            return Ok(Err(Refused::BadKey));
        }
        let Factor::Passkey { sign_count, .. } = &method.factor else {
            return Ok(Err(Refused::BadKey));
        };
        let seen = *sign_count;
        let now_count = i64::from(result.counter());
        // WebAuthn §6.1.1: a counter that is kept must move forward; one
        // that did not may be a copy of the key.
        if (now_count > 0 || seen > 0) && now_count <= seen {
            return Ok(Err(Refused::Cloned(method.name)));
        }
        key.update_credential(&result);
        Ok(Ok(Accepted::Passkey {
            name: method.name,
            used: Write::PasskeyUsed {
                method_id: method.id,
                seen_count: seen,
                sign_count: now_count,
                credential: serde_json::to_string(&key).map_err(stored)?,
                at: self.now(),
            },
        }))
    }

    /// Starts a passwordless sign-in (`policy.passwordless`): options for
    /// `navigator.credentials.get()` naming no key, so the authenticator
    /// offers the discoverable passkeys it holds for this site, with user
    /// verification required. At most [`DISCOVERS_PER_HOUR`] per address
    /// an hour (nobody is signed in yet to bound it otherwise).
    pub async fn begin_passwordless(&self, origin: &Origin) -> Result<PasskeyRequest> {
        let webauthn = self.webauthn()?;
        if !self.policy.passwordless {
            return Err(Error::PasskeysOff("passwordless sign-in is not turned on"));
        }
        let now = self.now();
        let hour = now - now.rem_euclid(3600);
        if self
            .store
            .bump_counter(&format!("passwordless:{}", origin.ip), hour)
            .await?
            > DISCOVERS_PER_HOUR
        {
            return Err(Error::TooManyAttempts);
        }
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let mut options = serde_json::to_value(options).map_err(stored)?;
        // A button asks, not the browser's autofill.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let state = serde_json::to_string(&state).map_err(stored)?;
        self.start_ceremony(
            None,
            None,
            CeremonyPurpose::Discover,
            state,
            options,
            now + CEREMONY_SECONDS,
        )
        .await
    }

    /// Finishes a passwordless sign-in: the key names its account (its
    /// user handle and credential id must agree), the ceremony is taken
    /// once, and the assertion is counted like a code for that account; a
    /// session that passed both steps starts (remembering the browser if
    /// asked) in the unit that advances the key's counter.
    pub async fn verify_passwordless(
        &self,
        ceremony_id: &str,
        answer: &str,
        remember_browser: bool,
        origin: &Origin,
    ) -> Result<crate::service::signin::SignedIn> {
        let webauthn = self.webauthn()?;
        if !self.policy.passwordless {
            return Err(Error::PasskeysOff("passwordless sign-in is not turned on"));
        }
        let credential: PublicKeyCredential = serde_json::from_str(answer).map_err(malformed)?;
        let (handle, raw_id) = webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|_| Error::PasskeyRefused)?;
        let method = self
            .store
            .method_by_credential_id(&credential_id_text(&CredentialID::from(raw_id.to_vec())))
            .await?
            .filter(|m| m.active)
            .ok_or(Error::PasskeyRefused)?;
        let account = self
            .store
            .account_by_id(&method.account_id)
            .await?
            .filter(|a| user_handle(a) == handle)
            .ok_or(Error::PasskeyRefused)?;
        let ceremony = self
            .store
            .take_ceremony(
                ceremony_id,
                None,
                None,
                CeremonyPurpose::Discover,
                self.now(),
            )
            .await?
            .ok_or(Error::CeremonyExpired)?;
        let accepted = self
            .counted_check(
                &account,
                Purpose::Passwordless {
                    state: &ceremony.state,
                },
                answer,
                origin,
            )
            .await?;
        let Accepted::Passkey { name, used } = accepted else {
            return Err(Error::PasskeyRefused);
        };
        let mut first = vec![
            used,
            self.event(
                Some(&account.id),
                crate::model::EventKind::PasskeyAccepted,
                origin,
                &format!("{name}, without a password"),
            )?,
        ];
        let remember = if remember_browser {
            let (token, label, more) = self.browser_to_remember(&account, origin)?;
            first.extend(more);
            Some((token, label))
        } else {
            None
        };
        let mut signed = self
            .start_session(&account, false, true, first, origin)
            .await?;
        if let Some((token, label)) = remember {
            self.notify(
                &account,
                super::super::notices::Notice::BrowserRemembered,
                &label,
                origin,
            )
            .await;
            signed.remember_token = Some(token);
        }
        Ok(signed)
    }
}
