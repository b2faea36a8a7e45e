//! The webhook sender: nidan POSTs each message as JSON to the operator's
//! URL, which delivers it through any provider. The request carries
//! `X-Nidan-Timestamp` (Unix seconds) and
//! `X-Nidan-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
//! so the receiver can check it came from nidan and is fresh. Failures
//! other than a 4xx answer are retried with a short backoff.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use nidan_core::Clock;
use nidan_core::delivery::{DeliveryError, Receipt, SmsSender, VoiceScript, VoiceSender};
use nidan_core::phone::PhoneNumber;
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::transport;

/// Webhook settings.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// The shared signing secret.
    pub secret: Zeroizing<String>,
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// The JSON body.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    /// `sms` or `voice`.
    channel: &'a str,
    /// E.164.
    to: &'a str,
    /// The SMS text, or the voice script as text.
    text: &'a str,
    /// For voice: the language and the digits to read.
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
}

/// Sends through the operator's webhook.
pub struct WebhookSender {
    config: WebhookConfig,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// The signature header value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1={}",
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
    )
}

impl WebhookSender {
    /// A sender with its own HTTP client.
    pub fn new(config: WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        Ok(Self {
            config,
            client,
            clock,
        })
    }

    async fn deliver(&self, payload: &Payload<'_>) -> Result<Receipt, DeliveryError> {
        let body =
            serde_json::to_vec(payload).map_err(|e| DeliveryError::Rejected(e.to_string()))?;
        let mut wait = self.config.backoff;
        let mut last = DeliveryError::NotConfigured;
        for attempt in 1..=self.config.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            let timestamp = self.clock.now();
            let result = self
                .client
                .post(&self.config.url)
                .header("content-type", "application/json")
                .header("x-nidan-timestamp", timestamp.to_string())
                .header(
                    "x-nidan-signature",
                    signature(&self.config.secret, timestamp, &body),
                )
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {
                    let id = r
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    return Ok(Receipt { provider_id: id });
                }
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    return Err(DeliveryError::Rejected(format!(
                        "the webhook answered HTTP {}",
                        r.status()
                    )));
                }
                Ok(r) => {
                    last = DeliveryError::Unavailable(format!(
                        "the webhook answered HTTP {}",
                        r.status()
                    ))
                }
                Err(e) => last = transport(&e),
            }
            tracing::warn!(attempt, error = %last, "webhook delivery failed");
        }
        Err(last)
    }
}

impl SmsSender for WebhookSender {
    async fn send_sms(&self, to: &PhoneNumber, body: &str) -> Result<Receipt, DeliveryError> {
        self.deliver(&Payload {
            channel: "sms",
            to: to.e164(),
            text: body,
            language: None,
        })
        .await
    }
}

impl VoiceSender for WebhookSender {
    async fn call(&self, to: &PhoneNumber, script: &VoiceScript) -> Result<Receipt, DeliveryError> {
        let digits: Vec<String> = script.digits.iter().map(char::to_string).collect();
        let text = format!("{} {}", script.intro, digits.join(", "));
        self.deliver(&Payload {
            channel: "voice",
            to: to.e164(),
            text: &text,
            language: Some(script.language),
        })
        .await
    }
}
