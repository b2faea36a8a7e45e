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
//!    **`right`**: right codes only — every prepared attempt is finished
//!    at once with a right code (an app's unused step), and the run ends
//!    when every attempt is spent (each needs the password step in setup,
//!    so the run is as long as the attempts prepared allow).
//!    **`healthz`**: `GET /healthz`, the HTTP floor the others are
//!    compared with.
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

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod accounts;
mod conn;
mod measure;

use accounts::{Account, challenge, create_account};
use conn::Conn;
use measure::{Pacer, Tally};

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
    /// Requests per second of `GET /healthz` on this machine (the HTTP
    /// floor): the figures are then also printed as a share of it.
    #[arg(long)]
    floor: Option<f64>,
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
    /// Right codes only, until the prepared attempts are spent.
    Right,
    /// `GET /healthz`: the HTTP floor.
    Healthz,
}

const PASSWORD: &str = "bench password 123";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    let per = if args.scenario == Scenario::Healthz {
        0
    } else {
        args.accounts.div_ceil(8)
    };
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
    if matches!(args.scenario, Scenario::Code | Scenario::Right) {
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
        if matches!(args.scenario, Scenario::Code | Scenario::Right) {
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
                Scenario::Code | Scenario::Right => {
                    let wrong = if scenario == Scenario::Right {
                        0
                    } else {
                        wrong
                    };
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
                Scenario::Healthz => {
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let status = conn.get("/healthz", &[]).await?;
                        first.record(t, status);
                    }
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
        Scenario::Code | Scenario::Right => ("wrong code", "right code"),
        Scenario::Healthz => ("GET /healthz", "-"),
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
    if let Some(floor) = args.floor.filter(|f| *f > 0.0) {
        let share = |t: &Tally| 100.0 * t.count() as f64 / seconds.max(f64::MIN_POSITIVE) / floor;
        println!(
            "as a share of the /healthz floor ({floor:.0} req/s): {a} {:.1} %, {b} {:.1} %",
            share(&first),
            share(&second)
        );
    }
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
                // No step free now: with wrong codes to send, keep the
                // attempt for a later step; right codes only, it is spent.
                None if wrong > 0 => account.challenges.insert(0, (token, tries)),
                None => {}
            }
        }
        if !any {
            if wrong > 0 {
                eprintln!("a connection used all its prepared attempts before the deadline");
            }
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
