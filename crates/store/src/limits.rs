//! Counters and the guards on codes and passwords (SPEC §4.5, §7.1): every claim is one atomic conditional update.

use super::*;

impl Limits for SqlStore {
    async fn bump_counter(&self, key: &str, window_start: i64) -> Result<i64> {
        let rows: Vec<Count> = self
            .rows(
                true,
                "INSERT INTO counters (key, window_start, count) VALUES ($1, $2, 1)
                 ON CONFLICT (key, window_start) DO UPDATE SET count = counters.count + 1
                 RETURNING count AS n",
                &[Param::Text(key), Param::Int(window_start)],
                1,
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|c| c.0)
            .ok_or_else(|| Error::Store("the counter returned no row".into()))
    }

    async fn counter(&self, key: &str, window_start: i64) -> Result<i64> {
        let row = sqlx::query("SELECT count FROM counters WHERE key = $1 AND window_start = $2")
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row
            .map(|r| r.try_get("count"))
            .transpose()
            .map_err(db)?
            .unwrap_or(0))
    }

    async fn claim_code_check(
        &self,
        account_id: &str,
        seen_failures: i64,
        retry_at: Option<i64>,
        challenge_id: &str,
    ) -> Result<Claim> {
        const ACCOUNT: &str =
            "UPDATE accounts SET code_failures = code_failures + 1, code_retry_at = $1
             WHERE id = $2 AND code_failures = $3";
        const ATTEMPT: &str = "UPDATE challenges SET attempts_left = attempts_left - 1
             WHERE id = $1 AND attempts_left > 0 AND completed_at IS NULL RETURNING attempts_left";
        let account = [
            Param::OptInt(retry_at),
            Param::Text(account_id),
            Param::Int(seen_failures),
        ];
        let attempt = [Param::Text(challenge_id)];
        if let Some(fast) = &self.fast {
            let (account, attempt) = (exec::owned(&account), exec::owned(&attempt));
            return fast
                .write(move |tx| {
                    let claimed = tx
                        .prepare_cached(ACCOUNT)
                        .and_then(|mut st| st.execute(rusqlite::params_from_iter(account.iter())))
                        .map_err(exec::sqlite)?;
                    if claimed != 1 {
                        return Ok((Claim::Busy, false));
                    }
                    let left: Option<i64> = tx
                        .prepare_cached(ATTEMPT)
                        .and_then(|mut st| {
                            rusqlite::OptionalExtension::optional(
                                st.query_row(rusqlite::params_from_iter(attempt.iter()), |r| {
                                    r.get(0)
                                }),
                            )
                        })
                        .map_err(exec::sqlite)?;
                    Ok(match left {
                        Some(left) => (Claim::Claimed(left), true),
                        None => (Claim::Exhausted, false),
                    })
                })
                .await;
        }
        // PostgreSQL: one statement, one round trip. The account's count
        // moves only while the attempt has a try left, and the try is taken
        // only if the count moved. If a concurrent check takes the last try
        // in between, the count has moved without a try: one failure too
        // many is counted, never one too few.
        const BOTH: &str = "WITH a AS (
                UPDATE accounts SET code_failures = code_failures + 1, code_retry_at = $1
                WHERE id = $2 AND code_failures = $3
                  AND EXISTS (SELECT 1 FROM challenges WHERE id = $4 AND attempts_left > 0 AND completed_at IS NULL)
                RETURNING id),
             c AS (
                UPDATE challenges SET attempts_left = attempts_left - 1
                WHERE id = $4 AND attempts_left > 0 AND completed_at IS NULL AND EXISTS (SELECT 1 FROM a)
                RETURNING attempts_left)
             SELECT (SELECT COUNT(*) FROM a) AS claimed, (SELECT attempts_left FROM c) AS attempts_left";
        let mut params = account.to_vec();
        params.push(Param::Text(challenge_id));
        let row = exec::bind(sqlx::query(BOTH), &params)
            .fetch_one(&self.writer)
            .await
            .map_err(db)?;
        let claimed: i64 = row.col("claimed")?;
        let left: Option<i64> = row.col("attempts_left")?;
        Ok(match (claimed, left) {
            (_, Some(left)) => Claim::Claimed(left),
            (0, None) => {
                // Either the count moved elsewhere or the attempt is spent.
                let open: Option<Challenge> = self
                    .row("SELECT * FROM challenges WHERE id = $1", &attempt)
                    .await?;
                match open {
                    Some(c) if c.attempts_left > 0 && c.completed_at.is_none() => Claim::Busy,
                    _ => Claim::Exhausted,
                }
            }
            (_, None) => Claim::Exhausted,
        })
    }

    async fn claim_account_check(
        &self,
        account_id: &str,
        seen_failures: i64,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let claimed = self
            .exec(
                "UPDATE accounts SET code_failures = code_failures + 1, code_retry_at = $1
                 WHERE id = $2 AND code_failures = $3",
                &[
                    Param::OptInt(retry_at),
                    Param::Text(account_id),
                    Param::Int(seen_failures),
                ],
            )
            .await?;
        Ok(claimed == 1)
    }

    async fn clear_code_failures(&self, account_id: &str) -> Result<()> {
        self.exec(
            "UPDATE accounts SET code_failures = 0, code_retry_at = NULL WHERE id = $1 AND code_failures <> 0",
            &[Param::Text(account_id)],
        )
        .await?;
        Ok(())
    }

    async fn mark_abuse_alerted(&self, account_id: &str, at: i64, since: i64) -> Result<bool> {
        let affected = self
            .exec(
                "UPDATE accounts SET abuse_alerted_at = $1
                 WHERE id = $2 AND (abuse_alerted_at IS NULL OR abuse_alerted_at < $3)",
                &[Param::Int(at), Param::Text(account_id), Param::Int(since)],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn pause_codes(&self, account_id: &str, at: i64) -> Result<()> {
        self.exec(
            "UPDATE accounts SET codes_paused_at = $1 WHERE id = $2 AND codes_paused_at IS NULL",
            &[Param::Int(at), Param::Text(account_id)],
        )
        .await?;
        Ok(())
    }

    async fn reset_guard(&self, account_id: &str, password_changed: Option<i64>) -> Result<()> {
        self.apply(vec![Write::ResetGuard {
            account_id: account_id.to_owned(),
            password_changed,
        }])
        .await
    }

    async fn password_throttle(&self, key: &str) -> Result<Option<(i64, Option<i64>)>> {
        let row = sqlx::query("SELECT failures, retry_at FROM password_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok((
                r.try_get("failures").map_err(db)?,
                r.try_get("retry_at").map_err(db)?,
            ))
        })
        .transpose()
    }

    async fn claim_password_check(
        &self,
        key: &str,
        seen: Option<i64>,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let changed = match seen {
            None => {
                self.exec(
                    "INSERT INTO password_throttle (key, failures, retry_at, updated_at)
                     VALUES ($1, 1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    &[Param::Text(key), Param::OptInt(retry_at), Param::Int(now)],
                )
                .await?
            }
            Some(seen) => {
                self.exec(
                    "UPDATE password_throttle SET failures = failures + 1, retry_at = $1, updated_at = $2
                     WHERE key = $3 AND failures = $4",
                    &[
                        Param::OptInt(retry_at),
                        Param::Int(now),
                        Param::Text(key),
                        Param::Int(seen),
                    ],
                )
                .await?
            }
        };
        Ok(changed == 1)
    }

    async fn clear_password_throttle(&self, key: &str) -> Result<()> {
        self.exec(
            "DELETE FROM password_throttle WHERE key = $1",
            &[Param::Text(key)],
        )
        .await?;
        Ok(())
    }
}
