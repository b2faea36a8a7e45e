//! Running one statement on whichever driver serves the backend.
//!
//! PostgreSQL goes through sqlx (async sockets). SQLite goes through
//! rusqlite, called in place: sqlx's SQLite driver runs every statement on
//! a thread of its own per connection and hands each statement and its
//! result across threads, and measured under load that hand-off — two
//! context switches per statement, six statements per code check — was
//! most of the time of a request (`perf`: over half the samples in the
//! scheduler), not SQLite. A SQLite statement on a WAL database takes
//! microseconds, so it runs on the calling task: reads on one of a few
//! reader connections, writes on the single writer connection (SQLite
//! allows one writer at a time anyway; a mutex queues them in-process and
//! `busy_timeout` covers other processes). Statements are prepared once
//! per connection and cached.
//!
//! The same SQL text (with `$N` placeholders, which SQLite reads as named
//! parameters numbered in order of first use) and the same row readers
//! ([`crate::Columns`]) serve both drivers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use nidan_core::error::{Error, Result};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, OpenFlags};

use crate::Columns;

/// A value bound to a `$N` placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// Text.
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
    /// Text or NULL.
    OptText(Option<&'a str>),
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Self::Text(s) => s.to_sql(),
            Self::Int(i) => i.to_sql(),
            Self::OptInt(o) => o.to_sql(),
            Self::OptText(o) => o.to_sql(),
        }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds `params` in order to a sqlx query.
pub(crate) fn bind<'q>(mut query: AnyQuery<'q>, params: &[Param<'_>]) -> AnyQuery<'q> {
    for p in params {
        query = match *p {
            Param::Text(s) => query.bind(s.to_owned()),
            Param::Int(i) => query.bind(i),
            Param::OptInt(o) => query.bind(o),
            Param::OptText(o) => query.bind(o.map(str::to_owned)),
        };
    }
    query
}

/// A record read from a row of either driver.
pub(crate) trait FromRow: Sized {
    /// Reads the record.
    fn from_row(row: &impl Columns) -> Result<Self>;
}

pub(crate) fn sqlite(e: rusqlite::Error) -> Error {
    Error::Store(e.to_string())
}

/// The SQLite connections of one store.
pub(crate) struct Sqlite {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

/// The file of a `sqlite://path?...` URL; `None` for in-memory databases.
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sqlite)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(sqlite)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Sqlite {
    /// Opens one writer and `readers` reader connections on a migrated file.
    pub(crate) fn open(path: &Path, readers: usize) -> Result<Self> {
        Ok(Self {
            writer: Mutex::new(open(path)?),
            readers: (0..readers.max(1))
                .map(|_| open(path).map(Mutex::new))
                .collect::<Result<_>>()?,
            next: AtomicUsize::new(0),
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let n = self.readers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(m) = self.readers.get((start + i) % n)
                && let Ok(conn) = m.try_lock()
            {
                return f(&conn);
            }
        }
        let m = self
            .readers
            .get(start % n)
            .ok_or_else(|| Error::Store("no reader connection".into()))?;
        let conn = m
            .lock()
            .map_err(|_| Error::Store("a reader connection was poisoned".into()))?;
        f(&conn)
    }

    fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| Error::Store("the writer connection was poisoned".into()))?;
        f(&conn)
    }

    /// Runs `f` in one immediate transaction on the writer; commits when it
    /// says so (the second value), rolls back otherwise. BEGIN, COMMIT and
    /// ROLLBACK are cached statements like the rest (rusqlite's own
    /// `Transaction` parses them anew each time).
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<(T, bool)>,
    ) -> Result<T> {
        self.with_writer(|conn| {
            let run = |sql: &str| -> Result<()> {
                conn.prepare_cached(sql)
                    .and_then(|mut st| st.execute([]))
                    .map(|_| ())
                    .map_err(sqlite)
            };
            run("BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok((value, true)) => match run("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = run("ROLLBACK");
                        Err(e)
                    }
                },
                Ok((value, false)) => run("ROLLBACK").map(|()| value),
                Err(e) => {
                    let _ = run("ROLLBACK");
                    Err(e)
                }
            }
        })
    }

    /// Runs a write; the rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        self.with_writer(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(sqlite)?;
            let n = stmt
                .execute(rusqlite::params_from_iter(params.iter()))
                .map_err(sqlite)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
    }

    /// Reads rows (on a reader) or runs a write returning rows (on the writer).
    pub(crate) fn query<T: FromRow>(
        &self,
        write: bool,
        sql: &str,
        params: &[Param<'_>],
        limit: usize,
    ) -> Result<Vec<T>> {
        let run = |c: &Connection| -> Result<Vec<T>> {
            let mut stmt = c.prepare_cached(sql).map_err(sqlite)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(sqlite)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sqlite)? {
                if out.len() < limit {
                    out.push(T::from_row(row)?);
                }
            }
            Ok(out)
        };
        if write {
            self.with_writer(run)
        } else {
            self.with_reader(run)
        }
    }
}
