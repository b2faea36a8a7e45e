//! Rows into records for both drivers ([`Columns`], one reader per
//! record), and the two paths every statement takes: a write through the
//! backend's one writer, a read through its readers.

use nidan_core::error::{Error, Result};
use nidan_core::model::{
    Account, AccountGuard, CaseStatus, Ceremony, CeremonyPurpose, Challenge, Channel, DocumentKind,
    Event, EventKind, Factor, Method, MethodKind, MethodRole, RecoveryCase, RememberedBrowser,
    Session,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::exec::{self, FromRow, Param};
use crate::{SqlStore, db};

/// Reading a column by name, from a sqlx row or a rusqlite row, so one
/// function turns a row into a record for both drivers.
pub(crate) trait Columns {
    /// The column's value.
    fn col<T: FromColumn>(&self, name: &str) -> Result<T>;
}

/// A Rust type a column can be read as, from either driver.
pub(crate) trait FromColumn:
    Sized + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

impl<T> FromColumn for T where
    T: Sized
        + for<'r> sqlx::Decode<'r, sqlx::Any>
        + sqlx::Type<sqlx::Any>
        + rusqlite::types::FromSql
{
}

impl Columns for AnyRow {
    fn col<T: FromColumn>(&self, name: &str) -> Result<T> {
        self.try_get(name).map_err(db)
    }
}

pub(crate) fn account(row: &impl Columns) -> Result<Account> {
    let roles: String = row.col("roles")?;
    Ok(Account {
        id: row.col("id")?,
        email: row.col("email")?,
        password_hash: row.col("password_hash")?,
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        locale: row.col("locale")?,
        two_sv_on_since: row.col("two_sv_on_since")?,
        created_at: row.col("created_at")?,
        guard: AccountGuard {
            code_failures: row.col("code_failures")?,
            code_retry_at: row.col("code_retry_at")?,
            codes_paused_at: row.col("codes_paused_at")?,
            abuse_alerted_at: row.col("abuse_alerted_at")?,
            password_changed_at: row.col("password_changed_at")?,
        },
    })
}

pub(crate) fn challenge(row: &impl Columns) -> Result<Challenge> {
    let keep: i64 = row.col("keep_signed_in")?;
    Ok(Challenge {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        expires_at: row.col("expires_at")?,
        attempts_left: row.col("attempts_left")?,
        keep_signed_in: keep != 0,
        completed_at: row.col("completed_at")?,
        created_at: row.col("created_at")?,
        ip: row.col("ip")?,
        browser: row.col("browser")?,
    })
}

pub(crate) fn event(row: &impl Columns) -> Result<Event> {
    Ok(Event {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        kind: EventKind::read(&row.col::<String>("kind")?),
        at: row.col("at")?,
        ip: row.col("ip")?,
        user_agent: row.col("user_agent")?,
        detail: row.col("detail")?,
    })
}

pub(crate) fn recovery_case(row: &impl Columns) -> Result<RecoveryCase> {
    let kind: String = row.col("document_kind")?;
    let status: String = row.col("status")?;
    Ok(RecoveryCase {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        email: row.col("email")?,
        document_kind: DocumentKind::parse(&kind)
            .ok_or_else(|| Error::Store(format!("unknown document kind {kind}")))?,
        content_type: row.col("content_type")?,
        document_size: row.col("document_size")?,
        status: CaseStatus::parse(&status)
            .ok_or_else(|| Error::Store(format!("unknown case status {status}")))?,
        reason: row.col("reason")?,
        ip: row.col("ip")?,
        browser: row.col("browser")?,
        created_at: row.col("created_at")?,
        decided_at: row.col("decided_at")?,
        decided_by: row.col("decided_by")?,
        document_deleted_at: row.col("document_deleted_at")?,
    })
}

pub(crate) fn method(row: &impl Columns) -> Result<Method> {
    let kind: String = row.col("kind")?;
    let role: String = row.col("role")?;
    let active: i64 = row.col("active")?;
    let phone = |channel| -> Result<Factor> {
        let number: Option<String> = row.col("phone")?;
        Ok(Factor::Phone {
            number: number.ok_or_else(|| Error::Store("a phone method without a number".into()))?,
            channel,
        })
    };
    let factor = match MethodKind::parse(&kind) {
        Some(MethodKind::App) => {
            let sealed: Option<Vec<u8>> = row.col("secret_sealed")?;
            Factor::App {
                secret_sealed: sealed
                    .ok_or_else(|| Error::Store("an app method without a key".into()))?,
                last_step: row.col("last_step")?,
            }
        }
        Some(MethodKind::Sms) => phone(Channel::Sms)?,
        Some(MethodKind::Voice) => phone(Channel::Voice)?,
        Some(MethodKind::Passkey) => {
            let credential: Option<String> = row.col("credential")?;
            let credential_id: Option<String> = row.col("credential_id")?;
            let sign_count: Option<i64> = row.col("sign_count")?;
            Factor::Passkey {
                credential: credential
                    .ok_or_else(|| Error::Store("a passkey without its credential".into()))?,
                credential_id: credential_id
                    .ok_or_else(|| Error::Store("a passkey without its credential id".into()))?,
                sign_count: sign_count.unwrap_or(0),
                last_used_at: row.col("last_used_at")?,
            }
        }
        None => return Err(Error::Store(format!("unknown method kind {kind}"))),
    };
    Ok(Method {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        factor,
        role: MethodRole::parse(&role)
            .ok_or_else(|| Error::Store(format!("unknown method role {role}")))?,
        name: row.col("name")?,
        created_at: row.col("created_at")?,
        confirmed_at: row.col("confirmed_at")?,
        active: active != 0,
    })
}

pub(crate) fn session(row: &impl Columns) -> Result<Session> {
    let keep: i64 = row.col("keep_signed_in")?;
    Ok(Session {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        created_at: row.col("created_at")?,
        expires_at: row.col("expires_at")?,
        password_at: row.col("password_at")?,
        keep_signed_in: keep != 0,
        two_step_at: row.col("two_step_at")?,
    })
}

pub(crate) fn browser(row: &impl Columns) -> Result<RememberedBrowser> {
    Ok(RememberedBrowser {
        id: row.col("id")?,
        account_id: row.col("account_id")?,
        label: row.col("label")?,
        created_at: row.col("created_at")?,
        last_used_at: row.col("last_used_at")?,
        expires_at: row.col("expires_at")?,
    })
}

impl SqlStore {
    /// A write on the backend's driver; the rows it changed.
    pub(crate) async fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        self.failpoint.tick()?;
        match &self.fast {
            Some(fast) => fast.execute(sql, params).await,
            None => exec::bind(sqlx::query(sql), params)
                .execute(&self.writer)
                .await
                .map(|done| done.rows_affected())
                .map_err(db),
        }
    }

    /// Rows of a read, or of a write with `RETURNING` (`write`), at most `limit`.
    pub(crate) async fn rows<T: FromRow + Send + 'static>(
        &self,
        write: bool,
        sql: &'static str,
        params: &[Param<'_>],
        limit: usize,
    ) -> Result<Vec<T>> {
        if write {
            self.failpoint.tick()?;
        }
        match &self.fast {
            Some(fast) if write => fast.write_rows(sql, params, limit).await,
            Some(fast) => fast.read_rows(sql, params, limit),
            None => {
                let pool = if write { &self.writer } else { &self.pool };
                exec::bind(sqlx::query(sql), params)
                    .fetch_all(pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .take(limit)
                    .map(T::from_row)
                    .collect()
            }
        }
    }

    /// The first row of a read, if any.
    pub(crate) async fn row<T: FromRow + Send + 'static>(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<T>> {
        Ok(self.rows(false, sql, params, 1).await?.into_iter().next())
    }
}

impl FromRow for Account {
    fn from_row(row: &impl Columns) -> Result<Self> {
        account(row)
    }
}
impl FromRow for Method {
    fn from_row(row: &impl Columns) -> Result<Self> {
        method(row)
    }
}
impl FromRow for Session {
    fn from_row(row: &impl Columns) -> Result<Self> {
        session(row)
    }
}
impl FromRow for Challenge {
    fn from_row(row: &impl Columns) -> Result<Self> {
        challenge(row)
    }
}
impl FromRow for Event {
    fn from_row(row: &impl Columns) -> Result<Self> {
        event(row)
    }
}
impl FromRow for RememberedBrowser {
    fn from_row(row: &impl Columns) -> Result<Self> {
        browser(row)
    }
}

/// A code-step row: the attempt, its account and one active method.
pub(crate) struct CodeStepRow(pub Challenge, pub Account, pub Option<Method>);

impl FromRow for CodeStepRow {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let m_id: Option<String> = row.col("m_id")?;
        let method = match m_id {
            Some(_) => Some(method(&Prefixed(row, "m_"))?),
            None => None,
        };
        Ok(Self(
            challenge(&Prefixed(row, "c_"))?,
            account(row)?,
            method,
        ))
    }
}

/// A row's columns named with a prefix (`c_id`), for joins.
pub(crate) struct Prefixed<'r, R>(&'r R, &'static str);

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn col<T: FromColumn>(&self, name: &str) -> Result<T> {
        // The prefixed name in a buffer kept per thread: a joined row has
        // dozens of columns, and the code step reads one on every request.
        thread_local! {
            static NAME: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        NAME.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut full) => {
                full.clear();
                full.push_str(self.1);
                full.push_str(name);
                self.0.col(&full)
            }
            // A prefixed row inside a prefixed row: a name of its own.
            Err(_) => self.0.col(&format!("{}{name}", self.1)),
        })
    }
}

impl FromRow for (Challenge, Account) {
    fn from_row(row: &impl Columns) -> Result<Self> {
        Ok((challenge(&Prefixed(row, "c_"))?, account(row)?))
    }
}

impl FromRow for Ceremony {
    fn from_row(row: &impl Columns) -> Result<Self> {
        let purpose: String = row.col("purpose")?;
        Ok(Ceremony {
            id: row.col("id")?,
            account_id: row.col("account_id")?,
            challenge_id: row.col("challenge_id")?,
            purpose: match purpose.as_str() {
                "register" => CeremonyPurpose::Register,
                "sign_in" => CeremonyPurpose::SignIn,
                "discover" => CeremonyPurpose::Discover,
                other => return Err(Error::Store(format!("unknown ceremony purpose {other}"))),
            },
            state: row.col("state")?,
            expires_at: row.col("expires_at")?,
        })
    }
}

/// The tries left that `take_attempt` returns.
pub(crate) struct AttemptsLeft(pub(crate) i64);

impl FromRow for AttemptsLeft {
    fn from_row(row: &impl Columns) -> Result<Self> {
        row.col("attempts_left").map(Self)
    }
}

/// A count.
pub(crate) struct Count(pub(crate) i64);

impl FromRow for Count {
    fn from_row(row: &impl Columns) -> Result<Self> {
        row.col("n").map(Self)
    }
}
