//! Signed-in sessions and remembered browsers.

use super::*;

impl Sessions for SqlStore {
    async fn insert_session(&self, s: &Session, token_hash: &str) -> Result<()> {
        self.apply(vec![Write::InsertSession {
            session: s.clone(),
            token_hash: token_hash.to_owned(),
        }])
        .await
    }

    async fn session_by_token(&self, token_hash: &str, now: i64) -> Result<Option<Session>> {
        self.row(
            "SELECT id, account_id, created_at, expires_at, password_at, keep_signed_in, two_step_at FROM sessions
             WHERE token_hash = $1 AND expires_at > $2",
            &[Param::Text(token_hash), Param::Int(now)],
        )
        .await
    }

    async fn touch_session_password(&self, session_id: &str, at: i64) -> Result<()> {
        self.apply(vec![Write::TouchSessionPassword {
            session_id: session_id.to_owned(),
            at,
        }])
        .await
    }

    async fn delete_session(&self, session_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteSession {
            session_id: session_id.to_owned(),
        }])
        .await
    }

    async fn delete_sessions_except(&self, account_id: &str, keep: Option<&str>) -> Result<()> {
        self.apply(vec![Write::DeleteSessionsExcept {
            account_id: account_id.to_owned(),
            keep: keep.map(str::to_owned),
        }])
        .await
    }

    async fn insert_browser(&self, b: &RememberedBrowser, token_hash: &str) -> Result<()> {
        self.apply(vec![Write::InsertBrowser {
            browser: b.clone(),
            token_hash: token_hash.to_owned(),
        }])
        .await
    }

    async fn use_browser(
        &self,
        account_id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RememberedBrowser>> {
        Ok(self
            .rows(
                true,
                "UPDATE remembered_browsers SET last_used_at = $1
                 WHERE account_id = $2 AND token_hash = $3 AND expires_at > $1
                 RETURNING id, account_id, label, created_at, last_used_at, expires_at",
                &[
                    Param::Int(now),
                    Param::Text(account_id),
                    Param::Text(token_hash),
                ],
                1,
            )
            .await?
            .into_iter()
            .next())
    }

    async fn browsers(&self, account_id: &str, now: i64) -> Result<Vec<RememberedBrowser>> {
        let rows = sqlx::query("SELECT id, account_id, label, created_at, last_used_at, expires_at FROM remembered_browsers WHERE account_id = $1 AND expires_at > $2 ORDER BY last_used_at DESC")
            .bind(account_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(browser).collect()
    }

    async fn delete_browser(&self, account_id: &str, browser_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteBrowser {
            account_id: account_id.to_owned(),
            browser_id: browser_id.to_owned(),
        }])
        .await
    }

    async fn delete_browsers(&self, account_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteBrowsers {
            account_id: account_id.to_owned(),
        }])
        .await
    }
}
