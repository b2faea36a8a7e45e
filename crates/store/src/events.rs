//! Audit events written in groups on PostgreSQL (see [`EventWriter`]).

use nidan_core::error::{Error, Result};
use nidan_core::model::Event;
use sqlx::AnyPool;

use crate::exec::{self, Param};

/// An event waiting to be written, and who waits for it.
type PendingEvent = (
    Event,
    tokio::sync::oneshot::Sender<std::result::Result<(), String>>,
);

/// Group commit for audit events on PostgreSQL. Every wrong code writes an
/// event; written one by one, each is a transaction and a WAL flush of its
/// own, which was half of the commits on the code step. Here one task takes
/// every event waiting (up to [`EventWriter::MOST`]) and writes them with
/// one multi-row `INSERT`; each caller still returns only once its event is
/// committed, so nothing is acknowledged before it is stored.
#[derive(Debug, Clone)]
pub(crate) struct EventWriter {
    queue: tokio::sync::mpsc::Sender<PendingEvent>,
}

impl EventWriter {
    /// The most events in one `INSERT` (7 parameters each, well under
    /// PostgreSQL's 65,535).
    const MOST: usize = 256;

    pub(crate) fn start(pool: AnyPool) -> Self {
        let (queue, mut waiting) = tokio::sync::mpsc::channel::<PendingEvent>(4 * Self::MOST);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(Self::MOST);
            while waiting.recv_many(&mut batch, Self::MOST).await > 0 {
                let done = Self::insert(&pool, &batch).await;
                if done.is_err() && batch.len() > 1 {
                    // One bad event must not fail the others: one by one.
                    for pending in batch.drain(..) {
                        let done = Self::insert(&pool, std::slice::from_ref(&pending)).await;
                        let _ = pending.1.send(done);
                    }
                }
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(done.clone());
                }
            }
        });
        Self { queue }
    }

    async fn insert(pool: &AnyPool, batch: &[PendingEvent]) -> std::result::Result<(), String> {
        let mut sql = String::from(
            "INSERT INTO events (id, account_id, kind, at, ip, user_agent, detail) VALUES ",
        );
        let mut params = Vec::with_capacity(batch.len() * 7);
        for (i, (e, _)) in batch.iter().enumerate() {
            let n = i * 7;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7
            ));
            params.extend(event_params(e));
        }
        // Only placeholders are formatted into the text; the values are bound.
        exec::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub(crate) async fn write(&self, e: &Event) -> Result<()> {
        let (reply, done) = tokio::sync::oneshot::channel();
        self.queue
            .send((e.clone(), reply))
            .await
            .map_err(|_| Error::Store("the event writer has stopped".into()))?;
        done.await
            .map_err(|_| Error::Store("the event writer has stopped".into()))?
            .map_err(Error::Store)
    }
}

/// An event's columns in `INSERT` order.
pub(crate) fn event_params(e: &Event) -> [Param<'_>; 7] {
    [
        Param::Text(&e.id),
        Param::OptText(e.account_id.as_deref()),
        Param::Text(e.kind.as_str()),
        Param::Int(e.at),
        Param::Text(&e.ip),
        Param::Text(&e.user_agent),
        Param::Text(&e.detail),
    ]
}
