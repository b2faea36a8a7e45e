//! Recovery cases and their documents.

use super::*;

/// A query over recovery cases with their account's email, as a literal.
macro_rules! case_query {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.account_id, a.email, c.document_kind, c.content_type, c.document_size,
             c.status, c.reason, c.ip, c.browser, c.created_at, c.decided_at, c.decided_by,
             c.document_deleted_at FROM recovery_cases c JOIN accounts a ON a.id = c.account_id ",
            $rest
        )
    };
}

impl Recovery for SqlStore {
    async fn insert_recovery_case(&self, c: &RecoveryCase, sealed: &[u8]) -> Result<bool> {
        let affected = self
            .exec(
                "INSERT INTO recovery_cases (id, account_id, document_kind, content_type, document_size,
                 document_sealed, status, reason, ip, browser, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10)
                 ON CONFLICT (account_id) WHERE status = 'open' DO NOTHING",
                &[
                    Param::Text(&c.id),
                    Param::Text(&c.account_id),
                    Param::Text(c.document_kind.as_str()),
                    Param::Text(&c.content_type),
                    Param::Int(c.document_size),
                    Param::OptBytes(Some(sealed)),
                    Param::Text(CaseStatus::Open.as_str()),
                    Param::Text(&c.ip),
                    Param::Text(&c.browser),
                    Param::Int(c.created_at),
                ],
            )
            .await?;
        Ok(affected == 1)
    }

    async fn recovery_case(&self, case_id: &str) -> Result<Option<RecoveryCase>> {
        let row = sqlx::query(case_query!("WHERE c.id = $1"))
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(recovery_case).transpose()
    }

    async fn recovery_cases(
        &self,
        status: Option<CaseStatus>,
        account_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RecoveryCase>> {
        let sql = if status == Some(CaseStatus::Open) {
            case_query!(
                "WHERE ($1 IS NULL OR c.status = $1) AND ($2 IS NULL OR c.account_id = $2)
                 ORDER BY c.created_at ASC, c.id LIMIT $3"
            )
        } else {
            case_query!(
                "WHERE ($1 IS NULL OR c.status = $1) AND ($2 IS NULL OR c.account_id = $2)
                 ORDER BY c.created_at DESC, c.id LIMIT $3"
            )
        };
        let rows = sqlx::query(sql)
            .bind(status.map(CaseStatus::as_str))
            .bind(account_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(recovery_case).collect()
    }

    async fn recovery_document(&self, case_id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT document_sealed FROM recovery_cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(row) => row.try_get("document_sealed").map_err(db),
            None => Ok(None),
        }
    }

    async fn decide_recovery_case(
        &self,
        case_id: &str,
        status: CaseStatus,
        reason: &str,
        by: &str,
        at: i64,
    ) -> Result<bool> {
        let decided = self
            .apply(vec![Write::DecideRecoveryCase {
                case_id: case_id.to_owned(),
                status,
                reason: reason.to_owned(),
                by: by.to_owned(),
                at,
            }])
            .await;
        match decided {
            Ok(()) => Ok(true),
            Err(Error::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn purge_recovery_documents(&self, decided_before: i64, at: i64) -> Result<u64> {
        self.exec(
            "UPDATE recovery_cases SET document_sealed = NULL, document_deleted_at = $1
             WHERE status <> 'open' AND decided_at <= $2 AND document_sealed IS NOT NULL",
            &[Param::Int(at), Param::Int(decided_before)],
        )
        .await
    }
}
