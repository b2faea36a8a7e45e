//! The configuration: one typed struct, read from an optional TOML file and
//! `NIDAN_*` environment variables (`NIDAN_LISTEN`, `NIDAN_POLICY__TOTP_WINDOW`,
//! nested keys joined by `__`). Defaults run the embedded setup: SQLite and
//! a key file in `./nidan-data`, listening on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nidan_core::Policy;

use crate::forward_auth::ForwardAuth;
use serde::{Deserialize, Serialize};

/// `NIDAN_*` variables that are not configuration keys.
const NOT_CONFIG: &[&str] = &["NIDAN_LOG", "NIDAN_MASTER_KEY", "NIDAN_BIN"];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite file and the master key file live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: `sqlite://<data_dir>/nidan.db`.
    pub database_url: Option<String>,
    /// Connection pool size.
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before it is
    /// answered 503 with `Retry-After` (the database down or saturated).
    pub database_acquire_timeout_seconds: u64,
    /// The longest a request may take; past it, 503 with `Retry-After`.
    pub request_timeout_seconds: u64,
    /// Open connections at most (also bounded by the open-files limit).
    pub max_connections: usize,
    /// Seconds a connection has to send a request's headers.
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    pub idle_timeout_seconds: u64,
    /// The master key file; default `<data_dir>/master.key`. The
    /// `NIDAN_MASTER_KEY` variable (Base64 of 32 bytes) takes precedence.
    pub master_key_file: Option<PathBuf>,
    /// The URL people reach nidan at. When it starts with `https://`,
    /// cookies are marked `Secure`.
    pub public_url: Option<String>,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or
    /// networks: `127.0.0.1`, `10.0.0.0/8`). The visitor's IP — for the
    /// per-IP send cap, the audit log and the notices — is then the
    /// right-most address in that header that is not one of these. Empty:
    /// the connection's address, whatever the headers say.
    pub trusted_proxies: Vec<String>,
    /// Who may read `/metrics` (Prometheus): addresses or networks,
    /// checked against the visitor's IP (see `trusted_proxies`). Default:
    /// loopback only; empty: nobody (404).
    pub metrics_allow: Vec<String>,
    /// The rules of sign-in and 2SV.
    pub policy: Policy,
    /// How texts and calls are sent.
    pub delivery: Delivery,
    /// Forward authentication for reverse proxies (§9.2).
    pub forward_auth: ForwardAuth,
}

/// A provider for a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Kept in the database (development): `nidan outbox`, `/dev/outbox`.
    #[default]
    Outbox,
    /// Twilio's Messages and Calls APIs.
    Twilio,
    /// A signed JSON POST to the operator's URL.
    Webhook,
}

/// Delivery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Provider for text messages.
    pub sms: Provider,
    /// Provider for voice calls.
    pub voice: Provider,
    /// Provider for email: `outbox` or `smtp`.
    pub email: EmailProvider,
    /// SMTP settings, for `smtp`.
    pub smtp: SmtpSettings,
    /// Serve `/dev/outbox` to visitors on this machine. Unset: served
    /// when email goes to the outbox (nobody could read sign-up links
    /// otherwise). Never served unless [`Config::loopback_only`].
    pub outbox_page: Option<bool>,
    /// Twilio settings, for `twilio`.
    pub twilio: TwilioSettings,
    /// Webhook settings, for `webhook`.
    pub webhook: WebhookSettings,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            sms: Provider::Outbox,
            voice: Provider::Outbox,
            email: EmailProvider::Outbox,
            smtp: SmtpSettings::default(),
            outbox_page: None,
            twilio: TwilioSettings::default(),
            webhook: WebhookSettings::default(),
        }
    }
}

/// Twilio account settings (`NIDAN_DELIVERY__TWILIO__AUTH_TOKEN` keeps the
/// token out of the file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioSettings {
    /// `AC...`.
    pub account_sid: String,
    /// The auth token.
    #[serde(skip_serializing)]
    pub auth_token: String,
    /// The sending number (E.164).
    pub from: String,
    /// `MG...` for SMS instead of `from`.
    pub messaging_service_sid: Option<String>,
    /// API base URL.
    pub base_url: String,
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            auth_token: String::new(),
            from: String::new(),
            messaging_service_sid: None,
            base_url: "https://api.twilio.com".into(),
        }
    }
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish()
    }
}

/// Webhook settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST.
    pub url: String,
    /// The signing secret.
    #[serde(skip_serializing)]
    pub secret: String,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .finish()
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("nidan-data"),
            database_url: None,
            database_max_connections: 8,
            database_acquire_timeout_seconds: 3,
            request_timeout_seconds: 30,
            max_connections: 10_000,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            master_key_file: None,
            public_url: None,
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            metrics_allow: vec!["127.0.0.0/8".into(), "::1".into()],
            policy: Policy::default(),
            delivery: Delivery::default(),
            forward_auth: ForwardAuth::default(),
        }
    }
}

impl Config {
    /// Reads `file` (if given) and the environment over the defaults.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        // NIDAN_LOG (log filter) and NIDAN_MASTER_KEY (the key itself) are
        // read elsewhere and must not reach the typed config, which
        // refuses unknown keys.
        let vars: config::Map<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("NIDAN_") && !NOT_CONFIG.contains(&k.as_str()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("NIDAN")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let merged = builder.build()?;
        let config: Self = merged.try_deserialize()?;
        config.check()?;
        Ok(config)
    }

    /// Refuses settings that would silently not do what they say.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(rule) = &self.policy.require_2sv {
            rule.deadline().map_err(|e| anyhow::anyhow!(e))?;
        }
        let p = &self.policy;
        if p.lockout_after_failures < 1 || p.lockout_after_failures > 100 {
            anyhow::bail!(
                "policy.lockout_after_failures must be 1 to 100 (NIST SP 800-63B allows at most 100)"
            );
        }
        if p.abuse_alert_after < 1 || p.abuse_pause_after < 1 {
            anyhow::bail!("policy.abuse_alert_after and abuse_pause_after must be at least 1");
        }
        for (name, value) in [
            ("password_slowdown_after", p.password_slowdown_after),
            (
                "password_slowdown_max_seconds",
                p.password_slowdown_max_seconds,
            ),
            (
                "password_failures_per_ip_hour",
                p.password_failures_per_ip_hour,
            ),
            ("password_alert_after", p.password_alert_after),
        ] {
            if value < 1 {
                anyhow::bail!("policy.{name} must be at least 1");
            }
        }
        if self.database_acquire_timeout_seconds == 0
            || self.request_timeout_seconds == 0
            || self.header_read_timeout_seconds == 0
            || self.idle_timeout_seconds == 0
            || self.max_connections == 0
        {
            anyhow::bail!(
                "database_acquire_timeout_seconds, request_timeout_seconds, header_read_timeout_seconds, idle_timeout_seconds and max_connections must be at least 1"
            );
        }
        if p.recovery_retention_days < 0 {
            anyhow::bail!("policy.recovery_retention_days can't be negative");
        }
        self.trusted_proxy_networks()?;
        self.metrics_networks()?;
        self.check_forward_auth()
    }

    /// `trusted_proxies` as networks (a bare address is a network of one).
    pub fn trusted_proxy_networks(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        networks("trusted_proxies", &self.trusted_proxies)
    }

    /// `metrics_allow` as networks.
    pub fn metrics_networks(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        networks("metrics_allow", &self.metrics_allow)
    }

    /// Forward authentication redirects to nidan's public address and
    /// needs the session cookie to reach every protected host.
    fn check_forward_auth(&self) -> anyhow::Result<()> {
        let fa = &self.forward_auth;
        if !fa.enabled() && fa.cookie_domain.is_none() {
            return Ok(());
        }
        let Some(public) = self.public_url.as_deref() else {
            anyhow::bail!(
                "forward_auth needs public_url: the address protected apps send visitors to for signing in (https://auth.example.com)"
            );
        };
        let host = url::Url::parse(public)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .ok_or_else(|| anyhow::anyhow!("public_url {public:?} is not an http(s) URL"))?;
        fa.check(&host).map_err(anyhow::Error::msg)
    }

    /// The address pages are reached at, for links in emails and as the
    /// passkeys' relying party. Without `public_url`, a loopback listener
    /// is reached as `localhost` (a passkey needs a host name, never an IP
    /// address); any other listener by its address (passkeys then off).
    pub fn public_base(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| {
            if self.listen.ip().is_loopback() {
                format!("http://localhost:{}", self.listen.port())
            } else {
                format!("http://{}", self.listen)
            }
        })
    }

    /// Whether nidan is reachable on this machine only: it listens on
    /// loopback and its public URL (if any) names a loopback host.
    pub fn loopback_only(&self) -> bool {
        let public_is_loopback = match &self.public_url {
            None => true,
            Some(url) => url::Url::parse(url).ok().is_some_and(|u| match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }),
        };
        self.listen.ip().is_loopback() && public_is_loopback
    }

    /// Whether `/dev/outbox` is served (see [`Delivery::outbox_page`]).
    pub fn outbox_page(&self) -> bool {
        let wanted = self
            .delivery
            .outbox_page
            .unwrap_or(self.delivery.email == EmailProvider::Outbox);
        wanted && self.loopback_only()
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("nidan.db").display()))
    }

    /// The master key file in force.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Whether cookies get the `Secure` flag.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// Addresses or networks from the configuration key `key` (a bare address
/// is a network of one).
fn networks(key: &str, entries: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    entries
        .iter()
        .map(|p| {
            let p = p.trim();
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!("{key}: {p:?} is not an IP address or network (10.0.0.0/8)")
                })
        })
        .collect()
}

/// A provider for email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmailProvider {
    /// Kept in the database (development).
    #[default]
    Outbox,
    /// An SMTP server.
    Smtp,
}

/// SMTP settings (`NIDAN_DELIVERY__SMTP__PASSWORD` keeps the password out of the file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `tls` (465), `starttls` (587) or `none` (local relay only).
    pub security: String,
    /// Login.
    pub username: Option<String>,
    /// Password.
    #[serde(skip_serializing)]
    pub password: String,
    /// From address.
    pub from: String,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 587,
            security: "starttls".into(),
            username: None,
            password: String::new(),
            from: "nidan <no-reply@localhost>".into(),
        }
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's configuration example is a configuration nidan
    /// accepts, key for key (`deny_unknown_fields`), and passes its checks.
    #[test]
    fn the_readme_configuration_example_loads() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        )
        .unwrap();
        let block = readme
            .split("```toml\n")
            .skip(1)
            .filter_map(|rest| rest.split("\n```").next())
            .find(|b| b.starts_with("listen = "))
            .expect("the README shows the whole configuration");
        let config: Config = config::Config::builder()
            .add_source(config::File::from_str(block, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        config.check().unwrap();
        assert_eq!(config.database_acquire_timeout_seconds, 3);
        assert_eq!(config.policy.audit_retention_days, 400);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let mut c = Config {
            trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()],
            ..Config::default()
        };
        assert_eq!(c.trusted_proxy_networks().unwrap().len(), 3);
        assert!(c.check().is_ok());
        c.trusted_proxies.push("proxy.example.com".into());
        let err = c.check().unwrap_err().to_string();
        assert!(
            err.contains("\"proxy.example.com\" is not an IP address"),
            "{err}"
        );
    }

    #[test]
    fn forward_auth_needs_a_public_url_its_cookie_reaches() {
        let mut c = Config::default();
        c.forward_auth.rules.push(crate::forward_auth::Rule {
            host: "wiki.example.com".into(),
            ..Default::default()
        });
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("needs public_url")
        );
        c.public_url = Some("https://auth.example.com".into());
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("outside the session cookie's reach")
        );
        c.forward_auth.cookie_domain = Some("example.com".into());
        assert!(c.check().is_ok());
    }
}
