//! kagi in a real pseudo-terminal (tmux) with a real X clipboard (Xvfb):
//! create a vault typing the password at the prompt, add an account, watch,
//! copy with Enter, read the clipboard back with xclip, quit.
//! Needs tmux, Xvfb and xclip (Debian packages, installed by `.ci/run`).
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nidan_otp::{Secret, Totp};

const KEY: &str = "JBSWY3DPEHPK3PXP";

/// An Xvfb server on a free display, stopped on drop.
struct Display {
    number: u32,
    child: Child,
}

impl Display {
    fn start() -> Self {
        for number in (100 + std::process::id() % 400)..600 {
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .args([
                    format!(":{number}"),
                    "-screen".into(),
                    "0".into(),
                    "640x480x24".into(),
                    "-nolisten".into(),
                    "tcp".into(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb is installed (apt-get install xvfb; .ci/run does it)");
            let socket = format!("/tmp/.X11-unix/X{number}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && !Path::new(&socket).exists() {
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(Path::new(&socket).exists(), "Xvfb :{number} did not start");
            return Self { number, child };
        }
        panic!("no free X display number");
    }

    fn name(&self) -> String {
        format!(":{}", self.number)
    }

    fn clipboard(&self) -> String {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", self.name())
            .output()
            .expect("xclip is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tmux server of our own with one 90x24 pane running a plain shell.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(env: &[(&str, String)]) -> Self {
        let socket = format!(
            "kagi-test-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        );
        let mut args: Vec<String> = vec![
            "-L".into(),
            socket.clone(),
            "-f".into(),
            "/dev/null".into(),
            "new-session".into(),
            "-d".into(),
            "-x".into(),
            "90".into(),
            "-y".into(),
            "24".into(),
        ];
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        let path = env
            .iter()
            .find(|(k, _)| *k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        args.push(format!(
            "env -u KAGI_PASSWORD PATH='{path}' PS1='$ ' bash --norc --noprofile"
        ));
        let status = Command::new("tmux")
            .args(&args)
            .status()
            .expect("tmux is installed (apt-get install tmux; .ci/run does it)");
        assert!(status.success());
        Self { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
        self.tmux(&["send-keys", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", key]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_nth(text, 1)
    }

    /// Waits until `text` is on the screen `n` times: a prompt seen before
    /// (the previous command's) must not count as the new one.
    fn wait_for_nth(&self, text: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= n {
                // A prompt's text shows a moment before the program turns
                // echo off and starts reading (and flushes what came
                // earlier): give it that moment, as a person would.
                std::thread::sleep(Duration::from_millis(300));
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {text:?}; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn codes_now() -> Vec<String> {
    let secret = Secret::from_base32(KEY).unwrap();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (0..4)
        .map(|d| Totp::default().generate(&secret, t.saturating_sub(10) + d * 4))
        .collect()
}

#[test]
fn a_person_creates_adds_watches_copies_and_quits_in_a_real_terminal() {
    let display = Display::start();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.kagi");
    let kagi_dir = Path::new(env!("CARGO_BIN_EXE_kagi"))
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let path = format!("{kagi_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let term = Tmux::start(&[
        ("KAGI_VAULT", vault.to_str().unwrap().to_owned()),
        ("DISPLAY", display.name()),
        ("PATH", path),
        ("TERM", "xterm-256color".into()),
    ]);

    // The password is typed at a prompt that does not echo it.
    term.type_line("kagi init");
    term.wait_for("New vault password");
    term.type_line("tsuki to hoshi");
    term.wait_for("Repeat it");
    term.type_line("tsuki to hoshi");
    let screen = term.wait_for("Created an encrypted vault");
    assert!(
        !screen.contains("tsuki"),
        "the password is never shown:\n{screen}"
    );

    term.type_line(&format!(
        "kagi add Amazon --key '{}' --issuer Amazon",
        "jbsw y3dp ehpk 3pxp"
    ));
    term.wait_for("Vault password");
    term.type_line("tsuki to hoshi");
    term.wait_for("type it into the site");

    term.type_line("kagi watch");
    term.wait_for_nth("Vault password", 2);
    term.type_line("tsuki to hoshi");
    let screen = term.wait_for("Enter copy");
    assert!(
        screen.contains("Amazon") && screen.contains("LEFT"),
        "{screen}"
    );

    term.key("Enter");
    let screen = term.wait_for("Copied Amazon's code");
    let copied = display.clipboard();
    assert!(
        codes_now().contains(&copied),
        "clipboard holds {copied:?}; screen:\n{screen}"
    );

    term.key("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while term.screen().contains("Enter copy") {
        assert!(Instant::now() < deadline, "watch did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Back at the shell, which still works.
    term.type_line("echo still-here");
    term.wait_for("still-here");
}

#[test]
fn code_copy_puts_the_code_on_the_x_clipboard() {
    let display = Display::start();
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.kagi");
    let kagi = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kagi"))
            .args(args)
            .env("KAGI_VAULT", &vault)
            .env("DISPLAY", display.name())
            .env_remove("KAGI_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert!(kagi(&["init", "--no-password"]).status.success());
    assert!(kagi(&["add", "Amazon", "--key", KEY]).status.success());
    let out = kagi(&["code", "Amazon", "--copy"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Copied to the clipboard; it is cleared in 30 s")
    );
    let printed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(display.clipboard(), printed);
}
