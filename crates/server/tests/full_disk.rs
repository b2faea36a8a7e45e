//! A first start on a full disk (issue 14, finding 4): it used to leave an
//! empty `master.key` that made every later start fail with "master.key
//! must hold 32 bytes, not 0". A small tmpfs of the test's own is filled,
//! `nidan serve` refuses to start with a clear message and leaves nothing
//! behind; once space is freed it starts cleanly. An empty key file left
//! by an older version is replaced. (Mounting needs root, as the tests run
//! here and in CI.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a temporary folder, unmounted when dropped.
struct SmallDisk {
    at: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("disk");
        std::fs::create_dir(&at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "could not mount a tmpfs (this test runs as root, as CI does): {out:?}"
        );
        Self { at, _dir: dir }
    }

    /// Writes zeros into `filler` until the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.at.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        loop {
            if file.write_all(&block).is_err() {
                break;
            }
        }
        let _ = file.flush();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// `nidan serve` on `data`: `Err(output)` if it exited at once.
fn start_once(data: &Path, env: &[(&str, &str)]) -> Result<common::Node, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nidan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .envs(env.iter().copied())
        .env("NIDAN_LOG", "warn")
        .env_remove("NIDAN_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A start that fails does so at once; one still running after three
    // seconds has started.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(common::node(&["--listen", "127.0.0.1:0"], env, data))
}

#[tokio::test]
async fn a_first_start_on_a_full_disk_leaves_nothing_that_blocks_the_next() {
    // Everything on the full disk: refused, saying why.
    let disk = SmallDisk::mount("2m");
    let data = disk.at.join("data");
    let filler = disk.fill();
    let refused = start_once(&data, &[])
        .err()
        .expect("nidan started on a full disk");
    assert!(
        refused.contains("No space left on device") || refused.contains("disk is full"),
        "the refusal does not say why: {refused}"
    );
    std::fs::remove_file(filler).unwrap();
    start_once(&data, &[]).expect("nidan starts once space is freed");

    // The database fits elsewhere, the key file does not (the probe's
    // case): no key file is left, and the next start makes a whole one.
    let disk = SmallDisk::mount("1m");
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", elsewhere.path().join("nidan.db").display());
    let env = [("NIDAN_DATABASE_URL", url.as_str())];
    let data = disk.at.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let filler = disk.fill();
    let refused = start_once(&data, &env)
        .err()
        .expect("nidan started without a key");
    assert!(
        refused.contains("could not create the master key file")
            && refused.contains("No space left on device"),
        "{refused}"
    );
    let key = data.join("master.key");
    assert!(!key.exists(), "a failed start left {}", key.display());
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    std::fs::remove_file(filler).unwrap();
    let n = start_once(&data, &env).expect("nidan starts once space is freed");
    let ready = reqwest::get(format!("{}/readyz", n.base)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 44, "{text:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn an_empty_key_file_from_an_older_version_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("master.key"), "").unwrap();
    let n = start_once(&data, &[]).expect("an empty key file no longer blocks the start");
    let ready = reqwest::get(format!("{}/readyz", n.base)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(
        std::fs::read_to_string(data.join("master.key"))
            .unwrap()
            .trim()
            .len(),
        44
    );
}

#[tokio::test]
async fn an_empty_key_file_is_never_replaced_while_sealed_keys_depend_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let n = start_once(&data, &[]).expect("a first start");
    let c = reqwest::Client::new();
    let token = common::sign_up(&c, &n, "kept@example.com").await;
    common::enable_two_apps(&c, &n.base, &n.base, &token).await;
    drop(n);
    // The key file lost its content (a bad copy, a restore gone wrong).
    std::fs::write(data.join("master.key"), "").unwrap();
    let refused = start_once(&data, &[])
        .err()
        .expect("nidan replaced a key the stored app keys depend on");
    assert!(
        refused.contains("restore the file from your backup"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("master.key")).unwrap(),
        ""
    );
}
