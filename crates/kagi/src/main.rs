//! The `kagi` binary: parses the command line and hands it to
//! [`kagi::commands::run`]. Errors are printed as one plain sentence.

use std::process::ExitCode;

use clap::Parser;
use kagi::cli::{Cli, Command};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kagi: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let vault = match cli.vault {
        Some(path) => path,
        None => kagi::commands::default_vault_path()?,
    };
    kagi::commands::run(cli.command.unwrap_or(Command::List), &vault)
}
