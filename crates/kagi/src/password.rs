//! Where passwords come from: the `KAGI_PASSWORD` environment variable (for
//! scripts; it is visible to other processes of the same user, so prefer
//! the prompt), or a prompt without echo on the terminal.

use std::io::IsTerminal;

use zeroize::Zeroizing;

/// The environment variable that supplies the vault password to scripts.
pub const PASSWORD_ENV: &str = "KAGI_PASSWORD";

/// Why no password could be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Not a terminal and no environment variable.
    #[error("a password is needed but there is no terminal to ask on; set {0} for scripts")]
    NoTerminal(&'static str),
    /// The prompt failed or was interrupted.
    #[error("could not read the password: {0}")]
    Prompt(String),
    /// An empty password for a new vault.
    #[error("the password is empty; use `--no-password` to keep the vault unencrypted on purpose")]
    Empty,
}

/// Asks for a password once (to open something), or from `env_var`.
pub fn ask(prompt: &str, env_var: &'static str) -> Result<Zeroizing<String>, PasswordError> {
    if let Ok(p) = std::env::var(env_var) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(PasswordError::NoTerminal(env_var));
    }
    dialoguer::Password::new()
        .with_prompt(prompt)
        .allow_empty_password(true)
        .interact()
        .map(Zeroizing::new)
        .map_err(|e| PasswordError::Prompt(e.to_string()))
}

/// Asks for a new password twice (or takes it from `env_var`); refuses an
/// empty one.
pub fn ask_new(prompt: &str, env_var: &'static str) -> Result<Zeroizing<String>, PasswordError> {
    let password = if let Ok(p) = std::env::var(env_var) {
        Zeroizing::new(p)
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(PasswordError::NoTerminal(env_var));
        }
        dialoguer::Password::new()
            .with_prompt(prompt)
            .with_confirmation("Repeat it", "The two passwords differ; try again")
            .allow_empty_password(true)
            .interact()
            .map(Zeroizing::new)
            .map_err(|e| PasswordError::Prompt(e.to_string()))?
    };
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    Ok(password)
}
