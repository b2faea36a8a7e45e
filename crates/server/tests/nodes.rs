//! Two `nidan serve` processes on one PostgreSQL (SPEC §9.4): everything
//! that must hold across nodes lives in the database. A code accepted by
//! node A is refused by node B; the five-try limit and the resend cap count
//! across both; a browser remembered on A skips the code on B; a session
//! ended on A is ended on B. Real processes, real sockets, a fresh schema
//! on the PostgreSQL at 127.0.0.1:5432 (NIDAN_TEST_POSTGRES_URL overrides).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{Node, base64_key, call, enable_two_apps, now, sign_up};
use nidan_otp::{Secret, Totp};
use serde_json::{Value, json};

fn node(url: &str, key: &str, dir: &std::path::Path) -> Node {
    common::node(
        &["--listen", "127.0.0.1:0"],
        &[("NIDAN_DATABASE_URL", url), ("NIDAN_MASTER_KEY", key)],
        dir,
    )
}

async fn sign_in(c: &reqwest::Client, n: &Node, email: &str, remember: Option<&str>) -> Value {
    let (status, body) = call(
        c,
        &n.base,
        "/signin",
        None,
        json!({"email": email, "password": "correct horse", "remember_token": remember}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn two_nodes_on_one_postgresql_share_every_promise() {
    let url = nidan_store::testing::fresh_postgres_url().await.unwrap();
    let key = base64_key();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(&url, &key, da.path());
    let b = node(&url, &key, db.path());
    let c = reqwest::Client::new();

    // An account with two apps, enrolled on A and turned on through B:
    // the session made on A works on B.
    let token = sign_up(&c, &a, "u@example.com").await;
    let secrets = enable_two_apps(&c, &a.base, &b.base, &token).await;

    // A code accepted by A is refused by B (the next step: enrolment used this one).
    let code = Totp::default().generate(&secrets[0], now() + 30);
    let on_a = sign_in(&c, &a, "u@example.com", None).await;
    let on_b = sign_in(&c, &b, "u@example.com", None).await;
    let (status, signed) = call(
        &c,
        &a.base,
        "/signin/code",
        None,
        json!({"challenge": on_a["challenge"], "code": code, "remember_browser": true}),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let (status, body) = call(
        &c,
        &b.base,
        "/signin/code",
        None,
        json!({"challenge": on_b["challenge"], "code": code}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("code_already_used")),
        "{body}"
    );

    // Five tries per attempt, counted across both nodes.
    let attempt = sign_in(&c, &a, "u@example.com", None).await;
    for (i, n) in [&a, &b, &a, &b].into_iter().enumerate() {
        let (status, body) = call(
            &c,
            &n.base,
            "/signin/code",
            None,
            json!({"challenge": attempt["challenge"], "code": "000000"}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["attempts_left"].as_i64()),
            (401, Some(4 - i as i64)),
            "{body}"
        );
    }
    let (status, body) = call(
        &c,
        &b.base,
        "/signin/code",
        None,
        json!({"challenge": attempt["challenge"], "code": "000000"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let (_, body) = call(&c, &a.base, "/signin/code", None,
        json!({"challenge": attempt["challenge"], "code": Totp::default().generate(&secrets[1], now())})).await;
    assert_eq!(
        body["error"]["code"], "too_many_attempts",
        "even a right code, even on A"
    );

    // A browser remembered on A skips the code on B.
    let remember = signed["remember_token"].as_str().unwrap().to_owned();
    let on_b = sign_in(&c, &b, "u@example.com", Some(&remember)).await;
    assert_eq!(on_b["status"], "signed_in", "{on_b}");

    // A session ended on A is ended on B.
    let session = on_b["token"].as_str().unwrap().to_owned();
    let res = c
        .get(format!("{}/api/v1/me", b.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (status, _) = call(&c, &a.base, "/signout", Some(&session), json!({})).await;
    assert_eq!(status, 200);
    let res = c
        .get(format!("{}/api/v1/me", b.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    // The resend cap (5 per account per 15 minutes) counts sends on both.
    let token = sign_up(&c, &a, "p@example.com").await;
    let (_, phone) = call(
        &c,
        &a.base,
        "/wizard/phones",
        Some(&token),
        json!({"role": "primary", "phone": "090-1234-5678", "channel": "sms"}),
    )
    .await;
    let store = nidan_store::SqlStore::connect(&url, 1).await.unwrap();
    let code = last_text(&store).await;
    let id = phone["method_id"].as_str().unwrap();
    let (status, _) = call(
        &c,
        &b.base,
        &format!("/wizard/phones/{id}/confirm"),
        Some(&token),
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, app) = call(
        &c,
        &b.base,
        "/wizard/apps",
        Some(&token),
        json!({"role": "backup", "name": "App"}),
    )
    .await;
    let secret = Secret::from_base32(app["secret"].as_str().unwrap()).unwrap();
    let id = app["method_id"].as_str().unwrap();
    call(
        &c,
        &b.base,
        &format!("/wizard/apps/{id}/confirm"),
        Some(&token),
        json!({"code": Totp::default().generate(&secret, now())}),
    )
    .await;
    let (status, _) = call(&c, &a.base, "/wizard/enable", Some(&token), json!({})).await;
    assert_eq!(status, 200);
    // Sent so far: the enrolment code (1) and the code as sign-in opens (2).
    let attempt = sign_in(&c, &b, "p@example.com", None).await;
    let phone_id = attempt["methods"][0]["id"].as_str().unwrap().to_owned();
    let mut accepted = 2;
    for n in [&a, &b, &a, &b, &a, &b] {
        let (status, body) = call(
            &c,
            &n.base,
            "/signin/send",
            None,
            json!({"challenge": attempt["challenge"], "method_id": phone_id, "channel": "sms"}),
        )
        .await;
        match status {
            200 => accepted += 1,
            429 => {
                assert_eq!(body["error"]["code"], "send_cap_reached", "{body}");
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        accepted, 5,
        "five sends per 15 minutes, whichever node sends"
    );
    let texts = nidan_core::store::Events::outbox(&store, 100)
        .await
        .unwrap();
    assert_eq!(
        texts
            .iter()
            .filter(|m| m.recipient == "+819012345678")
            .count(),
        5
    );
}

/// The newest code texted (the development outbox is in the shared database).
async fn last_text(store: &nidan_store::SqlStore) -> String {
    let messages = nidan_core::store::Events::outbox(store, 10).await.unwrap();
    let m = messages.iter().find(|m| m.channel == "sms").unwrap();
    m.body.split_whitespace().next().unwrap().to_owned()
}
