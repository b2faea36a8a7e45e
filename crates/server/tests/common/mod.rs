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
    /// `--config FILE`, if given, and the data folder.
    args: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
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
    node_under(None, args, env, dir)
}

/// [`node`] started by `sh -c SCRIPT` (e.g. `ulimit -Hn 1024; exec "$0" "$@"`)
/// when given, so the server runs under the limits the script sets.
pub fn node_under(
    shell: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
    dir: &std::path::Path,
) -> Node {
    let mut cmd = match shell {
        Some(script) => {
            let mut c = Command::new("sh");
            c.args(["-c", script]).arg(env!("CARGO_BIN_EXE_nidan"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_nidan")),
    };
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
    // Warnings may come first; the line with the URL says "open".
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let base = loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("nidan serve ended without a URL: {seen:?}");
        }
        if let Some(rest) = line.split("open ").nth(1) {
            break rest
                .split(' ')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .to_owned();
        }
        seen.push_str(&line);
    };
    let mut kept: Vec<std::ffi::OsString> = Vec::new();
    let mut given = args.iter();
    while let Some(a) = given.next() {
        if *a == "--config" {
            kept.push("--config".into());
            kept.push(given.next().copied().unwrap_or_default().into());
        }
    }
    kept.push("--data-dir".into());
    kept.push(dir.into());
    Node {
        child,
        base,
        args: kept,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

impl Node {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The newest message the outbox kept for `recipient` (its body), read
    /// with `nidan outbox` as an operator would.
    pub fn outbox(&self, recipient: &str) -> String {
        let run = Command::new(env!("CARGO_BIN_EXE_nidan"))
            .arg("outbox")
            .args(&self.args)
            .args(["--limit", "1", "--to", recipient])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NIDAN_LOG", "warn")
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
        String::from_utf8(run.stdout).unwrap()
    }

    /// The token of the newest sign-up link emailed to `recipient`.
    pub fn sign_up_link(&self, recipient: &str) -> String {
        let body = self.outbox(recipient);
        let at = body
            .find("/signup/confirm/")
            .unwrap_or_else(|| panic!("no sign-up link in {body:?}"));
        body[at + "/signup/confirm/".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
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

/// Signs up `email` (password "correct horse") at `node` through the
/// emailed link, read from the outbox; the session token.
pub async fn sign_up(c: &reqwest::Client, node: &Node, email: &str) -> String {
    let base = node.base.as_str();
    let (status, body) = call(
        c,
        base,
        "/signup",
        None,
        json!({"email": email, "password": "correct horse"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("check_email")),
        "{body}"
    );
    let token = node.sign_up_link(email);
    let (status, body) = call(c, base, "/signup/confirm", None, json!({"token": token})).await;
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

/// Signs `email` (password "correct horse") in at `base` with the next
/// code of `secret` (an app enrolled by [`enable_two_apps`]); the session
/// token, which counts as having passed two steps.
pub async fn sign_in_with_code(
    c: &reqwest::Client,
    base: &str,
    email: &str,
    secret: &Secret,
) -> String {
    let (_, attempt) = call(
        c,
        base,
        "/signin",
        None,
        json!({"email": email, "password": "correct horse"}),
    )
    .await;
    let code = Totp::default().generate(secret, now() + 30);
    let (status, signed) = call(
        c,
        base,
        "/signin/code",
        None,
        json!({"challenge": attempt["challenge"], "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    signed["token"].as_str().unwrap().to_owned()
}

/// A master key several nodes share, as NIDAN_MASTER_KEY (Base64 of 32 bytes).
pub fn base64_key() -> String {
    let bytes = nidan_core::secrets::random_bytes::<32>().unwrap();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}
