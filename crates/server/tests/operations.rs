//! What an operator does with `nidan admin` on the data folder (issue
//! 14): the audit log exported as JSON lines before retention deletes it,
//! and the purge run by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{node, sign_up};
use serde_json::Value;

/// The audit log exported as JSON lines before retention deletes it, and
/// the purge run by hand (issue 14), with `nidan admin` as an operator
/// would on the data folder.
#[tokio::test]
async fn the_audit_log_exports_as_json_lines_and_the_purge_runs_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(&["--listen", "127.0.0.1:0"], &[], dir.path());
    let c = reqwest::Client::new();
    sign_up(&c, &n, "log@example.com").await;
    drop(n);
    let admin = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nidan"))
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("NIDAN_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let lines = admin(&["events", "--format", "jsonl", "--limit", "0"]);
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["kind"] == "signed_up"), "{lines}");
    assert!(
        events
            .iter()
            .all(|e| e["at"].is_i64() && e["time"].is_string())
    );
    let purged = admin(&["purge"]);
    assert!(
        purged.contains("sessions") && purged.contains("audit events"),
        "{purged}"
    );
}
