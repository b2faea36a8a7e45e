//! Emailed links: password resets and sign-ups.

use super::*;

impl Links for SqlStore {
    async fn insert_password_reset(
        &self,
        token_hash: &str,
        account_id: &str,
        purpose: LinkPurpose,
        at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.apply(vec![Write::InsertLink {
            token_hash: token_hash.to_owned(),
            account_id: account_id.to_owned(),
            purpose,
            at,
            expires_at,
        }])
        .await
    }

    async fn link_account(
        &self,
        token_hash: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT account_id FROM password_resets
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| r.try_get("account_id").map_err(db)).transpose()
    }

    async fn insert_sign_up(&self, p: &PendingSignUp) -> Result<()> {
        self.exec(
            "INSERT INTO sign_ups (token_hash, email, password_hash, locale, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Param::Text(&p.token_hash),
                Param::Text(&p.email),
                Param::Text(&p.password_hash),
                Param::Text(&p.locale),
                Param::Int(p.created_at),
                Param::Int(p.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn pending_sign_up(&self, token_hash: &str, now: i64) -> Result<Option<PendingSignUp>> {
        let row = sqlx::query(
            "SELECT token_hash, email, password_hash, locale, created_at, expires_at FROM sign_ups
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(PendingSignUp {
                token_hash: r.try_get("token_hash").map_err(db)?,
                email: r.try_get("email").map_err(db)?,
                password_hash: r.try_get("password_hash").map_err(db)?,
                locale: r.try_get("locale").map_err(db)?,
                created_at: r.try_get("created_at").map_err(db)?,
                expires_at: r.try_get("expires_at").map_err(db)?,
            })
        })
        .transpose()
    }
}
