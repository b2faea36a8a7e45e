//! Passkeys and security keys through the domain API, with a software
//! authenticator (webauthn-authenticator-rs) doing the real WebAuthn
//! cryptography, over a real SQLite file (PostgreSQL with
//! `NIDAN_TEST_BACKEND=postgres`): enrolment, sign-in, single use of a
//! ceremony, its binding to one attempt, expiry, another site's answer, a
//! copied key, and two nodes finishing each other's ceremonies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

mod common;

use common::{Recorder, T0, origin};
use nidan_core::delivery::Senders;
use nidan_core::model::{Account, Channel, EventKind, Factor, MethodRole};
use nidan_core::service::methods::passkey::PasskeyRequest;
use nidan_core::service::signin::PasswordStep;
use nidan_core::store::records::*;
use nidan_core::{Error, ManualClock, Nidan, Policy, secrets::MasterKey};
use nidan_store::SqlStore;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

const SITE: &str = "https://login.example";

struct Node {
    nidan: Nidan<SqlStore>,
    store: SqlStore,
    texts: Recorder,
    mails: Recorder,
}

struct World {
    a: Node,
    b: Node,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_at(SITE).await
}

/// Two nodes of the site at `site` over one database, sharing the master
/// key and the clock.
async fn world_at(site: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = if nidan_store::testing::use_postgres() {
        nidan_store::testing::fresh_postgres_url().await.unwrap()
    } else {
        format!("sqlite://{}", dir.path().join("nidan.db").display())
    };
    let clock = ManualClock::new(T0);
    let key = MasterKey::generate().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let store = SqlStore::connect(&url, 4).await.unwrap();
        let (texts, mails) = (Recorder::default(), Recorder::default());
        let nidan = Nidan::new(
            store.clone(),
            Arc::new(clock.clone()),
            key.clone(),
            Policy::default(),
            2,
        )
        .unwrap()
        .with_senders(Senders {
            sms: Arc::new(texts.clone()),
            voice: Arc::new(texts.clone()),
            email: Arc::new(mails.clone()),
        })
        .with_public_url(site);
        nodes.push(Node {
            nidan,
            store,
            texts,
            mails,
        });
    }
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    World {
        a,
        b,
        clock,
        _dir: dir,
    }
}

fn site() -> Url {
    Url::parse(SITE).unwrap()
}

fn register(key: &mut SoftPasskey, request: &PasskeyRequest, origin: Url) -> String {
    let options: CreationChallengeResponse =
        serde_json::from_value(request.options.clone()).unwrap();
    serde_json::to_string(&key.do_registration(origin, options).unwrap()).unwrap()
}

fn assert_with(key: &mut SoftPasskey, request: &PasskeyRequest, origin: Url) -> String {
    let options: RequestChallengeResponse =
        serde_json::from_value(request.options.clone()).unwrap();
    serde_json::to_string(&key.do_authentication(origin, options).unwrap()).unwrap()
}

/// Hanako with a security key as primary and a phone as backup (the
/// default backup rule: a primary that is not a phone needs one), 2SV on.
async fn enrolled(w: &World, key: &mut SoftPasskey) -> Account {
    enrolled_at(w, key, site()).await
}

async fn enrolled_at(w: &World, key: &mut SoftPasskey, site: Url) -> Account {
    let n = &w.a;
    let signed = common::signed_up(
        &n.nidan,
        &n.mails,
        "hanako@example.com",
        "tsuki to hoshi",
        "ja",
    )
    .await;
    let account = n.nidan.authenticate(&signed.session_token).await.unwrap().1;
    // An app is refused as the backup of a passkey primary, as of an app.
    let request = n
        .nidan
        .begin_passkey(&account, MethodRole::Primary)
        .await
        .unwrap();
    let answer = register(key, &request, site);
    let method = n
        .nidan
        .confirm_passkey(&account, &request.ceremony_id, &answer, "", &origin())
        .await
        .unwrap();
    assert_eq!(method.name, "Passkey (Test)");
    assert!(matches!(
        n.nidan.begin_app(&account, MethodRole::Backup, "App").await,
        Err(Error::BackupMustBePhone)
    ));
    let phone = n
        .nidan
        .begin_phone(
            &account,
            MethodRole::Backup,
            "090-1234-5678",
            Channel::Sms,
            &origin(),
        )
        .await
        .unwrap();
    n.nidan
        .confirm_phone(&account, &phone.method_id, &n.texts.last_code(), &origin())
        .await
        .unwrap();
    n.nidan
        .enable(&account, None, false, &origin())
        .await
        .unwrap();
    n.store.account_by_id(&account.id).await.unwrap().unwrap()
}

async fn attempt(n: &Node) -> String {
    match n
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
    {
        PasswordStep::CodeRequired(c) => c.challenge_token.to_string(),
        PasswordStep::SignedIn(_) => panic!("2SV is on: a second step is due"),
    }
}

async fn passkey_count(n: &Node, account: &Account) -> i64 {
    n.store
        .methods(&account.id)
        .await
        .unwrap()
        .iter()
        .find_map(|m| match &m.factor {
            Factor::Passkey { sign_count, .. } => Some(*sign_count),
            _ => None,
        })
        .unwrap()
}

async fn kinds(n: &Node, account: &Account) -> Vec<EventKind> {
    n.store
        .events(&account.id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_key_enrolled_in_the_wizard_signs_in_and_its_counter_moves_on() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    for round in 1..=2 {
        let token = attempt(&w.a).await;
        let request = w.a.nidan.begin_passkey_sign_in(&token).await.unwrap();
        let answer = assert_with(&mut key, &request, site());
        let signed =
            w.a.nidan
                .verify_passkey(&token, &request.ceremony_id, &answer, round == 2, &origin())
                .await
                .unwrap();
        assert!(signed.session.two_step_at.is_some());
        assert_eq!(signed.remember_token.is_some(), round == 2);
        assert_eq!(passkey_count(&w.a, &account).await, round);
    }
    assert!(
        kinds(&w.a, &account)
            .await
            .contains(&EventKind::PasskeyAccepted)
    );
    // A credential id is registered once, across all accounts.
    let mut copy =
        w.a.store
            .methods(&account.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| matches!(m.factor, Factor::Passkey { .. }))
            .unwrap();
    copy.id = "another".into();
    assert!(matches!(
        w.a.store.insert_method(&copy).await,
        Err(Error::PasskeyAlreadyRegistered)
    ));
}

#[tokio::test]
async fn a_ceremony_is_single_use_and_belongs_to_its_own_attempt() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    let first = attempt(&w.a).await;
    let second = attempt(&w.a).await;
    let request = w.a.nidan.begin_passkey_sign_in(&first).await.unwrap();
    let answer = assert_with(&mut key, &request, site());
    // Another attempt (someone else who knows the password) cannot finish
    // this attempt's ceremony, nor use it up.
    assert!(matches!(
        w.a.nidan
            .verify_passkey(&second, &request.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::CeremonyExpired)
    ));
    w.a.nidan
        .verify_passkey(&first, &request.ceremony_id, &answer, false, &origin())
        .await
        .unwrap();
    // The same answer again, even for a fresh attempt: the ceremony is spent.
    let third = attempt(&w.a).await;
    assert!(matches!(
        w.a.nidan
            .verify_passkey(&third, &request.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::CeremonyExpired)
    ));
    assert_eq!(passkey_count(&w.a, &account).await, 1);
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    enrolled(&w, &mut key).await;
    let token = attempt(&w.a).await;
    let request = w.a.nidan.begin_passkey_sign_in(&token).await.unwrap();
    let answer = assert_with(&mut key, &request, site());
    w.clock.advance(301);
    let refused =
        w.a.nidan
            .verify_passkey(&token, &request.ceremony_id, &answer, false, &origin())
            .await;
    assert!(
        matches!(
            refused,
            Err(Error::CeremonyExpired | Error::ChallengeExpired)
        ),
        "{refused:?}"
    );
    // A registration ceremony expires too.
    let account =
        w.a.store
            .account_by_email("hanako@example.com")
            .await
            .unwrap()
            .unwrap();
    let request =
        w.a.nidan
            .begin_passkey(&account, MethodRole::Backup)
            .await
            .unwrap();
    let mut other = SoftPasskey::new(true);
    let answer = register(&mut other, &request, site());
    w.clock.advance(301);
    assert!(matches!(
        w.a.nidan
            .confirm_passkey(&account, &request.ceremony_id, &answer, "Spare", &origin())
            .await,
        Err(Error::CeremonyExpired)
    ));
}

#[tokio::test]
async fn an_answer_made_for_another_site_is_refused_and_counted() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    // The same key also registered at another site (a phishing site the
    // person was lured to): what it signs there is relayed to us.
    let evil_site = Url::parse("https://login.example.evil").unwrap();
    let evil = world_at(evil_site.as_str()).await;
    enrolled_at(&evil, &mut key, evil_site.clone()).await;
    let evil_token = attempt(&evil.a).await;
    let evil_request = evil
        .a
        .nidan
        .begin_passkey_sign_in(&evil_token)
        .await
        .unwrap();
    let answer = assert_with(&mut key, &evil_request, evil_site);
    let token = attempt(&w.a).await;
    let request = w.a.nidan.begin_passkey_sign_in(&token).await.unwrap();
    assert!(matches!(
        w.a.nidan
            .verify_passkey(&token, &request.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::PasskeyRefused)
    ));
    assert!(
        kinds(&w.a, &account)
            .await
            .contains(&EventKind::PasskeyRefused)
    );
    let after = w.a.store.account_by_id(&account.id).await.unwrap().unwrap();
    assert_eq!(
        after.guard.code_failures, 1,
        "a refused key counts like a wrong code"
    );
    assert_eq!(passkey_count(&w.a, &account).await, 0);
}

#[tokio::test]
async fn a_copied_key_whose_counter_went_back_is_refused_and_recorded() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    // The copy signed in elsewhere and moved the stored counter past
    // where this authenticator is.
    let method =
        w.a.store
            .methods(&account.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| matches!(m.factor, Factor::Passkey { .. }))
            .unwrap();
    let Factor::Passkey { credential, .. } = &method.factor else {
        unreachable!()
    };
    w.a.store
        .apply(vec![nidan_core::store::Write::PasskeyUsed {
            method_id: method.id.clone(),
            seen_count: 0,
            sign_count: 50,
            credential: credential.clone(),
            at: T0,
        }])
        .await
        .unwrap();
    let token = attempt(&w.a).await;
    let request = w.a.nidan.begin_passkey_sign_in(&token).await.unwrap();
    let answer = assert_with(&mut key, &request, site());
    assert!(matches!(
        w.a.nidan
            .verify_passkey(&token, &request.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::PasskeyRefused)
    ));
    assert!(
        kinds(&w.a, &account)
            .await
            .contains(&EventKind::PasskeyCloneSuspected)
    );
    assert_eq!(passkey_count(&w.a, &account).await, 50);
}

#[tokio::test]
async fn one_node_finishes_the_ceremonies_the_other_began() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    // Registration begun on a, finished on b.
    let request =
        w.a.nidan
            .begin_passkey(&account, MethodRole::Backup)
            .await
            .unwrap();
    let mut spare = SoftPasskey::new(true);
    let answer = register(&mut spare, &request, site());
    let added =
        w.b.nidan
            .confirm_passkey(
                &account,
                &request.ceremony_id,
                &answer,
                "Spare key",
                &origin(),
            )
            .await
            .unwrap();
    assert!(added.active, "with 2SV on a new key is in use at once");
    // Sign-in begun on b, finished on a, with the spare key; once only.
    let token = attempt(&w.b).await;
    let request = w.b.nidan.begin_passkey_sign_in(&token).await.unwrap();
    let answer = assert_with(&mut spare, &request, site());
    w.a.nidan
        .verify_passkey(&token, &request.ceremony_id, &answer, false, &origin())
        .await
        .unwrap();
    assert!(
        w.b.nidan
            .verify_passkey(&token, &request.ceremony_id, &answer, false, &origin())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn beginning_again_replaces_the_unfinished_ceremony() {
    let w = world().await;
    let mut key = SoftPasskey::new(true);
    let account = enrolled(&w, &mut key).await;
    let token = attempt(&w.a).await;
    // A script asking for options again and again keeps one row.
    let mut requests = Vec::new();
    for _ in 0..20 {
        requests.push(w.a.nidan.begin_passkey_sign_in(&token).await.unwrap());
    }
    for _ in 0..20 {
        w.a.nidan
            .begin_passkey(&account, MethodRole::Backup)
            .await
            .unwrap();
    }
    let open = nidan_store::testing::count(&w.a.store, "passkey_ceremonies")
        .await
        .unwrap();
    assert_eq!(
        open, 3,
        "the enrolment's (used) and one open sign-in and registration ceremony"
    );
    // Only the newest can be finished.
    let first = requests.first().unwrap();
    let answer = assert_with(&mut key, first, site());
    assert!(matches!(
        w.a.nidan
            .verify_passkey(&token, &first.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::CeremonyExpired)
    ));
    let newest = requests.last().unwrap();
    let answer = assert_with(&mut key, newest, site());
    w.a.nidan
        .verify_passkey(&token, &newest.ceremony_id, &answer, false, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn passwordless_is_off_unless_turned_on_and_bounded_per_address() {
    let w = world().await;
    assert!(matches!(
        w.a.nidan.begin_passwordless(&origin()).await,
        Err(Error::PasskeysOff(_))
    ));
    // Turned on: anyone may begin (nobody is signed in yet), so an
    // address gets a bounded number of ceremonies an hour.
    let dir = tempfile::tempdir().unwrap();
    let store = nidan_store::testing::store(dir.path()).await.unwrap();
    let clock = ManualClock::new(T0);
    let nidan = Nidan::new(
        store.clone(),
        Arc::new(clock.clone()),
        MasterKey::generate().unwrap(),
        Policy {
            passwordless: true,
            ..Policy::default()
        },
        2,
    )
    .unwrap()
    .with_public_url(SITE);
    let limit = nidan_core::service::methods::passkey::DISCOVERS_PER_HOUR;
    for _ in 0..limit {
        nidan.begin_passwordless(&origin()).await.unwrap();
    }
    assert!(matches!(
        nidan.begin_passwordless(&origin()).await,
        Err(Error::TooManyAttempts)
    ));
    clock.advance(3600);
    let request = nidan.begin_passwordless(&origin()).await.unwrap();
    // An answer that is not a credential, or names no key nidan knows
    // (a software key's answer has no user handle), signs nobody in.
    assert!(matches!(
        nidan
            .verify_passwordless(&request.ceremony_id, "{}", false, &origin())
            .await,
        Err(Error::MalformedPasskey(_))
    ));
    let mut key = SoftPasskey::new(true);
    enrolled(&w, &mut key).await;
    let token = attempt(&w.a).await;
    let other = w.a.nidan.begin_passkey_sign_in(&token).await.unwrap();
    let answer = assert_with(&mut key, &other, site());
    assert!(matches!(
        nidan
            .verify_passwordless(&request.ceremony_id, &answer, false, &origin())
            .await,
        Err(Error::PasskeyRefused)
    ));
}
