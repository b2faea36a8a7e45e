//! Copying a code to the clipboard and clearing it again after a while.
//!
//! On X11 and Wayland the clipboard is served by the program that set it,
//! so a short-lived `kagi code --copy` hands the code to a detached
//! `kagi __hold-clipboard` process, which serves it and clears it when the
//! time is up (unless something else was copied meanwhile).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// How long a copied code stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(30);

/// Why a code could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum ClipboardError {
    /// No clipboard (no display, SSH session, bare console).
    #[error("no clipboard is available here ({0})")]
    Unavailable(String),
    /// Starting the helper process failed.
    #[error("could not start the clipboard helper: {0}")]
    Helper(String),
}

/// Whether a clipboard can be opened at all.
pub fn check() -> Result<(), ClipboardError> {
    arboard::Clipboard::new()
        .map(|_| ())
        .map_err(|e| ClipboardError::Unavailable(e.to_string()))
}

/// Copies `code` and arranges for it to be cleared after [`CLEAR_AFTER`].
/// Returns once the code is on the clipboard.
pub fn copy(code: &str) -> Result<(), ClipboardError> {
    check()?;
    let exe = std::env::current_exe().map_err(|e| ClipboardError::Helper(e.to_string()))?;
    let mut command = Command::new(exe);
    command
        .args(["__hold-clipboard", &CLEAR_AFTER.as_secs().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: closing the terminal or Ctrl-C does not
        // end it before it has cleared the clipboard.
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .map_err(|e| ClipboardError::Helper(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(code.as_bytes())
            .map_err(|e| ClipboardError::Helper(e.to_string()))?;
    }
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    if line.trim() == "copied" {
        Ok(())
    } else {
        let _ = child.wait();
        Err(ClipboardError::Unavailable(
            line.trim()
                .strip_prefix("error: ")
                .unwrap_or("the helper failed")
                .to_owned(),
        ))
    }
}

/// The helper's side: reads the code from stdin, sets it, reports
/// `copied`, serves it for `seconds`, then clears it if it is still ours.
pub fn hold(seconds: u64) -> Result<(), ClipboardError> {
    let mut code = Zeroizing::new(String::new());
    std::io::stdin()
        .take(64)
        .read_to_string(&mut code)
        .map_err(|e| ClipboardError::Helper(e.to_string()))?;
    let mut clipboard = match arboard::Clipboard::new() {
        Ok(c) => c,
        Err(e) => {
            println!("error: {e}");
            return Err(ClipboardError::Unavailable(e.to_string()));
        }
    };
    if let Err(e) = clipboard.set_text(code.as_str()) {
        println!("error: {e}");
        return Err(ClipboardError::Unavailable(e.to_string()));
    }
    println!("copied");
    let _ = std::io::stdout().flush();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    #[cfg(target_os = "linux")]
    {
        use arboard::SetExtLinux;
        // Serve paste requests until the deadline or until another program
        // takes the clipboard.
        let _ = clipboard.set().wait_until(deadline).text(code.as_str());
    }
    #[cfg(not(target_os = "linux"))]
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    if clipboard.get_text().ok().as_deref() == Some(code.as_str()) {
        let _ = clipboard.clear();
    }
    Ok(())
}
