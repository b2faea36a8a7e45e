//! How codes leave nidan: one sender interface per channel (SPEC §5.1),
//! implemented by `nidan-delivery` (outbox, Twilio, webhook, SMTP), and the
//! words sent (§5.2, §5.3), localized. A failed send is a value the caller
//! turns into "We couldn't text …, try another way" — never an internal
//! error, never a lost sign-in attempt (§5.4).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::phone::PhoneNumber;

/// Why a message was not handed to the provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The provider refused this message (bad number, unsubscribed,
    /// region not enabled...). Retrying will not help.
    #[error("the provider refused the message: {0}")]
    Rejected(String),
    /// The provider is down or overloaded; another try may work.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// No answer in time.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The channel is not configured.
    #[error("this channel is not configured")]
    NotConfigured,
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// The provider's id for the message or call, for support.
    pub provider_id: String,
}

/// What a voice call says: the code digit by digit, slowly, three times,
/// in the account's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceScript {
    /// BCP 47 language for the speech engine (`ja-JP`, `en-US`).
    pub language: &'static str,
    /// Said once before the code each time.
    pub intro: String,
    /// The digits, each said on its own with a pause after it.
    pub digits: Vec<char>,
    /// How many times the whole is repeated.
    pub repeat: u8,
    /// Said at the very end.
    pub outro: String,
}

/// Sends text messages.
pub trait SmsSender: Send + Sync + 'static {
    /// Sends `body` to `to`.
    fn send_sms(
        &self,
        to: &PhoneNumber,
        body: &str,
    ) -> impl Future<Output = Result<Receipt, DeliveryError>> + Send;
}

/// Places voice calls that read a code.
pub trait VoiceSender: Send + Sync + 'static {
    /// Calls `to` and speaks `script`.
    fn call(
        &self,
        to: &PhoneNumber,
        script: &VoiceScript,
    ) -> impl Future<Output = Result<Receipt, DeliveryError>> + Send;
}

/// Sends email.
pub trait EmailSender: Send + Sync + 'static {
    /// Sends a plain-text email.
    fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> impl Future<Output = Result<Receipt, DeliveryError>> + Send;
}

/// A boxed future, so senders can be chosen at run time.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Receipt, DeliveryError>> + Send + 'a>>;

/// [`SmsSender`] in a form that can live behind `dyn`.
pub trait DynSmsSender: Send + Sync {
    /// See [`SmsSender::send_sms`].
    fn send_sms_boxed<'a>(&'a self, to: &'a PhoneNumber, body: &'a str) -> SendFuture<'a>;
}

impl<T: SmsSender> DynSmsSender for T {
    fn send_sms_boxed<'a>(&'a self, to: &'a PhoneNumber, body: &'a str) -> SendFuture<'a> {
        Box::pin(self.send_sms(to, body))
    }
}

/// [`VoiceSender`] in a form that can live behind `dyn`.
pub trait DynVoiceSender: Send + Sync {
    /// See [`VoiceSender::call`].
    fn call_boxed<'a>(&'a self, to: &'a PhoneNumber, script: &'a VoiceScript) -> SendFuture<'a>;
}

impl<T: VoiceSender> DynVoiceSender for T {
    fn call_boxed<'a>(&'a self, to: &'a PhoneNumber, script: &'a VoiceScript) -> SendFuture<'a> {
        Box::pin(self.call(to, script))
    }
}

/// [`EmailSender`] in a form that can live behind `dyn`.
pub trait DynEmailSender: Send + Sync {
    /// See [`EmailSender::send_email`].
    fn send_email_boxed<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        body: &'a str,
    ) -> SendFuture<'a>;
}

impl<T: EmailSender> DynEmailSender for T {
    fn send_email_boxed<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        body: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(self.send_email(to, subject, body))
    }
}

/// A sender for a channel that is not configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

impl SmsSender for Unconfigured {
    async fn send_sms(&self, _: &PhoneNumber, _: &str) -> Result<Receipt, DeliveryError> {
        Err(DeliveryError::NotConfigured)
    }
}

impl EmailSender for Unconfigured {
    async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<Receipt, DeliveryError> {
        Err(DeliveryError::NotConfigured)
    }
}

impl VoiceSender for Unconfigured {
    async fn call(&self, _: &PhoneNumber, _: &VoiceScript) -> Result<Receipt, DeliveryError> {
        Err(DeliveryError::NotConfigured)
    }
}

/// The senders in use, one per channel.
#[derive(Clone)]
pub struct Senders {
    /// Text messages.
    pub sms: Arc<dyn DynSmsSender>,
    /// Voice calls.
    pub voice: Arc<dyn DynVoiceSender>,
    /// Email.
    pub email: Arc<dyn DynEmailSender>,
}

impl Default for Senders {
    fn default() -> Self {
        Self {
            sms: Arc::new(Unconfigured),
            voice: Arc::new(Unconfigured),
            email: Arc::new(Unconfigured),
        }
    }
}

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Senders")
    }
}

/// The SMS text (§5.2): the code first (it shows in notifications), the
/// service, a warning, and the WebOTP line `@domain #code` so browsers on
/// the phone can fill the code in.
pub fn sms_text(locale: &str, service: &str, domain: &str, code: &str) -> String {
    let first = if locale == "ja" {
        format!("{code} は{service}のセキュリティコードです。他の人には教えないでください。")
    } else {
        format!("{code} is your {service} security code. Don't share it.")
    };
    format!("{first}\n\n@{domain} #{code}")
}

/// The voice script (§5.3, seed 002: the robot voice was too fast).
pub fn voice_script(locale: &str, service: &str, code: &str) -> VoiceScript {
    let (language, intro, outro) = if locale == "ja" {
        (
            "ja-JP",
            format!("{service}のセキュリティコードをお知らせします。"),
            "以上です。".to_owned(),
        )
    } else {
        (
            "en-US",
            format!("Your {service} security code is:"),
            "Goodbye.".to_owned(),
        )
    };
    VoiceScript {
        language,
        intro,
        digits: code.chars().filter(char::is_ascii_digit).collect(),
        repeat: 3,
        outro,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_texts_lead_with_the_code_and_end_with_the_webotp_line() {
        let en = sms_text("en", "Example Shop", "shop.example", "123456");
        assert_eq!(
            en,
            "123456 is your Example Shop security code. Don't share it.\n\n@shop.example #123456"
        );
        let ja = sms_text("ja", "Example Shop", "shop.example", "123456");
        assert!(ja.starts_with("123456 は"));
        assert!(ja.ends_with("\n\n@shop.example #123456"));
    }

    #[test]
    fn voice_reads_each_digit_three_times_in_the_accounts_language() {
        let ja = voice_script("ja", "nidan", "012345");
        assert_eq!(ja.language, "ja-JP");
        assert_eq!(ja.digits, vec!['0', '1', '2', '3', '4', '5']);
        assert_eq!(ja.repeat, 3);
        assert_eq!(voice_script("en", "nidan", "9").language, "en-US");
    }
}
