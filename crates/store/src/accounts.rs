//! Accounts: who they are, their password, language and roles.

use super::*;

impl Accounts for SqlStore {
    async fn insert_account(&self, a: &Account) -> Result<bool> {
        match self
            .apply(vec![Write::InsertAccount { account: a.clone() }])
            .await
        {
            Ok(()) => Ok(true),
            Err(Error::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        self.row(
            "SELECT * FROM accounts WHERE email = $1",
            &[Param::Text(email)],
        )
        .await
    }

    async fn account_by_id(&self, id: &str) -> Result<Option<Account>> {
        self.row("SELECT * FROM accounts WHERE id = $1", &[Param::Text(id)])
            .await
    }

    async fn set_password_hash(&self, account_id: &str, hash: &str) -> Result<()> {
        self.apply(vec![Write::SetPasswordHash {
            account_id: account_id.to_owned(),
            hash: hash.to_owned(),
        }])
        .await
    }

    async fn set_two_sv(&self, account_id: &str, on_since: Option<i64>) -> Result<()> {
        self.apply(vec![Write::SetTwoSv {
            account_id: account_id.to_owned(),
            on_since,
        }])
        .await
    }

    async fn set_locale(&self, account_id: &str, locale: &str) -> Result<()> {
        self.exec(
            "UPDATE accounts SET locale = $1 WHERE id = $2",
            &[Param::Text(locale), Param::Text(account_id)],
        )
        .await?;
        Ok(())
    }

    async fn search_accounts(&self, query: &str, limit: i64) -> Result<Vec<Account>> {
        let pattern = format!(
            "%{}%",
            query
                .trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT * FROM accounts WHERE email LIKE $1 ESCAPE '\\' ORDER BY created_at DESC, email LIMIT $2",
        )
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(account).collect()
    }

    async fn set_roles(&self, account_id: &str, roles: &[String]) -> Result<()> {
        self.apply(vec![Write::SetRoles {
            account_id: account_id.to_owned(),
            roles: roles.to_vec(),
        }])
        .await
    }
}
