//! Passkeys attacked over HTTP, as a probe would: a real `nidan serve` on
//! loopback with no configuration (its relying party is `localhost`), a
//! software authenticator doing real WebAuthn, and the requests an
//! attacker who knows the password would send — an answer replayed, an
//! attempt's ceremony finished from another attempt, an answer signed for
//! a look-alike origin, a cross-site form post, begin in a loop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{Node, call, node, now, sign_up};
use nidan_otp::{Secret, Totp};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

const EMAIL: &str = "hanako@example.com";

/// The address the browser uses: nidan's own `localhost` name.
fn origin(n: &Node) -> Url {
    Url::parse(&n.base.replace("127.0.0.1", "localhost")).unwrap()
}

/// Hanako with a passkey as primary and an app as backup, 2SV on.
async fn enrolled(c: &reqwest::Client, n: &Node, key: &mut SoftPasskey) -> Secret {
    let session = sign_up(c, n, EMAIL).await;
    let (status, begun) = call(
        c,
        &n.base,
        "/passkeys/register/begin",
        Some(&session),
        json!({"role": "primary"}),
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let options: CreationChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let credential = key.do_registration(origin(n), options).unwrap();
    let (status, added) = call(
        c,
        &n.base,
        "/passkeys/register/finish",
        Some(&session),
        json!({"ceremony": begun["ceremony"], "credential": credential, "name": "Laptop"}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let (_, app) = call(
        c,
        &n.base,
        "/wizard/apps",
        Some(&session),
        json!({"role": "backup", "name": "Phone"}),
    )
    .await;
    let secret = Secret::from_base32(app["secret"].as_str().unwrap()).unwrap();
    let code = Totp::default().generate(&secret, now());
    let id = app["method_id"].as_str().unwrap();
    let (status, body) = call(
        c,
        &n.base,
        &format!("/wizard/apps/{id}/confirm"),
        Some(&session),
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(c, &n.base, "/wizard/enable", Some(&session), json!({})).await;
    assert_eq!(status, 200, "{body}");
    secret
}

async fn attempt(c: &reqwest::Client, n: &Node) -> String {
    let (status, body) = call(
        c,
        &n.base,
        "/signin",
        None,
        json!({"email": EMAIL, "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["challenge"].as_str().unwrap().to_owned()
}

/// Begins the passkey step of `challenge` and lets `key` answer it as if
/// the page were at `at`: the ceremony and the answer.
async fn answer(
    c: &reqwest::Client,
    n: &Node,
    challenge: &str,
    key: &mut SoftPasskey,
    at: Url,
) -> (String, Value) {
    let (status, begun) = call(
        c,
        &n.base,
        "/signin/passkey/begin",
        None,
        json!({"challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let options: RequestChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let credential = key.do_authentication(at, options).unwrap();
    (
        begun["ceremony"].as_str().unwrap().to_owned(),
        serde_json::to_value(credential).unwrap(),
    )
}

async fn finish(
    c: &reqwest::Client,
    n: &Node,
    challenge: &str,
    ceremony: &str,
    credential: &Value,
) -> (u16, Value) {
    call(
        c,
        &n.base,
        "/signin/passkey/finish",
        None,
        json!({"challenge": challenge, "ceremony": ceremony, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn replayed_and_cross_attempt_answers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::new();
    let mut key = SoftPasskey::new(true);
    enrolled(&c, &n, &mut key).await;

    // Two attempts by someone who knows the password: the first's
    // ceremony cannot be finished, or used up, from the second.
    let first = attempt(&c, &n).await;
    let second = attempt(&c, &n).await;
    let (ceremony, credential) = answer(&c, &n, &first, &mut key, origin(&n)).await;
    let (status, body) = finish(&c, &n, &second, &ceremony, &credential).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("ceremony_expired")),
        "{body}"
    );
    let (status, body) = finish(&c, &n, &first, &ceremony, &credential).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().is_some());

    // The same request again: the attempt and the ceremony are spent.
    let (status, body) = finish(&c, &n, &first, &ceremony, &credential).await;
    assert_eq!(status, 410, "{body}");
    // And on a fresh attempt, the spent ceremony is still spent.
    let third = attempt(&c, &n).await;
    let (status, body) = finish(&c, &n, &third, &ceremony, &credential).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("ceremony_expired")),
        "{body}"
    );
}

#[tokio::test]
async fn an_answer_rewritten_for_another_origin_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::new();
    let mut key = SoftPasskey::new(true);
    let secret = enrolled(&c, &n, &mut key).await;

    // A relay that rewrites the client data (the origin the browser saw)
    // in an answer the key signed: the signature no longer covers it.
    let challenge = attempt(&c, &n).await;
    let (ceremony, mut credential) = answer(&c, &n, &challenge, &mut key, origin(&n)).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let client_data = credential["response"]["clientDataJSON"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut data: Value =
        serde_json::from_slice(&base64::Engine::decode(&b64, client_data).unwrap()).unwrap();
    data["origin"] = json!("https://login.example.evil");
    credential["response"]["clientDataJSON"] = json!(base64::Engine::encode(
        &b64,
        serde_json::to_vec(&data).unwrap()
    ));
    let (status, body) = finish(&c, &n, &challenge, &ceremony, &credential).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("passkey_refused")),
        "{body}"
    );

    // It counted as a wrong try: four are left of the attempt's five.
    let code = Totp::default().generate(&secret, now() + 30);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = call(
        &c,
        &n.base,
        "/signin/code",
        None,
        json!({"challenge": challenge, "code": wrong}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["attempts_left"], 3, "{body}");
}

#[tokio::test]
async fn a_cross_site_post_of_the_passkey_form_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/signin/passkey", "/signin/passkey/begin"] {
        let res = c
            .post(format!("{}{path}", n.base))
            .header("Origin", "https://evil.example")
            .header("Sec-Fetch-Site", "cross-site")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("ceremony=x&credential=%7B%7D")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{path}");
    }
}

#[tokio::test]
async fn malformed_answers_are_refused_before_anything_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::new();
    let mut key = SoftPasskey::new(true);
    enrolled(&c, &n, &mut key).await;
    let challenge = attempt(&c, &n).await;
    for credential in [
        json!({}),
        json!({"id": "x", "type": "public-key"}),
        json!([1, 2, 3]),
    ] {
        let (status, body) = call(
            &c,
            &n.base,
            "/signin/passkey/finish",
            None,
            json!({"challenge": challenge, "ceremony": "nope", "credential": credential}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
    }
    // Nothing was counted: the right answer still works with every try left.
    let (ceremony, credential) = answer(&c, &n, &challenge, &mut key, origin(&n)).await;
    let (status, body) = finish(&c, &n, &challenge, &ceremony, &credential).await;
    assert_eq!(status, 200, "{body}");
}
