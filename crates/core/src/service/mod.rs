//! [`Nidan`]: the operations of the product, one method per thing a person
//! does. Each page and API call of the server is a thin wrapper over one of
//! them, so the browser and the JSON flows cannot drift apart.
//!
//! - [`signup`]: sign-up by an emailed link.
//! - [`signin`]: the password step and the code step — the sign-in state
//!   machine
//!   `EmailGiven → PasswordAccepted → { SignedIn | CodeRequired } → SignedIn`.
//! - [`session`]: sessions, step-up and the password change.
//! - [`factor`]: the one counted path every code goes through (sign-in,
//!   turning 2SV off, confirming a new method), with atomic single use.
//! - [`notices`]: security notices by email.
//! - [`methods`]: one module per kind of method — [`methods::app`],
//!   [`methods::phone`] (sending codes by text or call, limits) and
//!   [`methods::backup_codes`] — with the same begin / confirm shape.
//! - [`wizard`]: the three-page enable wizard and its order rule.
//! - [`settings`]: Advanced Security Settings once 2SV is on.
//! - [`guard`]: the lockout after wrong codes and the alarm when a
//!   leaked password floods a phone with codes.
//! - [`recovery`]: identity-document recovery and its review.
//! - [`admin`]: what staff do: users, unlock, audit log.
//! - [`reset`]: password reset by an emailed link.
//! - [`mandate`]: mandatory 2SV with a deadline.

pub mod admin;
mod at_once;
pub mod factor;
pub mod guard;
pub mod mandate;
pub mod methods;
pub mod notices;
pub mod recovery;
pub mod reset;
pub mod session;
pub mod settings;
pub mod signin;
pub mod signup;
pub mod wizard;

use std::sync::Arc;

use crate::clock::Clock;
use crate::delivery::Senders;
use crate::error::{Error, Result};
use crate::model::{Event, EventKind, Origin};
use crate::policy::Policy;
use crate::secrets::{MasterKey, PasswordHasher, new_id};
use crate::store::{Store, Write};

/// The domain service over a store.
pub struct Nidan<S> {
    store: S,
    clock: Arc<dyn Clock>,
    key: MasterKey,
    hasher: PasswordHasher,
    policy: Policy,
    senders: Senders,
    public_url: String,
    relying_party: methods::passkey::RelyingParty,
}

impl<S: Store> Nidan<S> {
    /// A service over `store`, reading time from `clock`, sealing TOTP keys
    /// with `key`, hashing at most `hash_permits` passwords at once.
    pub fn new(
        store: S,
        clock: Arc<dyn Clock>,
        key: MasterKey,
        policy: Policy,
        hash_permits: usize,
    ) -> Result<Self> {
        Ok(Self {
            store,
            clock,
            key,
            hasher: PasswordHasher::new(hash_permits)?,
            policy,
            senders: Senders::default(),
            public_url: "http://127.0.0.1:8080".into(),
            relying_party: methods::passkey::RelyingParty::Off(
                "no public URL with a host name was given",
            ),
        })
    }

    /// The address people reach the pages at, for links in emails.
    /// Passkeys are for the host of this address (the relying party);
    /// they are off if it is an IP address ([`Nidan::passkeys_off`]).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.trim_end_matches('/').to_owned();
        self.relying_party =
            methods::passkey::RelyingParty::for_site(&self.public_url, &self.policy.service_name);
        self
    }

    /// A link to a page, for emails.
    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Uses these senders for texts and calls.
    pub fn with_senders(mut self, senders: Senders) -> Self {
        self.senders = senders;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await
    }

    /// The newest messages the development outbox kept, newest first.
    pub async fn outbox(&self, limit: i64) -> Result<Vec<crate::model::OutboxMessage>> {
        self.store.outbox(limit).await
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Appends a security event. Failing to record is logged by the caller
    /// through the returned error; the event never holds a secret.
    async fn record(
        &self,
        account_id: Option<&str>,
        kind: EventKind,
        origin: &Origin,
        detail: &str,
    ) -> Result<()> {
        match self.event(account_id, kind, origin, detail)? {
            Write::Event(event) => self.store.insert_event(&event).await,
            _ => Ok(()),
        }
    }

    /// A security event as one write of a unit of work, so the change and
    /// its record in the audit log are stored together or not at all.
    fn event(
        &self,
        account_id: Option<&str>,
        kind: EventKind,
        origin: &Origin,
        detail: &str,
    ) -> Result<Write> {
        // Every security event is also a Prometheus counter by kind (a
        // fixed set of names), for `/metrics`; a no-op without a recorder.
        metrics::counter!("nidan_events_total", "kind" => kind.as_str()).increment(1);
        Ok(Write::Event(Event {
            id: new_id()?,
            account_id: account_id.map(str::to_owned),
            kind,
            at: self.now(),
            ip: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            detail: detail.to_owned(),
        }))
    }
}

impl<S: Store> Nidan<S> {
    /// The account's method `method_id` if it satisfies `wanted`
    /// (active, pending, of a kind...), else [`Error::NoSuchMethod`].
    async fn method_where(
        &self,
        account_id: &str,
        method_id: &str,
        wanted: impl Fn(&crate::model::Method) -> bool,
    ) -> Result<crate::model::Method> {
        self.store
            .methods(account_id)
            .await?
            .into_iter()
            .find(|m| m.id == method_id && wanted(m))
            .ok_or(Error::NoSuchMethod)
    }
}

/// Checks a display name for a method: 1 to 64 characters after trimming.
fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::InvalidName);
    }
    Ok(name.to_owned())
}
