//! The senders against local HTTP servers that check each request exactly
//! as the providers document it (Twilio's REST API 2010-04-01 Messages and
//! Calls resources; nidan's own webhook contract), and the failure paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nidan_core::ManualClock;
use nidan_core::delivery::{DeliveryError, SmsSender, VoiceSender, sms_text, voice_script};
use nidan_core::phone::PhoneNumber;
use nidan_delivery::twilio::{TwilioConfig, TwilioSender};
use nidan_delivery::webhook::{WebhookConfig, WebhookSender, signature};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use zeroize::Zeroizing;

fn form(request: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

fn twilio(server: &MockServer, service: Option<&str>, timeout: Duration) -> TwilioSender {
    TwilioSender::new(TwilioConfig {
        account_sid: "AC0123456789abcdef".into(),
        auth_token: Zeroizing::new("s3cret-token".into()),
        from: "+15005550006".into(),
        messaging_service_sid: service.map(str::to_owned),
        base_url: server.uri(),
        timeout,
    })
    .unwrap()
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:s3cret-token")
    )
}

fn number() -> PhoneNumber {
    PhoneNumber::parse("090-1234-5678", "JP").unwrap()
}

#[tokio::test]
async fn twilio_sms_is_a_form_post_to_the_messages_resource() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(|r: &Request| {
            let f = form(r);
            f.len() == 3
                && f.get("To").map(String::as_str) == Some("+819012345678")
                && f.get("From").map(String::as_str) == Some("+15005550006")
                && f.get("Body").map(String::as_str) == Some("123456 is your nidan security code. Don't share it.\n\n@login.example #123456")
        })
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM1a2b3c", "status": "queued"})))
        .expect(1)
        .mount(&server)
        .await;
    let body = sms_text("en", "nidan", "login.example", "123456");
    let receipt = twilio(&server, None, Duration::from_secs(5))
        .send_sms(&number(), &body)
        .await
        .unwrap();
    assert_eq!(receipt.provider_id, "SM1a2b3c");
}

#[tokio::test]
async fn twilio_sms_uses_the_messaging_service_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
        ))
        .and(|r: &Request| {
            let f = form(r);
            f.get("MessagingServiceSid").map(String::as_str) == Some("MG0001")
                && !f.contains_key("From")
        })
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM2"})))
        .expect(1)
        .mount(&server)
        .await;
    twilio(&server, Some("MG0001"), Duration::from_secs(5))
        .send_sms(&number(), "x")
        .await
        .unwrap();
}

#[tokio::test]
async fn twilio_voice_is_a_call_with_inline_twiml_reading_each_digit_slowly_three_times() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC0123456789abcdef/Calls.json"))
        .and(header("authorization", basic().as_str()))
        .and(|r: &Request| {
            let f = form(r);
            let twiml = f.get("Twiml").cloned().unwrap_or_default();
            f.get("To").map(String::as_str) == Some("+819012345678")
                && f.get("From").map(String::as_str) == Some("+15005550006")
                && twiml.starts_with("<Response>")
                && twiml.ends_with("</Response>")
                && twiml
                    .matches("<Say language=\"ja-JP\">4</Say><Pause length=\"1\"/>")
                    .count()
                    == 3
                && twiml.matches("セキュリティコード").count() == 3
        })
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "CA9"})))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = twilio(&server, None, Duration::from_secs(5))
        .call(&number(), &voice_script("ja", "nidan", "123456"))
        .await
        .unwrap();
    assert_eq!(receipt.provider_id, "CA9");
}

#[tokio::test]
async fn twilio_refusals_outages_and_silence_are_told_apart() {
    let server = MockServer::start().await;
    Mock::given(path("/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"))
        .and(|r: &Request| form(r).get("Body").map(String::as_str) == Some("refuse"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400
        })))
        .mount(&server)
        .await;
    Mock::given(path(
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
    ))
    .and(|r: &Request| form(r).get("Body").map(String::as_str) == Some("outage"))
    .respond_with(ResponseTemplate::new(503))
    .mount(&server)
    .await;
    Mock::given(path(
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
    ))
    .and(|r: &Request| form(r).get("Body").map(String::as_str) == Some("slow"))
    .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
    .mount(&server)
    .await;
    let sender = twilio(&server, None, Duration::from_millis(300));
    match sender.send_sms(&number(), "refuse").await {
        Err(DeliveryError::Rejected(detail)) => assert!(detail.contains("21211"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sender.send_sms(&number(), "outage").await,
        Err(DeliveryError::Unavailable(_))
    ));
    assert_eq!(
        sender.send_sms(&number(), "slow").await,
        Err(DeliveryError::Timeout)
    );
}

fn webhook(server: &MockServer, clock: &ManualClock) -> WebhookSender {
    WebhookSender::new(
        WebhookConfig {
            url: format!("{}/nidan/deliver", server.uri()),
            secret: Zeroizing::new("whsec_test".into()),
            attempts: 3,
            backoff: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        },
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn signed_correctly(r: &Request) -> bool {
    let ts = r
        .headers
        .get("x-nidan-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let sig = r
        .headers
        .get("x-nidan-signature")
        .and_then(|v| v.to_str().ok());
    match (ts, sig) {
        (Some(ts), Some(sig)) => ts == 1_800_000_000 && sig == signature("whsec_test", ts, &r.body),
        _ => false,
    }
}

#[tokio::test]
async fn the_webhook_posts_signed_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/nidan/deliver"))
        .and(header("content-type", "application/json"))
        .and(signed_correctly)
        .and(|r: &Request| {
            let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            json == serde_json::json!({"channel": "sms", "to": "+819012345678", "text": "hello"})
        })
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    webhook(&server, &ManualClock::new(1_800_000_000))
        .send_sms(&number(), "hello")
        .await
        .unwrap();
    // The signature is HMAC-SHA256 over "timestamp.body", hex, with a version prefix.
    assert_eq!(
        signature("key", 1, b"{}"),
        format!("v1={}", expected_hmac())
    );
}

/// HMAC-SHA256("key", "1.{}") computed independently of the sender's code path.
fn expected_hmac() -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"key").unwrap();
    mac.update(b"1.{}");
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

#[tokio::test]
async fn the_webhook_retries_outages_but_not_refusals() {
    let server = MockServer::start().await;
    Mock::given(path("/nidan/deliver"))
        .and(|r: &Request| {
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .map(|j| j["channel"] == "voice")
                .unwrap_or(false)
        })
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/nidan/deliver"))
        .and(|r: &Request| {
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .map(|j| j["channel"] == "voice")
                .unwrap_or(false)
        })
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = ManualClock::new(1_800_000_000);
    webhook(&server, &clock)
        .call(&number(), &voice_script("en", "nidan", "123456"))
        .await
        .unwrap();

    let refusing = MockServer::start().await;
    Mock::given(path("/nidan/deliver"))
        .respond_with(ResponseTemplate::new(422))
        .expect(1)
        .mount(&refusing)
        .await;
    assert!(matches!(
        webhook(&refusing, &clock).send_sms(&number(), "x").await,
        Err(DeliveryError::Rejected(_))
    ));
}
