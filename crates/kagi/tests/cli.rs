//! The `kagi` binary end to end, as a person or a script runs it.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nidan_otp::{KeyUri, Secret, Totp};

const KEY: &str = "JBSWY3DPEHPK3PXP";

struct Kagi {
    _dir: tempfile::TempDir,
    vault: PathBuf,
    password: Option<&'static str>,
}

impl Kagi {
    fn new(password: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("sub").join("vault.kagi");
        let k = Self {
            _dir: dir,
            vault,
            password,
        };
        let init = if password.is_some() {
            k.run(&["init"])
        } else {
            k.run(&["init", "--no-password"])
        };
        assert!(init.status.success(), "{}", stderr(&init));
        k
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kagi"));
        c.args(args)
            .env("KAGI_VAULT", &self.vault)
            .env_remove("KAGI_PASSWORD")
            .env_remove("KAGI_BACKUP_PASSWORD")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null());
        if let Some(p) = self.password {
            c.env("KAGI_PASSWORD", p);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kagi {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "kagi {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr(&out)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The codes for KEY around now: the command ran a moment before this
/// check (a busy machine may take seconds), possibly in the previous step.
fn expected_codes() -> [String; 3] {
    let secret = Secret::from_base32(KEY).unwrap();
    let totp = Totp::default();
    let t = now();
    [
        totp.generate(&secret, t.saturating_sub(10)),
        totp.generate(&secret, t),
        totp.generate(&secret, t + 1),
    ]
}

#[test]
fn add_prints_the_code_to_confirm_and_code_prints_just_the_code() {
    let k = Kagi::new(None);
    let added = k.ok(&[
        "add",
        "Amazon",
        "--key",
        "jbsw y3dp ehpk 3pxp",
        "--issuer",
        "Amazon",
    ]);
    assert!(
        added.contains("Added Amazon (TOTP SHA1 6 digits 30 s)"),
        "{added}"
    );
    assert!(added.contains("s left) — type it into the site"), "{added}");
    let code = k.ok(&["code", "ama"]);
    assert!(expected_codes().contains(&code.trim().to_owned()), "{code}");
    assert_eq!(code.trim().len(), 6);
    let list = k.ok(&[]);
    assert!(list.starts_with("NAME"), "{list}");
    assert!(list.contains("Amazon"), "{list}");
}

#[test]
fn uri_qr_hotp_and_options_are_all_ways_to_add() {
    let k = Kagi::new(None);
    k.ok(&[
        "add",
        "GitHub",
        "--uri",
        &format!("otpauth://totp/GitHub:me?secret={KEY}&algorithm=SHA256&digits=8"),
    ]);
    let png = nidan_otp::qr::render_png(
        &KeyUri::new_totp(
            Secret::from_base32(KEY).unwrap(),
            Some("Shop".into()),
            "me".into(),
        )
        .to_uri(),
        6,
    )
    .unwrap();
    let image = k.dir().join("screenshot.png");
    std::fs::write(&image, png).unwrap();
    let out = k.ok(&["add", "Shop", "--qr", image.to_str().unwrap()]);
    assert!(out.contains("Added Shop"), "{out}");
    let hotp = nidan_otp::Hotp {
        algorithm: Default::default(),
        format: nidan_otp::CodeFormat::Numeric(nidan_otp::Digits::EIGHT),
    };
    let secret = Secret::from_base32(KEY).unwrap();
    let out = k.ok(&[
        "add",
        "Bank",
        "--key",
        KEY,
        "--hotp",
        "--counter",
        "0",
        "--digits",
        "8",
    ]);
    assert!(
        out.contains(&format!("Next code: {}", hotp.generate(&secret, 0))),
        "{out}"
    );
    // Adding showed counter 0, so the next code is counter 1, then 2: each is used once.
    assert_eq!(k.ok(&["code", "bank"]).trim(), hotp.generate(&secret, 1));
    assert_eq!(k.ok(&["code", "bank"]).trim(), hotp.generate(&secret, 2));
    let out = k.ok(&["add", "Steam", "--key", KEY, "--steam"]);
    assert!(out.contains("Steam"), "{out}");
    assert_eq!(k.ok(&["code", "GitHub"]).trim().len(), 8);
}

#[test]
fn bad_input_gets_a_specific_message_and_changes_nothing() {
    let k = Kagi::new(None);
    k.ok(&["add", "Amazon", "--key", KEY]);
    let before = std::fs::read(&k.vault).unwrap();
    let err = k.fails(&["add", "Typo", "--key", "JBSW0Y3DP"]);
    assert!(
        err.contains(
            "'0' at position 5 is not a Base32 character (zero; did you mean the letter O?)"
        ),
        "{err}"
    );
    let err = k.fails(&["add", "amazon", "--key", KEY]);
    assert!(err.contains("already exists"), "{err}");
    let err = k.fails(&[
        "add",
        "X",
        "--uri",
        "otpauth://totp/x?secret=JBSWY3DP&digits=9",
    ]);
    assert!(err.contains("digits must be 6, 7 or 8"), "{err}");
    let err = k.fails(&["add", "X", "--key", KEY, "--digits", "4"]);
    assert!(err.contains("6 to 8 digits"), "{err}");
    let not_image = k.dir().join("x.png");
    std::fs::write(&not_image, b"MZ this is an exe").unwrap();
    let err = k.fails(&["add", "X", "--qr", not_image.to_str().unwrap()]);
    assert!(err.contains("not a readable PNG or JPEG"), "{err}");
    let err = k.fails(&["code", "nothing-like-it"]);
    assert!(
        err.contains("no account matches 'nothing-like-it'; accounts: Amazon"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&k.vault).unwrap(),
        before,
        "the vault is unchanged"
    );
}

#[test]
fn an_encrypted_vault_needs_its_password_and_says_which_error_is_which() {
    let k = Kagi::new(Some("correct horse"));
    k.ok(&["add", "Amazon", "--key", KEY]);
    let raw = std::fs::read(&k.vault).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("Amazon"));

    let mut wrong = k.command(&["list"]);
    wrong.env("KAGI_PASSWORD", "wrong horse");
    let out = wrong.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "kagi: wrong password");

    let mut none = k.command(&["list"]);
    none.env_remove("KAGI_PASSWORD");
    let err = stderr(&none.output().unwrap());
    assert!(
        err.contains("no terminal to ask on; set KAGI_PASSWORD"),
        "{err}"
    );

    let mut damaged = raw.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    std::fs::write(&k.vault, &damaged).unwrap();
    let err = k.fails(&["list"]);
    assert!(err.contains("damaged or was modified"), "{err}");
    std::fs::write(&k.vault, &raw[..raw.len() - 10]).unwrap();
    let err = k.fails(&["list"]);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn rename_and_remove_ask_or_take_yes() {
    let k = Kagi::new(None);
    k.ok(&["add", "Amazon", "--key", KEY]);
    k.ok(&["add", "Google", "--key", KEY]);
    assert!(
        k.ok(&["rename", "ama", "Amazon shop"])
            .contains("Renamed 'Amazon' to 'Amazon shop'")
    );
    let err = k.fails(&["rename", "Google", "amazon SHOP"]);
    assert!(err.contains("already exists"), "{err}");
    let err = k.fails(&["rm", "Google"]);
    assert!(err.contains("add --yes to confirm"), "{err}");
    assert!(
        k.ok(&["rm", "Google", "--yes"])
            .contains("Removed 'Google'")
    );
    let list = k.ok(&["list"]);
    assert!(
        list.contains("Amazon shop") && !list.contains("Google"),
        "{list}"
    );
}

#[test]
fn export_then_import_into_a_new_vault_keeps_every_account() {
    let k = Kagi::new(None);
    k.ok(&["add", "Amazon", "--key", KEY, "--issuer", "Amazon"]);
    k.ok(&["add", "Bank", "--key", KEY, "--hotp", "--counter", "3"]);
    let lines = k.dir().join("export.txt");
    let err = k.fails(&["export", "--format", "otpauth", lines.to_str().unwrap()]);
    assert!(
        err.contains("in the clear") && err.contains("--yes"),
        "{err}"
    );
    k.ok(&[
        "export",
        "--format",
        "otpauth",
        lines.to_str().unwrap(),
        "--yes",
    ]);
    let aegis = k.dir().join("aegis.json");
    k.ok(&[
        "export",
        "--format",
        "aegis",
        aegis.to_str().unwrap(),
        "--yes",
    ]);
    let qr = k.dir().join("qr");
    let out = k.ok(&["export", "--format", "qr", qr.to_str().unwrap(), "--yes"]);
    assert!(out.contains("Amazon.png"), "{out}");
    let google = k.dir().join("google");
    k.ok(&[
        "export",
        "--format",
        "google",
        google.to_str().unwrap(),
        "--yes",
    ]);
    let backup = k.dir().join("backup.kagi");
    let mut export = k.command(&["export", "--format", "kagi", backup.to_str().unwrap()]);
    export.env("KAGI_BACKUP_PASSWORD", "backup pw");
    assert!(export.output().unwrap().status.success());

    let files = [
        lines,
        aegis,
        backup,
        google.join("google-transfer-1-of-1.png"),
        qr.join("Amazon.png"),
    ];
    for file in &files {
        let other = Kagi::new(None);
        let mut import = other.command(&["import", file.to_str().unwrap()]);
        import.env("KAGI_BACKUP_PASSWORD", "backup pw");
        let out = import.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file:?}: {text} {}", stderr(&out));
        assert!(text.contains("added    Amazon"), "{file:?}: {text}");
        assert!(expected_codes().contains(&other.ok(&["code", "Amazon"]).trim().to_owned()));
        // Importing the same file again adds nothing.
        let mut again = other.command(&["import", file.to_str().unwrap()]);
        again.env("KAGI_BACKUP_PASSWORD", "backup pw");
        let text = String::from_utf8(again.output().unwrap().stdout).unwrap();
        assert!(text.contains("0 added"), "{text}");
        assert!(text.contains("skipped  "), "{text}");
    }
}

#[test]
fn a_partial_import_reports_every_entry_and_exits_non_zero() {
    let k = Kagi::new(None);
    let file = k.dir().join("lines.txt");
    std::fs::write(
        &file,
        format!("otpauth://totp/A:me?secret={KEY}\notpauth://totp/B:me?secret=111\n"),
    )
    .unwrap();
    let out = k.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("added    A (me)"), "{text}");
    assert!(text.contains("failed   line 2:"), "{text}");
    assert!(text.contains("1 added, 0 skipped, 1 failed."), "{text}");
    assert!(k.ok(&["list"]).contains("A (me)"));
}

#[test]
fn copy_without_a_clipboard_says_so_and_prints_the_code() {
    let k = Kagi::new(None);
    k.ok(&["add", "Amazon", "--key", KEY]);
    let out = k.run(&["code", "Amazon", "--copy"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("no clipboard is available here"),
        "{}",
        stderr(&out)
    );
    assert!(expected_codes().contains(&String::from_utf8(out.stdout).unwrap().trim().to_owned()));
}

#[cfg(unix)]
#[test]
fn killing_kagi_mid_save_never_breaks_the_vault() {
    // SIGKILL `kagi add` at different moments, including during the
    // Argon2id derivation and the write: the vault always opens, holding
    // either the old or the new accounts.
    let k = Kagi::new(Some("pw"));
    k.ok(&["add", "Base", "--key", KEY]);
    for i in 0..12u64 {
        let mut child = k
            .command(&["add", &format!("n{i}"), "--key", KEY])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 * i));
        let _ = child.kill();
        let _ = child.wait();
        let list = k.ok(&["list"]);
        assert!(list.contains("Base"), "after kill {i}: {list}");
    }
}
