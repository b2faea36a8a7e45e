//! Sign-in methods and backup codes.

use super::*;

impl Methods for SqlStore {
    async fn insert_method(&self, m: &Method) -> Result<()> {
        self.apply(vec![Write::InsertMethod(m.clone())])
            .await
            .map_err(|e| match e {
                // The one conflict a new method can meet: a passkey already
                // registered (to this account or another).
                Error::Conflict => Error::PasskeyAlreadyRegistered,
                e => e,
            })
    }

    async fn methods(&self, account_id: &str) -> Result<Vec<Method>> {
        self.rows(
            false,
            "SELECT id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active,
                    credential, credential_id, sign_count, last_used_at
             FROM methods WHERE account_id = $1 ORDER BY created_at, id",
            &[Param::Text(account_id)],
            usize::MAX,
        )
        .await
    }

    async fn confirm_method(&self, method_id: &str, at: i64, step: i64) -> Result<()> {
        self.apply(vec![Write::ConfirmMethod {
            method_id: method_id.to_owned(),
            at,
            step,
        }])
        .await
    }

    async fn activate_methods(
        &self,
        account_id: &str,
        roles: &[(String, MethodRole)],
    ) -> Result<()> {
        self.apply(vec![Write::ActivateMethods {
            account_id: account_id.to_owned(),
            roles: roles.to_vec(),
        }])
        .await
    }

    async fn set_method_role(&self, method_id: &str, role: MethodRole) -> Result<()> {
        self.apply(vec![Write::SetMethodRole {
            method_id: method_id.to_owned(),
            role,
        }])
        .await
    }

    async fn rename_method(&self, method_id: &str, name: &str) -> Result<()> {
        self.apply(vec![Write::RenameMethod {
            method_id: method_id.to_owned(),
            name: name.to_owned(),
        }])
        .await
    }

    async fn delete_method(&self, method_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteMethod {
            method_id: method_id.to_owned(),
        }])
        .await
    }

    async fn delete_inactive_methods(&self, account_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteInactiveMethods {
            account_id: account_id.to_owned(),
        }])
        .await
    }

    async fn delete_all_methods(&self, account_id: &str) -> Result<()> {
        self.apply(vec![Write::DeleteAllMethods {
            account_id: account_id.to_owned(),
        }])
        .await
    }

    async fn advance_last_step(&self, method_id: &str, step: i64) -> Result<bool> {
        let affected = self
            .exec(
                "UPDATE methods SET last_step = $1 WHERE id = $2 AND (last_step IS NULL OR last_step < $1)",
                &[Param::Int(step), Param::Text(method_id)],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn replace_backup_codes(
        &self,
        account_id: &str,
        hashes: &[String],
        at: i64,
    ) -> Result<()> {
        self.apply(vec![Write::ReplaceBackupCodes {
            account_id: account_id.to_owned(),
            hashes: hashes.to_vec(),
            at,
        }])
        .await
    }

    async fn use_backup_code(&self, account_id: &str, hash: &str, at: i64) -> Result<bool> {
        let affected = self
            .exec(
                "UPDATE backup_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
                &[Param::Int(at), Param::Text(account_id), Param::Text(hash)],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn backup_code_unused(&self, account_id: &str, hash: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM backup_codes WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(account_id)
        .bind(hash)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let n: i64 = row.try_get("n").map_err(db)?;
        Ok(n > 0)
    }

    async fn backup_codes_left(&self, account_id: &str) -> Result<i64> {
        let n: Option<Count> = self
            .row(
                "SELECT COUNT(*) AS n FROM backup_codes WHERE account_id = $1 AND used_at IS NULL",
                &[Param::Text(account_id)],
            )
            .await?;
        Ok(n.map_or(0, |c| c.0))
    }

    async fn legacy_backup_code_hashes(&self, limit: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT account_id, code_hash FROM backup_codes WHERE code_hash NOT LIKE 'k1:%' LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("account_id").map_err(db)?,
                    r.try_get("code_hash").map_err(db)?,
                ))
            })
            .collect()
    }

    async fn method_by_credential_id(&self, credential_id: &str) -> Result<Option<Method>> {
        let found: Vec<Method> = self
            .rows(
                false,
                "SELECT id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active,
                        credential, credential_id, sign_count, last_used_at
                 FROM methods WHERE credential_id = $1",
                &[Param::Text(credential_id)],
                1,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    async fn insert_ceremony(&self, c: &Ceremony) -> Result<()> {
        self.apply(vec![Write::ReplaceCeremony(c.clone())]).await
    }

    async fn take_ceremony(
        &self,
        id: &str,
        account_id: Option<&str>,
        challenge_id: Option<&str>,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> Result<Option<Ceremony>> {
        // Single use in one conditional UPDATE: of two nodes finishing the
        // same ceremony, one gets the row.
        let taken: Vec<Ceremony> = self
            .rows(
                true,
                "UPDATE passkey_ceremonies SET used_at = $1
                 WHERE id = $2 AND COALESCE(account_id, '') = $3 AND purpose = $4 AND COALESCE(challenge_id, '') = $5
                   AND used_at IS NULL AND expires_at > $1
                 RETURNING id, account_id, challenge_id, purpose, state, expires_at",
                &[
                    Param::Int(now),
                    Param::Text(id),
                    Param::Text(account_id.unwrap_or("")),
                    Param::Text(purpose.as_str()),
                    Param::Text(challenge_id.unwrap_or("")),
                ],
                1,
            )
            .await?;
        Ok(taken.into_iter().next())
    }

    async fn rehash_backup_code(&self, account_id: &str, old: &str, new: &str) -> Result<()> {
        self.exec(
            "UPDATE backup_codes SET code_hash = $1 WHERE account_id = $2 AND code_hash = $3",
            &[Param::Text(new), Param::Text(account_id), Param::Text(old)],
        )
        .await?;
        Ok(())
    }
}
