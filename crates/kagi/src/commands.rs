//! What each command does. Every command opens the vault, acts, and saves
//! it atomically if it changed; output goes to stdout, messages for people
//! to stderr, so `kagi code NAME` can feed a script.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use nidan_otp::{Algorithm, CodeFormat, Digits, KeyUri, OtpKind, Secret};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::cli::{AddArgs, Command};
use crate::formats::{self, Format};
use crate::password::{self, PASSWORD_ENV};
use crate::vault::{DerivedKey, KdfParams, Protection, Vault, VaultError, VaultLock};
use crate::{clipboard, matching, unix_now};

/// Environment variable for the password of an encrypted backup (export
/// and import), so scripts need not type it.
pub const BACKUP_PASSWORD_ENV: &str = "KAGI_BACKUP_PASSWORD";

/// The largest file `kagi import` reads (exports are kilobytes; this
/// bounds memory on a wrong file).
const MAX_IMPORT_BYTES: u64 = 20 * 1024 * 1024;

/// The vault's default location: `<OS data dir>/kagi/vault.kagi`.
pub fn default_vault_path() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "kagi")
        .map(|d| d.data_dir().join("vault.kagi"))
        .ok_or_else(|| anyhow!("could not find a home directory for the vault; pass --vault PATH"))
}

/// Runs one command against the vault at `vault_path`.
pub fn run(command: Command, vault_path: &Path) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    // Commands that write the vault hold its lock from before they read it
    // until after they save, so two kagi processes never both change the
    // same old vault (one's change would be lost).
    let _lock = match command {
        Command::Init { .. }
        | Command::Add(_)
        | Command::Code { .. }
        | Command::Rename { .. }
        | Command::Rm { .. }
        | Command::Import { .. }
        | Command::Passwd => Some(VaultLock::acquire(vault_path, LOCK_WAIT)?),
        Command::List | Command::Watch | Command::Export { .. } | Command::HoldClipboard { .. } => {
            None
        }
    };
    match command {
        Command::Passwd => passwd(vault_path, &mut out),
        Command::Init { no_password } => init(vault_path, no_password, &mut out),
        Command::Add(args) => add(vault_path, args, &mut out),
        Command::List => list(vault_path, &mut out),
        Command::Code { name, copy } => code(vault_path, &name, copy, &mut out),
        Command::Watch => {
            let (vault, _) = open(vault_path)?;
            crate::watch::run(vault.accounts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rename { old, new } => rename(vault_path, &old, &new, &mut out),
        Command::Rm { name, yes } => remove(vault_path, &name, yes, &mut out),
        Command::Export {
            format,
            out: target,
            yes,
        } => export(vault_path, format, &target, yes, &mut out),
        Command::Import { file, format } => import(vault_path, &file, format, &mut out),
        Command::HoldClipboard { seconds } => {
            clipboard::hold(seconds)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long a command waits for another kagi to finish with the vault.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The environment variable that supplies the new password to `kagi passwd`.
const NEW_PASSWORD_ENV: &str = "KAGI_NEW_PASSWORD";

/// `kagi passwd`: opens the vault with the current password and saves it
/// under a new one (new salt, new nonce), atomically.
fn passwd(path: &Path, out: &mut impl Write) -> Result<ExitCode> {
    let (vault, _) = open(path)?;
    let new = password::ask_new("New vault password", NEW_PASSWORD_ENV)?;
    let protection = Protection::Password(DerivedKey::new(&new, KdfParams::default())?);
    vault.save(path, &protection)?;
    writeln!(
        out,
        "The vault password was changed. Backups made earlier with `kagi export --format kagi` keep the password they were made with."
    )?;
    Ok(ExitCode::SUCCESS)
}

fn open(path: &Path) -> Result<(Vault, Protection), VaultError> {
    Vault::open(path, || Ok(password::ask("Vault password", PASSWORD_ENV)?))
}

fn init(path: &Path, no_password: bool, out: &mut impl Write) -> Result<ExitCode> {
    if path.exists() {
        return Err(VaultError::AlreadyExists(path.to_owned()).into());
    }
    let protection = if no_password {
        Protection::Plain
    } else {
        let password = password::ask_new("New vault password", PASSWORD_ENV)?;
        Protection::Password(DerivedKey::new(&password, KdfParams::default())?)
    };
    Vault::default().create(path, &protection)?;
    writeln!(
        out,
        "Created {} vault at {}",
        if no_password {
            "an unencrypted"
        } else {
            "an encrypted"
        },
        path.display()
    )?;
    if no_password {
        writeln!(
            out,
            "Anyone who can read this file can make your codes. `kagi export --format kagi` makes an encrypted copy."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn key_uri_from(args: &AddArgs) -> Result<KeyUri> {
    if let Some(key) = &args.key {
        let secret = Secret::from_base32(key).context("the key is not valid")?;
        return Ok(KeyUri::new_totp(secret, None, String::new()));
    }
    if let Some(uri) = &args.uri {
        return KeyUri::parse(uri).context("the URI is not valid");
    }
    if let Some(image) = &args.qr {
        let bytes = read_limited(image)?;
        let texts = nidan_otp::qr::decode_image(&bytes)
            .with_context(|| format!("could not read a QR code from {}", image.display()))?;
        if let Some(text) = texts
            .iter()
            .find(|t| t.to_ascii_lowercase().starts_with("otpauth://"))
        {
            return KeyUri::parse(text).context("the QR code holds an invalid otpauth URI");
        }
        if texts.iter().any(|t| t.starts_with("otpauth-migration://")) {
            bail!(
                "this is a Google Authenticator transfer code; use `kagi import {}`",
                image.display()
            );
        }
        bail!(
            "the QR code in {} is not an authenticator key (it holds something else)",
            image.display()
        );
    }
    bail!("give one of --key, --uri or --qr")
}

fn add(path: &Path, args: AddArgs, out: &mut impl Write) -> Result<ExitCode> {
    let (mut vault, protection) = open(path)?;
    let name = args.name.trim().to_owned();
    if name.is_empty() {
        bail!("the name is empty");
    }
    if let Some(existing) = vault.position(&name).and_then(|i| vault.accounts.get(i)) {
        bail!(
            "an account named '{}' already exists; pick another name or `kagi rename` it",
            existing.name
        );
    }
    let mut uri = key_uri_from(&args)?;
    if let Some(issuer) = &args.issuer {
        uri.issuer = Some(issuer.clone());
    }
    if let Some(algorithm) = &args.algorithm {
        uri.algorithm = algorithm.parse::<Algorithm>()?;
    }
    if let Some(digits) = args.digits {
        uri.format = CodeFormat::Numeric(Digits::new(digits)?);
    }
    if args.steam {
        uri.format = CodeFormat::Steam;
    }
    if args.hotp {
        uri.kind = OtpKind::Hotp {
            counter: args.counter.unwrap_or(0),
        };
    }
    if let Some(period) = args.period {
        match uri.kind {
            OtpKind::Totp { .. } if period > 0 => uri.kind = OtpKind::Totp { period },
            OtpKind::Totp { .. } => bail!("the period must be at least one second"),
            OtpKind::Hotp { .. } => bail!("--period applies to time-based codes, not --hotp"),
        }
    }
    let now = unix_now();
    let mut account = Account::from_key_uri(name, uri, now);
    let shown = account.take_code(now);
    let description = account.describe();
    let name = account.name.clone();
    vault.accounts.push(account);
    vault.save(path, &protection)?;
    writeln!(out, "Added {name} ({description}).")?;
    if let Some(shown) = shown {
        match shown.seconds_left {
            Some(left) => writeln!(
                out,
                "Current code: {}  ({left} s left) — type it into the site to finish setting up.",
                shown.code
            )?,
            None => writeln!(
                out,
                "Next code: {} — type it into the site to finish setting up.",
                shown.code
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(path: &Path, out: &mut impl Write) -> Result<ExitCode> {
    let (vault, _) = open(path)?;
    if vault.accounts.is_empty() {
        writeln!(
            out,
            "The vault is empty. Add an account with `kagi add NAME --key KEY`, or `kagi import FILE`."
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = unix_now();
    let width = vault
        .accounts
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(out, "{:width$}  {:8}  LEFT", "NAME", "CODE")?;
    for a in &vault.accounts {
        match a.code_at(now) {
            Some(shown) => writeln!(
                out,
                "{:width$}  {:8}  {:>2} s",
                a.name,
                shown.code,
                shown.seconds_left.unwrap_or_default()
            )?,
            None => writeln!(
                out,
                "{:width$}  {:8}  counter-based: `kagi code {}`",
                a.name, "-", a.name
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn code(path: &Path, query: &str, copy: bool, out: &mut impl Write) -> Result<ExitCode> {
    let (mut vault, protection) = open(path)?;
    let index = matching::find(&vault.accounts, query)?;
    let account = vault
        .accounts
        .get_mut(index)
        .ok_or_else(|| anyhow!("account vanished"))?;
    let hotp = account.is_hotp();
    let shown = account
        .take_code(unix_now())
        .ok_or_else(|| anyhow!("no code for this account"))?;
    if hotp {
        vault.save(path, &protection)?;
    }
    if copy {
        match clipboard::copy(&shown.code) {
            Ok(()) => eprintln!(
                "Copied to the clipboard; it is cleared in {} s.",
                clipboard::CLEAR_AFTER.as_secs()
            ),
            Err(e) => eprintln!("{e}; here is the code instead:"),
        }
    }
    writeln!(out, "{}", shown.code)?;
    Ok(ExitCode::SUCCESS)
}

fn rename(path: &Path, old: &str, new: &str, out: &mut impl Write) -> Result<ExitCode> {
    let (mut vault, protection) = open(path)?;
    let index = matching::find(&vault.accounts, old)?;
    let new = new.trim();
    if new.is_empty() {
        bail!("the new name is empty");
    }
    if let Some(other) = vault.position(new).filter(|&i| i != index) {
        let taken = vault
            .accounts
            .get(other)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        bail!("an account named '{taken}' already exists");
    }
    let account = vault
        .accounts
        .get_mut(index)
        .ok_or_else(|| anyhow!("account vanished"))?;
    let before = std::mem::replace(&mut account.name, new.to_owned());
    vault.save(path, &protection)?;
    writeln!(out, "Renamed '{before}' to '{new}'.")?;
    Ok(ExitCode::SUCCESS)
}

fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !io::stdin().is_terminal() {
        bail!("{question} — there is no terminal to ask on; add --yes to confirm");
    }
    Ok(dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?)
}

fn remove(path: &Path, query: &str, yes: bool, out: &mut impl Write) -> Result<ExitCode> {
    let (mut vault, protection) = open(path)?;
    let index = matching::find(&vault.accounts, query)?;
    let name = vault
        .accounts
        .get(index)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let question = format!(
        "Remove '{name}'? Without it you cannot make its codes; turn two-step verification off at the site first, or keep a backup"
    );
    if !confirm(&question, yes)? {
        writeln!(out, "Nothing removed.")?;
        return Ok(ExitCode::SUCCESS);
    }
    vault.accounts.remove(index);
    vault.save(path, &protection)?;
    writeln!(out, "Removed '{name}'.")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` atomically, readable only by the owner.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = crate::vault::write_temp(path, bytes)?;
    crate::vault::commit(temp, path)?;
    Ok(())
}

/// A file name made of the account name's letters and digits.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_matches('_').to_owned();
    if stem.is_empty() {
        "account".to_owned()
    } else {
        stem
    }
}

fn export(
    path: &Path,
    format: Format,
    target: &Path,
    yes: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let (vault, _) = open(path)?;
    if vault.accounts.is_empty() {
        bail!("the vault is empty; nothing to export");
    }
    if !matches!(format, Format::Kagi) {
        let question = format!(
            "This writes the keys of {} account(s) in the clear to {}. Anyone who gets it can make your codes. Continue?",
            vault.accounts.len(),
            target.display()
        );
        if !confirm(&question, yes)? {
            writeln!(out, "Nothing exported.")?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    match format {
        Format::Kagi => {
            let password = password::ask_new("Backup password", BACKUP_PASSWORD_ENV)?;
            let key = DerivedKey::new(&password, KdfParams::default())?;
            write_private(target, &vault.to_bytes(&Protection::Password(key))?)?;
        }
        Format::Otpauth => {
            write_private(target, formats::otpauth::export(&vault.accounts).as_bytes())?
        }
        Format::Aegis => {
            write_private(target, formats::aegis::export(&vault.accounts)?.as_bytes())?
        }
        Format::Qr => {
            fs::create_dir_all(target)
                .with_context(|| format!("could not create {}", target.display()))?;
            let mut used = Vec::new();
            for a in &vault.accounts {
                let mut stem = file_stem(&a.name);
                let base = stem.clone();
                let mut n = 2;
                while used.contains(&stem) {
                    stem = format!("{base}-{n}");
                    n += 1;
                }
                let png = nidan_otp::qr::render_png(&a.to_key_uri().to_uri(), 8)?;
                let file = target.join(format!("{stem}.png"));
                write_private(&file, &png)?;
                writeln!(out, "{}  →  {}", a.name, file.display())?;
                used.push(stem);
            }
        }
        Format::Google => {
            fs::create_dir_all(target)
                .with_context(|| format!("could not create {}", target.display()))?;
            let (uris, left_out) = formats::google::export(&vault.accounts);
            let total = uris.len();
            for (i, uri) in uris.iter().enumerate() {
                let file = target.join(format!("google-transfer-{}-of-{total}.png", i + 1));
                write_private(&file, &nidan_otp::qr::render_png(uri, 6)?)?;
                writeln!(out, "QR code {} of {total}  →  {}", i + 1, file.display())?;
            }
            for (name, reason) in &left_out {
                writeln!(out, "left out {name}: {reason}")?;
            }
            if total > 0 {
                writeln!(
                    out,
                    "In Google Authenticator: Transfer accounts → Import accounts, then scan every code in order."
                )?;
            }
        }
        Format::Andotp | Format::TwoFas | Format::Bitwarden => {
            bail!(
                "kagi imports {format:?} files but exports only kagi, otpauth, aegis, qr and google"
            );
        }
    }
    if !matches!(format, Format::Qr | Format::Google) {
        writeln!(
            out,
            "Exported {} account(s) to {}.",
            vault.accounts.len(),
            target.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_limited(file: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(file).with_context(|| format!("could not read {}", file.display()))?;
    if meta.len() > MAX_IMPORT_BYTES {
        bail!(
            "{} is {} MB; exports are far smaller — is it the right file?",
            file.display(),
            meta.len() / 1_000_000
        );
    }
    fs::read(file).with_context(|| format!("could not read {}", file.display()))
}

fn import(
    path: &Path,
    file: &Path,
    format: Option<Format>,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let bytes = Zeroizing::new(read_limited(file)?);
    let format = match format.or_else(|| formats::detect(&bytes)) {
        Some(f) => f,
        None => return Err(formats::ImportError::UnknownFormat.into()),
    };
    let (mut vault, protection) = open(path)?;
    let mut ask = || password::ask("Backup password", BACKUP_PASSWORD_ENV);
    let imported = formats::import(format, &bytes, &mut ask)?;
    let now = unix_now();
    let (mut added, mut skipped, mut failed) = (0, 0, 0);
    for entry in imported.entries {
        match entry.result {
            Err(reason) => {
                failed += 1;
                writeln!(out, "failed   {}: {reason}", entry.source)?;
            }
            Ok(uri) => {
                let duplicate = vault.accounts.iter().find(|a| {
                    a.secret == uri.secret && a.issuer == uri.issuer && a.label == uri.account
                });
                if let Some(existing) = duplicate {
                    skipped += 1;
                    writeln!(
                        out,
                        "skipped  {}: already in the vault as '{}'",
                        entry.source, existing.name
                    )?;
                    continue;
                }
                let name = vault.free_name(&Account::suggested_name(
                    uri.issuer.as_deref(),
                    &uri.account,
                ));
                writeln!(out, "added    {name}")?;
                vault.accounts.push(Account::from_key_uri(name, uri, now));
                added += 1;
            }
        }
    }
    for warning in &imported.warnings {
        writeln!(out, "warning  {warning}")?;
    }
    if added > 0 {
        vault.save(path, &protection)?;
    }
    writeln!(out, "{added} added, {skipped} skipped, {failed} failed.")?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
