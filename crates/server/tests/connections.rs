//! Bounded connections (issue 14, finding 3): 2,000 idle and half-sent
//! connections while people sign in, once with a soft open-files limit of
//! 1,024 (and a higher hard limit, which nidan raises the soft one to) and
//! once with a hard limit of 1,024. Every sign-in succeeds within the
//! header-read timeout plus a second; the idle connections are closed by
//! the timeouts and the server's open files return to their resting level.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::{Duration, Instant};

use common::{Node, node_under, sign_up};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const HEADER_TIMEOUT: u64 = 3;

fn open_files(n: &Node) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", n.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn flood_while_signing_in(limit_script: &str) {
    rlimit::increase_nofile_limit(8192).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let timeout = HEADER_TIMEOUT.to_string();
    let n = node_under(
        Some(limit_script),
        &["--listen", "127.0.0.1:0"],
        &[
            ("NIDAN_HEADER_READ_TIMEOUT_SECONDS", &timeout),
            ("NIDAN_IDLE_TIMEOUT_SECONDS", &timeout),
        ],
        dir.path(),
    );
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    sign_up(&c, &n, "busy@example.com").await;
    tokio::time::sleep(Duration::from_millis(HEADER_TIMEOUT * 1000 + 1000)).await;
    let resting = open_files(&n);
    let address = n.base.trim_start_matches("http://").to_owned();

    // 1,000 connections that send nothing, 1,000 that stop mid-header.
    let mut flood = Vec::new();
    for i in 0..2000 {
        let connect = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&address),
        )
        .await;
        if let Ok(Ok(mut stream)) = connect {
            if i % 2 == 1 {
                let _ = stream
                    .write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                    .await;
            }
            flood.push(stream);
        }
    }
    assert!(
        flood.len() > 1000,
        "only {} connections opened",
        flood.len()
    );

    // People sign in meanwhile, each on a new connection.
    let bound = Duration::from_secs(HEADER_TIMEOUT + 1);
    for i in 0..10 {
        let started = Instant::now();
        let res = tokio::time::timeout(
            bound,
            c.post(format!("{}/api/v1/signin", n.base))
                .json(&json!({"email": "busy@example.com", "password": "correct horse"}))
                .send(),
        )
        .await;
        let took = started.elapsed();
        let res = res
            .unwrap_or_else(|_| panic!("sign-in {i} not answered within {bound:?}"))
            .unwrap_or_else(|e| panic!("sign-in {i} failed after {took:?}: {e}"));
        assert_eq!(res.status().as_u16(), 200, "sign-in {i}");
        // Keep opening idle connections between sign-ins.
        for _ in 0..50 {
            if let Ok(Ok(s)) = tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(&address),
            )
            .await
            {
                flood.push(s);
            }
        }
    }

    // The timeouts close the idle ones; the server's files come back.
    let deadline = Instant::now() + Duration::from_secs(HEADER_TIMEOUT + 5);
    loop {
        let open = open_files(&n);
        if open <= resting + 8 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} files still open, {resting} at rest"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(flood);
}

#[tokio::test]
async fn a_soft_limit_of_1024_is_raised_and_idle_connections_never_starve_sign_ins() {
    flood_while_signing_in(r#"ulimit -S -n 1024 && exec "$0" "$@""#).await;
}

#[tokio::test]
async fn under_a_hard_limit_of_1024_idle_connections_give_way_to_sign_ins() {
    flood_while_signing_in(r#"ulimit -S -n 1024 && ulimit -H -n 1024 && exec "$0" "$@""#).await;
}
