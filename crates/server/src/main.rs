//! The `nidan` binary: `nidan serve`, `nidan migrate`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;

/// mimalloc returns freed memory to the system: the 19 MiB Argon2 work
/// areas released after a burst of sign-ins do not stay resident the way
/// glibc's arenas keep them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use nidan_server::config::{Config, LogFormat};

/// nidan — self-hosted two-step verification.
#[derive(Debug, Parser)]
#[command(name = "nidan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies migrations first)
    Serve {
        /// Configuration file (TOML); NIDAN_* variables override it
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Folder for the SQLite file and the master key [default: ./nidan-data]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print the effective configuration and exit
        #[arg(long)]
        print_config: bool,
    },
    /// Show the messages the development outbox kept, newest first (with the codes)
    Outbox {
        /// Configuration file (TOML)
        #[arg(long)]
        config: Option<PathBuf>,
        /// Folder for the SQLite file [default: ./nidan-data]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// How many messages
        #[arg(long, default_value_t = 10)]
        limit: i64,
        /// Only the messages to this recipient (an address or a number)
        #[arg(long)]
        to: Option<String>,
    },
    /// Staff tools for scripts: admins, users, recovery requests, audit log
    Admin {
        /// Configuration file (TOML)
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Folder for the SQLite file and the master key [default: ./nidan-data]
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Apply database migrations and exit
    Migrate {
        /// Configuration file (TOML)
        #[arg(long)]
        config: Option<PathBuf>,
        /// Folder for the SQLite file [default: ./nidan-data]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nidan: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NIDAN_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            print_config,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            if print_config {
                println!("{}", toml_like(&config)?);
                return Ok(ExitCode::SUCCESS);
            }
            init_logs(config.log_format);
            runtime.block_on(nidan_server::web::serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox {
            config,
            data_dir,
            limit,
            to,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            runtime.block_on(async {
                std::fs::create_dir_all(&config.data_dir)?;
                let store = nidan_store::SqlStore::connect(&config.database_url(), 1).await?;
                let messages: Vec<_> = nidan_core::store::Events::outbox(&store, 1000)
                    .await?
                    .into_iter()
                    .filter(|m| {
                        to.as_deref()
                            .is_none_or(|to| m.recipient.eq_ignore_ascii_case(to.trim()))
                    })
                    .take(usize::try_from(limit.clamp(1, 1000)).unwrap_or(10))
                    .collect();
                if messages.is_empty() {
                    println!("The outbox is empty.");
                }
                for m in messages {
                    println!(
                        "{}  {:<5}  {}\n    {}\n",
                        m.created_at,
                        m.channel,
                        m.recipient,
                        m.body.replace('\n', "\n    ")
                    );
                }
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            config,
            data_dir,
            command,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            runtime.block_on(admin::run(&config, command))
        }
        Command::Migrate { config, data_dir } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            init_logs(config.log_format);
            runtime.block_on(async {
                std::fs::create_dir_all(&config.data_dir)?;
                nidan_store::SqlStore::connect(&config.database_url(), 1).await?;
                println!("migrations applied to {}", config.database_url());
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The effective configuration as pretty JSON (the same keys as the TOML file).
fn toml_like(config: &Config) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(config)?)
}
