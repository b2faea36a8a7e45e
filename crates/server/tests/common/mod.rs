//! Helpers for the tests that run real `nidan serve` processes: start one,
//! call its JSON API, turn 2SV on with two authenticator apps.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use nidan_otp::{Secret, Totp};
use serde_json::{Value, json};

/// A running `nidan serve`, stopped when dropped.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nidan serve` with `args` and `env` (over test-friendly
/// defaults); waits for the line with its URL.
pub fn node(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nidan"));
    cmd.arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("NIDAN_LOG", "warn")
        .env("NIDAN_POLICY__BACKUP_RULE", "any_other_method")
        .env("NIDAN_POLICY__RESEND_COOLDOWN_SECONDS", "0")
        // The slow-down is tested with a controlled clock in nidan-core.
        .env("NIDAN_POLICY__SLOWDOWN_AFTER_FAILURES", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split("open ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Node { child, base }
}

/// POSTs JSON to `/api/v1{path}` at `base`.
pub async fn call(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = c.post(format!("{base}/api/v1{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Unix time now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs up `email` (password "correct horse"); the session token.
pub async fn sign_up(c: &reqwest::Client, base: &str, email: &str) -> String {
    let (status, body) = call(
        c,
        base,
        "/signup",
        None,
        json!({"email": email, "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Enrols two apps in the session `token` (primary on `enrol_at`, both
/// confirmed there) and turns 2SV on at `enable_at`; the apps' secrets.
pub async fn enable_two_apps(
    c: &reqwest::Client,
    enrol_at: &str,
    enable_at: &str,
    token: &str,
) -> Vec<Secret> {
    let mut secrets = Vec::new();
    for (role, name) in [("primary", "Phone"), ("backup", "Tablet")] {
        let (_, app) = call(
            c,
            enrol_at,
            "/wizard/apps",
            Some(token),
            json!({"role": role, "name": name}),
        )
        .await;
        let secret = Secret::from_base32(app["secret"].as_str().unwrap()).unwrap();
        let id = app["method_id"].as_str().unwrap();
        let code = Totp::default().generate(&secret, now());
        let (status, body) = call(
            c,
            enrol_at,
            &format!("/wizard/apps/{id}/confirm"),
            Some(token),
            json!({"code": code}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        secrets.push(secret);
    }
    let (status, body) = call(c, enable_at, "/wizard/enable", Some(token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    secrets
}

/// A master key several nodes share, as NIDAN_MASTER_KEY (Base64 of 32 bytes).
pub fn base64_key() -> String {
    let bytes = nidan_core::secrets::random_bytes::<32>().unwrap();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}
