//! The embedded SQLite file under a steady flood of writes and reads: the
//! write-ahead log must not grow by the whole write volume (it did: about
//! 190 MB a second under a wrong-code flood, until the disk was full),
//! because some reader always reads from it and a passive checkpoint never
//! lets it start over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nidan_core::model::{Account, AccountGuard, Event, EventKind};
use nidan_core::store::Write;
use nidan_core::store::records::*;
use nidan_store::SqlStore;

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_bounded_while_readers_never_pause() {
    if nidan_store::testing::use_postgres() {
        return; // SQLite's own file; nothing to check on PostgreSQL.
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nidan.db");
    let wal = dir.path().join("nidan.db-wal");
    let store = SqlStore::connect(&format!("sqlite://{}", path.display()), 8)
        .await
        .unwrap();
    let account = Account {
        id: "acc1".into(),
        email: "a@example.com".into(),
        password_hash: "x".into(),
        roles: Vec::new(),
        locale: "en".into(),
        two_sv_on_since: Some(1),
        created_at: 1,
        guard: AccountGuard::default(),
    };
    assert!(store.insert_account(&account).await.unwrap());

    // Readers that never pause, as a crowd of sign-ins makes them.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (store, stop) = (store.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                store.account_by_email("a@example.com").await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }

    // 256 MiB of events, 64 KiB each, from 8 writers at once; the WAL's
    // size is sampled after every write.
    let largest = Arc::new(AtomicU64::new(0));
    let detail = "x".repeat(64 * 1024);
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, largest, wal, detail) =
            (store.clone(), largest.clone(), wal.clone(), detail.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..512 {
                store
                    .apply(vec![Write::Event(Event {
                        id: format!("e{w}-{i}"),
                        account_id: Some("acc1".into()),
                        kind: EventKind::CodeRefused,
                        at: 10,
                        ip: String::new(),
                        user_agent: String::new(),
                        detail: detail.clone(),
                    })])
                    .await
                    .unwrap();
                let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                largest.fetch_max(size, Ordering::Relaxed);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    let largest = largest.load(Ordering::Relaxed);
    assert!(
        largest < 100 * MIB,
        "the WAL grew to {} MiB while 256 MiB were written",
        largest / MIB
    );
}
