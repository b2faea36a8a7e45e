//! The database goes away under load (issue 14, finding 2): a PostgreSQL
//! cluster of the test's own (initdb in a temporary directory, its own
//! port; the shared server is never touched) behind a real `nidan serve`.
//! While it is stopped every request is answered within the bound — 503,
//! `Retry-After`, `database_unavailable` — and `/readyz` within a second;
//! once it is back, service resumes within 5 seconds with nothing that was
//! acknowledged lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{call, enable_two_apps, node, sign_up};
use serde_json::{Value, json};

/// PostgreSQL's programs (Debian keeps them out of PATH).
fn pg_bin(program: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(program))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{program} not found under /usr/lib/postgresql/*/bin"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL program, as the `postgres` user when the test runs
/// as root (the server refuses to run as root).
fn pg(program: &str, args: &[&str]) {
    let bin = pg_bin(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd.args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
}

/// A cluster of the test's own, stopped (immediately) when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(root: &Path) -> Self {
        let dir = root.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.to_str().unwrap();
        pg(
            "initdb",
            &["-D", d, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let cluster = Self { dir, port };
        cluster.up();
        cluster
    }

    fn up(&self) {
        let d = self.dir.to_str().unwrap();
        let options = format!(
            "-p {} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = self.dir.join("log");
        pg(
            "pg_ctl",
            &[
                "-D",
                d,
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        pg(
            "pg_ctl",
            &["-D", self.dir.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let bin = pg_bin("pg_ctl");
        let d = self.dir.to_str().unwrap_or_default().to_owned();
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin)
                .args(["-D", &d, "-m", "immediate", "stop"])
                .output()
        } else {
            Command::new(bin)
                .args(["-D", &d, "-m", "immediate", "stop"])
                .output()
        };
    }
}

#[tokio::test]
async fn a_database_outage_is_answered_fast_and_service_resumes_by_itself() {
    let root = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(root.path());
    let url = cluster.url();
    let data = root.path().join("data");
    let n = node(
        &["--listen", "127.0.0.1:0"],
        &[
            ("NIDAN_DATABASE_URL", &url),
            ("NIDAN_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "2"),
        ],
        &data,
    );
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let token = sign_up(&c, &n, "ops@example.com").await;
    enable_two_apps(&c, &n.base, &n.base, &token).await;
    // Acknowledged just before the outage: new backup codes.
    let (status, codes) = call(&c, &n.base, "/backup-codes", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{codes}");
    let kept = codes["backup_codes"][3].as_str().unwrap().to_owned();

    cluster.down();
    // Requests of every kind, four at a time, for about five seconds.
    let bound = Duration::from_secs(2 + 1);
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(5) {
        let mut batch = Vec::new();
        for i in 0..4 {
            let c = c.clone();
            let base = n.base.clone();
            let token = token.clone();
            batch.push(tokio::spawn(async move {
                let sent = Instant::now();
                let res = match i {
                    0 => {
                        c.get(format!("{base}/api/v1/me"))
                            .bearer_auth(&token)
                            .send()
                            .await
                    }
                    1 => {
                        c.post(format!("{base}/api/v1/signin"))
                            .json(&json!({"email": "ops@example.com", "password": "correct horse"}))
                            .send()
                            .await
                    }
                    2 => {
                        c.get(format!("{base}/security"))
                            .header("cookie", format!("nidan_session={token}"))
                            .send()
                            .await
                    }
                    _ => c.get(format!("{base}/signin")).send().await,
                }
                .unwrap();
                (
                    i,
                    sent.elapsed(),
                    res.status().as_u16(),
                    res.headers().get("retry-after").cloned(),
                    res.text().await.unwrap_or_default(),
                )
            }));
        }
        for done in batch {
            let (i, took, status, retry_after, body) = done.await.unwrap();
            answered += 1;
            assert!(took <= bound, "request {i} took {took:?} during the outage");
            if i == 3 {
                // The sign-in page needs no database.
                assert_eq!(status, 200);
                continue;
            }
            assert_eq!(status, 503, "request {i}: {body}");
            assert!(
                retry_after.is_some(),
                "request {i}: 503 without Retry-After"
            );
            if i < 2 {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["error"]["code"], "database_unavailable", "{v}");
            } else {
                assert!(body.contains("reach its database right now"), "{body}");
            }
        }
        let sent = Instant::now();
        let ready = c.get(format!("{}/readyz", n.base)).send().await.unwrap();
        assert!(
            sent.elapsed() <= Duration::from_secs(1),
            "/readyz took {:?}",
            sent.elapsed()
        );
        assert_eq!(ready.status().as_u16(), 503);
    }
    assert!(answered >= 8);

    cluster.up();
    let back = Instant::now();
    loop {
        let res = c
            .get(format!("{}/api/v1/me", n.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if res.status().as_u16() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back 5 s after the database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.get(format!("{}/readyz", n.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // What was acknowledged before the outage is there: a code from the
    // set made just before it signs in.
    let (_, attempt) = call(
        &c,
        &n.base,
        "/signin",
        None,
        json!({"email": "ops@example.com", "password": "correct horse"}),
    )
    .await;
    let (status, body) = call(
        &c,
        &n.base,
        "/signin/code",
        None,
        json!({"challenge": attempt["challenge"], "code": kept}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
