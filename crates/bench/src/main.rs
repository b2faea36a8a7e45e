//! `nidan-bench`: a load generator for nidan's sign-in hot path.
//!
//! 1. **Setup**, through the JSON API like any client: N accounts, each with
//!    two authenticator apps (codes computed here from the keys the API
//!    returns) and two-step verification on; then sign-in attempts (the
//!    password step, Argon2id on the server) waiting for a code.
//! 2. **`code`**: the code step alone, over many accounts. Each connection
//!    owns a share of the accounts (so one account's consecutive-failure
//!    count is never interleaved by two connections) and spends each
//!    attempt on `--wrong` wrong codes and then one right code when the
//!    account has an unused time step left (each TOTP step is accepted once
//!    per app: single use is what limits right codes), else one more wrong
//!    code. Wrong and right latencies are reported apart.
//! 3. **`signin`**: the whole sign-in — password step, then the code step
//!    with a right code — reported as the split of the two.
//! 4. **`authz`**: forward authentication, the question a reverse proxy asks
//!    on every request of a protected app (`/api/v1/authz/auth-request`):
//!    each account signs in once with a code, then its session cookie is
//!    checked over and over; one request in ten has no cookie (refused).
//!    The server needs a `[[forward_auth.rules]]` for `localhost` (a loopback
//!    public URL keeps /dev/outbox, which account setup reads, available).
//!
//! HTTP/1.1 keep-alive connections on hyper's low-level client, on one
//! thread, so the generator takes as little of the machine as it can.
//! Loopback only; every loop is bounded by `--duration`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use nidan_otp::{Secret, Step, Totp};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Load generator for nidan (loopback only).
#[derive(Debug, Parser)]
#[command(name = "nidan-bench", about)]
struct Args {
    /// A nidan node, e.g. http://127.0.0.1:18181; repeat for several nodes
    /// (connections are spread over them).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Code)]
    scenario: Scenario,
    /// Accounts to create.
    #[arg(long, default_value_t = 400)]
    accounts: usize,
    /// Sign-in attempts prepared per account (code scenario).
    #[arg(long, default_value_t = 5)]
    attempts_per_account: usize,
    /// Wrong codes per attempt before the right one (must stay below the
    /// server's policy.max_code_attempts).
    #[arg(long, default_value_t = 63)]
    wrong: usize,
    /// The server's policy.max_code_attempts.
    #[arg(long, default_value_t = 64)]
    tries: usize,
    /// The server's policy.lockout_after_failures: no account is driven to it.
    #[arg(long, default_value_t = 100)]
    lockout: usize,
    /// Concurrent connections during the measured run.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of measured run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Requests per second for the whole run, spread evenly over the
    /// connections (code scenario); latency is then measured from when each
    /// request was due, as wrk2 does, so falling behind shows in the tail.
    /// Without it every connection sends as fast as answers come back.
    #[arg(long)]
    rate: Option<f64>,
    /// Label printed with the results (e.g. "sqlite, 1 node").
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// The code step alone (wrong and right codes).
    Code,
    /// Password step then code step.
    Signin,
    /// The reverse proxy's question (forward authentication).
    Authz,
}

const PASSWORD: &str = "bench password 123";

/// One keep-alive connection.
struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(target: &str) -> anyhow::Result<Self> {
        let host = target
            .strip_prefix("http://")
            .context("targets are http://127.0.0.1:PORT")?
            .trim_end_matches('/')
            .to_owned();
        if !host.starts_with("127.0.0.1:") && !host.starts_with("localhost:") {
            bail!("loopback targets only, not {host}");
        }
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        Ok(Self { send, host })
    }

    /// POSTs JSON; the status and the body.
    async fn post(
        &mut self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.send.ready().await?;
        let mut req = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = self
            .send
            .send_request(req.body(Full::new(Bytes::from(body.to_string())))?)
            .await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// GETs `path` with extra headers; the status.
    async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<u16> {
        Ok(self.get_text(path, headers).await?.0)
    }

    /// GETs `path` with extra headers; the status and the body.
    async fn get_text(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Bytes)> {
        self.send.ready().await?;
        let mut req = hyper::Request::get(path).header(hyper::header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .send
            .send_request(req.body(Full::new(Bytes::new()))?)
            .await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    async fn post_json(
        &mut self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<Value> {
        let (status, bytes) = self.post(path, body, token).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != 200 {
            bail!("{path}: {status} {value}");
        }
        Ok(value)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One authenticator app of an account, and the last step used on it.
struct App {
    secret: Secret,
    last_step: u64,
}

/// A benchmark account.
struct Account {
    email: String,
    apps: Vec<App>,
    /// Prepared sign-in attempts and the tries each has left.
    challenges: Vec<(String, usize)>,
    /// Wrong codes in a row (the server locks code entry at `--lockout`).
    failures: usize,
    /// A session that passed both steps (authz scenario).
    session: Option<String>,
    /// A small generator for wrong codes.
    seed: u64,
}

impl Account {
    /// A right code for a step not used yet (single use: each step once
    /// per app, never older than the last), if the window has one.
    fn right_code(&mut self) -> Option<String> {
        let current = now() / 30;
        for app in &mut self.apps {
            let step = (current.saturating_sub(1)..=current + 1).find(|s| *s > app.last_step);
            if let Some(step) = step {
                app.last_step = step;
                return Some(Totp::default().generate_at(&app.secret, Step(step)));
            }
        }
        None
    }

    /// A code that no app accepts now.
    fn wrong_code(&mut self) -> String {
        let current = now() / 30;
        let valid: Vec<String> = self
            .apps
            .iter()
            .flat_map(|a| {
                (current.saturating_sub(1)..=current + 1)
                    .map(|s| Totp::default().generate_at(&a.secret, Step(s)))
            })
            .collect();
        loop {
            self.seed = self
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let code = format!("{:06}", (self.seed >> 33) % 1_000_000);
            if !valid.contains(&code) {
                return code;
            }
        }
    }
}

/// Creates one account with two apps and 2SV on.
async fn create_account(conn: &mut Conn, run: u64, i: usize) -> anyhow::Result<Account> {
    let email = format!("bench-{run}-{i}@example.com");
    let (status, body) = conn
        .post(
            "/api/v1/signup",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    if status != 202 {
        bail!(
            "/api/v1/signup: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // The account exists once the emailed link is followed: read it from
    // the development outbox (run.sh turns /dev/outbox on).
    let (status, page) = conn
        .get_text(&format!("/dev/outbox?to={email}"), &[])
        .await?;
    let page = String::from_utf8_lossy(&page);
    let token: String = page
        .split("/signup/confirm/")
        .nth(1)
        .with_context(|| format!("no sign-up link for {email} in /dev/outbox ({status})"))?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let signed = conn
        .post_json("/api/v1/signup/confirm", &json!({"token": token}), None)
        .await?;
    let token = signed
        .get("token")
        .and_then(Value::as_str)
        .context("token")?
        .to_owned();
    let mut apps = Vec::new();
    for (role, name) in [("primary", "Phone"), ("backup", "kagi")] {
        let app = conn
            .post_json(
                "/api/v1/wizard/apps",
                &json!({"role": role, "name": name}),
                Some(&token),
            )
            .await?;
        let secret = Secret::from_base32(
            app.get("secret")
                .and_then(Value::as_str)
                .context("secret")?,
        )?;
        let id = app
            .get("method_id")
            .and_then(Value::as_str)
            .context("method_id")?;
        let step = now() / 30;
        let code = Totp::default().generate_at(&secret, Step(step));
        conn.post_json(
            &format!("/api/v1/wizard/apps/{id}/confirm"),
            &json!({"code": code}),
            Some(&token),
        )
        .await?;
        apps.push(App {
            secret,
            last_step: step,
        });
    }
    conn.post_json("/api/v1/wizard/enable", &json!({}), Some(&token))
        .await?;
    Ok(Account {
        email,
        apps,
        challenges: Vec::new(),
        failures: 0,
        session: None,
        seed: run ^ (i as u64).wrapping_mul(0x9E37_79B9),
    })
}

/// The password step; the challenge token.
async fn challenge(conn: &mut Conn, email: &str) -> anyhow::Result<String> {
    let step = conn
        .post_json(
            "/api/v1/signin",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    Ok(step
        .get("challenge")
        .and_then(Value::as_str)
        .context("challenge")?
        .to_owned())
}

/// When each request of one connection is due, at a fixed rate.
struct Pacer {
    interval: Option<Duration>,
    next: Instant,
}

impl Pacer {
    /// The pacer of connection `index` of `connections`: starts are
    /// staggered so the connections do not send in bursts.
    fn new(rate: Option<f64>, connections: usize, index: usize) -> Self {
        let interval = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(connections as f64 / r));
        let offset = interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / connections.max(1) as f64)
        });
        Self {
            interval,
            next: Instant::now() + offset,
        }
    }

    /// Waits until the next request is due; the time it was due (or now).
    async fn due(&mut self) -> Instant {
        match self.interval {
            Some(interval) => {
                let due = self.next;
                self.next += interval;
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        }
    }
}

/// Latencies of one kind of request, and the statuses seen.
#[derive(Default)]
struct Tally {
    hist: Option<Histogram<u64>>,
    statuses: BTreeMap<u16, u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, status: u16) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if self.hist.is_none() {
            self.hist = Histogram::new_with_bounds(1, 60_000_000, 3).ok();
        }
        if let Some(h) = self.hist.as_mut() {
            let _ = h.record(micros.max(1));
        }
        *self.statuses.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: &Tally) {
        if let Some(h) = &other.hist {
            match self.hist.as_mut() {
                Some(mine) => {
                    let _ = mine.add(h);
                }
                None => self.hist = Some(h.clone()),
            }
        }
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
    }

    fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len)
    }

    fn line(&self, name: &str, seconds: f64) -> String {
        let Some(h) = &self.hist else {
            return format!("{name:<14} no requests");
        };
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "{name:<14} {:>8} req {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   p99.9 {:>7.2} ms   max {:>7.2} ms   statuses {:?}",
            h.len(),
            h.len() as f64 / seconds,
            ms(0.5),
            ms(0.99),
            ms(0.999),
            h.max() as f64 / 1000.0,
            self.statuses
        )
    }

    fn json(&self, seconds: f64) -> Value {
        match &self.hist {
            Some(h) => json!({
                "requests": h.len(),
                "per_second": (h.len() as f64 / seconds).round(),
                "p50_ms": h.value_at_quantile(0.5) as f64 / 1000.0,
                "p99_ms": h.value_at_quantile(0.99) as f64 / 1000.0,
                "p999_ms": h.value_at_quantile(0.999) as f64 / 1000.0,
                "statuses": self.statuses,
            }),
            None => Value::Null,
        }
    }
}

/// Runs `work` on `n` connections spread over the targets, concurrently.
async fn on_connections<F, Fut, T>(targets: &[String], n: usize, work: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize, Conn) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + 'static,
    T: 'static,
{
    let mut tasks = Vec::new();
    for i in 0..n {
        let target = targets.get(i % targets.len()).context("a target")?;
        let conn = Conn::open(target).await?;
        tasks.push(tokio::task::spawn_local(work(i, conn)));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let run_id = now();
    let setup_started = Instant::now();
    // Setup: 8 connections (the server hashes passwords on its blocking pool).
    let per = args.accounts.div_ceil(8);
    let created = on_connections(&args.targets, 8, |c, mut conn| {
        let accounts = args.accounts;
        async move {
            let mut mine = Vec::new();
            for i in (c * per)..((c + 1) * per).min(accounts) {
                mine.push(create_account(&mut conn, run_id, i).await?);
            }
            Ok(mine)
        }
    })
    .await?;
    let mut accounts: Vec<Account> = created.into_iter().flatten().collect();
    if args.scenario == Scenario::Code {
        let shared = Arc::new(Mutex::new(std::mem::take(&mut accounts)));
        let attempts = args.attempts_per_account;
        let tries = args.tries;
        on_connections(&args.targets, 8, |c, mut conn| {
            let shared = shared.clone();
            async move {
                let mut i = c;
                loop {
                    let email = {
                        let all = shared.lock().await;
                        match all.get(i) {
                            Some(a) => a.email.clone(),
                            None => break,
                        }
                    };
                    let mut tokens = Vec::new();
                    for _ in 0..attempts {
                        tokens.push((challenge(&mut conn, &email).await?, tries));
                    }
                    if let Some(a) = shared.lock().await.get_mut(i) {
                        a.challenges = tokens;
                    }
                    i += 8;
                }
                Ok(())
            }
        })
        .await?;
        accounts = std::mem::take(&mut *shared.lock().await);
    }
    if args.scenario == Scenario::Authz {
        let shared = Arc::new(Mutex::new(std::mem::take(&mut accounts)));
        on_connections(&args.targets, 8, |c, mut conn| {
            let shared = shared.clone();
            async move {
                let mut i = c;
                loop {
                    let (email, code) = {
                        let mut all = shared.lock().await;
                        match all.get_mut(i) {
                            Some(a) => (a.email.clone(), a.right_code()),
                            None => break,
                        }
                    };
                    let code = code.context("no unused step for the setup sign-in")?;
                    let token = challenge(&mut conn, &email).await?;
                    let signed = conn
                        .post_json(
                            "/api/v1/signin/code",
                            &json!({"challenge": token, "code": code}),
                            None,
                        )
                        .await?;
                    let session = signed
                        .get("token")
                        .and_then(Value::as_str)
                        .context("session token")?
                        .to_owned();
                    if let Some(a) = shared.lock().await.get_mut(i) {
                        a.session = Some(session);
                    }
                    i += 8;
                }
                Ok(())
            }
        })
        .await?;
        accounts = std::mem::take(&mut *shared.lock().await);
    }
    eprintln!(
        "setup: {} accounts{} in {:.1} s",
        accounts.len(),
        if args.scenario == Scenario::Code {
            format!(
                ", {} sign-in attempts",
                accounts.len() * args.attempts_per_account
            )
        } else {
            String::new()
        },
        setup_started.elapsed().as_secs_f64()
    );

    // Each connection owns every C-th account.
    let mut shares: Vec<Vec<Account>> = (0..args.connections).map(|_| Vec::new()).collect();
    for (i, a) in accounts.into_iter().enumerate() {
        if let Some(s) = shares.get_mut(i % args.connections) {
            s.push(a);
        }
    }
    let shares: Vec<Arc<Mutex<Vec<Account>>>> = shares
        .into_iter()
        .map(|s| Arc::new(Mutex::new(s)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let started = Instant::now();
    let wrong = args.wrong;
    let lockout = args.lockout;
    let (rate, connections) = (args.rate, args.connections);
    let scenario = args.scenario;
    let results = on_connections(&args.targets, args.connections, |c, mut conn| {
        let share = shares.get(c).cloned().unwrap_or_default();
        async move {
            let mut mine = std::mem::take(&mut *share.lock().await);
            let mut first = Tally::default();
            let mut second = Tally::default();
            match scenario {
                Scenario::Code => {
                    code_loop(
                        &mut conn,
                        &mut mine,
                        (wrong, lockout),
                        &mut Pacer::new(rate, connections, c),
                        deadline,
                        &mut first,
                        &mut second,
                    )
                    .await?
                }
                Scenario::Signin => {
                    signin_loop(&mut conn, &mut mine, deadline, &mut first, &mut second).await?
                }
                Scenario::Authz => {
                    authz_loop(&mut conn, &mine, deadline, &mut first, &mut second).await?
                }
            }
            Ok((first, second))
        }
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let (mut first, mut second) = (Tally::default(), Tally::default());
    for (f, s) in &results {
        first.merge(f);
        second.merge(s);
    }
    let mut all = Tally::default();
    all.merge(&first);
    all.merge(&second);
    let (a, b) = match scenario {
        Scenario::Code => ("wrong code", "right code"),
        Scenario::Signin => ("password step", "code step"),
        Scenario::Authz => ("signed in (200)", "no session (401)"),
    };
    println!(
        "== {} · scenario {:?} · {} connections{} · {} node(s) · {:.1} s",
        args.label,
        scenario,
        args.connections,
        args.rate
            .map_or(String::new(), |r| format!(" · paced at {r} req/s")),
        args.targets.len(),
        seconds
    );
    println!("{}", all.line("all", seconds));
    println!("{}", first.line(a, seconds));
    println!("{}", second.line(b, seconds));
    if scenario == Scenario::Signin {
        let mean = |t: &Tally| t.hist.as_ref().map_or(0.0, |h| h.mean() / 1000.0);
        let (p, c) = (mean(&first), mean(&second));
        println!(
            "split of a sign-in (mean): password step {p:.2} ms ({:.0}%), code step {c:.2} ms ({:.0}%)",
            100.0 * p / (p + c).max(f64::MIN_POSITIVE),
            100.0 * c / (p + c).max(f64::MIN_POSITIVE)
        );
    }
    println!(
        "{}",
        json!({
            "label": args.label, "scenario": format!("{scenario:?}"), "connections": args.connections,
            "nodes": args.targets.len(), "seconds": seconds,
            "all": all.json(seconds), a: first.json(seconds), b: second.json(seconds),
        })
    );
    if all.count() == 0 {
        bail!("no requests were made");
    }
    Ok(())
}

/// The code step alone: per attempt, up to `wrong` wrong codes, then a
/// right one when the account has an unused step; otherwise the attempt is
/// set aside with its tries left for a later step. No account is driven to
/// the lockout (`limits.1`): a right code starts its count again.
async fn code_loop(
    conn: &mut Conn,
    accounts: &mut [Account],
    limits: (usize, usize),
    pacer: &mut Pacer,
    deadline: Instant,
    wrong_tally: &mut Tally,
    right_tally: &mut Tally,
) -> anyhow::Result<()> {
    let (wrong, lockout) = limits;
    loop {
        let mut any = false;
        let mut sent = false;
        for account in accounts.iter_mut() {
            let Some((token, mut tries)) = account.challenges.pop() else {
                continue;
            };
            any = true;
            let n = wrong
                .min(tries.saturating_sub(1))
                .min(lockout.saturating_sub(1 + account.failures));
            for _ in 0..n {
                if Instant::now() >= deadline {
                    return Ok(());
                }
                let code = account.wrong_code();
                let t = pacer.due().await;
                let (status, _) = conn
                    .post(
                        "/api/v1/signin/code",
                        &json!({"challenge": token, "code": code}),
                        None,
                    )
                    .await?;
                wrong_tally.record(t, status);
                account.failures += 1;
                tries -= 1;
                sent = true;
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
            match account.right_code() {
                Some(code) => {
                    let t = pacer.due().await;
                    let (status, _) = conn
                        .post(
                            "/api/v1/signin/code",
                            &json!({"challenge": token, "code": code}),
                            None,
                        )
                        .await?;
                    right_tally.record(t, status);
                    account.failures = 0;
                    sent = true;
                }
                // No step free now: keep the attempt for later.
                None => account.challenges.insert(0, (token, tries)),
            }
        }
        if !any {
            eprintln!("a connection used all its prepared attempts before the deadline");
            return Ok(());
        }
        if !sent {
            // Every owned account waits for the next TOTP step.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whole sign-ins: the password step, then the code step with a right code.
async fn signin_loop(
    conn: &mut Conn,
    accounts: &mut [Account],
    deadline: Instant,
    password_tally: &mut Tally,
    code_tally: &mut Tally,
) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        let mut signed_any = false;
        for account in accounts.iter_mut() {
            if Instant::now() >= deadline {
                return Ok(());
            }
            let Some(code) = account.right_code() else {
                continue;
            };
            signed_any = true;
            let t = Instant::now();
            let (status, body) = conn
                .post(
                    "/api/v1/signin",
                    &json!({"email": account.email, "password": PASSWORD}),
                    None,
                )
                .await?;
            password_tally.record(t, status);
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let Some(token) = value.get("challenge").and_then(Value::as_str) else {
                continue;
            };
            let t = Instant::now();
            let (status, _) = conn
                .post(
                    "/api/v1/signin/code",
                    &json!({"challenge": token, "code": code}),
                    None,
                )
                .await?;
            code_tally.record(t, status);
        }
        if !signed_any {
            // Every account used its steps in this window: wait for the next.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// The reverse proxy's question, over and over: each account's session
/// cookie for a protected URL, and every tenth request no cookie at all.
async fn authz_loop(
    conn: &mut Conn,
    accounts: &[Account],
    deadline: Instant,
    allowed_tally: &mut Tally,
    refused_tally: &mut Tally,
) -> anyhow::Result<()> {
    const URL: &str = "http://localhost/reports?week=47";
    let cookies: Vec<String> = accounts
        .iter()
        .filter_map(|a| a.session.as_ref().map(|s| format!("nidan_session={s}")))
        .collect();
    if cookies.is_empty() {
        bail!("no signed-in sessions to ask about");
    }
    let mut n = 0usize;
    while Instant::now() < deadline {
        for cookie in &cookies {
            if Instant::now() >= deadline {
                return Ok(());
            }
            n += 1;
            let t = Instant::now();
            if n.is_multiple_of(10) {
                let status = conn
                    .get("/api/v1/authz/auth-request", &[("x-original-url", URL)])
                    .await?;
                refused_tally.record(t, status);
            } else {
                let status = conn
                    .get(
                        "/api/v1/authz/auth-request",
                        &[("x-original-url", URL), ("cookie", cookie)],
                    )
                    .await?;
                allowed_tally.record(t, status);
            }
        }
    }
    Ok(())
}
