//! Sign-in attempts waiting for a code, and the codes sent for them.

use super::*;

impl Challenges for SqlStore {
    async fn insert_challenge(&self, c: &Challenge, token_hash: &str) -> Result<()> {
        self.exec(
            "INSERT INTO challenges (id, token_hash, account_id, expires_at, attempts_left, keep_signed_in, completed_at, created_at, ip, browser)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                Param::Text(&c.id),
                Param::Text(token_hash),
                Param::Text(&c.account_id),
                Param::Int(c.expires_at),
                Param::Int(c.attempts_left),
                Param::Int(i64::from(c.keep_signed_in)),
                Param::OptInt(c.completed_at),
                Param::Int(c.created_at),
                Param::Text(&c.ip),
                Param::Text(&c.browser),
            ],
        )
        .await?;
        Ok(())
    }

    async fn challenge_by_token(&self, token_hash: &str) -> Result<Option<Challenge>> {
        self.row(
            "SELECT * FROM challenges WHERE token_hash = $1",
            &[Param::Text(token_hash)],
        )
        .await
    }

    async fn challenge_with_account(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Challenge, Account)>> {
        self.row(
            "SELECT c.id AS c_id, c.account_id AS c_account_id, c.expires_at AS c_expires_at,
                    c.attempts_left AS c_attempts_left, c.keep_signed_in AS c_keep_signed_in,
                    c.completed_at AS c_completed_at, c.created_at AS c_created_at, c.ip AS c_ip,
                    c.browser AS c_browser, a.*
             FROM challenges c JOIN accounts a ON a.id = c.account_id WHERE c.token_hash = $1",
            &[Param::Text(token_hash)],
        )
        .await
    }

    async fn code_step_state(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Challenge, Account, Vec<Method>)>> {
        // One row per active method (one with no method if it has none).
        let rows: Vec<CodeStepRow> = self
            .rows(
                false,
                "SELECT c.id AS c_id, c.account_id AS c_account_id, c.expires_at AS c_expires_at,
                    c.attempts_left AS c_attempts_left, c.keep_signed_in AS c_keep_signed_in,
                    c.completed_at AS c_completed_at, c.created_at AS c_created_at, c.ip AS c_ip,
                    c.browser AS c_browser, a.*,
                    m.id AS m_id, m.account_id AS m_account_id, m.kind AS m_kind, m.role AS m_role,
                    m.name AS m_name, m.secret_sealed AS m_secret_sealed, m.phone AS m_phone,
                    m.last_step AS m_last_step, m.created_at AS m_created_at,
                    m.confirmed_at AS m_confirmed_at, m.active AS m_active,
                    m.credential AS m_credential, m.credential_id AS m_credential_id,
                    m.sign_count AS m_sign_count, m.last_used_at AS m_last_used_at
                 FROM challenges c JOIN accounts a ON a.id = c.account_id
                 LEFT JOIN methods m ON m.account_id = a.id AND m.active = 1
                 WHERE c.token_hash = $1 ORDER BY m.created_at, m.id",
                &[Param::Text(token_hash)],
                usize::MAX,
            )
            .await?;
        let mut rows = rows.into_iter();
        let Some(CodeStepRow(challenge, account, first)) = rows.next() else {
            return Ok(None);
        };
        let methods = first.into_iter().chain(rows.filter_map(|r| r.2)).collect();
        Ok(Some((challenge, account, methods)))
    }

    async fn take_attempt(&self, challenge_id: &str) -> Result<Option<i64>> {
        let left: Vec<AttemptsLeft> = self
            .rows(
                true,
                "UPDATE challenges SET attempts_left = attempts_left - 1
                 WHERE id = $1 AND attempts_left > 0 AND completed_at IS NULL RETURNING attempts_left",
                &[Param::Text(challenge_id)],
                1,
            )
            .await?;
        Ok(left.into_iter().next().map(|a| a.0))
    }

    async fn complete_challenge(&self, challenge_id: &str, at: i64) -> Result<bool> {
        match self
            .apply(vec![Write::CompleteChallenge {
                challenge_id: challenge_id.to_owned(),
                at,
            }])
            .await
        {
            Ok(()) => Ok(true),
            Err(Error::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn end_open_challenges(&self, account_id: &str, at: i64) -> Result<u64> {
        self.exec(
            "UPDATE challenges SET expires_at = $1
             WHERE account_id = $2 AND completed_at IS NULL AND expires_at > $1",
            &[Param::Int(at), Param::Text(account_id)],
        )
        .await
    }

    async fn insert_sent_code(&self, c: &SentCode) -> Result<()> {
        self.exec(
            "INSERT INTO sent_codes (id, account_id, challenge_id, method_id, code_hash, sent_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Param::Text(&c.id),
                Param::Text(&c.account_id),
                Param::OptText(c.challenge_id.as_deref()),
                Param::Text(&c.method_id),
                Param::Text(&c.code_hash),
                Param::Int(c.sent_at),
                Param::Int(c.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn use_sent_code_for_challenge(
        &self,
        challenge_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let affected = self
            .exec(
                "UPDATE sent_codes SET used_at = $1
                 WHERE used_at IS NULL AND expires_at > $1 AND code_hash = $2 AND id IN
                   (SELECT id FROM sent_codes WHERE challenge_id = $3 ORDER BY seq DESC LIMIT 3)",
                &[
                    Param::Int(now),
                    Param::Text(code_hash),
                    Param::Text(challenge_id),
                ],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn use_sent_code_for_method(
        &self,
        method_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let affected = self
            .exec(
                "UPDATE sent_codes SET used_at = $1
                 WHERE used_at IS NULL AND expires_at > $1 AND code_hash = $2 AND id IN
                   (SELECT id FROM sent_codes WHERE method_id = $3 AND challenge_id IS NULL ORDER BY seq DESC LIMIT 3)",
                &[Param::Int(now), Param::Text(code_hash), Param::Text(method_id)],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn last_code_sent_at(&self, account_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MAX(sent_at) AS last FROM sent_codes WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        row.try_get("last").map_err(db)
    }

    async fn unfinished_challenges(
        &self,
        account_id: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<Challenge>> {
        self.rows(
            false,
            "SELECT * FROM challenges WHERE account_id = $1 AND created_at > $2 AND completed_at IS NULL
             ORDER BY created_at DESC LIMIT $3",
            &[Param::Text(account_id), Param::Int(since), Param::Int(limit)],
            usize::MAX,
        )
        .await
    }
}
