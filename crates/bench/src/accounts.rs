//! Benchmark accounts: made through the JSON API like any client (sign-up
//! through the emailed link read from /dev/outbox, two apps, 2SV on), and
//! the sign-in attempts they spend.

use anyhow::{Context, bail};
use nidan_otp::{Secret, Step, Totp};
use serde_json::{Value, json};

use crate::conn::Conn;
use crate::{PASSWORD, now};

/// One authenticator app of an account, and the last step used on it.
pub(crate) struct App {
    pub(crate) secret: Secret,
    pub(crate) last_step: u64,
}

/// A benchmark account.
pub(crate) struct Account {
    pub(crate) email: String,
    pub(crate) apps: Vec<App>,
    /// Prepared sign-in attempts and the tries each has left.
    pub(crate) challenges: Vec<(String, usize)>,
    /// Wrong codes in a row (the server locks code entry at `--lockout`).
    pub(crate) failures: usize,
    /// A session that passed both steps (authz scenario).
    pub(crate) session: Option<String>,
    /// A small generator for wrong codes.
    pub(crate) seed: u64,
}

impl Account {
    /// A right code for a step not used yet (single use: each step once
    /// per app, never older than the last), if the window has one.
    pub(crate) fn right_code(&mut self) -> Option<String> {
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
    pub(crate) fn wrong_code(&mut self) -> String {
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
pub(crate) async fn create_account(conn: &mut Conn, run: u64, i: usize) -> anyhow::Result<Account> {
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
pub(crate) async fn challenge(conn: &mut Conn, email: &str) -> anyhow::Result<String> {
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
