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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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
    /// Bytes or NULL.
    OptBytes(Option<&'a [u8]>),
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Self::Text(s) => s.to_sql(),
            Self::Int(i) => i.to_sql(),
            Self::OptInt(o) => o.to_sql(),
            Self::OptText(o) => o.to_sql(),
            Self::OptBytes(o) => o.to_sql(),
        }
    }
}

/// A [`Param`] that owns its value, to travel to the batch that writes it.
#[derive(Debug, Clone)]
pub(crate) enum Owned {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
    /// Text or NULL.
    OptText(Option<String>),
    /// Bytes or NULL.
    OptBytes(Option<Vec<u8>>),
}

impl From<&Param<'_>> for Owned {
    fn from(p: &Param<'_>) -> Self {
        match *p {
            Param::Text(s) => Self::Text(s.to_owned()),
            Param::Int(i) => Self::Int(i),
            Param::OptInt(o) => Self::OptInt(o),
            Param::OptText(o) => Self::OptText(o.map(str::to_owned)),
            Param::OptBytes(o) => Self::OptBytes(o.map(<[u8]>::to_vec)),
        }
    }
}

impl rusqlite::ToSql for Owned {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Self::Text(s) => s.to_sql(),
            Self::Int(i) => i.to_sql(),
            Self::OptInt(o) => o.to_sql(),
            Self::OptText(o) => o.to_sql(),
            Self::OptBytes(o) => o.to_sql(),
        }
    }
}

/// Owned copies of `params`.
pub(crate) fn owned(params: &[Param<'_>]) -> Vec<Owned> {
    params.iter().map(Owned::from).collect()
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
            Param::OptBytes(o) => query.bind(o.map(<[u8]>::to_vec)),
        };
    }
    query
}

/// Binds owned `params` in order to a sqlx query.
pub(crate) fn bind_owned<'q>(mut query: AnyQuery<'q>, params: &[Owned]) -> AnyQuery<'q> {
    for p in params {
        query = match p {
            Owned::Text(s) => query.bind(s.clone()),
            Owned::Int(i) => query.bind(*i),
            Owned::OptInt(o) => query.bind(*o),
            Owned::OptText(o) => query.bind(o.clone()),
            Owned::OptBytes(o) => query.bind(o.clone()),
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
    readers: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    /// The writer thread's queue.
    writes: Arc<Writes>,
}

/// Writes waiting for the writer thread, which owns the writer connection.
#[derive(Default)]
struct Writes {
    queue: Mutex<Vec<Op>>,
    ready: Condvar,
    closed: AtomicBool,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.writes.closed.store(true, Ordering::Release);
        self.writes.ready.notify_all();
    }
}

/// A queued write: runs inside the group's transaction (in a savepoint of
/// its own) and returns how to hand over its result once the group's
/// COMMIT has succeeded (`None`) or failed.
type Op = Box<dyn FnOnce(&Connection) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

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
        let writer = open(path)?;
        // Checkpoints (copying the WAL back into the database file) would
        // stall every queued write while they run; a thread of their own
        // does them beside the writer instead.
        // When the WAL starts over after a full checkpoint, a file grown
        // past the limit is cut back to it.
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_LIMIT_BYTES};"
            ))
            .map_err(sqlite)?;
        let checkpointer = open(path)?;
        let writes = Arc::new(Writes::default());
        let shared = writes.clone();
        std::thread::Builder::new()
            .name("nidan-sqlite-writer".into())
            .spawn(move || write_loop(&writer, &shared))
            .map_err(|e| Error::Store(format!("could not start the SQLite writer: {e}")))?;
        let shared = writes.clone();
        std::thread::Builder::new()
            .name("nidan-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &shared))
            .map_err(|e| Error::Store(format!("could not start the SQLite checkpointer: {e}")))?;
        Ok(Self {
            readers: (0..readers.max(1))
                .map(|_| open(path).map(Mutex::new))
                .collect::<Result<_>>()?,
            next: AtomicUsize::new(0),
            writes,
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

    /// Runs `op` as one write: in a savepoint of its own inside a group
    /// commit, kept when it says so (the second value), rolled back to
    /// the savepoint otherwise. The result is handed back only after the
    /// group's COMMIT, so a caller never acts on a write that is not
    /// durable.
    ///
    /// Group commit: under load, many requests want to write at once and
    /// a commit (WAL append, locks, index update) costs more than the
    /// statements. One thread owns the writer connection: it takes every
    /// queued write, runs them in order in one transaction, commits once,
    /// hands each its result, and repeats while writes keep arriving.
    /// Writes are still applied one after another on one connection, so
    /// every conditional UPDATE decides exactly as if each had committed
    /// alone; request threads never wait on the file.
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&Connection) -> Result<(T, bool)> + Send + 'static,
    ) -> Result<T> {
        let (send, receive) = tokio::sync::oneshot::channel::<Result<T>>();
        let queued: Op = Box::new(move |conn| {
            let outcome = savepoint(conn, op);
            Box::new(move |commit_failed: Option<&str>| {
                let result = match (outcome, commit_failed) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(why)) => Err(Error::Store(why.to_owned())),
                    (Err(e), _) => Err(e),
                };
                let _ = send.send(result);
            })
        });
        self.writes
            .queue
            .lock()
            .map_err(|_| Error::Store("the write queue was poisoned".into()))?
            .push(queued);
        self.writes.ready.notify_one();
        receive
            .await
            .map_err(|_| Error::Store("the database could not begin a write transaction".into()))?
    }

    /// Runs a write; the rows it changed.
    pub(crate) async fn execute(
        self: &Arc<Self>,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        let params = owned(params);
        self.write(move |c| {
            let mut stmt = c.prepare_cached(sql).map_err(sqlite)?;
            let n = stmt
                .execute(rusqlite::params_from_iter(params.iter()))
                .map_err(sqlite)?;
            Ok((u64::try_from(n).unwrap_or(u64::MAX), true))
        })
        .await
    }

    /// Runs a write that returns rows (`UPDATE … RETURNING`), at most `limit`.
    pub(crate) async fn write_rows<T: FromRow + Send + 'static>(
        self: &Arc<Self>,
        sql: &'static str,
        params: &[Param<'_>],
        limit: usize,
    ) -> Result<Vec<T>> {
        let params = owned(params);
        self.write(move |c| Ok((collect_rows(c, sql, &params, limit)?, true)))
            .await
    }

    /// Reads rows on a reader connection, at most `limit`.
    pub(crate) fn read_rows<T: FromRow>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        limit: usize,
    ) -> Result<Vec<T>> {
        self.with_reader(|c| collect_rows(c, sql, params, limit))
    }
}

/// A SQLite row whose columns are found through a name map.
pub(crate) struct Named<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    names: &'a std::collections::HashMap<String, usize>,
}

impl crate::rows::Columns for Named<'_, '_> {
    fn col<T: crate::rows::FromColumn>(&self, name: &str) -> Result<T> {
        let i = *self
            .names
            .get(name)
            .ok_or_else(|| Error::Store(format!("no column {name}")))?;
        self.row.get(i).map_err(|e| Error::Store(e.to_string()))
    }
}

/// The rows of a statement, at most `limit` (all are stepped through, so a
/// write with `RETURNING` completes).
fn collect_rows<T: FromRow>(
    c: &Connection,
    sql: &str,
    params: &[impl rusqlite::ToSql],
    limit: usize,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(sqlite)?;
    // Columns by name through a map made once per statement: rusqlite
    // finds a name by scanning every column (measured: that scan was the
    // largest user-space cost of the code step's joined read).
    let names: std::collections::HashMap<String, usize> = stmt
        .column_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n.to_owned(), i))
        .collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(sqlite)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite)? {
        if out.len() < limit {
            out.push(T::from_row(&Named { row, names: &names })?);
        }
    }
    Ok(out)
}

/// Runs `op` in a savepoint: released when it keeps its work, rolled back
/// to (and released) when it does not or fails.
fn savepoint<T>(conn: &Connection, op: impl FnOnce(&Connection) -> Result<(T, bool)>) -> Result<T> {
    let run = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(sqlite)
    };
    run("SAVEPOINT nidan_write")?;
    match op(conn) {
        Ok((value, true)) => run("RELEASE nidan_write").map(|()| value),
        Ok((value, false)) => {
            run("ROLLBACK TO nidan_write")?;
            run("RELEASE nidan_write").map(|()| value)
        }
        Err(e) => {
            let _ = run("ROLLBACK TO nidan_write");
            let _ = run("RELEASE nidan_write");
            Err(e)
        }
    }
}

/// The writer thread: a group commit of whatever is queued, until closed.
fn write_loop(conn: &Connection, writes: &Writes) {
    loop {
        let batch = {
            let Ok(mut queue) = writes.queue.lock() else {
                return;
            };
            while queue.is_empty() && !writes.closed.load(Ordering::Acquire) {
                queue = match writes.ready.wait(queue) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            if queue.is_empty() {
                return;
            }
            std::mem::take(&mut *queue)
        };
        commit_group(conn, batch);
    }
}

/// Runs `batch` in one transaction and hands back each result after COMMIT.
fn commit_group(conn: &Connection, batch: Vec<Op>) {
    let run = |sql: &str| -> std::result::Result<(), String> {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    // Without a transaction no write runs: dropping them tells each waiting
    // caller so (its result channel closes).
    if run("BEGIN IMMEDIATE").is_err() {
        drop(batch);
        return;
    }
    let delivers: Vec<Deliver> = batch.into_iter().map(|op| op(conn)).collect();
    match run("COMMIT") {
        Ok(()) => delivers.into_iter().for_each(|d| d(None)),
        Err(why) => {
            let _ = run("ROLLBACK");
            delivers.into_iter().for_each(|d| d(Some(&why)));
        }
    }
}

/// Tries a RESTART checkpoint until one finds no reader in the WAL, every
/// millisecond for at most 100: without waiting inside SQLite, where the
/// busy handler would sleep holding the write lock and stall every write.
fn restart_wal(conn: &Connection) {
    if conn.busy_timeout(std::time::Duration::ZERO).is_err() {
        return;
    }
    for _ in 0..100 {
        let busy = conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
            .unwrap_or(1);
        if busy == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
}

/// How large the WAL file may stay once it starts over.
const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// How much of the WAL makes the checkpointer start it over: half the
/// limit, so that with what is written until it succeeds the file stays
/// under the limit and is reused, not cut and grown again.
const WAL_RESTART_BYTES: i64 = WAL_LIMIT_BYTES / 2;

/// Copies the WAL back into the database every 100 ms without blocking the
/// writer (a passive checkpoint), until closed. A passive checkpoint never
/// lets the WAL start over while some reader still reads from it, and
/// under a steady flood of requests one always does: the file would grow
/// by the whole write volume (about 20 KB for each wrong code) until the
/// disk is full. Past [`WAL_RESTART_BYTES`] the checkpoint is a RESTART
/// (see [`restart_wal`]), which succeeds once no reader reads from the WAL
/// (reads are single statements), so the writer's next transaction writes
/// the WAL from its start and cuts the file back to the limit.
fn checkpoint_loop(conn: &Connection, writes: &Writes) {
    // Its own sleep, not the writer's condition variable: a wake-up meant
    // for the writer must never be taken here.
    let pause = std::time::Duration::from_millis(100);
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    let limit_frames = WAL_RESTART_BYTES / (page_size + 24);
    while !writes.closed.load(Ordering::Acquire) {
        std::thread::sleep(pause);
        // (busy, frames in the WAL, frames copied back)
        let frames = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
            .unwrap_or(0);
        if frames > limit_frames {
            restart_wal(conn);
        }
    }
}
