//! The store on both backends: migrations from empty and re-run, and the
//! atomic operations that carry single use and limits raced from two
//! connection pools at once — two "nodes" on one database. Runs on SQLite,
//! and on PostgreSQL with `NIDAN_TEST_BACKEND=postgres` (scripts/test-all
//! runs both).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use nidan_core::model::EventKind;
use nidan_core::model::{
    Account, AccountGuard, CaseStatus, Challenge, Channel, DocumentKind, Factor, Method,
    MethodRole, RecoveryCase,
};
use nidan_core::store::Claim;
use nidan_core::store::records::*;
use nidan_store::SqlStore;

/// Two stores (two pools, as two nodes would have) on one fresh database.
async fn two_nodes(dir: &std::path::Path) -> (SqlStore, SqlStore) {
    let url = if nidan_store::testing::use_postgres() {
        nidan_store::testing::fresh_postgres_url().await.unwrap()
    } else {
        format!("sqlite://{}", dir.join("nidan.db").display())
    };
    let a = SqlStore::connect(&url, 8).await.unwrap();
    let b = SqlStore::connect(&url, 8).await.unwrap();
    (a, b)
}

async fn account(store: &SqlStore) -> Account {
    let a = Account {
        id: "acc1".into(),
        email: "a@example.com".into(),
        password_hash: "x".into(),
        roles: Vec::new(),
        locale: "en".into(),
        two_sv_on_since: Some(1),
        created_at: 1,
        guard: AccountGuard::default(),
    };
    assert!(store.insert_account(&a).await.unwrap());
    a
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_rerun_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path()).await;
    // Both connected (each ran the migrations); running them again is a no-op.
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    account(&a).await;
    let found = b.account_by_email("a@example.com").await.unwrap().unwrap();
    assert_eq!(found.guard, AccountGuard::default());
    assert!(!a.insert_account(&found).await.unwrap(), "email is unique");
    // The staff queries with optional filters run on both backends.
    for (id, kind) in [("e1", EventKind::CodeRefused), ("e2", EventKind::SignedIn)] {
        b.insert_event(&nidan_core::model::Event {
            id: id.into(),
            account_id: Some("acc1".into()),
            kind,
            at: 5,
            ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            detail: String::new(),
        })
        .await
        .unwrap();
    }
    let all = a
        .filtered_events(&nidan_core::model::EventFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let refused = a
        .filtered_events(&nidan_core::model::EventFilter {
            account_id: Some("acc1".into()),
            kind: Some(EventKind::CodeRefused),
            since: Some(1),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(a.search_accounts("A@EXAMPLE", 10).await.unwrap().len(), 1);
    assert_eq!(a.search_accounts("100%_", 10).await.unwrap().len(), 0);
    assert!(a.recovery_cases(None, None, 10).await.unwrap().is_empty());
}

/// Runs `n` copies of `op` at once, half on each node; how many said yes.
async fn race<F, Fut>(a: &SqlStore, b: &SqlStore, n: usize, op: F) -> usize
where
    F: Fn(SqlStore) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(op(if i % 2 == 0 { a.clone() } else { b.clone() })))
        .collect();
    let mut yes = 0;
    for t in tasks {
        if t.await.unwrap() {
            yes += 1;
        }
    }
    yes
}

#[tokio::test]
async fn single_use_and_limits_hold_between_two_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path()).await;
    let acc = account(&a).await;
    a.insert_method(&Method {
        id: "m1".into(),
        account_id: acc.id.clone(),
        factor: Factor::App {
            secret_sealed: vec![1, 2, 3],
            last_step: None,
        },
        role: MethodRole::Primary,
        name: "Phone".into(),
        created_at: 1,
        confirmed_at: Some(1),
        active: true,
    })
    .await
    .unwrap();

    // One TOTP step is accepted once, whichever node sees it.
    let won = race(&a, &b, 16, |s| async move {
        s.advance_last_step("m1", 1000).await.unwrap()
    })
    .await;
    assert_eq!(won, 1);
    // An older step never after a newer one.
    assert!(!b.advance_last_step("m1", 999).await.unwrap());

    // A backup code is spent once.
    a.replace_backup_codes(&acc.id, &["h1".into(), "h2".into()], 1)
        .await
        .unwrap();
    let won = race(&a, &b, 16, |s| async move {
        s.use_backup_code("acc1", "h1", 2).await.unwrap()
    })
    .await;
    assert_eq!(won, 1);
    assert_eq!(b.backup_codes_left("acc1").await.unwrap(), 1);

    // Five tries per sign-in attempt, counted across nodes; completion once.
    let challenge = Challenge {
        id: "c1".into(),
        account_id: acc.id.clone(),
        expires_at: i64::MAX,
        attempts_left: 5,
        keep_signed_in: false,
        completed_at: None,
        created_at: 1,
        ip: "127.0.0.1".into(),
        browser: "Test".into(),
    };
    a.insert_challenge(&challenge, "token-hash").await.unwrap();
    let took = race(&a, &b, 16, |s| async move {
        s.take_attempt("c1").await.unwrap().is_some()
    })
    .await;
    assert_eq!(took, 5);
    let second = Challenge {
        id: "c2".into(),
        ..challenge
    };
    a.insert_challenge(&second, "token-hash-2").await.unwrap();
    let done = race(&a, &b, 16, |s| async move {
        s.complete_challenge("c2", 5).await.unwrap()
    })
    .await;
    assert_eq!(done, 1);

    // The lockout claim: of racing checks that all saw 0 failures, one
    // wins, and it takes one try of the attempt with it.
    let third = Challenge {
        id: "c3".into(),
        completed_at: None,
        ..second
    };
    a.insert_challenge(&third, "token-hash-3").await.unwrap();
    let won = race(&a, &b, 16, |s| async move {
        s.claim_code_check("acc1", 0, None, "c3").await.unwrap() == Claim::Claimed(4)
    })
    .await;
    assert_eq!(won, 1);
    let guard = b.account_by_id("acc1").await.unwrap().unwrap().guard;
    assert_eq!(guard.code_failures, 1);
    let c3 = a.challenge_by_token("token-hash-3").await.unwrap().unwrap();
    assert_eq!(c3.attempts_left, 4);
    // Both or neither: an attempt with no tries left leaves the count alone.
    assert_eq!(
        a.claim_code_check("acc1", 1, None, "c1").await.unwrap(),
        Claim::Exhausted
    );
    let guard = b.account_by_id("acc1").await.unwrap().unwrap().guard;
    assert_eq!(guard.code_failures, 1);

    // Counters (send caps) add up across nodes.
    race(&a, &b, 20, |s| async move {
        s.bump_counter("send:account:acc1", 900).await.unwrap() > 0
    })
    .await;
    assert_eq!(a.counter("send:account:acc1", 900).await.unwrap(), 20);

    // One open recovery case per account.
    let case = RecoveryCase {
        id: String::new(),
        account_id: acc.id.clone(),
        email: acc.email.clone(),
        document_kind: DocumentKind::Passport,
        content_type: "image/png".into(),
        document_size: 6,
        status: CaseStatus::Open,
        reason: String::new(),
        ip: String::new(),
        browser: String::new(),
        created_at: 1,
        decided_at: None,
        decided_by: None,
        document_deleted_at: None,
    };
    let opened = race(&a, &b, 8, move |s| {
        let mut case = case.clone();
        async move {
            case.id = nidan_core::secrets::new_id().unwrap();
            s.insert_recovery_case(&case, b"sealed").await.unwrap()
        }
    })
    .await;
    assert_eq!(opened, 1);
}

/// Audit events written at once from both nodes (on PostgreSQL they are
/// written in groups) are all stored, each exactly once, before each
/// writer is told so; one node's sequence stays in order.
#[tokio::test]
async fn events_written_at_once_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path()).await;
    account(&a).await;
    let event = |i: usize| nidan_core::model::Event {
        id: format!("ev{i:04}"),
        account_id: Some("acc1".into()),
        kind: EventKind::CodeRefused,
        at: 10,
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        detail: format!("{i}"),
    };
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let e = event(i);
            tokio::spawn(async move { store.insert_event(&e).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let kept = b.events("acc1", 1000).await.unwrap();
    assert_eq!(kept.len(), 300);
    let mut ids: Vec<_> = kept.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300, "each once");
    // Written one after another on one node: read back newest first, in order.
    for i in 300..310 {
        a.insert_event(&event(i)).await.unwrap();
    }
    let newest: Vec<_> = a
        .events("acc1", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let expected: Vec<_> = (300..310).rev().map(|i| format!("ev{i:04}")).collect();
    assert_eq!(newest, expected);
    // A duplicate id among events written at once fails its writer, and
    // only its writer.
    let tasks: Vec<_> = (400..440)
        .map(|i| {
            let (store, e) = (a.clone(), event(if i == 420 { 0 } else { i }));
            tokio::spawn(async move { store.insert_event(&e).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 39);
    assert_eq!(b.events("acc1", 1000).await.unwrap().len(), 349);
}

/// The hourly purge (issue 14): rows past their time are deleted, live
/// ones untouched, and two nodes purging at once are fine.
#[tokio::test]
async fn the_purge_deletes_only_what_has_run_its_course_even_from_two_nodes() {
    use nidan_core::model::{
        Event, LinkPurpose, OutboxMessage, PendingSignUp, RememberedBrowser, SentCode, Session,
    };
    use nidan_core::store::Purge;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path()).await;
    let acc = account(&a).await;
    const NOW: i64 = 10_000_000;
    const DAY: i64 = 86_400;
    for (id, expires_at) in [("old", NOW - 1), ("live", NOW + DAY)] {
        let session = Session {
            id: format!("s-{id}"),
            account_id: acc.id.clone(),
            created_at: NOW - 2 * DAY,
            expires_at,
            password_at: NOW - 2 * DAY,
            keep_signed_in: false,
            two_step_at: None,
        };
        a.insert_session(&session, &format!("st-{id}"))
            .await
            .unwrap();
        let browser = RememberedBrowser {
            id: format!("b-{id}"),
            account_id: acc.id.clone(),
            label: "Firefox".into(),
            created_at: NOW - 2 * DAY,
            last_used_at: NOW - 2 * DAY,
            expires_at,
        };
        a.insert_browser(&browser, &format!("bt-{id}"))
            .await
            .unwrap();
        a.insert_password_reset(
            &format!("l-{id}"),
            &acc.id,
            LinkPurpose::Reset,
            NOW - DAY,
            expires_at,
        )
        .await
        .unwrap();
        a.insert_sign_up(&PendingSignUp {
            token_hash: format!("u-{id}"),
            email: format!("{id}@example.com"),
            password_hash: "x".into(),
            locale: "en".into(),
            created_at: NOW - DAY,
            expires_at,
        })
        .await
        .unwrap();
    }
    // Attempts a week old and fresh, with a sent code each.
    let method = Method {
        id: "m1".into(),
        account_id: acc.id.clone(),
        factor: Factor::Phone {
            number: "+819012345678".into(),
            channel: Channel::Sms,
        },
        role: MethodRole::Primary,
        name: "phone".into(),
        created_at: 1,
        confirmed_at: Some(1),
        active: true,
    };
    a.insert_method(&method).await.unwrap();
    for (id, at) in [("old", NOW - 8 * DAY), ("live", NOW - 60)] {
        let c = Challenge {
            id: format!("c-{id}"),
            account_id: acc.id.clone(),
            expires_at: at + 600,
            attempts_left: 5,
            keep_signed_in: false,
            completed_at: None,
            created_at: at,
            ip: "127.0.0.1".into(),
            browser: "Test".into(),
        };
        a.insert_challenge(&c, &format!("ct-{id}")).await.unwrap();
        a.insert_sent_code(&SentCode {
            id: format!("sc-{id}"),
            account_id: acc.id.clone(),
            challenge_id: Some(c.id.clone()),
            method_id: method.id.clone(),
            code_hash: format!("h-{id}"),
            sent_at: at,
            expires_at: at + 600,
        })
        .await
        .unwrap();
        a.insert_event(&Event {
            id: format!("e-{id}"),
            account_id: Some(acc.id.clone()),
            kind: EventKind::SignedIn,
            at: if id == "old" {
                NOW - 401 * DAY
            } else {
                NOW - DAY
            },
            ip: String::new(),
            user_agent: String::new(),
            detail: format!("kind_{id}"),
        })
        .await
        .unwrap();
        a.insert_outbox(&OutboxMessage {
            id: format!("o-{id}"),
            channel: "email".into(),
            recipient: "a@example.com".into(),
            body: id.into(),
            created_at: at,
        })
        .await
        .unwrap();
        a.bump_counter(&format!("k-{id}"), at).await.unwrap();
        assert!(
            a.claim_password_check(&format!("p-{id}"), None, None, at)
                .await
                .unwrap()
        );
    }
    let purge = Purge {
        now: NOW,
        attempts_before: NOW - 7 * DAY,
        counters_before: NOW - 2 * DAY,
        events_before: NOW - 400 * DAY,
        outbox_before: NOW - 7 * DAY,
    };
    let (first, second) = tokio::join!(a.purge(&purge), b.purge(&purge));
    let (first, second) = (first.unwrap(), second.unwrap());
    // Each old row is deleted once, by one node or the other.
    let deleted = |what: &str| -> u64 {
        first
            .iter()
            .chain(second.iter())
            .filter(|(w, _)| *w == what)
            .map(|(_, n)| n)
            .sum()
    };
    for what in [
        "sessions",
        "remembered browsers",
        "sent codes",
        "sign-in attempts",
        "emailed links",
        "sign-ups",
        "rate counters",
        "password throttles",
        "audit events",
        "outbox messages",
    ] {
        assert_eq!(deleted(what), 1, "{what}: {first:?} {second:?}");
    }
    // The live rows are all there.
    assert!(b.session_by_token("st-live", NOW).await.unwrap().is_some());
    assert_eq!(b.browsers(&acc.id, NOW).await.unwrap().len(), 1);
    assert!(b.challenge_by_token("ct-live").await.unwrap().is_some());
    assert!(b.challenge_by_token("ct-old").await.unwrap().is_none());
    assert!(
        b.link_account("l-live", LinkPurpose::Reset, NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(b.pending_sign_up("u-live", NOW).await.unwrap().is_some());
    assert_eq!(b.counter("k-live", NOW - 60).await.unwrap(), 1);
    assert_eq!(b.counter("k-old", NOW - 8 * DAY).await.unwrap(), 0);
    assert!(b.password_throttle("p-live").await.unwrap().is_some());
    let kinds: Vec<String> = b
        .events(&acc.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(kinds, ["kind_live"]);
    let outbox: Vec<String> = b
        .outbox(10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(outbox, ["live"]);
    // Purging again finds nothing.
    let again = a.purge(&purge).await.unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

/// A unit sent at once keeps all of its writes or none: when a write that
/// must change a row changes none, the event beside it is not kept either;
/// when every one applies, all are.
#[tokio::test]
async fn a_unit_sent_at_once_is_all_or_nothing() {
    use nidan_core::store::Write;
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = two_nodes(dir.path()).await;
    let acc = account(&a).await;
    let event = |id: &str| {
        Write::Event(nidan_core::model::Event {
            id: id.into(),
            account_id: Some(acc.id.clone()),
            kind: EventKind::SignedIn,
            at: 10,
            ip: String::new(),
            user_agent: String::new(),
            detail: id.into(),
        })
    };
    let refused = a
        .apply_at_once(vec![
            event("kept-if-all"),
            Write::CompleteChallenge {
                challenge_id: "no such attempt".into(),
                at: 10,
            },
        ])
        .await;
    assert!(
        matches!(refused, Err(nidan_core::Error::Conflict)),
        "{refused:?}"
    );
    assert!(a.events(&acc.id, 10).await.unwrap().is_empty());
    a.apply_at_once(vec![
        event("one"),
        event("two"),
        Write::SetTwoSv {
            account_id: acc.id.clone(),
            on_since: Some(5),
        },
    ])
    .await
    .unwrap();
    assert_eq!(a.events(&acc.id, 10).await.unwrap().len(), 2);
    let found = a.account_by_id(&acc.id).await.unwrap().unwrap();
    assert_eq!(found.two_sv_on_since, Some(5));
}
