//! nidan's [`Store`] on SQL through sqlx's `Any` driver, so one set of
//! queries (with `$N` placeholders) serves SQLite and PostgreSQL; only the
//! migrations differ per backend (`migrations/<backend>`).
//!
//! This crate persists and fetches; it decides nothing. The operations the
//! domain relies on for single use (`advance_last_step`,
//! `use_backup_code`, `take_attempt`, `complete_challenge`) are single
//! conditional `UPDATE`s whose affected-row count is the answer, so they
//! hold across processes sharing the database.

mod events;
mod exec;
mod rows;
pub mod testing;
mod unit;

use events::{EventWriter, event_params};
use rows::*;

pub use unit::Failpoint;

use std::str::FromStr;

use nidan_core::error::{Error, Result};
use nidan_core::model::{
    Account, CaseStatus, Challenge, Event, EventFilter, LinkPurpose, Method, MethodRole,
    OutboxMessage, PendingSignUp, RecoveryCase, RememberedBrowser, SentCode, Session,
};
use nidan_core::store::{Claim, Store, Write};

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

    async fn insert_method(&self, m: &Method) -> Result<()> {
        self.exec(
            "INSERT INTO methods (id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                Param::Text(&m.id),
                Param::Text(&m.account_id),
                Param::Text(m.kind.as_str()),
                Param::Text(m.role.as_str()),
                Param::Text(&m.name),
                Param::OptBytes(m.secret_sealed.as_deref()),
                Param::OptText(m.phone.as_deref()),
                Param::OptInt(m.last_step),
                Param::Int(m.created_at),
                Param::OptInt(m.confirmed_at),
                Param::Int(i64::from(m.active)),
            ],
        )
        .await?;
        Ok(())
    }

    async fn methods(&self, account_id: &str) -> Result<Vec<Method>> {
        self.rows(
            false,
            "SELECT id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active
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

    async fn purge(&self, p: &nidan_core::store::Purge) -> Result<Vec<(&'static str, u64)>> {
        let steps: [(&'static str, &'static str, i64); 11] = [
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

    async fn end_open_challenges(&self, account_id: &str, at: i64) -> Result<u64> {
        self.exec(
            "UPDATE challenges SET expires_at = $1
             WHERE account_id = $2 AND completed_at IS NULL AND expires_at > $1",
            &[Param::Int(at), Param::Text(account_id)],
        )
        .await
    }

    async fn insert_event(&self, e: &Event) -> Result<()> {
        if let Some(events) = &self.events {
            return events.write(e).await;
        }
        self.exec(
            "INSERT INTO events (id, account_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &event_params(e),
        )
        .await?;
        Ok(())
    }

    async fn events(&self, account_id: &str, limit: i64) -> Result<Vec<Event>> {
        self.rows(
            false,
            "SELECT id, account_id, kind, at, ip, user_agent, detail FROM events WHERE account_id = $1 ORDER BY seq DESC LIMIT $2",
            &[Param::Text(account_id), Param::Int(limit)],
            usize::MAX,
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

    async fn insert_outbox(&self, m: &OutboxMessage) -> Result<()> {
        self.exec(
            "INSERT INTO outbox (id, channel, recipient, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Text(&m.id),
                Param::Text(&m.channel),
                Param::Text(&m.recipient),
                Param::Text(&m.body),
                Param::Int(m.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn outbox(&self, limit: i64) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query("SELECT id, channel, recipient, body, created_at FROM outbox ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: r.try_get("id").map_err(db)?,
                    channel: r.try_get("channel").map_err(db)?,
                    recipient: r.try_get("recipient").map_err(db)?,
                    body: r.try_get("body").map_err(db)?,
                    created_at: r.try_get("created_at").map_err(db)?,
                })
            })
            .collect()
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

    async fn rehash_backup_code(&self, account_id: &str, old: &str, new: &str) -> Result<()> {
        self.exec(
            "UPDATE backup_codes SET code_hash = $1 WHERE account_id = $2 AND code_hash = $3",
            &[Param::Text(new), Param::Text(account_id), Param::Text(old)],
        )
        .await?;
        Ok(())
    }

    async fn filtered_events_with_emails(
        &self,
        f: &EventFilter,
    ) -> Result<Vec<(Event, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT e.id, e.account_id, e.kind, e.at, e.ip, e.user_agent, e.detail, a.email
             FROM events e LEFT JOIN accounts a ON a.id = e.account_id
             WHERE ($1 IS NULL OR e.account_id = $1) AND ($2 IS NULL OR e.kind = $2) AND ($3 IS NULL OR e.at >= $3)
             ORDER BY e.seq DESC LIMIT $4",
        )
        .bind(f.account_id.clone())
        .bind(f.kind.clone())
        .bind(f.since)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((Event::from_row(r)?, r.col("email")?)))
            .collect()
    }

    async fn filtered_events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, at, ip, user_agent, detail FROM events
             WHERE ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR at >= $3)
             ORDER BY seq DESC LIMIT $4",
        )
        .bind(f.account_id.clone())
        .bind(f.kind.clone())
        .bind(f.since)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event).collect()
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
