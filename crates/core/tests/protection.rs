//! What protects an account once its password is known (SPEC §4.5, §6,
//! §7.1, §8.1): the flood of codes of seed 002, the lockout after wrong
//! codes, password reset, identity-document recovery and its review, and
//! mandatory 2SV — over a real SQLite file with a controlled clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use nidan_core::model::CaseStatus;
use nidan_core::policy::Require2sv;
use nidan_core::service::admin::Actor;
use nidan_core::service::mandate::Mandate;
use nidan_core::service::signin::{CodeRequired, PasswordStep};
use nidan_core::{Error, Policy};

const ALERT: &str = "[nidan] パスワードを知っている第三者がログインを試みています";

/// Limits that stay out of the way of what is being tested.
fn loose() -> Policy {
    Policy {
        resend_cooldown_seconds: 0,
        sends_per_account_15min: 1000,
        sends_per_number_day: 1000,
        sends_per_ip_hour: 1000,
        ..Policy::default()
    }
}

async fn password_step(w: &World) -> CodeRequired {
    match sign_in_as(w, "tsuki to hoshi").await {
        PasswordStep::CodeRequired(c) => c,
        PasswordStep::SignedIn(_) => panic!("2SV is on: a code must be asked for"),
    }
}

/// The code step with the code last texted to the phone.
async fn texted_code(
    w: &World,
    required: &CodeRequired,
    remember: bool,
) -> Result<nidan_core::service::signin::SignedIn, Error> {
    w.nidan
        .verify_code(
            &required.challenge_token,
            &w.texts.last_code(),
            remember,
            &origin(),
        )
        .await
}

/// Seed 002: someone who knows the password starts sign-ins over and over.
/// The owner gets one alert at the 3rd; at the 10th texts stop, and
/// nothing more is sent until the password is changed.
#[tokio::test]
async fn a_flood_of_sign_ins_alerts_once_then_stops_sending_until_the_password_changes() {
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    let texts_before = w.texts.count();
    let mut last = None;
    for i in 1..=15 {
        w.clock.advance(60);
        let required = password_step(&w).await;
        if i < 10 {
            assert!(matches!(required.delivery, Some(Ok(()))), "sign-in {i}");
        } else {
            assert!(
                matches!(required.delivery, Some(Err(Error::CodesPaused))),
                "sign-in {i}: {:?}",
                required.delivery
            );
        }
        assert_eq!(w.texts.count() - texts_before, i.min(9), "texts after {i}");
        assert_eq!(
            w.mails.subjects(ALERT),
            usize::from(i >= 3),
            "alerts after {i}"
        );
        last = Some(required);
    }
    // The alert says how often and links to the password reset.
    let alert_body = w
        .mails
        .bodies
        .lock()
        .unwrap()
        .iter()
        .find(|b| b.contains("24時間以内に3回"))
        .cloned()
        .expect("the alert names the count");
    assert!(alert_body.contains("http://127.0.0.1:8080/password/forgot"));
    // "Text me" and "Call me" are refused too, in plain words.
    let required = last.unwrap();
    let phone = required.methods[0].id.clone();
    for channel in [
        nidan_core::model::Channel::Sms,
        nidan_core::model::Channel::Voice,
    ] {
        let err = w
            .nidan
            .send_sign_in_code(&required.challenge_token, &phone, Some(channel), &origin())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::CodesPaused), "{err:?}");
    }
    assert_eq!(w.texts.count() - texts_before, 9);
    // The owner sees the attempts with time, IP and browser.
    let account = w
        .nidan
        .user_by_email(&Actor::Cli, "hanako@example.com")
        .await
        .unwrap();
    let seen = w.nidan.unfinished_sign_ins(&account).await.unwrap();
    assert_eq!(seen.len(), 15);
    assert!(
        seen.iter()
            .all(|c| c.ip == "127.0.0.1" && c.browser == "Test")
    );
    // A new password (by the emailed link) starts sending again.
    w.nidan
        .request_password_reset("hanako@example.com", &origin())
        .await
        .unwrap();
    let link = w.mails.last_link();
    let token = link.rsplit('/').next().unwrap();
    w.nidan
        .reset_password(token, "a brand new secret", &origin())
        .await
        .unwrap();
    w.clock.advance(60);
    let required = match sign_in_as(&w, "a brand new secret").await {
        PasswordStep::CodeRequired(c) => c,
        PasswordStep::SignedIn(_) => panic!(),
    };
    assert!(matches!(required.delivery, Some(Ok(()))));
    assert_eq!(w.texts.count() - texts_before, 10);
    assert_eq!(w.mails.subjects(ALERT), 1);
}

/// Wrong codes across sign-in attempts slow the account, doubling, and lock
/// code entry at 100 until an admin unlock or a password reset. Sending new
/// codes never resets the count.
#[tokio::test]
async fn lockout_slows_then_locks_and_unlock_or_reset_clears_it() {
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    let failures = async || {
        w.nidan
            .user_by_email(&Actor::Cli, "hanako@example.com")
            .await
            .unwrap()
            .guard
            .code_failures
    };
    let mut waits = Vec::new();
    while failures().await < 100 {
        let token = password_step(&w).await.challenge_token;
        while failures().await < 100 {
            match w
                .nidan
                .verify_code(&token, "000000", false, &origin())
                .await
            {
                Err(Error::WrongCode { .. }) => {}
                Err(Error::SlowDown { retry_after }) => {
                    waits.push(retry_after);
                    w.clock.advance(retry_after);
                }
                Err(Error::TooManyAttempts | Error::ChallengeExpired) => break,
                other => panic!("after {} failures: {other:?}", failures().await),
            }
        }
    }
    // The first wait comes after 5 failures; each is at least as long as
    // the one before, from 1 s up to the 300 s cap.
    assert_eq!(waits.first(), Some(&1));
    assert!(waits.windows(2).all(|p| p[0] <= p[1]), "{waits:?}");
    assert_eq!(waits.last(), Some(&300));
    // Locked: even the right code is not checked.
    w.clock.advance(301);
    let required = password_step(&w).await;
    let sent = w.texts.last_code();
    let err = w
        .nidan
        .verify_code(&required.challenge_token, &sent, false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeEntryLocked), "{err:?}");
    // An admin unlock (recorded) opens it again.
    let account = w
        .nidan
        .user_by_email(&Actor::Cli, "hanako@example.com")
        .await
        .unwrap();
    assert_eq!(account.guard.code_failures, 100);
    w.nidan
        .unlock(&Actor::Cli, &account.id, &origin())
        .await
        .unwrap();
    // So many unfinished sign-ins had also paused sending (§7.1); the
    // unlock clears that too, so "Text me" works again.
    assert!(account.guard.codes_paused_at.is_some());
    w.nidan
        .send_sign_in_code(
            &required.challenge_token,
            &required.methods[0].id,
            None,
            &origin(),
        )
        .await
        .unwrap();
    texted_code(&w, &required, false).await.unwrap();
    let file = w.nidan.user_file(&Actor::Cli, &account.id).await.unwrap();
    assert_eq!(file.account.guard.code_failures, 0);
    assert!(
        file.events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::Unlocked)
    );
    assert!(
        file.events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::CodeEntryLocked)
    );
}

#[tokio::test]
async fn a_password_reset_unlocks_code_entry_and_links_work_once() {
    let w = world_with(
        Policy {
            lockout_after_failures: 3,
            slowdown_after_failures: 100,
            ..loose()
        },
        false,
    )
    .await;
    enabled(&w).await;
    let required = password_step(&w).await;
    for _ in 0..3 {
        let _ = w
            .nidan
            .verify_code(&required.challenge_token, "000000", false, &origin())
            .await;
    }
    let required = password_step(&w).await;
    assert!(matches!(
        texted_code(&w, &required, false).await,
        Err(Error::CodeEntryLocked)
    ));
    // Unknown addresses get the same answer and no email.
    let mails = w.mails.count();
    w.nidan
        .request_password_reset("nobody@example.com", &origin())
        .await
        .unwrap();
    assert_eq!(w.mails.count(), mails);
    w.nidan
        .request_password_reset("Hanako@Example.com", &origin())
        .await
        .unwrap();
    let token = w.mails.last_link().rsplit('/').next().unwrap().to_owned();
    assert!(matches!(
        w.nidan.reset_password(&token, "short", &origin()).await,
        Err(Error::PasswordLength)
    ));
    w.nidan
        .reset_password(&token, "a brand new secret", &origin())
        .await
        .unwrap();
    assert!(matches!(
        w.nidan
            .reset_password(&token, "another new secret", &origin())
            .await,
        Err(Error::ResetLinkInvalid)
    ));
    // The old password is gone; the new one still needs the code.
    assert!(matches!(
        w.nidan
            .sign_in(
                "hanako@example.com",
                "tsuki to hoshi",
                false,
                None,
                &origin()
            )
            .await,
        Err(Error::BadCredentials)
    ));
    w.clock.advance(1);
    let PasswordStep::CodeRequired(required) = sign_in_as(&w, "a brand new secret").await else {
        panic!("a reset never turns 2SV off")
    };
    texted_code(&w, &required, false).await.unwrap();
    // Links expire after an hour.
    w.nidan
        .request_password_reset("hanako@example.com", &origin())
        .await
        .unwrap();
    let token = w.mails.last_link().rsplit('/').next().unwrap().to_owned();
    w.clock.advance(3601);
    assert!(matches!(
        w.nidan
            .reset_password(&token, "yet another secret", &origin())
            .await,
        Err(Error::ResetLinkInvalid)
    ));
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

#[tokio::test]
async fn recovery_is_reviewed_once_and_approval_turns_2sv_off_and_ends_sessions() {
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    let required = password_step(&w).await;
    let token = required.challenge_token.to_string();
    // Bad uploads, each with its own error; nothing is opened.
    for (kind, bytes, check) in [
        ("passport", &b""[..], "empty"),
        ("passport", &b"MZ\x90\0this is an exe"[..], "type"),
        ("spaceship", PNG, "kind"),
    ] {
        let err = w
            .nidan
            .request_recovery(&token, kind, bytes, &origin())
            .await
            .unwrap_err();
        let ok = match check {
            "empty" => matches!(err, Error::DocumentEmpty),
            "type" => matches!(
                err,
                Error::DocumentType {
                    found: "it is a program"
                }
            ),
            _ => matches!(err, Error::DocumentKind),
        };
        assert!(ok, "{check}: {err:?}");
    }
    let big = vec![0xFF; 10 * 1024 * 1024 + 1];
    assert!(matches!(
        w.nidan
            .request_recovery(&token, "passport", &big, &origin())
            .await,
        Err(Error::DocumentTooLarge { max_mb: 10 })
    ));
    assert!(w.nidan.pending_recovery(&token).await.unwrap().is_none());
    let case = w
        .nidan
        .request_recovery(&token, "drivers_licence", PNG, &origin())
        .await
        .unwrap();
    assert_eq!(case.content_type, "image/png");
    assert_eq!(
        w.mails.subjects("[nidan] アカウントの復旧が申請されました"),
        1
    );
    // One open case per account.
    assert!(matches!(
        w.nidan
            .request_recovery(&token, "passport", PNG, &origin())
            .await,
        Err(Error::RecoveryAlreadyOpen)
    ));
    // Staff need the admin role.
    let plain = w
        .nidan
        .user_by_email(&Actor::Cli, "hanako@example.com")
        .await
        .unwrap();
    assert!(matches!(
        w.nidan
            .recovery_queue(
                &Actor::Admin(Box::new(plain.clone())),
                Some(CaseStatus::Open)
            )
            .await,
        Err(Error::NotAdmin)
    ));
    let queue = w
        .nidan
        .recovery_queue(&Actor::Cli, Some(CaseStatus::Open))
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].email, "hanako@example.com");
    let (content_type, bytes) = w
        .nidan
        .recovery_document(&Actor::Cli, &case.id, &origin())
        .await
        .unwrap();
    assert_eq!(
        (content_type.as_str(), bytes.as_slice()),
        ("image/png", PNG)
    );
    // A session that existed before is ended by the approval.
    let session = signed_up(
        &w.nidan,
        &w.mails,
        "other@example.com",
        "another password",
        "en",
    )
    .await;
    let approved = w
        .nidan
        .approve_recovery(&Actor::Cli, &case.id, &origin())
        .await
        .unwrap();
    assert_eq!(approved.status, CaseStatus::Approved);
    // Retention 0: the document is gone at the decision.
    assert!(approved.document_deleted_at.is_some());
    assert!(matches!(
        w.nidan
            .recovery_document(&Actor::Cli, &case.id, &origin())
            .await,
        Err(Error::NoSuchCase)
    ));
    assert!(matches!(
        w.nidan
            .approve_recovery(&Actor::Cli, &case.id, &origin())
            .await,
        Err(Error::CaseDecided)
    ));
    assert_eq!(
        w.mails.subjects("[nidan] アカウントの復旧が承認されました"),
        1
    );
    // Sign in with the password alone, then set up 2SV again.
    match sign_in_as(&w, "tsuki to hoshi").await {
        PasswordStep::SignedIn(_) => {}
        PasswordStep::CodeRequired(_) => panic!("2SV must be off after approval"),
    }
    let file = w.nidan.user_file(&Actor::Cli, &plain.id).await.unwrap();
    assert!(file.methods.is_empty() && file.backup_codes_left == 0);
    assert!(
        file.events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::RecoveryApproved
                && e.detail.contains("nidan admin"))
    );
    // The other account's session is untouched; recovery is per account.
    assert!(w.nidan.authenticate(&session.session_token).await.is_ok());
}

#[tokio::test]
async fn a_rejection_needs_a_reason_emails_it_and_allows_a_new_request() {
    let w = world_with(
        Policy {
            recovery_retention_days: 7,
            ..loose()
        },
        false,
    )
    .await;
    enabled(&w).await;
    let token = password_step(&w).await.challenge_token.to_string();
    let case = w
        .nidan
        .request_recovery(&token, "passport", b"%PDF-1.7\n%%EOF", &origin())
        .await
        .unwrap();
    assert!(matches!(
        w.nidan
            .reject_recovery(&Actor::Cli, &case.id, "  ", &origin())
            .await,
        Err(Error::ReasonRequired)
    ));
    let rejected = w
        .nidan
        .reject_recovery(&Actor::Cli, &case.id, "The photo is blurred", &origin())
        .await
        .unwrap();
    assert_eq!(rejected.status, CaseStatus::Rejected);
    assert!(
        w.mails
            .bodies
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("The photo is blurred")
    );
    // Kept 7 days after the decision, then deleted.
    assert!(rejected.document_deleted_at.is_none());
    w.clock.advance(7 * 86_400);
    assert_eq!(w.nidan.purge_recovery_documents().await.unwrap(), 1);
    // 2SV is still on; a new request may be made.
    let token = password_step(&w).await.challenge_token.to_string();
    w.nidan
        .request_recovery(&token, "passport", PNG, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn mandatory_2sv_reminds_before_the_deadline_and_requires_after() {
    let deadline = "2027-06-30";
    let at = nidan_core::calendar::parse_date(deadline).unwrap();
    let w = world_with(
        Policy {
            require_2sv: Some(Require2sv {
                from: deadline.into(),
                role: Some("seller".into()),
            }),
            ..loose()
        },
        false,
    )
    .await;
    let mut a = account(&w).await;
    assert_eq!(w.nidan.mandate(&a), Mandate::None);
    a.roles = w
        .nidan
        .set_roles(&Actor::Cli, &a.id, &["Seller".into()], &origin())
        .await
        .unwrap();
    assert_eq!(a.roles, vec!["seller".to_owned()]);
    assert!(nidan_core::Clock::now(&w.clock) < at);
    assert_eq!(w.nidan.mandate(&a), Mandate::Before(at));
    w.clock.advance(at - nidan_core::Clock::now(&w.clock));
    assert_eq!(w.nidan.mandate(&a), Mandate::Required);
    a.two_sv_on_since = Some(at);
    assert_eq!(w.nidan.mandate(&a), Mandate::None);
}

/// §7.2: someone who knows the password adds their own phone and asks not
/// to be asked for codes again. The owner's notices carry "This wasn't
/// me": one click ends every session, forgets every remembered browser and
/// opens a password reset; the link works once, for 14 days, and is not a
/// reset link itself (nor a reset link one of these).
#[tokio::test]
async fn this_wasnt_me_signs_out_everywhere_and_opens_a_reset() {
    let w = world_with(loose(), false).await;
    let account = enabled(&w).await;
    // The intruder: the password and a code texted to the owner's phone
    // (say, a SIM swap), "don't ask again on this browser".
    let required = password_step(&w).await;
    let intruder = texted_code(&w, &required, true).await.unwrap();
    let remembered = intruder.remember_token.clone().unwrap();
    let link = w.mails.last_link();
    // Another attempt of theirs, waiting for a code.
    let waiting = password_step(&w).await;
    let notice = w
        .mails
        .bodies
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|b| b.contains("/not-me/"))
        .unwrap()
        .clone();
    assert!(notice.contains("次のリンク"), "{notice}");
    assert!(link.contains("/not-me/"), "{link}");
    let token = link.rsplit('/').next().unwrap().to_owned();

    // Not a reset link; unknown tokens refused.
    assert!(matches!(
        w.nidan
            .reset_password(&token, "a new long password", &origin())
            .await,
        Err(Error::ResetLinkInvalid)
    ));
    assert!(matches!(
        w.nidan.not_me("nonsense", &origin()).await,
        Err(Error::ResetLinkInvalid)
    ));

    let reset = w.nidan.not_me(&token, &origin()).await.unwrap();
    assert!(
        matches!(
            texted_code(&w, &waiting, false).await,
            Err(Error::ChallengeExpired)
        ),
        "an attempt waiting for a code ends too"
    );
    assert!(
        w.nidan.authenticate(&intruder.session_token).await.is_err(),
        "signed out"
    );
    match w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            Some(&remembered),
            &origin(),
        )
        .await
        .unwrap()
    {
        PasswordStep::CodeRequired(_) => {}
        PasswordStep::SignedIn(_) => panic!("the remembered browser is forgotten"),
    }
    assert!(
        w.nidan.not_me(&token, &origin()).await.is_err(),
        "a link works once"
    );
    // The reset it opened is a reset link, and not a "wasn't me" one.
    assert!(w.nidan.not_me(&reset, &origin()).await.is_err());
    w.nidan
        .reset_password(&reset, "a new long password", &origin())
        .await
        .unwrap();
    let events = nidan_core::store::Events::events(&w.store, &account.id, 50)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::NotMe)
    );

    // A link from 15 days ago no longer works.
    let step = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "a new long password",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap();
    let PasswordStep::CodeRequired(required) = step else {
        panic!("2SV is still on after a reset");
    };
    texted_code(&w, &required, true).await.unwrap();
    let old = w.mails.last_link();
    assert!(old.contains("/not-me/"), "{old}");
    w.clock.advance(15 * 86_400);
    assert!(matches!(
        w.nidan
            .not_me(old.rsplit('/').next().unwrap(), &origin())
            .await,
        Err(Error::ResetLinkInvalid)
    ));
}

/// Changing the password ends sign-in attempts that passed the old one and
/// wait for a code, and keeps the session it was changed in.
#[tokio::test]
async fn a_password_change_ends_attempts_waiting_for_a_code() {
    let w = world_with(loose(), false).await;
    let account = enabled(&w).await;
    let required = password_step(&w).await;
    let mine = texted_code(&w, &required, false).await.unwrap();
    let waiting = password_step(&w).await;
    w.nidan
        .change_password(
            &mine.session,
            &account,
            "tsuki to hoshi",
            "a brand new password",
            &origin(),
        )
        .await
        .unwrap();
    assert!(matches!(
        texted_code(&w, &waiting, false).await,
        Err(Error::ChallengeExpired)
    ));
    assert!(w.nidan.authenticate(&mine.session_token).await.is_ok());
}

/// Sends `wrong` 300 times through `check`, waiting out each slow-down on
/// the clock; returns the waits seen. Fails unless the account ends
/// locked at exactly the policy's lockout.
async fn three_hundred_wrong_codes(
    w: &World,
    check: impl AsyncFn() -> Result<(), Error>,
) -> Vec<i64> {
    let mut waits = Vec::new();
    let mut locked_at = None;
    for i in 0..300 {
        match check().await {
            Err(Error::WrongCode { .. }) => {}
            Err(Error::SlowDown { retry_after }) => {
                waits.push(retry_after);
                w.clock.advance(retry_after);
            }
            Err(Error::CodeEntryLocked) => {
                locked_at.get_or_insert(i);
            }
            other => panic!("wrong code {i}: {other:?}"),
        }
    }
    let account = w
        .nidan
        .user_by_email(&Actor::Cli, "hanako@example.com")
        .await
        .unwrap();
    assert_eq!(account.guard.code_failures, 100);
    assert!(locked_at.is_some(), "never locked");
    assert_eq!(waits.first(), Some(&1), "{waits:?}");
    assert_eq!(waits.last(), Some(&300), "{waits:?}");
    waits
}

/// The account as stored now (its failure count moves with every check).
async fn fresh(w: &World) -> nidan_core::model::Account {
    w.nidan
        .user_by_email(&Actor::Cli, "hanako@example.com")
        .await
        .unwrap()
}

/// Issue 13, findings 2 and 3: turning 2SV off and confirming a new phone
/// or app checked codes with no limit. Every place that accepts a code
/// now counts against the same slow-down and lockout as the sign-in.
#[tokio::test]
async fn every_place_that_accepts_a_code_slows_down_and_locks() {
    // Turning 2SV off: 300 wrong codes, then even a right backup code is
    // refused, and so is the sign-in's code step.
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    three_hundred_wrong_codes(&w, async || {
        w.nidan
            .turn_off(&fresh(&w).await, "000000", &origin())
            .await
    })
    .await;
    let codes = w
        .nidan
        .regenerate_backup_codes(&fresh(&w).await, &origin())
        .await
        .unwrap();
    let err = w
        .nidan
        .turn_off(&fresh(&w).await, &codes[0], &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeEntryLocked), "{err:?}");
    let required = password_step(&w).await;
    let err = w
        .nidan
        .verify_code(&required.challenge_token, &codes[1], false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeEntryLocked), "{err:?}");

    // Confirming a phone someone else owns: 300 guesses, then locked.
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    let phone = w
        .nidan
        .begin_phone(
            &fresh(&w).await,
            nidan_core::model::MethodRole::Backup,
            "080-9999-0000",
            nidan_core::model::Channel::Sms,
            &origin(),
        )
        .await
        .unwrap();
    let sent = w.texts.last_code();
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    three_hundred_wrong_codes(&w, async || {
        w.nidan
            .confirm_phone(&fresh(&w).await, &phone.method_id, wrong, &origin())
            .await
            .map(drop)
    })
    .await;
    let err = w
        .nidan
        .confirm_phone(&fresh(&w).await, &phone.method_id, &sent, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeEntryLocked), "{err:?}");

    // Confirming a new app in the wizard counts the same way.
    let w = world_with(loose(), false).await;
    let a = account(&w).await;
    let app = w
        .nidan
        .begin_app(&a, nidan_core::model::MethodRole::Primary, "Phone")
        .await
        .unwrap();
    let now = u64::try_from(nidan_core::clock::Clock::now(&w.clock)).unwrap();
    let right = nidan_otp::Totp::default().generate(&app.secret, now);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    three_hundred_wrong_codes(&w, async || {
        w.nidan
            .confirm_app(&fresh(&w).await, &app.method_id, wrong, &origin())
            .await
            .map(drop)
    })
    .await;
    let now = u64::try_from(nidan_core::clock::Clock::now(&w.clock)).unwrap();
    let right = nidan_otp::Totp::default().generate(&app.secret, now);
    let err = w
        .nidan
        .confirm_app(&fresh(&w).await, &app.method_id, &right, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeEntryLocked), "{err:?}");
}

/// Issue 13, finding 8: a code typed again right after it was used means
/// someone saw it; the owner is told by email (and it is refused).
#[tokio::test]
async fn a_replayed_code_is_refused_and_the_owner_is_told() {
    let w = world_with(loose(), false).await;
    let a = account(&w).await;
    let app = w
        .nidan
        .begin_app(&a, nidan_core::model::MethodRole::Primary, "Phone")
        .await
        .unwrap();
    let code_now = || {
        let now = u64::try_from(nidan_core::clock::Clock::now(&w.clock)).unwrap();
        nidan_otp::Totp::default().generate(&app.secret, now)
    };
    w.nidan
        .confirm_app(&a, &app.method_id, &code_now(), &origin())
        .await
        .unwrap();
    let backup = w
        .nidan
        .begin_phone(
            &a,
            nidan_core::model::MethodRole::Backup,
            "090-1234-5678",
            nidan_core::model::Channel::Sms,
            &origin(),
        )
        .await
        .unwrap();
    w.nidan
        .confirm_phone(&a, &backup.method_id, &w.texts.last_code(), &origin())
        .await
        .unwrap();
    w.nidan.enable(&a, None, false, &origin()).await.unwrap();
    w.clock.advance(30);
    let code = code_now();
    let first = password_step(&w).await;
    w.nidan
        .verify_code(&first.challenge_token, &code, false, &origin())
        .await
        .unwrap();
    let before = w.mails.count();
    let second = password_step(&w).await;
    let err = w
        .nidan
        .verify_code(&second.challenge_token, &code, false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeAlreadyUsed), "{err:?}");
    assert_eq!(
        w.mails
            .subjects("[nidan] 使用済みのコードが再入力されました"),
        1
    );
    assert!(w.mails.count() > before);
    let body = w.mails.bodies.lock().unwrap().last().unwrap().clone();
    assert!(
        body.contains("Phone") && body.contains("127.0.0.1"),
        "{body}"
    );
}

fn from_ip(ip: &str) -> nidan_core::model::Origin {
    nidan_core::model::Origin {
        ip: ip.into(),
        ..origin()
    }
}

/// Issue 13, finding 4: 100 wrong passwords in a row were all checked.
/// Now they slow down (per address and IP, doubling to the cap), the
/// owner is emailed once, an unknown address behaves exactly the same,
/// and the owner still signs in from another IP at once, and from the
/// guesser's IP after the wait: never a lockout.
#[tokio::test]
async fn password_guessing_slows_down_but_never_locks_the_owner_out() {
    let w = world_with(loose(), false).await;
    enabled(&w).await;
    let attacker = from_ip("203.0.113.9");
    let mut outcomes = Vec::new();
    for _ in 0..100 {
        let result = w
            .nidan
            .sign_in("hanako@example.com", "wrong guess!", false, None, &attacker)
            .await;
        outcomes.push(match result {
            Err(Error::BadCredentials) => 0,
            Err(Error::PasswordSlowDown { retry_after }) => retry_after,
            other => panic!("{other:?}"),
        });
    }
    // Five tries, then a 1-second wait; without waiting, every further
    // guess is refused unchecked.
    assert_eq!(&outcomes[..5], &[0; 5]);
    assert!(outcomes[5..].iter().all(|&wait| wait == 1), "{outcomes:?}");
    // Waiting out each delay: the wait doubles to the 5-minute cap.
    let mut waits = Vec::new();
    for _ in 0..20 {
        match w
            .nidan
            .sign_in("hanako@example.com", "wrong guess!", false, None, &attacker)
            .await
        {
            Err(Error::PasswordSlowDown { retry_after }) => {
                waits.push(retry_after);
                w.clock.advance(retry_after);
            }
            Err(Error::BadCredentials) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits[..4], [1, 2, 4, 8], "{waits:?}");
    assert_eq!(waits.last(), Some(&300), "{waits:?}");
    // The owner, elsewhere, is not slowed down at all ...
    assert!(matches!(
        w.nidan
            .sign_in(
                "hanako@example.com",
                "tsuki to hoshi",
                false,
                None,
                &from_ip("198.51.100.7")
            )
            .await,
        Ok(PasswordStep::CodeRequired(_))
    ));
    // ... and from the guesser's IP, after the wait.
    let err = w
        .nidan
        .sign_in(
            "hanako@example.com",
            "tsuki to hoshi",
            false,
            None,
            &attacker,
        )
        .await
        .unwrap_err();
    let Error::PasswordSlowDown { retry_after } = err else {
        panic!("{err:?}")
    };
    w.clock.advance(retry_after);
    assert!(matches!(
        w.nidan
            .sign_in(
                "hanako@example.com",
                "tsuki to hoshi",
                false,
                None,
                &attacker
            )
            .await,
        Ok(PasswordStep::CodeRequired(_))
    ));
    // The owner was told once, and the guesses are in the audit log.
    assert_eq!(
        w.mails
            .subjects("[nidan] パスワードを推測する試みがあります"),
        1
    );
    let file = w
        .nidan
        .user_file(&Actor::Cli, &fresh(&w).await.id)
        .await
        .unwrap();
    assert!(
        file.events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::PasswordGuessingAlert)
    );
    assert!(
        file.events
            .iter()
            .any(|e| e.kind == nidan_core::model::EventKind::PasswordRefused)
    );
    // An address with no account slows down exactly the same way.
    let mut unknown = Vec::new();
    for _ in 0..7 {
        unknown.push(
            match w
                .nidan
                .sign_in("nobody@example.com", "wrong guess!", false, None, &attacker)
                .await
            {
                Err(Error::BadCredentials) => 0,
                Err(Error::PasswordSlowDown { retry_after }) => retry_after,
                other => panic!("{other:?}"),
            },
        );
    }
    assert_eq!(unknown, [0, 0, 0, 0, 0, 1, 1]);
}

/// Password spraying: one IP trying a few passwords on many addresses
/// waits for the hour to end once it has had its share of wrong ones.
#[tokio::test]
async fn one_ip_spraying_many_addresses_waits_for_the_hour() {
    let w = world_with(
        Policy {
            password_failures_per_ip_hour: 20,
            ..loose()
        },
        false,
    )
    .await;
    let sprayer = from_ip("203.0.113.50");
    for i in 0..20 {
        let err = w
            .nidan
            .sign_in(
                &format!("user{i}@example.com"),
                "Summer2026!",
                false,
                None,
                &sprayer,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadCredentials), "{i}: {err:?}");
    }
    let err = w
        .nidan
        .sign_in("user99@example.com", "Summer2026!", false, None, &sprayer)
        .await
        .unwrap_err();
    let Error::PasswordSlowDown { retry_after } = err else {
        panic!("{err:?}")
    };
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    // Another IP is not affected.
    let err = w
        .nidan
        .sign_in(
            "user99@example.com",
            "Summer2026!",
            false,
            None,
            &from_ip("198.51.100.1"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadCredentials), "{err:?}");
}
