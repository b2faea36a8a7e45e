//! nidan's [`Store`] on SQL through sqlx's `Any` driver, so one set of
//! queries (with `$N` placeholders) serves SQLite and PostgreSQL; only the
//! migrations differ per backend (`migrations/<backend>`).
//!
//! This crate persists and fetches; it decides nothing. The operations the
//! domain relies on for single use (`advance_last_step`,
//! `use_backup_code`, `take_attempt`, `complete_challenge`) are single
//! conditional `UPDATE`s whose affected-row count is the answer, so they
//! hold across processes sharing the database.

mod accounts;
mod audit;
mod challenges;
mod events;
mod exec;
mod limits;
mod links;
mod methods;
mod recovery;
mod rows;
mod sessions;
pub mod testing;
mod unit;

use events::{EventWriter, event_params};
use rows::*;

pub use unit::Failpoint;

use std::str::FromStr;

use nidan_core::error::{Error, Result};
use nidan_core::model::{
    Account, CaseStatus, Ceremony, CeremonyPurpose, Challenge, Event, EventFilter, EventKind,
    LinkPurpose, Method, MethodRole, OutboxMessage, PendingSignUp, RecoveryCase, RememberedBrowser,
    SentCode, Session,
};
use nidan_core::store::{
    Accounts, Challenges, Claim, Events, Limits, Links, Methods, Recovery, Sessions, Store, Write,
};

use exec::{FromRow, Param};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server, shared by any number of nodes.
    Postgres,
}

/// A store over a pool of database connections.
#[derive(Debug, Clone)]
pub struct SqlStore {
    /// Reads.
    pool: AnyPool,
    /// Writes on PostgreSQL (the same pool as reads). On SQLite a pool of
    /// one connection used only for the migrations and for in-memory
    /// databases: every write to a SQLite file goes through [`exec`]'s one
    /// writer thread (`fast`), so the file has one writer in this process.
    writer: AnyPool,
    /// SQLite on rusqlite, called in place (see [`exec`]); `None` on
    /// PostgreSQL and for in-memory SQLite.
    fast: Option<std::sync::Arc<exec::Sqlite>>,
    /// PostgreSQL: audit events written in groups (see [`EventWriter`]).
    events: Option<EventWriter>,
    backend: Backend,
    /// Makes a chosen write fail, for fault tests (disarmed otherwise).
    failpoint: Failpoint,
}

/// A database error as the domain sees it: the database being out of
/// reach (no connection within the wait, a refused or broken connection,
/// a server shutting down) is [`Error::Unavailable`], which callers answer
/// with "try again shortly"; anything else is a storage error.
fn db(e: sqlx::Error) -> Error {
    let unreachable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (08…), operator intervention
        // such as a shutdown (57…).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    };
    if unreachable {
        Error::Unavailable(e.to_string())
    } else {
        Error::Store(e.to_string())
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path` creates the file) with at most
    /// `max_connections`, and applies pending migrations. A request waits
    /// at most 3 seconds for a connection (see [`SqlStore::connect_with`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(url, max_connections, std::time::Duration::from_secs(3)).await
    }

    /// [`SqlStore::connect`] waiting at most `acquire_timeout` for a pooled
    /// connection: past it (the database down, or every connection busy)
    /// an operation fails with [`Error::Unavailable`] instead of hanging.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: std::time::Duration,
    ) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Store(format!(
                "unsupported database URL scheme in {url:?}; use sqlite:// or postgres://"
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max.max(1))
                .acquire_timeout(acquire_timeout)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // Wait for a busy writer (another process) instead
                            // of failing, and let foreign keys cascade.
                            sqlx::query("PRAGMA busy_timeout = 5000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                        }
                        Ok(())
                    })
                })
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let writer = options(1).connect(&url).await.map_err(db)?;
                // WAL lets readers and one writer work at once; it persists in the file.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&writer)
                    .await
                    .map_err(db)?;
                (
                    options(max_connections).connect(&url).await.map_err(db)?,
                    writer,
                )
            }
            Backend::Postgres => {
                let pool = options(max_connections).connect(&url).await.map_err(db)?;
                (pool.clone(), pool)
            }
        };
        let events = (backend == Backend::Postgres).then(|| EventWriter::start(writer.clone()));
        let mut store = Self {
            pool,
            writer,
            fast: None,
            events,
            backend,
            failpoint: Failpoint::default(),
        };
        store.migrate().await?;
        if backend == Backend::Sqlite
            && let Some(path) = exec::sqlite_path(&url)
        {
            let readers = usize::try_from(max_connections).unwrap_or(4).clamp(2, 4);
            store.fast = Some(std::sync::Arc::new(exec::Sqlite::open(&path, readers)?));
        }
        Ok(store)
    }

    /// Whether anything is stored sealed with the master key (an app's key
    /// or an identity document): then a lost key file must be restored,
    /// never replaced.
    pub async fn holds_sealed_data(&self) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM methods WHERE secret_sealed IS NOT NULL)
                  + (SELECT COUNT(*) FROM recovery_cases WHERE document_sealed IS NOT NULL) AS n",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let n: i64 = row.try_get("n").map_err(db)?;
        Ok(n > 0)
    }

    /// The failpoint fault tests arm (see [`Failpoint`]).
    pub fn failpoint(&self) -> &Failpoint {
        &self.failpoint
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite")
                .run(&self.writer)
                .await
                .map_err(|e| Error::Store(e.to_string())),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres")
                .run(&self.writer)
                .await
                .map_err(|e| Error::Store(e.to_string())),
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Store for SqlStore {
    async fn apply(&self, writes: Vec<Write>) -> Result<()> {
        let statements: Vec<unit::Stmt> = writes.iter().flat_map(unit::statements).collect();
        if statements.is_empty() {
            return Ok(());
        }
        if let Some(fast) = &self.fast {
            let failpoint = self.failpoint.clone();
            // One savepoint: every statement is kept, or none.
            return fast
                .write(move |conn| {
                    for st in &statements {
                        if let Err(e) = failpoint.tick() {
                            return Ok((Err(e), false));
                        }
                        let changed = conn
                            .prepare_cached(st.sql)
                            .and_then(|mut q| {
                                q.execute(rusqlite::params_from_iter(st.params.iter()))
                            })
                            .map_err(exec::sqlite)?;
                        if st.must_change && changed == 0 {
                            return Ok((Err(Error::Conflict), false));
                        }
                    }
                    Ok((Ok(()), true))
                })
                .await?;
        }
        // A transaction dropped before its commit is rolled back.
        let mut tx = self.writer.begin().await.map_err(db)?;
        for st in &statements {
            self.failpoint.tick()?;
            let done = exec::bind_owned(sqlx::query(st.sql), &st.params)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            if st.must_change && done.rows_affected() == 0 {
                return Err(Error::Conflict);
            }
        }
        tx.commit().await.map_err(db)
    }

    async fn apply_at_once(&self, writes: Vec<Write>) -> Result<()> {
        if self.fast.is_some() {
            // SQLite: the writer thread already takes a unit as one slot of
            // its group commit.
            return self.apply(writes).await;
        }
        let statements: Vec<unit::Stmt> = writes.iter().flat_map(unit::statements).collect();
        if statements.is_empty() {
            return Ok(());
        }
        for _ in &statements {
            self.failpoint.tick()?;
        }
        // Built only from the units' fixed statement texts; every value is
        // a bound parameter.
        let (sql, params) = unit::at_once(&statements);
        match exec::bind_owned(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
            .execute(&self.writer)
            .await
        {
            Ok(_) => Ok(()),
            // A must-change part changed nothing (see `unit::at_once`).
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("22012") => {
                Err(Error::Conflict)
            }
            Err(e) => Err(db(e)),
        }
    }

    async fn purge(&self, p: &nidan_core::store::Purge) -> Result<Vec<(&'static str, u64)>> {
        let steps: [(&'static str, &'static str, i64); 12] = [
            (
                "sessions",
                "DELETE FROM sessions WHERE expires_at < $1",
                p.now,
            ),
            (
                "remembered browsers",
                "DELETE FROM remembered_browsers WHERE expires_at < $1",
                p.now,
            ),
            (
                "sent codes",
                "DELETE FROM sent_codes WHERE expires_at < $1",
                p.attempts_before,
            ),
            (
                "sign-in attempts",
                "DELETE FROM challenges WHERE expires_at < $1 OR completed_at < $1",
                p.attempts_before,
            ),
            (
                "emailed links",
                "DELETE FROM password_resets WHERE expires_at < $1",
                p.now,
            ),
            (
                "passkey ceremonies",
                "DELETE FROM passkey_ceremonies WHERE expires_at < $1",
                p.now,
            ),
            (
                "sign-ups",
                "DELETE FROM sign_ups WHERE expires_at < $1",
                p.now,
            ),
            (
                "rate counters",
                "DELETE FROM counters WHERE window_start < $1",
                p.counters_before,
            ),
            (
                "password throttles",
                "DELETE FROM password_throttle WHERE updated_at < $1 AND (retry_at IS NULL OR retry_at < $1)",
                p.counters_before,
            ),
            (
                "audit events",
                "DELETE FROM events WHERE at < $1",
                p.events_before,
            ),
            (
                "outbox messages",
                "DELETE FROM outbox WHERE created_at < $1",
                p.outbox_before,
            ),
            (
                "used links",
                "DELETE FROM password_resets WHERE used_at < $1",
                p.attempts_before,
            ),
        ];
        let mut done = Vec::with_capacity(steps.len());
        for (what, sql, before) in steps {
            done.push((what, self.exec(sql, &[Param::Int(before)]).await?));
        }
        Ok(done)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" => Ok(Self::Postgres),
            other => Err(Error::Store(format!("unknown backend {other}"))),
        }
    }
}
