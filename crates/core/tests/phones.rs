//! Phones: enrolment by code, codes sent as the code page opens, the last
//! three valid, expiry, cooldown and caps, refused lines, provider
//! failures told in plain words — over a real SQLite file with a
//! controlled clock. The senders here record what they were asked to send
//! (the providers themselves are tested in nidan-delivery).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use nidan_core::model::{MethodKind, MethodRole};
use nidan_core::service::signin::PasswordStep;
use nidan_core::{Clock, Error, Policy};

#[tokio::test]
async fn a_text_is_sent_as_the_code_page_opens_and_its_code_signs_in_once() {
    let w = world().await;
    enabled(&w).await;
    let PasswordStep::CodeRequired(required) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!("code required")
    };
    assert_eq!(required.primary, MethodKind::Sms);
    assert!(matches!(required.delivery, Some(Ok(()))));
    assert_eq!(required.methods[1].last_two.as_deref(), Some("78"));
    let (to, text) = w.texts.sent.lock().unwrap().last().cloned().unwrap();
    assert_eq!(to, "+819012345678");
    assert!(
        text.ends_with(&format!("@login.example #{}", w.texts.last_code())),
        "{text}"
    );
    assert!(
        text.contains("セキュリティコード"),
        "the account's language: {text}"
    );
    let code = w.texts.last_code();
    w.nidan
        .verify_code(&required.challenge_token, &code, false, &origin())
        .await
        .unwrap();
    let PasswordStep::CodeRequired(again) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    // The cooldown stopped a second text this soon; the old code is bound to the old attempt.
    assert!(matches!(
        again.delivery,
        Some(Err(Error::SendCooldown { .. }))
    ));
    assert!(matches!(
        w.nidan
            .verify_code(&again.challenge_token, &code, false, &origin())
            .await,
        Err(Error::WrongCode { .. })
    ));
}

#[tokio::test]
async fn numbers_that_cannot_get_texts_are_offered_a_call() {
    let w = world().await;
    let a = account(&w).await;
    for landline in ["050-1234-5678", "03-1234-5678"] {
        let err = w
            .nidan
            .begin_phone(
                &a,
                MethodRole::Primary,
                landline,
                nidan_core::model::Channel::Sms,
                &origin(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::CannotReceiveSms),
            "{landline}: {err:?}"
        );
    }
    w.nidan
        .begin_phone(
            &a,
            MethodRole::Primary,
            "050-1234-5678",
            nidan_core::model::Channel::Voice,
            &origin(),
        )
        .await
        .unwrap();
    let (to, spoken) = w.calls.sent.lock().unwrap().last().cloned().unwrap();
    assert_eq!(to, "+815012345678");
    assert!(spoken.ends_with("(ja-JP)"), "{spoken}");
    assert!(matches!(
        w.nidan
            .begin_phone(
                &a,
                MethodRole::Primary,
                "0120-123-456",
                nidan_core::model::Channel::Voice,
                &origin()
            )
            .await,
        Err(Error::Phone(_))
    ));
}

#[tokio::test]
async fn the_last_three_codes_sent_stay_valid_and_expire_after_ten_minutes() {
    let w = world().await;
    enabled(&w).await;
    // Start in a fresh quarter hour: enrolment already used two of the five sends.
    w.clock.advance(15 * 60);
    let PasswordStep::CodeRequired(required) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let sms_id = required.methods[0].id.clone();
    let mut codes = vec![w.texts.last_code()];
    for _ in 0..3 {
        w.clock.advance(31);
        w.nidan
            .send_sign_in_code(&required.challenge_token, &sms_id, None, &origin())
            .await
            .unwrap();
        codes.push(w.texts.last_code());
    }
    // The first of four is no longer among the last three (unless equal by chance).
    if !codes[1..].contains(&codes[0]) {
        assert!(matches!(
            w.nidan
                .verify_code(&required.challenge_token, &codes[0], false, &origin())
                .await,
            Err(Error::WrongCode { .. })
        ));
    }
    w.nidan
        .verify_code(&required.challenge_token, &codes[1], false, &origin())
        .await
        .unwrap();

    // Expiry: a code sent now is refused eleven minutes later.
    w.clock.advance(60);
    let PasswordStep::CodeRequired(later) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let code = w.texts.last_code();
    w.clock.advance(9 * 60);
    // The attempt itself lasts 10 minutes too; a fresh one cannot use this code either.
    let err = w
        .nidan
        .verify_code(&later.challenge_token, "000000", false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongCode { .. }), "{err:?}");
    w.clock.advance(61);
    assert!(matches!(
        w.nidan
            .verify_code(&later.challenge_token, &code, false, &origin())
            .await,
        Err(Error::ChallengeExpired)
    ));
}

#[tokio::test]
async fn resends_have_a_cooldown_and_a_cap_told_with_the_wait() {
    let w = world().await;
    enabled(&w).await;
    // Enrolment sent two codes in this quarter hour; sign-in sends a third.
    let PasswordStep::CodeRequired(required) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let sms_id = required.methods[0].id.clone();
    match w
        .nidan
        .send_sign_in_code(&required.challenge_token, &sms_id, None, &origin())
        .await
    {
        Err(Error::SendCooldown { retry_after }) => assert_eq!(retry_after, 30),
        other => panic!("{other:?}"),
    }
    let mut result = Ok(String::new());
    for _ in 0..10 {
        w.clock.advance(31);
        result = w
            .nidan
            .send_sign_in_code(&required.challenge_token, &sms_id, None, &origin())
            .await;
        if result.is_err() {
            break;
        }
    }
    match result {
        Err(Error::SendCapReached {
            scope: "account",
            retry_after,
        }) => assert!(retry_after > 0 && retry_after <= 15 * 60),
        other => panic!("{other:?}"),
    }
    // Sending never resets the attempt's failure count, and the cap never
    // ends the attempt: the voice backup is still offered and the texted codes still work.
    // Five sends in the quarter hour in all: two at enrolment, three at sign-in.
    assert_eq!(w.texts.count() + w.calls.count(), 5);
    w.nidan
        .verify_code(
            &required.challenge_token,
            &w.texts.last_code(),
            false,
            &origin(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_provider_failure_is_told_in_plain_words_and_loses_nothing() {
    let failing = world_with(Policy::default(), true).await;
    let b = account(&failing).await;
    match failing
        .nidan
        .begin_phone(
            &b,
            MethodRole::Primary,
            "090-1234-5678",
            nidan_core::model::Channel::Sms,
            &origin(),
        )
        .await
    {
        Err(Error::DeliveryFailed {
            verb: "text",
            last_two,
        }) => assert_eq!(last_two, "78"),
        other => panic!("{other:?}"),
    }
    // The failure is recorded for the owner and support, without the number.
    let overview = failing.nidan.overview(&b).await.unwrap();
    let event = overview
        .events
        .iter()
        .find(|e| e.kind == nidan_core::model::EventKind::CodeSendFailed)
        .expect("recorded");
    assert_eq!(event.detail, "text •••-••••-5678: unavailable");
}

#[tokio::test]
async fn only_allowed_countries_get_codes() {
    let w = world_with(
        Policy {
            allowed_country_codes: vec!["81".into()],
            ..Policy::default()
        },
        false,
    )
    .await;
    let a = account(&w).await;
    assert!(matches!(
        w.nidan
            .begin_phone(
                &a,
                MethodRole::Primary,
                "+44 7911 123456",
                nidan_core::model::Channel::Sms,
                &origin()
            )
            .await,
        Err(Error::CountryNotAllowed)
    ));
    w.nidan
        .begin_phone(
            &a,
            MethodRole::Primary,
            "+81 90 1234 5678",
            nidan_core::model::Channel::Sms,
            &origin(),
        )
        .await
        .unwrap();
    assert_eq!(w.clock.now(), T0);
}

#[tokio::test]
async fn the_owner_is_emailed_when_2sv_turns_on_and_a_backup_code_is_used() {
    let w = world().await;
    let mut a = enabled(&w).await;
    // `enabled` returns the account as it was before page 3.
    a.two_sv_on_since = Some(T0);
    let subjects: Vec<String> = w
        .mails
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(to, s)| format!("{to} {s}"))
        .collect();
    assert_eq!(
        subjects,
        vec![
            "hanako@example.com [nidan] アカウント作成を完了してください".to_owned(),
            "hanako@example.com [nidan] 2段階認証が有効になりました".to_owned()
        ]
    );
    let codes = w
        .nidan
        .regenerate_backup_codes(&a, &origin())
        .await
        .unwrap();
    let PasswordStep::CodeRequired(required) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    w.nidan
        .verify_code(&required.challenge_token, &codes[0], false, &origin())
        .await
        .unwrap();
    let last = w.mails.sent.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.1, "[nidan] バックアップコードが使用されました");
}

#[tokio::test]
async fn within_one_second_the_last_three_sent_are_still_the_valid_ones() {
    let w = world_with(
        Policy {
            resend_cooldown_seconds: 0,
            sends_per_account_15min: 100,
            ..Policy::default()
        },
        false,
    )
    .await;
    enabled(&w).await;
    let PasswordStep::CodeRequired(required) = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let sms_id = required.methods[0].id.clone();
    let mut codes = vec![w.texts.last_code()];
    for _ in 0..3 {
        w.nidan
            .send_sign_in_code(&required.challenge_token, &sms_id, None, &origin())
            .await
            .unwrap();
        codes.push(w.texts.last_code());
    }
    if !codes[1..].contains(&codes[0]) {
        assert!(matches!(
            w.nidan
                .verify_code(&required.challenge_token, &codes[0], false, &origin())
                .await,
            Err(Error::WrongCode { .. })
        ));
    }
    w.nidan
        .verify_code(&required.challenge_token, &codes[3], false, &origin())
        .await
        .unwrap();
}
