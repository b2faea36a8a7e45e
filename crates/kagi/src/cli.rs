//! The command line, as clap parses it. Raw arguments become these
//! validated values; [`crate::commands`] acts on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::formats::Format;

/// kagi — a terminal authenticator. Shows the codes of your two-step
/// verification accounts, keeps their keys in an encrypted vault, and moves
/// them to and from other authenticator apps.
#[derive(Debug, Parser)]
#[command(name = "kagi", version, about, long_about = None)]
#[command(
    after_help = "Environment:\n  KAGI_VAULT     path of the vault (like --vault)\n  KAGI_PASSWORD  vault password for scripts; visible to your other processes, so prefer the prompt\n  KAGI_BACKUP_PASSWORD  password of an encrypted backup for export/import\n  KAGI_NEW_PASSWORD  the new password for `kagi passwd` in scripts"
)]
pub struct Cli {
    /// The vault file [default: the OS data directory, e.g. ~/.local/share/kagi/vault.kagi]
    #[arg(long, global = true, env = "KAGI_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,

    /// What to do (default: list)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vault (asks for a password twice)
    Init {
        /// Keep the vault unencrypted (anyone who can read the file gets every key)
        #[arg(long)]
        no_password: bool,
    },
    /// Add an account, then print its current code to confirm it with the site
    Add(AddArgs),
    /// Every account with its code and the seconds left
    List,
    /// Print just the code of one account
    Code {
        /// Exact name, its start, or a fuzzy match
        name: String,
        /// Put the code on the clipboard and clear it after 30 seconds
        #[arg(long)]
        copy: bool,
    },
    /// A live view: countdown bars, Enter copies, / searches, q quits
    Watch,
    /// Change the vault password (the vault is rewritten whole: a crash
    /// leaves it openable with the old password or the new one)
    Passwd,
    /// Rename an account
    Rename {
        /// Current name (or a match for it)
        old: String,
        /// New name
        new: String,
    },
    /// Remove an account (asks first)
    Rm {
        /// Name (or a match for it)
        name: String,
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
    /// Export every account: an encrypted kagi backup, or clear text for other apps
    Export {
        /// kagi (encrypted), otpauth (lines), aegis (plain JSON), qr (a PNG per account), google (transfer QR PNGs)
        #[arg(long, value_enum)]
        format: Format,
        /// Output file; a directory for qr and google
        out: PathBuf,
        /// Do not ask before writing keys in the clear
        #[arg(long)]
        yes: bool,
    },
    /// Import accounts from another authenticator's export (format detected when not given)
    Import {
        /// The file: text, JSON, kagi backup, or a PNG/JPEG with QR codes
        file: PathBuf,
        /// Its format, if detection guesses wrong
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// (internal) holds a copied code on the clipboard, then clears it
    #[command(hide = true, name = "__hold-clipboard")]
    HoldClipboard {
        /// Seconds before clearing
        seconds: u64,
    },
}

/// `kagi add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["key", "uri", "qr"])))]
pub struct AddArgs {
    /// A name to find it by (e.g. "Amazon")
    pub name: String,
    /// The key the site shows, e.g. "ABCD EFGH IJKL ..." (spaces, lowercase, missing padding are fine)
    #[arg(long)]
    pub key: Option<String>,
    /// An otpauth:// URI
    #[arg(long)]
    pub uri: Option<String>,
    /// A screenshot (PNG or JPEG) of the site's QR code
    #[arg(long, value_name = "IMAGE")]
    pub qr: Option<PathBuf>,
    /// The service's name
    #[arg(long)]
    pub issuer: Option<String>,
    /// Digits in a code: 6, 7 or 8
    #[arg(long)]
    pub digits: Option<u32>,
    /// Seconds per code
    #[arg(long)]
    pub period: Option<u64>,
    /// SHA1, SHA256 or SHA512
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Counter-based (HOTP) instead of time-based
    #[arg(long)]
    pub hotp: bool,
    /// Starting counter for --hotp
    #[arg(long, requires = "hotp")]
    pub counter: Option<u64>,
    /// Steam Guard codes (five characters)
    #[arg(long)]
    pub steam: bool,
}
