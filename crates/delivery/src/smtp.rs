//! Email over SMTP (lettre): security notices and, later, email codes.
//! Implicit TLS, STARTTLS, or plain (only sensible on loopback or in tests).

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use nidan_core::delivery::{DeliveryError, EmailSender, Receipt};
use zeroize::Zeroizing;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain, then STARTTLS (port 587).
    StartTls,
    /// No encryption: only for a relay on the same machine.
    None,
}

/// SMTP settings.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Zeroizing<String>,
    /// The From address, e.g. `Example Shop <no-reply@shop.example>`.
    pub from: String,
    /// Per-message timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish()
    }
}

/// Sends plain-text email through an SMTP server.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// A sender for `config`; checks the From address and host now.
    pub fn new(config: &SmtpConfig) -> Result<Self, DeliveryError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| DeliveryError::Rejected(format!("bad From address: {e}")))?;
        let builder = match config.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host),
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
            }
            Security::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &config.host,
            )),
        }
        .map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(user) = &config.username {
            builder =
                builder.credentials(Credentials::new(user.clone(), config.password.to_string()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

impl EmailSender for SmtpSender {
    async fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<Receipt, DeliveryError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| DeliveryError::Rejected(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(response) => Ok(Receipt {
                provider_id: response.message().collect::<Vec<_>>().join(" "),
            }),
            Err(e) if e.is_permanent() => Err(DeliveryError::Rejected(e.to_string())),
            Err(e) if e.is_timeout() => Err(DeliveryError::Timeout),
            Err(e) => Err(DeliveryError::Unavailable(e.to_string())),
        }
    }
}
