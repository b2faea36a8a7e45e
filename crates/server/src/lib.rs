//! The `nidan` server: configuration, the master key, and the web layer
//! (pages, JSON API) over [`nidan_core`]. Requests are parsed here, one
//! core operation is called, and its result rendered; nothing here decides
//! whether a code or password is right.
//!
//! # Layout
//! - [`config`]: the typed configuration (TOML file + `NIDAN_*` environment).
//! - [`keyfile`]: loading or creating the master key.
//! - [`forward_auth`]: the rules a reverse proxy's questions are answered by.
//! - [`web`]: the axum router, pages, API, errors, locale.

pub mod config;
pub mod forward_auth;
pub mod keyfile;
pub mod web;

rust_i18n::i18n!("locales", fallback = "en");

use std::sync::Arc;

use nidan_core::delivery::Senders;
use nidan_core::{Nidan, SystemClock};
use nidan_store::SqlStore;

/// Builds the domain service from a configuration: connects to the
/// database (applying migrations) and loads or creates the master key.
pub async fn build(config: &config::Config) -> anyhow::Result<Arc<Nidan<SqlStore>>> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "could not create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let store = SqlStore::connect_with(
        &config.database_url(),
        config.database_max_connections,
        std::time::Duration::from_secs(config.database_acquire_timeout_seconds),
    )
    .await?;
    let key = keyfile::load_or_create(config, store.holds_sealed_data().await?)?;
    let permits = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let clock: Arc<dyn nidan_core::Clock> = Arc::new(SystemClock);
    let senders = senders(config, &store, &clock)?;
    let nidan = Nidan::new(store, clock, key, config.policy.clone(), permits)?
        .with_senders(senders)
        .with_public_url(&config.public_base());
    if let Some(why) = nidan.passkeys_off() {
        tracing::warn!(why, "passkeys and security keys are off");
    }
    let keyed = nidan.key_stored_backup_codes().await?;
    if keyed > 0 {
        tracing::info!(
            keyed,
            "backup codes stored unkeyed are now keyed under the master key"
        );
    }
    Ok(Arc::new(nidan))
}

/// The senders the configuration asks for.
fn senders(
    config: &config::Config,
    store: &SqlStore,
    clock: &Arc<dyn nidan_core::Clock>,
) -> anyhow::Result<Senders> {
    use config::Provider;
    use nidan_delivery::outbox::OutboxSender;
    use nidan_delivery::twilio::{TwilioConfig, TwilioSender};
    use nidan_delivery::webhook::{WebhookConfig, WebhookSender};
    let d = &config.delivery;
    let twilio = || -> anyhow::Result<TwilioSender> {
        if d.twilio.account_sid.is_empty() || d.twilio.auth_token.is_empty() {
            anyhow::bail!(
                "delivery uses twilio but delivery.twilio.account_sid or auth_token is empty"
            );
        }
        Ok(TwilioSender::new(TwilioConfig {
            account_sid: d.twilio.account_sid.clone(),
            auth_token: zeroize::Zeroizing::new(d.twilio.auth_token.clone()),
            from: d.twilio.from.clone(),
            messaging_service_sid: d.twilio.messaging_service_sid.clone(),
            base_url: d.twilio.base_url.clone(),
            timeout: nidan_delivery::DEFAULT_TIMEOUT,
        })?)
    };
    let webhook = || -> anyhow::Result<WebhookSender> {
        if d.webhook.url.is_empty() || d.webhook.secret.is_empty() {
            anyhow::bail!("delivery uses webhook but delivery.webhook.url or secret is empty");
        }
        Ok(WebhookSender::new(
            WebhookConfig {
                url: d.webhook.url.clone(),
                secret: zeroize::Zeroizing::new(d.webhook.secret.clone()),
                attempts: 3,
                backoff: std::time::Duration::from_millis(500),
                timeout: nidan_delivery::DEFAULT_TIMEOUT,
            },
            clock.clone(),
        )?)
    };
    let outbox = || OutboxSender::new(store.clone(), clock.clone());
    let sms: Arc<dyn nidan_core::delivery::DynSmsSender> = match d.sms {
        Provider::Outbox => Arc::new(outbox()),
        Provider::Twilio => Arc::new(twilio()?),
        Provider::Webhook => Arc::new(webhook()?),
    };
    let voice: Arc<dyn nidan_core::delivery::DynVoiceSender> = match d.voice {
        Provider::Outbox => Arc::new(outbox()),
        Provider::Twilio => Arc::new(twilio()?),
        Provider::Webhook => Arc::new(webhook()?),
    };
    let email: Arc<dyn nidan_core::delivery::DynEmailSender> = match d.email {
        config::EmailProvider::Outbox => Arc::new(outbox()),
        config::EmailProvider::Smtp => {
            use nidan_delivery::smtp::{Security, SmtpConfig, SmtpSender};
            let security = match d.smtp.security.as_str() {
                "tls" => Security::Tls,
                "starttls" => Security::StartTls,
                "none" => Security::None,
                other => anyhow::bail!(
                    "delivery.smtp.security must be tls, starttls or none, not {other:?}"
                ),
            };
            Arc::new(SmtpSender::new(&SmtpConfig {
                host: d.smtp.host.clone(),
                port: d.smtp.port,
                security,
                username: d.smtp.username.clone(),
                password: zeroize::Zeroizing::new(d.smtp.password.clone()),
                from: d.smtp.from.clone(),
                timeout: nidan_delivery::DEFAULT_TIMEOUT,
            })?)
        }
    };
    Ok(Senders { sms, voice, email })
}
