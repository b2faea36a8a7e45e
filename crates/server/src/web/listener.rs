//! Serving connections within bounds (issue 14, finding 3): idle and
//! half-sent connections were kept forever, so 1,124 of them under a
//! common 1,024 open-files limit made new visitors time out while "accept
//! error: Too many open files" filled the log.
//!
//! - A connection must send a request's headers within
//!   `header_read_timeout_seconds` of opening, and one kept alive is
//!   closed after `idle_timeout_seconds` without a request. A reaper checks
//!   every half second; a connection serving a request is never touched
//!   (the request's own time limit bounds it).
//! - At most `max_connections` are open at once, and never more than the
//!   open-files limit leaves room for (minus a reserve for the database,
//!   logs and files). At the bound, a new connection takes the place of the
//!   one idle the longest, so slow or idle clients never starve new ones.
//! - At start the soft open-files limit is raised to the hard limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

/// File descriptors kept free for everything but connections.
const RESERVE: u64 = 128;

/// The bounds connections are served within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// From opening (or the last request) to a complete request head.
    pub header_read_timeout: Duration,
    /// A kept-alive connection without a request.
    pub idle_timeout: Duration,
}

/// Raises the soft open-files limit to the hard one; the limit in force.
pub fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// One open connection, as the reaper and the accept loop see it.
struct Conn {
    /// Milliseconds since the server started, at opening or last response.
    last_active: AtomicU64,
    /// Requests being served right now.
    in_flight: AtomicUsize,
    /// Whether it has served a request (then the idle limit applies).
    served: AtomicBool,
    close: Notify,
}

struct Registry {
    started: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.conns.lock().map_or(0, |c| c.len())
    }

    /// Closes the connection idle the longest; false if all are busy.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(mut conns) = self.conns.lock() else {
            return false;
        };
        let oldest = conns
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.last_active.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| conns.remove(&id)) {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes idle connections past their limit (all idle ones when
    /// `everything`, at shutdown).
    fn reap(&self, limits: &Limits, everything: bool) {
        let now = self.now();
        let Ok(mut conns) = self.conns.lock() else {
            return;
        };
        conns.retain(|_, c| {
            if c.in_flight.load(Ordering::Acquire) > 0 {
                return true;
            }
            let limit = if c.served.load(Ordering::Acquire) {
                limits.idle_timeout
            } else {
                limits.header_read_timeout
            };
            let idle = now.saturating_sub(c.last_active.load(Ordering::Acquire));
            let keep = !everything && u128::from(idle) < limit.as_millis();
            if !keep {
                c.close.notify_one();
            }
            keep
        });
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// resolves; then closes idle connections and waits (up to 10 s) for the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let fd_room = usize::try_from(raise_open_files_limit().saturating_sub(RESERVE).max(16))
        .unwrap_or(usize::MAX);
    let max = limits.max_connections.min(fd_room).max(1);
    if max < limits.max_connections {
        tracing::warn!(
            max_connections = max,
            "the open-files limit allows fewer connections than max_connections; raise it (LimitNOFILE=, ulimit -n)"
        );
    }
    let registry = Arc::new(Registry {
        started: Instant::now(),
        conns: Mutex::new(HashMap::new()),
    });
    let reaper = {
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(500));
            loop {
                every.tick().await;
                registry.reap(&limits, false);
            }
        })
    };
    tokio::pin!(shutdown);
    let mut next_id: u64 = 0;
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors (or another transient error):
                // make room and go on, saying so at most once a second.
                if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
                    tracing::warn!(error = %e, open = registry.len(), "could not accept a connection");
                    last_warning = Some(Instant::now());
                }
                registry.evict_oldest_idle();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if registry.len() >= max && !registry.evict_oldest_idle() {
            // Every connection is serving a request: this one waits its
            // turn elsewhere.
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        next_id = next_id.wrapping_add(1);
        let conn = Arc::new(Conn {
            last_active: AtomicU64::new(registry.now()),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            close: Notify::new(),
        });
        if let Ok(mut conns) = registry.conns.lock() {
            conns.insert(next_id, conn.clone());
        }
        tokio::spawn(serve_one(
            stream,
            peer,
            router.clone(),
            conn,
            registry.clone(),
            next_id,
            limits,
        ));
    }
    drop(listener);
    // Shutting down: idle connections go now, requests in flight finish.
    let deadline = Instant::now() + Duration::from_secs(10);
    while registry.len() > 0 && Instant::now() < deadline {
        registry.reap(&limits, true);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reaper.abort();
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    id: u64,
    limits: Limits,
) {
    let state = conn.clone();
    let clock = registry.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        let state = state.clone();
        let clock = clock.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            state.served.store(true, Ordering::Release);
            state.last_active.store(clock.now(), Ordering::Release);
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = connection => {}
        () = conn.close.notified() => {}
    }
    if let Ok(mut conns) = registry.conns.lock() {
        conns.remove(&id);
    }
}
