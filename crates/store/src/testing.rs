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
