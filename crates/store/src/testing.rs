//! Stores for tests, on the backend the environment names: SQLite by
//! default, PostgreSQL when `NIDAN_TEST_BACKEND=postgres` (the server at
//! `NIDAN_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//! Each PostgreSQL store lives in a fresh schema of its own, so tests run in
//! parallel without seeing each other; schemas left by runs over an hour
//! old are dropped.

use std::path::Path;

use nidan_core::error::{Error, Result};
use nidan_core::secrets::new_id;

use crate::SqlStore;

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("NIDAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether tests should run on PostgreSQL.
pub fn use_postgres() -> bool {
    std::env::var("NIDAN_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A URL for a fresh, empty PostgreSQL schema (created here).
pub async fn fresh_postgres_url() -> Result<String> {
    sqlx::any::install_default_drivers();
    let base = postgres_url();
    let pool = sqlx::AnyPool::connect(&base)
        .await
        .map_err(|e| Error::Store(format!("PostgreSQL at {base}: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = new_id()?;
    let schema = format!("t{now}_{}", id.get(..12).unwrap_or(&id));
    // Schemas of earlier runs, named t<unix seconds>_..., an hour old or more.
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname ~ '^t[0-9]+_[0-9a-f]+$'",
    )
    .fetch_all(&pool)
    .await
    .map_err(|e| Error::Store(e.to_string()))?;
    for name in old {
        let born: u64 = name
            .get(1..)
            .and_then(|rest| rest.split('_').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        if born.saturating_add(3600) < now {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
            )))
            .execute(&pool)
            .await;
        }
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&pool)
        .await
        .map_err(|e| Error::Store(e.to_string()))?;
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// A migrated store for one test: a SQLite file in `dir`, or a fresh
/// PostgreSQL schema when `NIDAN_TEST_BACKEND=postgres`.
pub async fn store(dir: &Path) -> Result<SqlStore> {
    if use_postgres() {
        SqlStore::connect(&fresh_postgres_url().await?, 4).await
    } else {
        SqlStore::connect(&format!("sqlite://{}", dir.join("nidan.db").display()), 4).await
    }
}

/// What the fault tests compare before and after an operation: every row
/// of the account's security state (no ids, tokens or hashes, which differ
/// from run to run), one line each, in a stable order. Sessions and
/// browsers are counted; events listed by kind, except the best-effort
/// `notice_failed` and the records of password and code checks (each check
/// is an operation of its own, recorded whether or not what it allowed
/// then happens); "This wasn't me" links only once used (notices, which
/// carry new ones, are sent after a change and never undo it). The count of wrong codes in a row is left out: a code
/// check is claimed as a failure first and that claim is meant to last on
/// its own (a crash never gives a free try).
pub async fn snapshot(store: &SqlStore, account_id: &str) -> Result<String> {
    use sqlx::Row;
    let queries: [(&str, &'static str); 9] = [
        (
            "account",
            "SELECT COALESCE(CAST(two_sv_on_since AS TEXT), '-') || ' ' || roles || ' ' ||
                    CAST(password_changed_at AS TEXT) || ' ' || COALESCE(CAST(codes_paused_at AS TEXT), '-') AS line
             FROM accounts WHERE id = $1",
        ),
        (
            "method",
            "SELECT kind || ' ' || role || ' ' || name || ' ' || CAST(active AS TEXT) || ' ' ||
                    COALESCE(CAST(confirmed_at AS TEXT), '-') || ' ' || COALESCE(CAST(last_step AS TEXT), '-') AS line
             FROM methods WHERE account_id = $1 ORDER BY kind, name, role",
        ),
        (
            "backup codes unused",
            "SELECT CAST(COUNT(*) AS TEXT) AS line FROM backup_codes WHERE account_id = $1 AND used_at IS NULL",
        ),
        (
            "sessions",
            "SELECT CAST(COUNT(*) AS TEXT) || ' ' || CAST(COALESCE(MAX(password_at), 0) AS TEXT) AS line FROM sessions WHERE account_id = $1",
        ),
        (
            "browsers",
            "SELECT CAST(COUNT(*) AS TEXT) AS line FROM remembered_browsers WHERE account_id = $1",
        ),
        (
            "challenge",
            "SELECT COALESCE(CAST(completed_at AS TEXT), '-') || ' ' || CAST(expires_at AS TEXT) AS line
             FROM challenges WHERE account_id = $1 ORDER BY created_at, expires_at",
        ),
        (
            "links",
            "SELECT purpose || ' ' || (CASE WHEN used_at IS NULL THEN 'unused' ELSE 'used' END) AS line
             FROM password_resets WHERE account_id = $1 AND (purpose <> 'not_me' OR used_at IS NOT NULL)
             ORDER BY purpose, used_at",
        ),
        (
            "recovery",
            "SELECT status || ' ' || COALESCE(reason, '') AS line FROM recovery_cases WHERE account_id = $1 ORDER BY status",
        ),
        (
            "event",
            "SELECT kind AS line FROM events WHERE account_id = $1
             AND kind NOT IN ('notice_failed', 'password_accepted', 'password_refused', 'code_refused', 'code_replayed')
             ORDER BY kind",
        ),
    ];
    let mut out = String::new();
    for (what, sql) in queries {
        let rows = sqlx::query(sql)
            .bind(account_id)
            .fetch_all(&store.pool)
            .await
            .map_err(|e| Error::Store(format!("{what}: {e}")))?;
        for row in rows {
            let line: String = row
                .try_get("line")
                .map_err(|e| Error::Store(format!("{what}: {e}")))?;
            out.push_str(what);
            out.push_str(": ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// The number of rows of `table` (tests): for tables whose rows a caller
/// could pile up.
pub async fn count(store: &SqlStore, table: &'static str) -> Result<i64> {
    use sqlx::Row;
    let allowed = ["passkey_ceremonies", "challenges", "sessions", "events"];
    if !allowed.contains(&table) {
        return Err(Error::Store(format!("not a countable table: {table}")));
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(&store.pool)
    .await
    .map_err(|e| Error::Store(e.to_string()))?;
    row.try_get::<i64, _>("n")
        .map_err(|e| Error::Store(e.to_string()))
}
