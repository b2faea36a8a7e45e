//! The server over real HTTP on 127.0.0.1 with a fresh SQLite file per
//! test: the whole journey through the JSON API, the pages with cookies,
//! and the protections (CSRF, headers, cookie flags).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::net::SocketAddr;

use nidan_otp::{Secret, Totp};
use nidan_server::config::Config;
use nidan_server::web::{AppState, app};
use serde_json::{Value, json};

struct Server {
    base: String,
    nidan: std::sync::Arc<nidan_core::Nidan<nidan_store::SqlStore>>,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // These journeys enrol two apps; the default (Amazon's) rule wants a
    // phone backup after an app, which the phone tests cover.
    config.policy.backup_rule = nidan_core::policy::BackupRule::AnyOtherMethod;
    // Phone tests ask for several codes in a row.
    config.policy.resend_cooldown_seconds = 0;
    // The slow-down after wrong codes is tested with a controlled clock in
    // nidan-core; here the five-attempt limit is exercised back to back.
    config.policy.slowdown_after_failures = 50;
    let nidan = nidan_server::build(&config).await.unwrap();
    let state = AppState {
        nidan: nidan.clone(),
        secure_cookies: false,
        outbox_page: true,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        nidan,
        _dir: dir,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A code for the next step, so it is never the step enrolment just used.
fn next_code(secret: &Secret, steps_ahead: u64) -> String {
    Totp::default().generate(secret, now() + 30 * steps_ahead)
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    let res = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_whole_journey_through_the_json_api() {
    let s = server().await;
    let c = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", s.base);

    let (status, body) = post(
        &c,
        api("/signup"),
        None,
        json!({"email": "Alice@Example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &c,
        api("/signup"),
        None,
        json!({"email": "alice@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("email_taken"))
    );

    // Wizard page 1: an app, verified with its code.
    let (_, app1) = post(
        &c,
        api("/wizard/apps"),
        Some(&token),
        json!({"role": "primary", "name": "Phone"}),
    )
    .await;
    let secret1 = Secret::from_base32(app1["secret"].as_str().unwrap()).unwrap();
    assert!(
        app1["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/nidan:alice@example.com?secret=")
    );
    assert!(app1["qr_svg"].as_str().unwrap().contains("<svg"));
    let id1 = app1["method_id"].as_str().unwrap();
    let (status, body) = post(
        &c,
        api(&format!("/wizard/apps/{id1}/confirm")),
        Some(&token),
        json!({"code": "000000x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("malformed_code")),
        "{body}"
    );
    let (status, _) = post(
        &c,
        api(&format!("/wizard/apps/{id1}/confirm")),
        Some(&token),
        json!({"code": next_code(&secret1, 0)}),
    )
    .await;
    assert_eq!(status, 200);
    // Page 3 before page 2 is refused: a backup is required.
    let (status, body) = post(&c, api("/wizard/enable"), Some(&token), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("wizard_order"))
    );
    let (_, wizard) = get(&c, api("/wizard"), &token).await;
    assert_eq!(wizard["page"], 2);
    // Page 2: a second app.
    let (_, app2) = post(
        &c,
        api("/wizard/apps"),
        Some(&token),
        json!({"role": "backup", "name": "kagi on the PC"}),
    )
    .await;
    let secret2 = Secret::from_base32(app2["secret"].as_str().unwrap()).unwrap();
    let id2 = app2["method_id"].as_str().unwrap();
    let (status, _) = post(
        &c,
        api(&format!("/wizard/apps/{id2}/confirm")),
        Some(&token),
        json!({"code": next_code(&secret2, 0)}),
    )
    .await;
    assert_eq!(status, 200);
    // Page 3.
    let (status, enabled) = post(
        &c,
        api("/wizard/enable"),
        Some(&token),
        json!({"remember_browser": false}),
    )
    .await;
    assert_eq!(status, 200);
    let codes: Vec<String> = enabled["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);

    let (_, sec) = get(&c, api("/security"), &token).await;
    assert_eq!(sec["two_step_on"], true);
    assert_eq!(sec["methods"][0]["role"], "primary");
    assert_eq!(sec["methods"][1]["name"], "kagi on the PC");
    assert_eq!(sec["backup_codes_left"], 10);

    // Sign in: password, then the code from the app (one step ahead: the
    // current step was used at enrolment).
    let (_, step) = post(
        &c,
        api("/signin"),
        None,
        json!({"email": "alice@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(step["status"], "code_required");
    assert_eq!(step["primary"], "app");
    let challenge = step["challenge"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": "123 45"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("malformed_code"))
    );
    let code = next_code(&secret1, 1);
    let (status, signed) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": code, "remember_browser": true}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let remember = signed["remember_token"].as_str().unwrap().to_owned();

    // The same code again, in a new attempt: refused as a replay.
    let (_, step) = post(
        &c,
        api("/signin"),
        None,
        json!({"email": "alice@example.com", "password": "correct horse"}),
    )
    .await;
    let challenge = step["challenge"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("code_already_used")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    // Five wrong codes end the attempt; the sixth is refused whatever it is.
    let wrong = if next_code(&secret1, 2) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in [3, 2, 1] {
        let (status, body) = post(
            &c,
            api("/signin/code"),
            None,
            json!({"challenge": challenge, "code": wrong}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["attempts_left"].as_i64()),
            (401, Some(left)),
            "{body}"
        );
    }
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": wrong}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": codes[0]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );

    // A backup code works once and only once.
    let (_, step) = post(
        &c,
        api("/signin"),
        None,
        json!({"email": "alice@example.com", "password": "correct horse"}),
    )
    .await;
    let challenge = step["challenge"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": codes[0]}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, step) = post(
        &c,
        api("/signin"),
        None,
        json!({"email": "alice@example.com", "password": "correct horse"}),
    )
    .await;
    let challenge = step["challenge"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": codes[0]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("wrong_code"))
    );

    // The remembered client skips the code.
    let (_, step) = post(&c, api("/signin"), None, json!({"email": "alice@example.com", "password": "correct horse", "remember_token": remember})).await;
    assert_eq!(step["status"], "signed_in");

    // Password + code in one field.
    let field = format!("correct horse{}", next_code(&secret2, 1));
    let (status, body) = post(
        &c,
        api("/signin/combined"),
        None,
        json!({"email": "alice@example.com", "password": field}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // "Require codes on all browsers".
    let (status, _) = c
        .delete(api("/browsers"))
        .bearer_auth(&token)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let (_, step) = post(&c, api("/signin"), None, json!({"email": "alice@example.com", "password": "correct horse", "remember_token": remember})).await;
    assert_eq!(step["status"], "code_required");

    // Sign out ends the token.
    let (status, _) = post(&c, api("/signout"), Some(&token), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = get(&c, api("/me"), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("not_signed_in"))
    );
}

#[tokio::test]
async fn wrong_credentials_say_nothing_about_the_account_and_messages_follow_the_language() {
    let s = server().await;
    let c = reqwest::Client::new();
    post(
        &c,
        format!("{}/api/v1/signup", s.base),
        None,
        json!({"email": "a@example.com", "password": "correct horse"}),
    )
    .await;
    let (s1, b1) = post(
        &c,
        format!("{}/api/v1/signin", s.base),
        None,
        json!({"email": "a@example.com", "password": "wrong horse"}),
    )
    .await;
    let (s2, b2) = post(
        &c,
        format!("{}/api/v1/signin", s.base),
        None,
        json!({"email": "b@example.com", "password": "wrong horse"}),
    )
    .await;
    assert_eq!((s1, &b1), (s2, &b2));
    let res = c
        .post(format!("{}/api/v1/signin", s.base))
        .header("accept-language", "ja,en;q=0.5")
        .json(&json!({"email": "b@example.com", "password": "wrong horse"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Eメールアドレスまたはパスワードが正しくありません。"
    );
}

#[tokio::test]
async fn pages_sign_in_with_cookies_and_are_protected() {
    let s = server().await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = c
        .post(format!("{}/signup", s.base))
        .form(&[("email", "page@example.com"), ("password", "correct horse")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("nidan_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let res = c.get(format!("{}/security", s.base)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    for (header, expected) in [
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(res.headers().get(header).unwrap(), expected);
    }
    assert!(
        res.headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Advanced Security Settings") && html.contains("Get started"),
        "{html}"
    );

    // A cross-site form post is refused (CSRF).
    let res = c
        .post(format!("{}/security/browsers/forget-all", s.base))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);

    // The language switch.
    let res = c
        .post(format!("{}/lang", s.base))
        .header("referer", format!("{}/security", s.base))
        .form(&[("lang", "ja")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("location").unwrap(), "/security");
    let html = c
        .get(format!("{}/security", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("高度なセキュリティ設定"), "{html}");

    // Anonymous visitors are sent to sign in.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = anon
        .get(format!("{}/security", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("location").unwrap(), "/signin");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = server().await;
    let doc: Value = reqwest::get(format!("{}/api/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/signup",
        "/api/v1/signin",
        "/api/v1/signin/code",
        "/api/v1/signin/combined",
        "/api/v1/wizard/apps",
        "/api/v1/wizard/enable",
        "/api/v1/security",
        "/api/v1/browsers/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert_eq!(
        reqwest::get(format!("{}/healthz", s.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", s.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ready"
    );
}

/// The newest code the outbox kept for `recipient`.
async fn outbox_code(s: &Server, recipient: &str) -> (String, String) {
    let messages = nidan_core::Store::outbox(s.nidan.store(), 20)
        .await
        .unwrap();
    let m = messages
        .into_iter()
        .find(|m| m.recipient == recipient)
        .expect("a message");
    let digits: String = if m.channel == "sms" {
        m.body.split_whitespace().next().unwrap().to_owned()
    } else {
        m.body
            .split(" / ")
            .next()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .chars()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    };
    (m.channel, digits)
}

#[tokio::test]
async fn phones_through_the_json_api() {
    let s = server().await;
    let c = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", s.base);
    let (_, body) = post(
        &c,
        api("/signup"),
        None,
        json!({"email": "p@example.com", "password": "correct horse"}),
    )
    .await;
    let token = body["token"].as_str().unwrap().to_owned();

    let (status, body) = post(
        &c,
        api("/wizard/phones"),
        Some(&token),
        json!({"role": "primary", "phone": "090-12", "channel": "sms"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_phone"))
    );
    let (status, body) = post(
        &c,
        api("/wizard/phones"),
        Some(&token),
        json!({"role": "primary", "phone": "050-1234-5678", "channel": "sms"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("cannot_receive_sms"))
    );
    let (status, primary) = post(
        &c,
        api("/wizard/phones"),
        Some(&token),
        json!({"role": "primary", "phone": "050-1234-5678", "channel": "voice"}),
    )
    .await;
    assert_eq!(status, 200, "{primary}");
    assert_eq!(primary["masked"], "•••-••••-5678");
    let (channel, code) = outbox_code(&s, "+815012345678").await;
    assert_eq!(channel, "voice");
    let id = primary["method_id"].as_str().unwrap();
    let (status, _) = post(
        &c,
        api(&format!("/wizard/phones/{id}/confirm")),
        Some(&token),
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200);

    let (_, backup) = post(
        &c,
        api("/wizard/phones"),
        Some(&token),
        json!({"role": "backup", "phone": "+81 90 1234 5678", "channel": "sms"}),
    )
    .await;
    let (_, code) = outbox_code(&s, "+819012345678").await;
    let id = backup["method_id"].as_str().unwrap();
    post(
        &c,
        api(&format!("/wizard/phones/{id}/confirm")),
        Some(&token),
        json!({"code": code}),
    )
    .await;
    let (status, _) = post(&c, api("/wizard/enable"), Some(&token), json!({})).await;
    assert_eq!(status, 200);

    // Sign in: the primary (voice) is called as the attempt opens; ask for a text instead.
    let (_, step) = post(
        &c,
        api("/signin"),
        None,
        json!({"email": "p@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(step["primary"], "voice");
    assert!(step.get("delivery_error").is_none(), "{step}");
    let challenge = step["challenge"].as_str().unwrap().to_owned();
    let text_to = step["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["can_text"] == true)
        .unwrap();
    assert_eq!(text_to["last_two"], "78");
    let (status, _) = post(
        &c,
        api("/signin/send"),
        None,
        json!({"challenge": challenge, "method_id": text_to["id"], "channel": "sms"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, code) = outbox_code(&s, "+819012345678").await;
    let (status, body) = post(
        &c,
        api("/signin/code"),
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
