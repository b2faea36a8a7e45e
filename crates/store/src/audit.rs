//! The audit log and the development outbox.

use super::*;

impl Events for SqlStore {
    async fn insert_event(&self, e: &Event) -> Result<()> {
        if let Some(events) = &self.events {
            return events.write(e).await;
        }
        self.exec(
            "INSERT INTO events (id, account_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &event_params(e),
        )
        .await?;
        Ok(())
    }

    async fn events(&self, account_id: &str, limit: i64) -> Result<Vec<Event>> {
        self.rows(
            false,
            "SELECT id, account_id, kind, at, ip, user_agent, detail FROM events WHERE account_id = $1 ORDER BY seq DESC LIMIT $2",
            &[Param::Text(account_id), Param::Int(limit)],
            usize::MAX,
        )
        .await
    }

    async fn insert_outbox(&self, m: &OutboxMessage) -> Result<()> {
        self.exec(
            "INSERT INTO outbox (id, channel, recipient, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Text(&m.id),
                Param::Text(&m.channel),
                Param::Text(&m.recipient),
                Param::Text(&m.body),
                Param::Int(m.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn outbox(&self, limit: i64) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query("SELECT id, channel, recipient, body, created_at FROM outbox ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: r.try_get("id").map_err(db)?,
                    channel: r.try_get("channel").map_err(db)?,
                    recipient: r.try_get("recipient").map_err(db)?,
                    body: r.try_get("body").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                })
            })
            .collect()
    }

    async fn filtered_events_with_emails(
        &self,
        f: &EventFilter,
    ) -> Result<Vec<(Event, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT e.id, e.account_id, e.kind, e.at, e.ip, e.user_agent, e.detail, a.email
             FROM events e LEFT JOIN accounts a ON a.id = e.account_id
             WHERE ($1 IS NULL OR e.account_id = $1) AND ($2 IS NULL OR e.kind = $2) AND ($3 IS NULL OR e.at >= $3)
             ORDER BY e.seq DESC LIMIT $4",
        )
        .bind(f.account_id.clone())
        .bind(f.kind.map(EventKind::as_str))
        .bind(f.since)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((Event::from_row(r)?, r.col("email")?)))
            .collect()
    }

    async fn filtered_events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, at, ip, user_agent, detail FROM events
             WHERE ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR at >= $3)
             ORDER BY seq DESC LIMIT $4",
        )
        .bind(f.account_id.clone())
        .bind(f.kind.map(EventKind::as_str))
        .bind(f.since)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event).collect()
    }
}
