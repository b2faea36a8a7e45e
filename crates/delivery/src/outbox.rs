//! The development provider: messages are kept in the database instead of
//! sent, listed by `nidan outbox` and (when enabled, on loopback only) the
//! `/dev/outbox` page. It is the embedded default, so a fresh `nidan serve`
//! works end to end without any provider account.

use std::sync::Arc;

use nidan_core::Clock;
use nidan_core::delivery::{
    DeliveryError, EmailSender, Receipt, SmsSender, VoiceScript, VoiceSender,
};
use nidan_core::model::OutboxMessage;
use nidan_core::phone::PhoneNumber;
use nidan_core::secrets::new_id;
use nidan_core::store::Store;

/// Keeps messages in the store.
pub struct OutboxSender<S> {
    store: S,
    clock: Arc<dyn Clock>,
}

impl<S: Store> OutboxSender<S> {
    /// An outbox over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    async fn keep(
        &self,
        channel: &str,
        to: &PhoneNumber,
        body: String,
    ) -> Result<Receipt, DeliveryError> {
        self.keep_for(channel, to.e164(), body).await
    }

    async fn keep_for(
        &self,
        channel: &str,
        recipient: &str,
        body: String,
    ) -> Result<Receipt, DeliveryError> {
        let id = new_id().map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        self.store
            .insert_outbox(&OutboxMessage {
                id: id.clone(),
                channel: channel.to_owned(),
                recipient: recipient.to_owned(),
                body,
                created_at: self.clock.now(),
            })
            .await
            .map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        Ok(Receipt { provider_id: id })
    }
}

impl<S: Store> SmsSender for OutboxSender<S> {
    async fn send_sms(&self, to: &PhoneNumber, body: &str) -> Result<Receipt, DeliveryError> {
        self.keep("sms", to, body.to_owned()).await
    }
}

impl<S: Store> VoiceSender for OutboxSender<S> {
    async fn call(&self, to: &PhoneNumber, script: &VoiceScript) -> Result<Receipt, DeliveryError> {
        let digits: Vec<String> = script.digits.iter().map(char::to_string).collect();
        let once = format!("{} {}", script.intro, digits.join(" … "));
        let spoken = vec![once; usize::from(script.repeat)].join(" / ");
        self.keep(
            "voice",
            to,
            format!("[{}] {spoken} / {}", script.language, script.outro),
        )
        .await
    }
}

impl<S: Store> EmailSender for OutboxSender<S> {
    async fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<Receipt, DeliveryError> {
        self.keep_for("email", to, format!("Subject: {subject}\n\n{body}"))
            .await
    }
}
