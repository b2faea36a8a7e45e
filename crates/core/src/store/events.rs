//! The audit log and the development outbox.

use std::future::Future;

use crate::error::Result;
use crate::model::{Event, EventFilter, OutboxMessage};

/// The audit log and the development outbox.
pub trait Events: Send + Sync + 'static {
    /// Appends to the audit log.
    fn insert_event(&self, event: &Event) -> impl Future<Output = Result<()>> + Send;
    /// An account's most recent events, newest first.
    fn events(
        &self,
        account_id: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;
    /// Keeps a message in the development outbox.
    fn insert_outbox(&self, message: &OutboxMessage) -> impl Future<Output = Result<()>> + Send;
    /// The newest outbox messages first.
    fn outbox(&self, limit: i64) -> impl Future<Output = Result<Vec<OutboxMessage>>> + Send;
    /// The audit log, newest first, each event with its account's email
    /// (one query).
    fn filtered_events_with_emails(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<Vec<(Event, Option<String>)>>> + Send;
    /// The audit log, newest first.
    fn filtered_events(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;
}
