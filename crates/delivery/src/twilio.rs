//! Twilio (REST API 2010-04-01): SMS through
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with form fields
//! `To`, `From` (or `MessagingServiceSid`) and `Body`; voice through
//! `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` with `To`, `From`
//! and inline `Twiml`. HTTP Basic authentication with the Account SID and
//! auth token. Errors come back as JSON `{"code", "message", "status"}`.

use std::time::Duration;

use nidan_core::delivery::{DeliveryError, Receipt, SmsSender, VoiceScript, VoiceSender};
use nidan_core::phone::PhoneNumber;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::transport;

/// Twilio account settings.
#[derive(Clone)]
pub struct TwilioConfig {
    /// `AC...`.
    pub account_sid: String,
    /// The auth token (secret).
    pub auth_token: Zeroizing<String>,
    /// The sending number in E.164, or empty when a Messaging Service is used.
    pub from: String,
    /// `MG...`, used for SMS instead of `from` when set.
    pub messaging_service_sid: Option<String>,
    /// `https://api.twilio.com`; a local server in tests.
    pub base_url: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[REDACTED]")
            .field("from", &self.from)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Sends SMS and places calls through Twilio.
#[derive(Debug, Clone)]
pub struct TwilioSender {
    config: TwilioConfig,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioSender {
    /// A sender with its own HTTP client.
    pub fn new(config: TwilioConfig) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        Ok(Self { config, client })
    }

    async fn post(&self, resource: &str, form: &[(&str, &str)]) -> Result<Receipt, DeliveryError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        );
        let response = self
            .client
            .post(url)
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.as_str()),
            )
            .form(form)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        if status.is_success() {
            let created: Created = response
                .json()
                .await
                .map_err(|_| DeliveryError::Unavailable("unreadable answer from Twilio".into()))?;
            return Ok(Receipt {
                provider_id: created.sid,
            });
        }
        let detail = response
            .json::<TwilioError>()
            .await
            .ok()
            .map(|e| {
                format!(
                    "Twilio error {}: {}",
                    e.code.unwrap_or_default(),
                    e.message.unwrap_or_default()
                )
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        if status.is_client_error() && status.as_u16() != 429 {
            Err(DeliveryError::Rejected(detail))
        } else {
            Err(DeliveryError::Unavailable(detail))
        }
    }
}

/// Escapes text for XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// TwiML for a code: the introduction, then each digit in its own `<Say>`
/// followed by a one-second `<Pause>`, the whole repeated.
pub fn twiml(script: &VoiceScript) -> String {
    let lang = script.language;
    let mut out = String::from("<Response>");
    for _ in 0..script.repeat {
        out.push_str(&format!(
            "<Say language=\"{lang}\">{}</Say><Pause length=\"1\"/>",
            xml(&script.intro)
        ));
        for digit in &script.digits {
            out.push_str(&format!(
                "<Say language=\"{lang}\">{digit}</Say><Pause length=\"1\"/>"
            ));
        }
        out.push_str("<Pause length=\"1\"/>");
    }
    out.push_str(&format!(
        "<Say language=\"{lang}\">{}</Say></Response>",
        xml(&script.outro)
    ));
    out
}

impl SmsSender for TwilioSender {
    async fn send_sms(&self, to: &PhoneNumber, body: &str) -> Result<Receipt, DeliveryError> {
        match &self.config.messaging_service_sid {
            Some(service) => {
                self.post(
                    "Messages",
                    &[
                        ("To", to.e164()),
                        ("MessagingServiceSid", service),
                        ("Body", body),
                    ],
                )
                .await
            }
            None => {
                self.post(
                    "Messages",
                    &[
                        ("To", to.e164()),
                        ("From", &self.config.from),
                        ("Body", body),
                    ],
                )
                .await
            }
        }
    }
}

impl VoiceSender for TwilioSender {
    async fn call(&self, to: &PhoneNumber, script: &VoiceScript) -> Result<Receipt, DeliveryError> {
        let twiml = twiml(script);
        self.post(
            "Calls",
            &[
                ("To", to.e164()),
                ("From", &self.config.from),
                ("Twiml", &twiml),
            ],
        )
        .await
    }
}
