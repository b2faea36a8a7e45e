//! Issue 13's findings, replayed as the outside probe ran them: real
//! `nidan serve` processes on loopback, the same URLs, headers and loops.
//! Each failed on the code before the fix: codes checked without a limit
//! when turning 2SV off or confirming a phone, passwords never throttled,
//! the development outbox shown to a visitor behind a proxy, and sign-up
//! telling whether an address has an account.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::{Duration, Instant};

use common::{Node, call, enable_two_apps, node, sign_up};
use serde_json::{Value, json};

/// A policy that reaches the slow-down and the lockout in seconds: waits
/// from the 5th wrong code, at most 1 s; locked at the 12th.
const QUICK_LOCKOUT: [(&str, &str); 3] = [
    ("NIDAN_POLICY__SLOWDOWN_AFTER_FAILURES", "5"),
    ("NIDAN_POLICY__SLOWDOWN_MAX_SECONDS", "1"),
    ("NIDAN_POLICY__LOCKOUT_AFTER_FAILURES", "12"),
];

fn quick_node(dir: &std::path::Path) -> Node {
    node(&["--listen", "127.0.0.1:0"], &QUICK_LOCKOUT, dir)
}

/// Sends `body` to `path` 300 times (the probe's loop), waiting out each
/// slow-down as told. Returns the error codes seen, in order, deduplicated.
async fn three_hundred(
    c: &reqwest::Client,
    n: &Node,
    path: &str,
    token: &str,
    body: Value,
) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for i in 0..300 {
        let (status, answer) = call(c, &n.base, path, Some(token), body.clone()).await;
        let code = answer["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match (status, code.as_str()) {
            (401, "wrong_code") | (423, "code_entry_locked") => {}
            (429, "slow_down") => {
                let wait = answer["error"]["retry_after"].as_u64().unwrap();
                assert!(wait <= 1, "{answer}");
                tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
            }
            other => panic!("wrong code {i} at {path}: {other:?} {answer}"),
        }
        if seen.last() != Some(&code) {
            seen.push(code);
        }
    }
    seen
}

/// Findings 2 and 3: 300 wrong codes on `/api/v1/two-step/off` and on a
/// phone's confirmation reach the slow-down and the lock; afterwards even
/// the right code is refused.
#[tokio::test]
async fn code_endpoints_outside_sign_in_slow_down_and_lock() {
    let dir = tempfile::tempdir().unwrap();
    let n = quick_node(dir.path());
    let c = reqwest::Client::new();

    // Turning 2SV off.
    let token = sign_up(&c, &n, "off@example.com").await;
    enable_two_apps(&c, &n.base, &n.base, &token).await;
    let (status, codes) = call(&c, &n.base, "/backup-codes", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{codes}");
    let seen = three_hundred(&c, &n, "/two-step/off", &token, json!({"code": "000000"})).await;
    assert_eq!(
        seen.first().map(String::as_str),
        Some("wrong_code"),
        "{seen:?}"
    );
    assert!(seen.contains(&"slow_down".to_owned()), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("code_entry_locked"),
        "{seen:?}"
    );
    let backup = codes["backup_codes"][0].as_str().unwrap();
    let (status, body) = call(
        &c,
        &n.base,
        "/two-step/off",
        Some(&token),
        json!({"code": backup}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("code_entry_locked"))
    );
    let (_, security) = {
        let res = c
            .get(format!("{}/api/v1/security", n.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert!(
        security["two_step_on"] == true,
        "2SV must stay on: {security}"
    );

    // Confirming a phone someone else owns.
    let token = sign_up(&c, &n, "phone@example.com").await;
    let (status, phone) = call(
        &c,
        &n.base,
        "/wizard/phones",
        Some(&token),
        json!({"role": "primary", "phone": "090-1234-5678", "channel": "sms"}),
    )
    .await;
    assert_eq!(status, 200, "{phone}");
    let id = phone["method_id"].as_str().unwrap();
    let sent: String = n
        .outbox("+819012345678")
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    let path = format!("/wizard/phones/{id}/confirm");
    let seen = three_hundred(&c, &n, &path, &token, json!({"code": wrong})).await;
    assert!(seen.contains(&"slow_down".to_owned()), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("code_entry_locked"),
        "{seen:?}"
    );
    let (status, body) = call(&c, &n.base, &path, Some(&token), json!({"code": sent})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("code_entry_locked"))
    );
}

/// A node behind a proxy on loopback: `X-Forwarded-For` names the visitor.
fn proxied_node(dir: &std::path::Path, extra: &str) -> Node {
    let config = dir.join("nidan.toml");
    std::fs::write(
        &config,
        format!("trusted_proxies = [\"127.0.0.1\"]\n{extra}\n"),
    )
    .unwrap();
    node(
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("NIDAN_POLICY__PASSWORD_SLOWDOWN_MAX_SECONDS", "2")],
        &dir.join("data"),
    )
}

async fn sign_in_from(
    c: &reqwest::Client,
    n: &Node,
    ip: &str,
    password: &str,
) -> (u16, Value, Option<String>) {
    let res = c
        .post(format!("{}/api/v1/signin", n.base))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": "owner@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), retry_after)
}

/// Finding 4: 100 wrong passwords were all checked (401) and the right
/// one still worked. Now they are throttled with a plain wait, and the
/// owner signs in from another IP at once and from the same IP after it.
#[tokio::test]
async fn one_hundred_wrong_passwords_are_throttled_without_locking_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let n = proxied_node(dir.path(), "");
    let c = reqwest::Client::new();
    sign_up(&c, &n, "owner@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let (status, body, retry_after) = sign_in_from(&c, &n, "203.0.113.9", "guess123456").await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "password_slow_down", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Try again in"),
                "{body}"
            );
            assert!(retry_after.is_some(), "429 without Retry-After");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [401; 5]);
    let throttled = statuses.iter().filter(|&&s| s == 429).count();
    assert!(
        throttled >= 90,
        "only {throttled} of 100 guesses were throttled: {statuses:?}"
    );
    // The owner, from home: no wait at all.
    let (status, body, _) = sign_in_from(&c, &n, "198.51.100.7", "correct horse").await;
    assert_eq!(status, 200, "{body}");
    // From the guesser's IP: after the wait. (One more guess once the
    // current wait is over starts a fresh one, so the right password
    // arrives inside it however long the loop above took.)
    let fresh_wait = Instant::now();
    loop {
        let (status, _, _) = sign_in_from(&c, &n, "203.0.113.9", "guess123456").await;
        if status == 401 {
            break;
        }
        assert!(fresh_wait.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _, retry_after) = sign_in_from(&c, &n, "203.0.113.9", "correct horse").await;
    assert_eq!(status, 429);
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!(wait <= 2);
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    let (status, body, _) = sign_in_from(&c, &n, "203.0.113.9", "correct horse").await;
    assert_eq!(status, 200, "{body}");
}

/// Finding 5: with the outbox page on and nidan behind a proxy on
/// loopback, a remote visitor saw every code.
#[tokio::test]
async fn the_outbox_page_is_for_this_machine_only() {
    let dir = tempfile::tempdir().unwrap();
    let n = proxied_node(dir.path(), "[delivery]\noutbox_page = true");
    let c = reqwest::Client::new();
    let local = c
        .get(format!("{}/dev/outbox", n.base))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status().as_u16(), 200);
    for forwarded in ["203.0.113.9", "10.0.0.5", "127.0.0.1, 203.0.113.9"] {
        let remote = c
            .get(format!("{}/dev/outbox", n.base))
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .unwrap();
        assert_eq!(remote.status().as_u16(), 404, "{forwarded}");
    }
    // Without trusted_proxies, a request a local proxy forwarded comes
    // from loopback: the forwarding headers still give it away.
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    assert_eq!(
        c.get(format!("{}/dev/outbox", n.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "on by default while email stays in the outbox"
    );
    for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        let res = c
            .get(format!("{}/dev/outbox", n.base))
            .header(header, "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404, "{header}");
    }
    // Published under a public URL, the page does not exist at all.
    let dir = tempfile::tempdir().unwrap();
    let n = proxied_node(
        dir.path(),
        "public_url = \"https://auth.example.com\"\n[delivery]\noutbox_page = true",
    );
    let res = c
        .get(format!("{}/dev/outbox", n.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

/// Finding 9: sign-up answered 409 `email_taken` for an address with an
/// account. Now a taken and a new address get the same answer.
#[tokio::test]
async fn sign_up_answers_the_same_for_taken_and_new_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::new();
    sign_up(&c, &n, "taken@example.com").await;
    let mut answers = Vec::new();
    for email in ["taken@example.com", "TAKEN@example.com", "new@example.com"] {
        let res = c
            .post(format!("{}/api/v1/signup", n.base))
            .json(&json!({"email": email, "password": "some password"}))
            .send()
            .await
            .unwrap();
        answers.push((res.status().as_u16(), res.text().await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[2]), "{answers:?}");
    assert_eq!(answers[2].0, 202);
    // The owner hears of it; the account and its password are unchanged.
    assert!(n.outbox("taken@example.com").contains("already has one"));
    let (status, _) = call(
        &c,
        &n.base,
        "/signin",
        None,
        json!({"email": "taken@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, 200);
}
