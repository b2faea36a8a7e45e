//! `nidan admin ...`: the admin console's operations for scripts and for
//! the first admin. Every change is recorded in the audit log as done by
//! "nidan admin (command line)".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use nidan_core::model::{CaseStatus, Origin};
use nidan_core::service::admin::Actor;
use nidan_server::config::Config;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Give an existing account the admin role (the first admin is made this way)
    CreateAdmin {
        /// The account's email (sign up at /signup first)
        email: String,
    },
    /// List accounts whose email contains QUERY (all when omitted)
    Users {
        /// Part of an email address
        #[arg(default_value = "")]
        query: String,
    },
    /// Show one account: 2SV, methods, lockout, recent events
    User {
        /// The account's email
        email: String,
    },
    /// Clear the lockout after wrong codes and the pause on sending codes
    Unlock {
        /// The account's email
        email: String,
    },
    /// Turn two-step verification off for an account (as an approved recovery does)
    Disable2sv {
        /// The account's email
        email: String,
    },
    /// Replace an account's roles (e.g. `admin seller`; none clears them)
    Roles {
        /// The account's email
        email: String,
        /// The roles
        roles: Vec<String>,
    },
    /// Identity-document recovery requests
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// The audit log, newest first
    Events {
        /// Only this account's
        #[arg(long)]
        email: Option<String>,
        /// Only this kind, e.g. code_refused
        #[arg(long)]
        kind: Option<String>,
        /// How many (0: all)
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// `text` (aligned columns) or `jsonl` (one JSON object a line,
        /// to keep the log beyond `policy.audit_retention_days`)
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Delete what has run its course now (the server does it hourly):
    /// expired sessions, attempts, links, counters, audit events past
    /// retention, recovery documents past retention
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// List requests (open ones by default, oldest first)
    List {
        /// open, approved, rejected or all
        #[arg(long, default_value = "open")]
        status: String,
    },
    /// Show a request; --save writes its document to a file
    Show {
        /// The request's id
        id: String,
        /// Where to write the document
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Approve: 2SV off, browsers forgotten, sessions ended, owner emailed
    Approve {
        /// The request's id
        id: String,
    },
    /// Reject with a reason that is emailed to the owner
    Reject {
        /// The request's id
        id: String,
        /// Why (emailed)
        #[arg(long)]
        reason: String,
    },
    /// Delete documents whose retention after the decision has ended
    Purge,
}

fn cli_origin() -> Origin {
    Origin {
        ip: "command line".into(),
        user_agent: "nidan admin".into(),
        browser_label: "nidan admin".into(),
    }
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let nidan = nidan_server::build(config).await?;
    let actor = Actor::Cli;
    let origin = cli_origin();
    let user = async |email: &str| nidan.user_by_email(&actor, email).await;
    match command {
        AdminCommand::CreateAdmin { email } => {
            let account = user(&email).await.map_err(|e| {
                anyhow::anyhow!("{e}: create the account at /signup first, then run this again")
            })?;
            let mut roles = account.roles.clone();
            roles.push("admin".into());
            nidan
                .set_roles(&actor, &account.id, &roles, &origin)
                .await?;
            println!(
                "{} is now an admin. The console is at {}/admin",
                account.email,
                config.public_base()
            );
        }
        AdminCommand::Users { query } => {
            for a in nidan.find_users(&actor, &query).await? {
                println!(
                    "{}  2SV {}  failures {}{}  roles [{}]",
                    a.email,
                    if a.two_sv_on_since.is_some() {
                        "on "
                    } else {
                        "off"
                    },
                    a.guard.code_failures,
                    if a.guard.codes_paused_at.is_some() {
                        "  codes paused"
                    } else {
                        ""
                    },
                    a.roles.join(",")
                );
            }
        }
        AdminCommand::User { email } => {
            let account = user(&email).await?;
            let file = nidan.user_file(&actor, &account.id).await?;
            let a = &file.account;
            println!("{}  (id {})", a.email, a.id);
            println!(
                "2SV: {}",
                a.two_sv_on_since
                    .map_or("off".to_owned(), nidan_core::calendar::utc_datetime)
            );
            println!("roles: [{}]", a.roles.join(","));
            println!(
                "wrong codes in a row: {}{}",
                a.guard.code_failures,
                if a.guard.codes_paused_at.is_some() {
                    "; sending codes is paused"
                } else {
                    ""
                }
            );
            println!("backup codes left: {}", file.backup_codes_left);
            for m in &file.methods {
                println!(
                    "method: {} ({}, {}{})",
                    m.name,
                    m.kind().as_str(),
                    m.role.as_str(),
                    if m.active { "" } else { ", unfinished" }
                );
            }
            for e in file.events.iter().take(20) {
                println!(
                    "{}  {:<24} {}  {}",
                    nidan_core::calendar::utc_datetime(e.at),
                    e.kind.as_str(),
                    e.ip,
                    e.detail
                );
            }
        }
        AdminCommand::Unlock { email } => {
            let account = user(&email).await?;
            nidan.unlock(&actor, &account.id, &origin).await?;
            println!("{}: code entry unlocked and sending resumed", account.email);
        }
        AdminCommand::Disable2sv { email } => {
            let account = user(&email).await?;
            nidan.force_two_sv_off(&actor, &account.id, &origin).await?;
            println!(
                "{}: two-step verification is off; the owner was emailed",
                account.email
            );
        }
        AdminCommand::Roles { email, roles } => {
            let account = user(&email).await?;
            let roles = nidan
                .set_roles(&actor, &account.id, &roles, &origin)
                .await?;
            println!("{}: roles [{}]", account.email, roles.join(","));
        }
        AdminCommand::Events {
            email,
            kind,
            limit,
            format,
        } => {
            let jsonl = match format.as_str() {
                "text" => false,
                "jsonl" => true,
                other => anyhow::bail!("--format is text or jsonl, not {other:?}"),
            };
            let kind = match kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
                None => None,
                Some(k) => Some(nidan_core::model::EventKind::parse(k).ok_or_else(|| {
                    let known: Vec<&str> = nidan_core::model::EventKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect();
                    anyhow::anyhow!("no event kind {k:?}; the kinds are: {}", known.join(", "))
                })?),
            };
            let events = if limit <= 0 {
                nidan
                    .export_audit_log(&actor, email.as_deref(), kind)
                    .await?
            } else {
                nidan
                    .audit_log(&actor, email.as_deref(), kind, limit)
                    .await?
            };
            for e in events {
                if jsonl {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": e.id,
                            "account_id": e.account_id,
                            "kind": e.kind,
                            "at": e.at,
                            "time": nidan_core::calendar::utc_datetime(e.at),
                            "ip": e.ip,
                            "user_agent": e.user_agent,
                            "detail": e.detail,
                        })
                    );
                    continue;
                }
                println!(
                    "{}  {:<24} {:<15} {}  {}",
                    nidan_core::calendar::utc_datetime(e.at),
                    e.kind.as_str(),
                    e.ip,
                    e.detail,
                    e.user_agent
                );
            }
        }
        AdminCommand::Recovery(command) => return recovery(&nidan, &actor, &origin, command).await,
        AdminCommand::Purge => {
            for (what, n) in nidan.purge_expired().await? {
                println!("{n:>8}  {what}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn recovery(
    nidan: &nidan_core::Nidan<nidan_store::SqlStore>,
    actor: &Actor,
    origin: &Origin,
    command: RecoveryCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RecoveryCommand::List { status } => {
            let status = match status.as_str() {
                "all" => None,
                other => Some(CaseStatus::parse(other).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--status must be open, approved, rejected or all, not {other:?}"
                    )
                })?),
            };
            let cases = nidan.recovery_queue(actor, status).await?;
            if cases.is_empty() {
                println!("No recovery requests.");
            }
            for c in cases {
                println!(
                    "{}  {}  {}  {}  {} ({} bytes)",
                    c.id,
                    nidan_core::calendar::utc_datetime(c.created_at),
                    c.status.as_str(),
                    c.email,
                    c.document_kind.as_str(),
                    c.document_size
                );
            }
        }
        RecoveryCommand::Show { id, save } => {
            let c = nidan.recovery_case(actor, &id).await?;
            println!(
                "request {}\naccount {}\ndocument {} ({}, {} bytes)\nsent {} from {} ({})\nstatus {}{}",
                c.id,
                c.email,
                c.document_kind.as_str(),
                c.content_type,
                c.document_size,
                nidan_core::calendar::utc_datetime(c.created_at),
                c.ip,
                c.browser,
                c.status.as_str(),
                if c.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.reason)
                }
            );
            if let Some(path) = save {
                let (_, bytes) = nidan.recovery_document(actor, &id, origin).await?;
                write_private(&path, &bytes)?;
                println!(
                    "document written to {} (mode 0600); delete it after review",
                    path.display()
                );
            }
        }
        RecoveryCommand::Approve { id } => {
            let c = nidan.approve_recovery(actor, &id, origin).await?;
            println!(
                "approved: two-step verification is off for {}; they were emailed",
                c.email
            );
        }
        RecoveryCommand::Reject { id, reason } => {
            let c = nidan.reject_recovery(actor, &id, &reason, origin).await?;
            println!("rejected: {} was emailed the reason", c.email);
        }
        RecoveryCommand::Purge => {
            let n = nidan.purge_recovery_documents().await?;
            println!("{n} documents deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("could not create {}: {e}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
