//! The rules of sign-in and two-step verification, driven through the
//! domain API over a real SQLite file, with a controlled clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

mod common;

use nidan_core::model::{MethodRole, Origin};
use nidan_core::policy::BackupRule;
use nidan_core::service::signin::{PasswordStep, SignedIn};
use nidan_core::{Error, ManualClock, Nidan, Policy, secrets::MasterKey};
use nidan_otp::{Secret, Step, Totp};
use nidan_store::SqlStore;

const T0: i64 = 1_800_000_000; // a step boundary: 1_800_000_000 / 30 is whole

struct World {
    nidan: Nidan<SqlStore>,
    store: SqlStore,
    clock: ManualClock,
    mails: common::Recorder,
    _dir: tempfile::TempDir,
}

fn origin() -> Origin {
    Origin {
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        browser_label: "Firefox on Linux".into(),
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = nidan_store::testing::store(dir.path()).await.unwrap();
    let kept = store.clone();
    let clock = ManualClock::new(T0);
    let nidan = Nidan::new(
        store,
        Arc::new(clock.clone()),
        MasterKey::generate().unwrap(),
        Policy {
            backup_rule: BackupRule::AnyOtherMethod,
            ..Policy::default()
        },
        2,
    )
    .unwrap();
    let mails = common::Recorder::default();
    World {
        nidan: with_mail(nidan, &mails),
        store: kept,
        clock,
        mails,
        _dir: dir,
    }
}

fn with_mail(nidan: Nidan<SqlStore>, mails: &common::Recorder) -> Nidan<SqlStore> {
    nidan.with_senders(nidan_core::delivery::Senders {
        sms: Arc::new(mails.clone()),
        voice: Arc::new(mails.clone()),
        email: Arc::new(mails.clone()),
    })
}

/// Signs up `email` (password "correct horse") through the emailed link.
async fn sign_up(w: &World, email: &str) -> SignedIn {
    common::signed_up(&w.nidan, &w.mails, email, "correct horse", "en").await
}

fn code(secret: &Secret, at: i64) -> String {
    Totp::default().generate(secret, at as u64)
}

fn code_at_step(secret: &Secret, step: i64) -> String {
    Totp::default().generate_at(secret, Step(step as u64))
}

/// Signs up and enables 2SV with two apps; returns (primary key, backup key, backup codes).
async fn enabled(w: &World, email: &str) -> (Secret, Secret, Vec<String>) {
    let signed = sign_up(w, email).await;
    let (_, account) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    let primary = w
        .nidan
        .begin_app(&account, MethodRole::Primary, "Phone app")
        .await
        .unwrap();
    w.nidan
        .confirm_app(
            &account,
            &primary.method_id,
            &code(&primary.secret, w.clock.now_for_test()),
            &origin(),
        )
        .await
        .unwrap();
    let backup = w
        .nidan
        .begin_app(&account, MethodRole::Backup, "kagi")
        .await
        .unwrap();
    w.nidan
        .confirm_app(
            &account,
            &backup.method_id,
            &code(&backup.secret, w.clock.now_for_test()),
            &origin(),
        )
        .await
        .unwrap();
    let done = w
        .nidan
        .enable(&account, None, false, &origin())
        .await
        .unwrap();
    // Enrolment used the current step of each app; move to a fresh one.
    w.clock.advance(30);
    (
        primary.secret,
        backup.secret,
        done.backup_codes.iter().map(|c| c.to_string()).collect(),
    )
}

trait Now {
    fn now_for_test(&self) -> i64;
}
impl Now for ManualClock {
    fn now_for_test(&self) -> i64 {
        nidan_core::Clock::now(self)
    }
}

async fn password_step(w: &World, email: &str, remembered: Option<&str>) -> PasswordStep {
    w.nidan
        .sign_in(email, "correct horse", false, remembered, &origin())
        .await
        .unwrap()
}

async fn challenge(w: &World, email: &str) -> String {
    match password_step(w, email, None).await {
        PasswordStep::CodeRequired(c) => c.challenge_token.to_string(),
        PasswordStep::SignedIn(_) => panic!("a code should be required"),
    }
}

#[tokio::test]
async fn without_2sv_the_password_signs_in() {
    let w = world().await;
    sign_up(&w, "Alice@Example.com").await;
    assert!(matches!(
        password_step(&w, "alice@example.com", None).await,
        PasswordStep::SignedIn(_)
    ));
}

#[tokio::test]
async fn failed_sign_ins_never_say_whether_the_email_exists() {
    let w = world().await;
    sign_up(&w, "alice@example.com").await;
    let wrong_password = w
        .nidan
        .sign_in("alice@example.com", "wrong horse", false, None, &origin())
        .await
        .unwrap_err();
    let unknown = w
        .nidan
        .sign_in(
            "nobody@example.com",
            "correct horse",
            false,
            None,
            &origin(),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong_password.to_string(), unknown.to_string());
    assert!(matches!(unknown, Error::BadCredentials));
}

#[tokio::test]
async fn sign_up_checks_email_and_password_length() {
    let w = world().await;
    assert!(matches!(
        w.nidan
            .sign_up("not-an-email", "correct horse", "en", &origin())
            .await,
        Err(Error::InvalidEmail)
    ));
    assert!(matches!(
        w.nidan
            .sign_up("a@example.com", "short", "en", &origin())
            .await,
        Err(Error::PasswordLength)
    ));
    assert!(matches!(
        w.nidan
            .sign_up("a@example.com", &"x".repeat(129), "en", &origin())
            .await,
        Err(Error::PasswordLength)
    ));
    // 128 characters are fine. Nothing exists until the emailed link is
    // opened; the link works once.
    w.nidan
        .sign_up("a@example.com", &"x".repeat(128), "en", &origin())
        .await
        .unwrap();
    assert!(matches!(
        w.nidan
            .sign_in("a@example.com", &"x".repeat(128), false, None, &origin())
            .await,
        Err(Error::BadCredentials)
    ));
    let link = w.mails.last_link();
    assert!(link.contains("/signup/confirm/"), "{link}");
    let token = link.rsplit('/').next().unwrap().to_owned();
    w.nidan.confirm_sign_up(&token, &origin()).await.unwrap();
    assert!(matches!(
        w.nidan.confirm_sign_up(&token, &origin()).await,
        Err(Error::SignUpLinkInvalid)
    ));
}

/// Issue 13, finding 9: sign-up answered 409 `email_taken`, telling
/// anyone which addresses have accounts. Now the answer is the same; the
/// owner is told by email that someone tried, and gets no way in.
#[tokio::test]
async fn sign_up_never_says_whether_an_address_has_an_account() {
    let w = world().await;
    sign_up(&w, "a@example.com").await;
    let mails_before = w.mails.count();
    // The same answer for a taken address (any case) and a new one.
    let taken = w
        .nidan
        .sign_up("A@example.com", "another password", "en", &origin())
        .await;
    let new = w
        .nidan
        .sign_up("b@example.com", "another password", "en", &origin())
        .await;
    assert!(matches!((taken, new), (Ok(()), Ok(()))));
    assert_eq!(w.mails.count(), mails_before + 2);
    assert_eq!(
        w.mails
            .subjects("[nidan] Someone tried to sign up with your address"),
        1
    );
    assert_eq!(w.mails.subjects("[nidan] Finish creating your account"), 2);
    // The owner's password still works; the attempt's does not.
    assert!(matches!(
        password_step(&w, "a@example.com", None).await,
        PasswordStep::SignedIn(_)
    ));
    assert!(matches!(
        w.nidan
            .sign_in("a@example.com", "another password", false, None, &origin())
            .await,
        Err(Error::BadCredentials)
    ));
    // A link left over from before the address got its account is void.
    w.nidan
        .sign_up("c@example.com", "first password", "en", &origin())
        .await
        .unwrap();
    let first = w.mails.last_link();
    w.nidan
        .sign_up("c@example.com", "second password", "en", &origin())
        .await
        .unwrap();
    let second = w.mails.last_link();
    let token = |link: &str| link.rsplit('/').next().unwrap().to_owned();
    w.nidan
        .confirm_sign_up(&token(&second), &origin())
        .await
        .unwrap();
    assert!(matches!(
        w.nidan.confirm_sign_up(&token(&first), &origin()).await,
        Err(Error::SignUpLinkInvalid)
    ));
    // Links end after 24 hours.
    w.nidan
        .sign_up("d@example.com", "some password", "en", &origin())
        .await
        .unwrap();
    let late = w.mails.last_link();
    w.clock.advance(24 * 3600);
    assert!(matches!(
        w.nidan.confirm_sign_up(&token(&late), &origin()).await,
        Err(Error::SignUpLinkInvalid)
    ));
}

#[tokio::test]
async fn nothing_is_enabled_before_page_three() {
    let w = world().await;
    let signed = sign_up(&w, "a@example.com").await;
    let (_, account) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    let app = w
        .nidan
        .begin_app(&account, MethodRole::Primary, "Phone")
        .await
        .unwrap();
    w.nidan
        .confirm_app(&account, &app.method_id, &code(&app.secret, T0), &origin())
        .await
        .unwrap();
    assert!(
        matches!(
            w.nidan.enable(&account, None, false, &origin()).await,
            Err(Error::WizardOrder(_))
        ),
        "a backup is required"
    );
    // Leaving midway: the password alone still signs in, no code asked.
    assert!(matches!(
        password_step(&w, "a@example.com", None).await,
        PasswordStep::SignedIn(_)
    ));
}

#[tokio::test]
async fn an_app_code_signs_in_once_and_its_replay_is_refused() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    let now = w.clock.now_for_test();
    w.nidan
        .verify_code(&token, &code(&primary, now), false, &origin())
        .await
        .unwrap();
    // The same code in a new sign-in attempt: refused as already used.
    let token = challenge(&w, "a@example.com").await;
    let err = w
        .nidan
        .verify_code(&token, &code(&primary, now), false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeAlreadyUsed), "{err:?}");
    // And an older step, still inside the window, is refused too.
    let step = now / 30;
    let err = w
        .nidan
        .verify_code(&token, &code_at_step(&primary, step - 1), false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CodeAlreadyUsed), "{err:?}");
    // The next step works.
    w.clock.advance(30);
    w.nidan
        .verify_code(&token, &code(&primary, now + 30), false, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn one_step_either_side_is_accepted_and_two_are_not() {
    let w = world().await;
    let (primary, backup, _) = enabled(&w, "a@example.com").await;
    let step = w.clock.now_for_test() / 30;
    let token = challenge(&w, "a@example.com").await;
    let err = w
        .nidan
        .verify_code(&token, &code_at_step(&primary, step + 2), false, &origin())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongCode { attempts_left: 4 }),
        "{err:?}"
    );
    w.nidan
        .verify_code(&token, &code_at_step(&primary, step + 1), false, &origin())
        .await
        .unwrap();
    // The backup app's enrolment used step - 1; two steps on, the step
    // before the current one is fresh and accepted.
    w.clock.advance(60);
    let step = w.clock.now_for_test() / 30;
    let token = challenge(&w, "a@example.com").await;
    w.nidan
        .verify_code(&token, &code_at_step(&backup, step - 1), false, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn five_wrong_codes_end_the_sign_in() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    let right = code(&primary, w.clock.now_for_test());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (1..5).rev() {
        let err = w
            .nidan
            .verify_code(&token, wrong, false, &origin())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::WrongCode { attempts_left } if attempts_left == left),
            "{err:?}"
        );
    }
    let err = w
        .nidan
        .verify_code(&token, wrong, false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyAttempts), "{err:?}");
    // Even the right code cannot revive it.
    let err = w
        .nidan
        .verify_code(&token, &right, false, &origin())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyAttempts), "{err:?}");
    // Malformed input costs no attempt in a fresh sign-in.
    let token = challenge(&w, "a@example.com").await;
    assert!(matches!(
        w.nidan.verify_code(&token, "12", false, &origin()).await,
        Err(Error::MalformedCode(_))
    ));
    // Five wrong codes in a row slow the account: the next check waits 1 s
    // (the lockout tests cover the rest of the curve).
    assert!(matches!(
        w.nidan.verify_code(&token, &right, false, &origin()).await,
        Err(Error::SlowDown { retry_after: 1 })
    ));
    w.clock.advance(1);
    w.nidan
        .verify_code(&token, &right, false, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sign_in_attempt_expires_after_ten_minutes() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    w.clock.advance(10 * 60 + 1);
    let err = w
        .nidan
        .verify_code(
            &token,
            &code(&primary, w.clock.now_for_test()),
            false,
            &origin(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChallengeExpired), "{err:?}");
}

#[tokio::test]
async fn a_backup_code_works_once_and_only_once() {
    let w = world().await;
    let (_, _, codes) = enabled(&w, "a@example.com").await;
    assert_eq!(codes.len(), 10);
    let token = challenge(&w, "a@example.com").await;
    w.nidan
        .verify_code(&token, &codes[3].to_uppercase(), false, &origin())
        .await
        .unwrap();
    let token = challenge(&w, "a@example.com").await;
    let err = w
        .nidan
        .verify_code(&token, &codes[3], false, &origin())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongCode { attempts_left: 4 }),
        "{err:?}"
    );
    let (_, account) = w
        .nidan
        .authenticate(
            &w.nidan
                .verify_code(&token, &codes[4], false, &origin())
                .await
                .unwrap()
                .session_token,
        )
        .await
        .unwrap();
    assert_eq!(
        w.nidan.overview(&account).await.unwrap().backup_codes_left,
        8
    );
}

/// Issue 13, finding 6: turning 2SV on left older password-only sessions
/// alive (someone who had the password stayed signed in past the new
/// second step). Every session but the one 2SV was turned on in ends.
#[tokio::test]
async fn turning_two_step_on_ends_every_other_session() {
    let w = world().await;
    let mine = sign_up(&w, "a@example.com").await;
    let PasswordStep::SignedIn(other) = password_step(&w, "a@example.com", None).await else {
        panic!("2SV is off: the password signs in");
    };
    let (session, account) = w.nidan.authenticate(&mine.session_token).await.unwrap();
    for role in [MethodRole::Primary, MethodRole::Backup] {
        let app = w.nidan.begin_app(&account, role, "app").await.unwrap();
        w.nidan
            .confirm_app(
                &account,
                &app.method_id,
                &code(&app.secret, w.clock.now_for_test()),
                &origin(),
            )
            .await
            .unwrap();
    }
    w.nidan
        .enable(&account, Some(&session), false, &origin())
        .await
        .unwrap();
    assert!(w.nidan.authenticate(&mine.session_token).await.is_ok());
    assert!(matches!(
        w.nidan.authenticate(&other.session_token).await,
        Err(Error::NotSignedIn)
    ));
}

/// Issue 13, finding 7: backup codes were stored as SHA-256 of the
/// account id and the code (about 50 bits), which a copy of the database
/// gives up offline. They are now keyed under the master key; hashes
/// stored the old way are keyed at start and keep working.
#[tokio::test]
async fn backup_codes_are_stored_keyed_and_old_hashes_are_upgraded() {
    use nidan_core::secrets::{normalize_backup_code, unkeyed_backup_code_hash};
    use nidan_core::store::records::*;
    let w = world().await;
    let (_, _, codes) = enabled(&w, "a@example.com").await;
    let store = &w.store;
    assert!(
        store
            .legacy_backup_code_hashes(100)
            .await
            .unwrap()
            .is_empty(),
        "every stored hash is keyed"
    );
    // A database from before: the same codes stored unkeyed.
    let account = w
        .nidan
        .user_by_email(&nidan_core::service::admin::Actor::Cli, "a@example.com")
        .await
        .unwrap();
    let unkeyed: Vec<String> = codes
        .iter()
        .map(|c| unkeyed_backup_code_hash(&account.id, &normalize_backup_code(c).unwrap()))
        .collect();
    store
        .replace_backup_codes(&account.id, &unkeyed, T0)
        .await
        .unwrap();
    assert_eq!(
        store.legacy_backup_code_hashes(100).await.unwrap().len(),
        10
    );
    assert_eq!(w.nidan.key_stored_backup_codes().await.unwrap(), 10);
    assert!(
        store
            .legacy_backup_code_hashes(100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(w.nidan.key_stored_backup_codes().await.unwrap(), 0);
    // The codes the person printed still work, once each.
    let token = challenge(&w, "a@example.com").await;
    w.nidan
        .verify_code(&token, &codes[0], false, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_remembered_browser_skips_the_code_until_it_expires_or_is_forgotten() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    let signed: SignedIn = w
        .nidan
        .verify_code(
            &token,
            &code(&primary, w.clock.now_for_test()),
            true,
            &origin(),
        )
        .await
        .unwrap();
    let remember = signed.remember_token.unwrap().to_string();
    assert!(matches!(
        password_step(&w, "a@example.com", Some(&remember)).await,
        PasswordStep::SignedIn(_)
    ));
    // Another browser (no cookie) or a cleared cookie is asked again.
    assert!(matches!(
        password_step(&w, "a@example.com", None).await,
        PasswordStep::CodeRequired(_)
    ));
    // 60 days later it is asked again.
    w.clock.advance(60 * 86_400 + 1);
    assert!(matches!(
        password_step(&w, "a@example.com", Some(&remember)).await,
        PasswordStep::CodeRequired(_)
    ));
}

#[tokio::test]
async fn password_change_forgets_browsers_and_ends_other_sessions() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    let first = w
        .nidan
        .verify_code(
            &token,
            &code(&primary, w.clock.now_for_test()),
            true,
            &origin(),
        )
        .await
        .unwrap();
    let remember = first.remember_token.unwrap().to_string();
    let PasswordStep::SignedIn(second) = password_step(&w, "a@example.com", Some(&remember)).await
    else {
        panic!()
    };
    let (session, account) = w.nidan.authenticate(&second.session_token).await.unwrap();
    w.nidan
        .change_password(
            &session,
            &account,
            "correct horse",
            "battery staple",
            &origin(),
        )
        .await
        .unwrap();
    assert!(matches!(
        w.nidan.authenticate(&first.session_token).await,
        Err(Error::NotSignedIn)
    ));
    w.nidan.authenticate(&second.session_token).await.unwrap();
    let step = w
        .nidan
        .sign_in(
            "a@example.com",
            "battery staple",
            false,
            Some(&remember),
            &origin(),
        )
        .await
        .unwrap();
    assert!(
        matches!(step, PasswordStep::CodeRequired(_)),
        "the remembered browser was forgotten"
    );
}

#[tokio::test]
async fn password_with_code_appended_signs_in_in_one_field() {
    let w = world().await;
    let (primary, _, _) = enabled(&w, "a@example.com").await;
    let field = format!("correct horse{}", code(&primary, w.clock.now_for_test()));
    w.nidan
        .sign_in_combined("a@example.com", &field, false, &origin())
        .await
        .unwrap();
    // The password alone is not enough for an account with 2SV.
    assert!(matches!(
        w.nidan
            .sign_in_combined("a@example.com", "correct horse", false, &origin())
            .await,
        Err(Error::MalformedCode(_))
    ));
    // A wrong appended code fails like a wrong password.
    w.clock.advance(30);
    assert!(
        w.nidan
            .sign_in_combined("a@example.com", "correct horse000000", false, &origin())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn step_up_is_needed_after_ten_minutes() {
    let w = world().await;
    let signed = sign_up(&w, "a@example.com").await;
    let (session, account) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    w.nidan.require_recent_password(&session).unwrap();
    w.clock.advance(10 * 60 + 1);
    assert!(matches!(
        w.nidan.require_recent_password(&session),
        Err(Error::StepUpRequired)
    ));
    assert!(
        w.nidan
            .step_up(&session, &account, "wrong horse", &origin())
            .await
            .is_err()
    );
    w.nidan
        .step_up(&session, &account, "correct horse", &origin())
        .await
        .unwrap();
    let (session, _) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    w.nidan.require_recent_password(&session).unwrap();
}

#[tokio::test]
async fn the_last_method_stays_and_turning_off_needs_a_code() {
    let w = world().await;
    let (primary, _, codes) = enabled(&w, "a@example.com").await;
    let token = challenge(&w, "a@example.com").await;
    let signed = w
        .nidan
        .verify_code(&token, &codes[0], false, &origin())
        .await
        .unwrap();
    let (_, account) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    let overview = w.nidan.overview(&account).await.unwrap();
    assert_eq!(overview.methods.len(), 2);
    assert_eq!(overview.methods[0].role, MethodRole::Primary);
    // Removing the primary promotes the backup; the last one cannot go.
    w.nidan
        .remove_method(&account, &overview.methods[0].id, &origin())
        .await
        .unwrap();
    let overview = w.nidan.overview(&account).await.unwrap();
    assert_eq!(overview.methods.len(), 1);
    assert_eq!(overview.methods[0].role, MethodRole::Primary);
    assert!(matches!(
        w.nidan
            .remove_method(&account, &overview.methods[0].id, &origin())
            .await,
        Err(Error::LastMethod)
    ));
    // The removed primary's codes no longer work; turning off needs a right code.
    assert!(matches!(
        w.nidan
            .turn_off(&account, &code(&primary, w.clock.now_for_test()), &origin())
            .await,
        Err(Error::WrongCode { .. })
    ));
    w.nidan
        .turn_off(&account, &codes[1], &origin())
        .await
        .unwrap();
    assert!(matches!(
        password_step(&w, "a@example.com", None).await,
        PasswordStep::SignedIn(_)
    ));
}

#[tokio::test]
async fn totp_keys_are_encrypted_at_rest() {
    // This test reads the SQLite file itself; on PostgreSQL the same rows
    // are written by the same code (the key is sealed before the store).
    if nidan_store::testing::use_postgres() {
        return;
    }
    let w = world().await;
    let signed = sign_up(&w, "a@example.com").await;
    let (_, account) = w.nidan.authenticate(&signed.session_token).await.unwrap();
    let app = w
        .nidan
        .begin_app(&account, MethodRole::Primary, "Phone")
        .await
        .unwrap();
    let db = std::fs::read(w._dir.path().join("nidan.db")).unwrap();
    let wal = std::fs::read(w._dir.path().join("nidan.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(app.secret.len())
                .any(|win| win == app.secret.expose()),
            "raw key found in the database file"
        );
        let b32 = app.secret.to_base32();
        assert!(!bytes.windows(b32.len()).any(|win| win == b32.as_bytes()));
    }
}

#[tokio::test]
async fn by_default_an_app_primary_needs_a_phone_backup() {
    let dir = tempfile::tempdir().unwrap();
    let store = nidan_store::testing::store(dir.path()).await.unwrap();
    let nidan = Nidan::new(
        store,
        Arc::new(ManualClock::new(T0)),
        MasterKey::generate().unwrap(),
        Policy::default(),
        2,
    )
    .unwrap();
    let mails = common::Recorder::default();
    let nidan = with_mail(nidan, &mails);
    let signed = common::signed_up(&nidan, &mails, "a@example.com", "correct horse", "en").await;
    let (_, account) = nidan.authenticate(&signed.session_token).await.unwrap();
    let app = nidan
        .begin_app(&account, MethodRole::Primary, "Phone")
        .await
        .unwrap();
    nidan
        .confirm_app(&account, &app.method_id, &code(&app.secret, T0), &origin())
        .await
        .unwrap();
    assert!(matches!(
        nidan
            .begin_app(&account, MethodRole::Backup, "Second app")
            .await,
        Err(Error::BackupMustBePhone)
    ));
}

/// Sixty-four submissions of one right code race over eight sign-in
/// attempts on as many threads (the code step's one-unit path and the
/// counted path both in play): the step is accepted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_racing_submissions_of_one_code_sign_in_once() {
    let w = std::sync::Arc::new(world().await);
    let (primary, _, _) = enabled(&w, "race@example.com").await;
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(challenge(&w, "race@example.com").await);
    }
    let right = code(&primary, w.clock.now_for_test());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (w, token, right) = (w.clone(), tokens[i % 8].clone(), right.clone());
            tokio::spawn(async move {
                w.nidan
                    .verify_code(&token, &right, false, &origin())
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += usize::from(t.await.unwrap());
    }
    assert_eq!(accepted, 1, "one step, one sign-in");
}
