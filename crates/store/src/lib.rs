//! nidan's [`Store`] on SQL through sqlx's `Any` driver, so one set of
//! queries (with `$N` placeholders) serves SQLite and PostgreSQL; only the
//! migrations differ per backend (`migrations/<backend>`).
//!
//! This crate persists and fetches; it decides nothing. The operations the
//! domain relies on for single use (`advance_last_step`,
//! `use_backup_code`, `take_attempt`, `complete_challenge`) are single
//! conditional `UPDATE`s whose affected-row count is the answer, so they
//! hold across processes sharing the database.

pub mod testing;

use std::str::FromStr;

use nidan_core::error::{Error, Result};
use nidan_core::model::{
    Account, AccountGuard, CaseStatus, Challenge, DocumentKind, Event, EventFilter, Method,
    MethodKind, MethodRole, OutboxMessage, RecoveryCase, RememberedBrowser, SentCode, Session,
};
use nidan_core::store::Store;
use sqlx::any::{AnyPoolOptions, AnyRow};
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
    pool: AnyPool,
    backend: Backend,
}

fn db(e: sqlx::Error) -> Error {
    Error::Store(e.to_string())
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path` creates the file) with at most
    /// `max_connections`, and applies pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
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
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Wait for a busy writer instead of failing, and let
                        // foreign keys cascade.
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
            .connect(&url)
            .await
            .map_err(db)?;
        if backend == Backend::Sqlite {
            // WAL lets readers and one writer work at once; it persists in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(db)?;
        }
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite")
                .run(&self.pool)
                .await
                .map_err(|e| Error::Store(e.to_string())),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres")
                .run(&self.pool)
                .await
                .map_err(|e| Error::Store(e.to_string())),
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

fn account(row: &AnyRow) -> Result<Account> {
    let roles: String = row.try_get("roles").map_err(db)?;
    Ok(Account {
        id: row.try_get("id").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        password_hash: row.try_get("password_hash").map_err(db)?,
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        locale: row.try_get("locale").map_err(db)?,
        two_sv_on_since: row.try_get("two_sv_on_since").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        guard: AccountGuard {
            code_failures: row.try_get("code_failures").map_err(db)?,
            code_retry_at: row.try_get("code_retry_at").map_err(db)?,
            codes_paused_at: row.try_get("codes_paused_at").map_err(db)?,
            abuse_alerted_at: row.try_get("abuse_alerted_at").map_err(db)?,
            password_changed_at: row.try_get("password_changed_at").map_err(db)?,
        },
    })
}

fn challenge(row: &AnyRow) -> Result<Challenge> {
    let keep: i64 = row.try_get("keep_signed_in").map_err(db)?;
    Ok(Challenge {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
        attempts_left: row.try_get("attempts_left").map_err(db)?,
        keep_signed_in: keep != 0,
        completed_at: row.try_get("completed_at").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        ip: row.try_get("ip").map_err(db)?,
        browser: row.try_get("browser").map_err(db)?,
    })
}

fn event(row: &AnyRow) -> Result<Event> {
    Ok(Event {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        kind: row.try_get("kind").map_err(db)?,
        at: row.try_get("at").map_err(db)?,
        ip: row.try_get("ip").map_err(db)?,
        user_agent: row.try_get("user_agent").map_err(db)?,
        detail: row.try_get("detail").map_err(db)?,
    })
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

fn recovery_case(row: &AnyRow) -> Result<RecoveryCase> {
    let kind: String = row.try_get("document_kind").map_err(db)?;
    let status: String = row.try_get("status").map_err(db)?;
    Ok(RecoveryCase {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        document_kind: DocumentKind::parse(&kind)
            .ok_or_else(|| Error::Store(format!("unknown document kind {kind}")))?,
        content_type: row.try_get("content_type").map_err(db)?,
        document_size: row.try_get("document_size").map_err(db)?,
        status: CaseStatus::parse(&status)
            .ok_or_else(|| Error::Store(format!("unknown case status {status}")))?,
        reason: row.try_get("reason").map_err(db)?,
        ip: row.try_get("ip").map_err(db)?,
        browser: row.try_get("browser").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        decided_at: row.try_get("decided_at").map_err(db)?,
        decided_by: row.try_get("decided_by").map_err(db)?,
        document_deleted_at: row.try_get("document_deleted_at").map_err(db)?,
    })
}

fn method(row: &AnyRow) -> Result<Method> {
    let kind: String = row.try_get("kind").map_err(db)?;
    let role: String = row.try_get("role").map_err(db)?;
    let active: i64 = row.try_get("active").map_err(db)?;
    Ok(Method {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        kind: MethodKind::parse(&kind)
            .ok_or_else(|| Error::Store(format!("unknown method kind {kind}")))?,
        role: MethodRole::parse(&role)
            .ok_or_else(|| Error::Store(format!("unknown method role {role}")))?,
        name: row.try_get("name").map_err(db)?,
        secret_sealed: row.try_get("secret_sealed").map_err(db)?,
        phone: row.try_get("phone").map_err(db)?,
        last_step: row.try_get("last_step").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        confirmed_at: row.try_get("confirmed_at").map_err(db)?,
        active: active != 0,
    })
}

fn session(row: &AnyRow) -> Result<Session> {
    let keep: i64 = row.try_get("keep_signed_in").map_err(db)?;
    Ok(Session {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
        password_at: row.try_get("password_at").map_err(db)?,
        keep_signed_in: keep != 0,
    })
}

fn browser(row: &AnyRow) -> Result<RememberedBrowser> {
    Ok(RememberedBrowser {
        id: row.try_get("id").map_err(db)?,
        account_id: row.try_get("account_id").map_err(db)?,
        label: row.try_get("label").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        last_used_at: row.try_get("last_used_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
    })
}

impl SqlStore {
    /// Runs a statement on the pool; the number of rows it changed.
    async fn run<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<u64> {
        query
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(db)
    }
}

impl Store for SqlStore {
    async fn insert_account(&self, a: &Account) -> Result<bool> {
        let affected = self.run(sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, roles, locale, two_sv_on_since, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.email)
        .bind(&a.password_hash)
        .bind(a.roles.join(","))
        .bind(&a.locale)
        .bind(a.two_sv_on_since)
        .bind(a.created_at)).await?;
        Ok(affected == 1)
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(account).transpose()
    }

    async fn account_by_id(&self, id: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(account).transpose()
    }

    async fn set_password_hash(&self, account_id: &str, hash: &str) -> Result<()> {
        self.run(
            sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn set_two_sv(&self, account_id: &str, on_since: Option<i64>) -> Result<()> {
        self.run(
            sqlx::query("UPDATE accounts SET two_sv_on_since = $1 WHERE id = $2")
                .bind(on_since)
                .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn set_locale(&self, account_id: &str, locale: &str) -> Result<()> {
        self.run(
            sqlx::query("UPDATE accounts SET locale = $1 WHERE id = $2")
                .bind(locale)
                .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn insert_method(&self, m: &Method) -> Result<()> {
        self.run(sqlx::query(
            "INSERT INTO methods (id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&m.id)
        .bind(&m.account_id)
        .bind(m.kind.as_str())
        .bind(m.role.as_str())
        .bind(&m.name)
        .bind(m.secret_sealed.clone())
        .bind(m.phone.clone())
        .bind(m.last_step)
        .bind(m.created_at)
        .bind(m.confirmed_at)
        .bind(i64::from(m.active))).await?;
        Ok(())
    }

    async fn methods(&self, account_id: &str) -> Result<Vec<Method>> {
        let rows = sqlx::query("SELECT id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at, confirmed_at, active FROM methods WHERE account_id = $1 ORDER BY created_at, id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(method).collect()
    }

    async fn confirm_method(&self, method_id: &str, at: i64, step: i64) -> Result<()> {
        self.run(
            sqlx::query("UPDATE methods SET confirmed_at = $1, last_step = $2 WHERE id = $3")
                .bind(at)
                .bind(step)
                .bind(method_id),
        )
        .await?;
        Ok(())
    }

    async fn activate_methods(
        &self,
        account_id: &str,
        roles: &[(String, MethodRole)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for (id, role) in roles {
            sqlx::query(
                "UPDATE methods SET active = 1, role = $1 WHERE id = $2 AND account_id = $3",
            )
            .bind(role.as_str())
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn set_method_role(&self, method_id: &str, role: MethodRole) -> Result<()> {
        self.run(
            sqlx::query("UPDATE methods SET role = $1 WHERE id = $2")
                .bind(role.as_str())
                .bind(method_id),
        )
        .await?;
        Ok(())
    }

    async fn rename_method(&self, method_id: &str, name: &str) -> Result<()> {
        self.run(
            sqlx::query("UPDATE methods SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(method_id),
        )
        .await?;
        Ok(())
    }

    async fn delete_method(&self, method_id: &str) -> Result<()> {
        self.run(sqlx::query("DELETE FROM methods WHERE id = $1").bind(method_id))
            .await?;
        Ok(())
    }

    async fn delete_inactive_methods(&self, account_id: &str) -> Result<()> {
        self.run(
            sqlx::query("DELETE FROM methods WHERE account_id = $1 AND active = 0")
                .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn delete_all_methods(&self, account_id: &str) -> Result<()> {
        self.run(sqlx::query("DELETE FROM methods WHERE account_id = $1").bind(account_id))
            .await?;
        Ok(())
    }

    async fn advance_last_step(&self, method_id: &str, step: i64) -> Result<bool> {
        let affected = self.run(sqlx::query("UPDATE methods SET last_step = $1 WHERE id = $2 AND (last_step IS NULL OR last_step < $1)")
            .bind(step)
            .bind(method_id)).await?;
        Ok(affected == 1)
    }

    async fn replace_backup_codes(
        &self,
        account_id: &str,
        hashes: &[String],
        at: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO backup_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(account_id)
            .bind(hash)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn use_backup_code(&self, account_id: &str, hash: &str, at: i64) -> Result<bool> {
        let affected = self.run(sqlx::query("UPDATE backup_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(at)
            .bind(account_id)
            .bind(hash)).await?;
        Ok(affected == 1)
    }

    async fn backup_codes_left(&self, account_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM backup_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.try_get("n").map_err(db)
    }

    async fn insert_challenge(&self, c: &Challenge, token_hash: &str) -> Result<()> {
        self.run(sqlx::query(
            "INSERT INTO challenges (id, token_hash, account_id, expires_at, attempts_left, keep_signed_in, completed_at, created_at, ip, browser)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.id)
        .bind(token_hash)
        .bind(&c.account_id)
        .bind(c.expires_at)
        .bind(c.attempts_left)
        .bind(i64::from(c.keep_signed_in))
        .bind(c.completed_at)
        .bind(c.created_at)
        .bind(&c.ip)
        .bind(&c.browser)).await?;
        Ok(())
    }

    async fn challenge_by_token(&self, token_hash: &str) -> Result<Option<Challenge>> {
        let row = sqlx::query("SELECT * FROM challenges WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(challenge).transpose()
    }

    async fn take_attempt(&self, challenge_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE challenges SET attempts_left = attempts_left - 1
             WHERE id = $1 AND attempts_left > 0 AND completed_at IS NULL RETURNING attempts_left",
        )
        .bind(challenge_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| r.try_get("attempts_left").map_err(db))
            .transpose()
    }

    async fn complete_challenge(&self, challenge_id: &str, at: i64) -> Result<bool> {
        let affected = self.run(sqlx::query("UPDATE challenges SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL AND attempts_left > 0")
            .bind(at)
            .bind(challenge_id)).await?;
        Ok(affected == 1)
    }

    async fn insert_session(&self, s: &Session, token_hash: &str) -> Result<()> {
        self.run(sqlx::query(
            "INSERT INTO sessions (id, token_hash, account_id, created_at, expires_at, password_at, keep_signed_in)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(token_hash)
        .bind(&s.account_id)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.password_at)
        .bind(i64::from(s.keep_signed_in))).await?;
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &str, now: i64) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT id, account_id, created_at, expires_at, password_at, keep_signed_in FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(session).transpose()
    }

    async fn touch_session_password(&self, session_id: &str, at: i64) -> Result<()> {
        self.run(
            sqlx::query("UPDATE sessions SET password_at = $1 WHERE id = $2")
                .bind(at)
                .bind(session_id),
        )
        .await?;
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<()> {
        self.run(sqlx::query("DELETE FROM sessions WHERE id = $1").bind(session_id))
            .await?;
        Ok(())
    }

    async fn delete_sessions_except(&self, account_id: &str, keep: Option<&str>) -> Result<()> {
        self.run(
            sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id <> $2")
                .bind(account_id)
                .bind(keep.unwrap_or("")),
        )
        .await?;
        Ok(())
    }

    async fn insert_browser(&self, b: &RememberedBrowser, token_hash: &str) -> Result<()> {
        self.run(sqlx::query(
            "INSERT INTO remembered_browsers (id, token_hash, account_id, label, created_at, last_used_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&b.id)
        .bind(token_hash)
        .bind(&b.account_id)
        .bind(&b.label)
        .bind(b.created_at)
        .bind(b.last_used_at)
        .bind(b.expires_at)).await?;
        Ok(())
    }

    async fn use_browser(
        &self,
        account_id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RememberedBrowser>> {
        let row = sqlx::query(
            "UPDATE remembered_browsers SET last_used_at = $1
             WHERE account_id = $2 AND token_hash = $3 AND expires_at > $1 RETURNING id, account_id, label, created_at, last_used_at, expires_at",
        )
        .bind(now)
        .bind(account_id)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(browser).transpose()
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
        self.run(
            sqlx::query("DELETE FROM remembered_browsers WHERE account_id = $1 AND id = $2")
                .bind(account_id)
                .bind(browser_id),
        )
        .await?;
        Ok(())
    }

    async fn delete_browsers(&self, account_id: &str) -> Result<()> {
        self.run(
            sqlx::query("DELETE FROM remembered_browsers WHERE account_id = $1").bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn insert_event(&self, e: &Event) -> Result<()> {
        self.run(sqlx::query("INSERT INTO events (id, account_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&e.id)
            .bind(e.account_id.clone())
            .bind(&e.kind)
            .bind(e.at)
            .bind(&e.ip)
            .bind(&e.user_agent)
            .bind(&e.detail)).await?;
        Ok(())
    }

    async fn events(&self, account_id: &str, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT id, account_id, kind, at, ip, user_agent, detail FROM events WHERE account_id = $1 ORDER BY seq DESC LIMIT $2")
            .bind(account_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn insert_sent_code(&self, c: &SentCode) -> Result<()> {
        self.run(sqlx::query(
            "INSERT INTO sent_codes (id, account_id, challenge_id, method_id, code_hash, sent_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.account_id)
        .bind(c.challenge_id.clone())
        .bind(&c.method_id)
        .bind(&c.code_hash)
        .bind(c.sent_at)
        .bind(c.expires_at)).await?;
        Ok(())
    }

    async fn use_sent_code_for_challenge(
        &self,
        challenge_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let affected = self
            .run(
                sqlx::query(
                    "UPDATE sent_codes SET used_at = $1
             WHERE used_at IS NULL AND expires_at > $1 AND code_hash = $2 AND id IN
               (SELECT id FROM sent_codes WHERE challenge_id = $3 ORDER BY seq DESC LIMIT 3)",
                )
                .bind(now)
                .bind(code_hash)
                .bind(challenge_id),
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
        let affected = self.run(sqlx::query(
            "UPDATE sent_codes SET used_at = $1
             WHERE used_at IS NULL AND expires_at > $1 AND code_hash = $2 AND id IN
               (SELECT id FROM sent_codes WHERE method_id = $3 AND challenge_id IS NULL ORDER BY seq DESC LIMIT 3)",
        )
        .bind(now)
        .bind(code_hash)
        .bind(method_id)).await?;
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
        let row = sqlx::query(
            "INSERT INTO counters (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key, window_start) DO UPDATE SET count = counters.count + 1
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.try_get("count").map_err(db)
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
        self.run(sqlx::query("INSERT INTO outbox (id, channel, recipient, body, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&m.id)
            .bind(&m.channel)
            .bind(&m.recipient)
            .bind(&m.body)
            .bind(m.created_at)).await?;
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
        self.run(
            sqlx::query("UPDATE accounts SET roles = $1 WHERE id = $2")
                .bind(roles.join(","))
                .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn claim_code_check(
        &self,
        account_id: &str,
        seen_failures: i64,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let affected = self
            .run(
                sqlx::query(
                    "UPDATE accounts SET code_failures = code_failures + 1, code_retry_at = $1
                     WHERE id = $2 AND code_failures = $3",
                )
                .bind(retry_at)
                .bind(account_id)
                .bind(seen_failures),
            )
            .await?;
        Ok(affected == 1)
    }

    async fn clear_code_failures(&self, account_id: &str) -> Result<()> {
        self.run(
            sqlx::query(
                "UPDATE accounts SET code_failures = 0, code_retry_at = NULL WHERE id = $1 AND code_failures <> 0",
            )
            .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn mark_abuse_alerted(&self, account_id: &str, at: i64, since: i64) -> Result<bool> {
        let affected = self
            .run(
                sqlx::query(
                    "UPDATE accounts SET abuse_alerted_at = $1
                     WHERE id = $2 AND (abuse_alerted_at IS NULL OR abuse_alerted_at < $3)",
                )
                .bind(at)
                .bind(account_id)
                .bind(since),
            )
            .await?;
        Ok(affected == 1)
    }

    async fn pause_codes(&self, account_id: &str, at: i64) -> Result<()> {
        self.run(
            sqlx::query(
                "UPDATE accounts SET codes_paused_at = $1 WHERE id = $2 AND codes_paused_at IS NULL",
            )
            .bind(at)
            .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn reset_guard(&self, account_id: &str, password_changed: Option<i64>) -> Result<()> {
        self.run(
            sqlx::query(
                "UPDATE accounts SET code_failures = 0, code_retry_at = NULL, codes_paused_at = NULL,
                 abuse_alerted_at = NULL, password_changed_at = COALESCE($1, password_changed_at)
                 WHERE id = $2",
            )
            .bind(password_changed)
            .bind(account_id),
        )
        .await?;
        Ok(())
    }

    async fn unfinished_challenges(
        &self,
        account_id: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<Challenge>> {
        let rows = sqlx::query(
            "SELECT * FROM challenges WHERE account_id = $1 AND created_at > $2 AND completed_at IS NULL
             ORDER BY created_at DESC LIMIT $3",
        )
        .bind(account_id)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(challenge).collect()
    }

    async fn insert_recovery_case(&self, c: &RecoveryCase, sealed: &[u8]) -> Result<bool> {
        let affected = self
            .run(
                sqlx::query(
                    "INSERT INTO recovery_cases (id, account_id, document_kind, content_type, document_size,
                     document_sealed, status, reason, ip, browser, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10)
                     ON CONFLICT (account_id) WHERE status = 'open' DO NOTHING",
                )
                .bind(&c.id)
                .bind(&c.account_id)
                .bind(c.document_kind.as_str())
                .bind(&c.content_type)
                .bind(c.document_size)
                .bind(sealed.to_vec())
                .bind(CaseStatus::Open.as_str())
                .bind(&c.ip)
                .bind(&c.browser)
                .bind(c.created_at),
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
        let affected = self
            .run(
                sqlx::query(
                    "UPDATE recovery_cases SET status = $1, reason = $2, decided_by = $3, decided_at = $4
                     WHERE id = $5 AND status = 'open'",
                )
                .bind(status.as_str())
                .bind(reason)
                .bind(by)
                .bind(at)
                .bind(case_id),
            )
            .await?;
        Ok(affected == 1)
    }

    async fn purge_recovery_documents(&self, decided_before: i64, at: i64) -> Result<u64> {
        self.run(
            sqlx::query(
                "UPDATE recovery_cases SET document_sealed = NULL, document_deleted_at = $1
                 WHERE status <> 'open' AND decided_at <= $2 AND document_sealed IS NOT NULL",
            )
            .bind(at)
            .bind(decided_before),
        )
        .await
    }

    async fn insert_password_reset(
        &self,
        token_hash: &str,
        account_id: &str,
        at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.run(
            sqlx::query(
                "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(account_id)
            .bind(at)
            .bind(expires_at),
        )
        .await?;
        Ok(())
    }

    async fn use_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "UPDATE password_resets SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING account_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| r.try_get("account_id").map_err(db)).transpose()
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
        self.run(sqlx::query("SELECT 1")).await?;
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
