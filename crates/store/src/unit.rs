//! Units of work ([`Store::apply`](nidan_core::store::Store::apply)): the
//! statements of every [`Write`] of a domain operation, run in order in one
//! transaction — on SQLite as one savepoint of the writer thread's group
//! commit, on PostgreSQL as one transaction — so an operation that changes
//! several rows leaves all of its changes or none, whatever fails or is
//! killed in between.
//!
//! A failpoint ([`Failpoint`]) makes the N-th write statement of the store
//! fail, for the tests that show every operation is all or nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use nidan_core::error::{Error, Result};
use nidan_core::model::Factor;
use nidan_core::store::Write;

use crate::exec::Owned;

/// One statement of a unit.
pub(crate) struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Owned>,
    /// The unit is refused unless this statement changes a row.
    pub must_change: bool,
}

fn stmt(sql: &'static str, params: Vec<Owned>) -> Stmt {
    Stmt {
        sql,
        params,
        must_change: false,
    }
}

fn text(s: &str) -> Owned {
    Owned::Text(s.to_owned())
}

/// The statements that make `write`, in order.
pub(crate) fn statements(write: &Write) -> Vec<Stmt> {
    use Owned::{Int, OptInt, OptText};
    match write {
        Write::SetTwoSv {
            account_id,
            on_since,
        } => vec![stmt(
            "UPDATE accounts SET two_sv_on_since = $1 WHERE id = $2",
            vec![OptInt(*on_since), text(account_id)],
        )],
        Write::SetPasswordHash { account_id, hash } => vec![stmt(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            vec![text(hash), text(account_id)],
        )],
        Write::SetRoles { account_id, roles } => vec![stmt(
            "UPDATE accounts SET roles = $1 WHERE id = $2",
            vec![text(&roles.join(",")), text(account_id)],
        )],
        Write::ResetGuard {
            account_id,
            password_changed,
        } => vec![stmt(
            "UPDATE accounts SET code_failures = 0, code_retry_at = NULL, codes_paused_at = NULL,
             abuse_alerted_at = NULL, password_changed_at = COALESCE($1, password_changed_at)
             WHERE id = $2",
            vec![OptInt(*password_changed), text(account_id)],
        )],
        Write::ActivateMethods { account_id, roles } => roles
            .iter()
            .map(|(id, role)| {
                stmt(
                    "UPDATE methods SET active = 1, role = $1 WHERE id = $2 AND account_id = $3",
                    vec![text(role.as_str()), text(id), text(account_id)],
                )
            })
            .collect(),
        Write::ConfirmMethod {
            method_id,
            at,
            step,
        } => vec![stmt(
            "UPDATE methods SET confirmed_at = $1, last_step = $2 WHERE id = $3",
            vec![Int(*at), Int(*step), text(method_id)],
        )],
        Write::RenameMethod { method_id, name } => vec![stmt(
            "UPDATE methods SET name = $1 WHERE id = $2",
            vec![text(name), text(method_id)],
        )],
        Write::SetMethodRole { method_id, role } => vec![stmt(
            "UPDATE methods SET role = $1 WHERE id = $2",
            vec![text(role.as_str()), text(method_id)],
        )],
        Write::DeleteMethod { method_id } => vec![stmt(
            "DELETE FROM methods WHERE id = $1",
            vec![text(method_id)],
        )],
        Write::DeleteInactiveMethods { account_id } => vec![stmt(
            "DELETE FROM methods WHERE account_id = $1 AND active = 0",
            vec![text(account_id)],
        )],
        Write::DeleteAllMethods { account_id } => vec![stmt(
            "DELETE FROM methods WHERE account_id = $1",
            vec![text(account_id)],
        )],
        Write::ReplaceBackupCodes {
            account_id,
            hashes,
            at,
        } => {
            let mut all = vec![stmt(
                "DELETE FROM backup_codes WHERE account_id = $1",
                vec![text(account_id)],
            )];
            all.extend(hashes.iter().map(|hash| {
                stmt(
                    "INSERT INTO backup_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
                    vec![text(account_id), text(hash), Int(*at)],
                )
            }));
            all
        }
        Write::ClaimRightCode {
            account_id,
            seen_failures,
            challenge_id,
            at,
        } => vec![
            Stmt {
                sql: "UPDATE accounts SET code_failures = 0, code_retry_at = NULL
                      WHERE id = $1 AND code_failures = $2",
                params: vec![text(account_id), Int(*seen_failures)],
                must_change: true,
            },
            Stmt {
                sql: "UPDATE challenges SET attempts_left = attempts_left - 1, completed_at = $1
                      WHERE id = $2 AND completed_at IS NULL AND attempts_left > 0 AND expires_at > $1",
                params: vec![Int(*at), text(challenge_id)],
                must_change: true,
            },
        ],
        Write::ClaimWrongCode {
            account_id,
            seen_failures,
            retry_at,
            challenge_id,
            seen_left,
        } => vec![
            Stmt {
                sql: "UPDATE accounts SET code_failures = code_failures + 1, code_retry_at = $1
                      WHERE id = $2 AND code_failures = $3",
                params: vec![OptInt(*retry_at), text(account_id), Int(*seen_failures)],
                must_change: true,
            },
            Stmt {
                sql: "UPDATE challenges SET attempts_left = attempts_left - 1
                      WHERE id = $1 AND completed_at IS NULL AND attempts_left = $2 AND attempts_left > 0",
                params: vec![text(challenge_id), Int(*seen_left)],
                must_change: true,
            },
        ],
        Write::CompleteChallenge { challenge_id, at } => vec![Stmt {
            sql: "UPDATE challenges SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL",
            params: vec![Int(*at), text(challenge_id)],
            must_change: true,
        }],
        Write::InsertSession {
            session: s,
            token_hash,
        } => vec![stmt(
            "INSERT INTO sessions (id, token_hash, account_id, created_at, expires_at, password_at, keep_signed_in, two_step_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                text(&s.id),
                text(token_hash),
                text(&s.account_id),
                Int(s.created_at),
                Int(s.expires_at),
                Int(s.password_at),
                Int(i64::from(s.keep_signed_in)),
                OptInt(s.two_step_at),
            ],
        )],
        Write::DeleteSession { session_id } => vec![stmt(
            "DELETE FROM sessions WHERE id = $1",
            vec![text(session_id)],
        )],
        Write::DeleteSessionsExcept { account_id, keep } => vec![stmt(
            "DELETE FROM sessions WHERE account_id = $1 AND id <> $2",
            vec![text(account_id), text(keep.as_deref().unwrap_or(""))],
        )],
        Write::TouchSessionPassword { session_id, at } => vec![stmt(
            "UPDATE sessions SET password_at = $1 WHERE id = $2",
            vec![Int(*at), text(session_id)],
        )],
        Write::InsertBrowser {
            browser: b,
            token_hash,
        } => vec![stmt(
            "INSERT INTO remembered_browsers (id, token_hash, account_id, label, created_at, last_used_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                text(&b.id),
                text(token_hash),
                text(&b.account_id),
                text(&b.label),
                Int(b.created_at),
                Int(b.last_used_at),
                Int(b.expires_at),
            ],
        )],
        Write::DeleteBrowser {
            account_id,
            browser_id,
        } => vec![stmt(
            "DELETE FROM remembered_browsers WHERE account_id = $1 AND id = $2",
            vec![text(account_id), text(browser_id)],
        )],
        Write::DeleteBrowsers { account_id } => vec![stmt(
            "DELETE FROM remembered_browsers WHERE account_id = $1",
            vec![text(account_id)],
        )],
        Write::EndOpenChallenges { account_id, at } => vec![stmt(
            "UPDATE challenges SET expires_at = $1
             WHERE account_id = $2 AND completed_at IS NULL AND expires_at > $1",
            vec![Int(*at), text(account_id)],
        )],
        Write::InsertLink {
            token_hash,
            account_id,
            purpose,
            at,
            expires_at,
        } => vec![stmt(
            "INSERT INTO password_resets (token_hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                text(token_hash),
                text(account_id),
                text(purpose.as_str()),
                Int(*at),
                Int(*expires_at),
            ],
        )],
        Write::SpendLink {
            token_hash,
            purpose,
            now,
        } => vec![Stmt {
            sql: "UPDATE password_resets SET used_at = $1
                  WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
            params: vec![Int(*now), text(token_hash), text(purpose.as_str())],
            must_change: true,
        }],
        Write::DecideRecoveryCase {
            case_id,
            status,
            reason,
            by,
            at,
        } => vec![Stmt {
            sql: "UPDATE recovery_cases SET status = $1, reason = $2, decided_by = $3, decided_at = $4
                  WHERE id = $5 AND status = 'open'",
            params: vec![
                text(status.as_str()),
                text(reason),
                text(by),
                Int(*at),
                text(case_id),
            ],
            must_change: true,
        }],
        Write::InsertAccount { account: a } => vec![Stmt {
            sql: "INSERT INTO accounts (id, email, password_hash, roles, locale, two_sv_on_since, created_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
            params: vec![
                text(&a.id),
                text(&a.email),
                text(&a.password_hash),
                text(&a.roles.join(",")),
                text(&a.locale),
                OptInt(a.two_sv_on_since),
                Int(a.created_at),
            ],
            must_change: true,
        }],
        Write::SpendSignUp { token_hash, now } => vec![Stmt {
            sql: "UPDATE sign_ups SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
            params: vec![Int(*now), text(token_hash)],
            must_change: true,
        }],
        Write::UseBackupCode {
            account_id,
            hash,
            at,
        } => vec![Stmt {
            sql: "UPDATE backup_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
            params: vec![Int(*at), text(account_id), text(hash)],
            must_change: true,
        }],
        Write::AdvanceLastStep { method_id, step } => vec![Stmt {
            sql: "UPDATE methods SET last_step = $1 WHERE id = $2 AND (last_step IS NULL OR last_step < $1)",
            params: vec![Int(*step), text(method_id)],
            must_change: true,
        }],
        Write::ReplaceCeremony(c) => [
            // A passwordless ceremony has no account to replace one of.
            c.account_id.as_ref().map(|account_id| stmt(
                "DELETE FROM passkey_ceremonies
                 WHERE account_id = $1 AND purpose = $2 AND COALESCE(challenge_id, '') = $3 AND used_at IS NULL",
                vec![
                    text(account_id),
                    text(c.purpose.as_str()),
                    text(c.challenge_id.as_deref().unwrap_or("")),
                ],
            )),
            Some(stmt(
                "INSERT INTO passkey_ceremonies (id, account_id, challenge_id, purpose, state, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    text(&c.id),
                    OptText(c.account_id.clone()),
                    OptText(c.challenge_id.clone()),
                    text(c.purpose.as_str()),
                    text(&c.state),
                    Int(c.expires_at),
                ],
            )),
        ]
        .into_iter()
        .flatten()
        .collect(),
        Write::InsertMethod(m) => {
            // One row shape for every kind: the columns a kind does not
            // use stay NULL.
            let (mut sealed, mut phone, mut last_step) = (None, None, None);
            let (mut credential, mut credential_id, mut sign_count, mut last_used_at) =
                (None, None, None, None);
            match &m.factor {
                Factor::App {
                    secret_sealed,
                    last_step: step,
                } => (sealed, last_step) = (Some(secret_sealed.clone()), *step),
                Factor::Phone { number, .. } => phone = Some(number.clone()),
                Factor::Passkey {
                    credential: c,
                    credential_id: id,
                    sign_count: n,
                    last_used_at: used,
                } => {
                    (credential, credential_id, sign_count, last_used_at) =
                        (Some(c.clone()), Some(id.clone()), Some(*n), *used);
                }
            }
            vec![Stmt {
                sql: "INSERT INTO methods (id, account_id, kind, role, name, secret_sealed, phone, last_step, created_at,
                                           confirmed_at, active, credential, credential_id, sign_count, last_used_at)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                      ON CONFLICT (credential_id) DO NOTHING",
                params: vec![
                    text(&m.id),
                    text(&m.account_id),
                    text(m.kind().as_str()),
                    text(m.role.as_str()),
                    text(&m.name),
                    Owned::OptBytes(sealed),
                    OptText(phone),
                    OptInt(last_step),
                    Int(m.created_at),
                    OptInt(m.confirmed_at),
                    Int(i64::from(m.active)),
                    OptText(credential),
                    OptText(credential_id),
                    OptInt(sign_count),
                    OptInt(last_used_at),
                ],
                must_change: true,
            }]
        }
        Write::PasskeyUsed {
            method_id,
            seen_count,
            sign_count,
            credential,
            at,
        } => vec![Stmt {
            sql: "UPDATE methods SET sign_count = $1, credential = $2, last_used_at = $3
                  WHERE id = $4 AND active = 1 AND sign_count = $5",
            params: vec![
                Int(*sign_count),
                text(credential),
                Int(*at),
                text(method_id),
                Int(*seen_count),
            ],
            must_change: true,
        }],
        Write::Event(e) => vec![stmt(
            "INSERT INTO events (id, account_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                text(&e.id),
                OptText(e.account_id.clone()),
                text(e.kind.as_str()),
                Int(e.at),
                text(&e.ip),
                text(&e.user_agent),
                text(&e.detail),
            ],
        )],
    }
}

/// The statements of a unit whose writes touch distinct rows, as one
/// PostgreSQL statement: each a data-modifying `WITH` part, with its
/// parameters renumbered. The main query divides by the number of rows
/// each must-change part changed, so a part that changed none fails the
/// whole statement (SQLSTATE 22012) and, the statement being its own
/// transaction, nothing of it is kept — the unit's all-or-nothing, in one
/// round trip and one commit instead of one per statement.
pub(crate) fn at_once(statements: &[Stmt]) -> (String, Vec<Owned>) {
    let mut sql = String::from("WITH ");
    let mut params = Vec::new();
    let mut checks = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let offset = params.len();
        let mut part = String::with_capacity(st.sql.len() + 16);
        let mut chars = st.sql.chars().peekable();
        while let Some(c) = chars.next() {
            part.push(c);
            if c == '$' {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let n: usize = n.parse().unwrap_or(0);
                part.push_str(&(n + offset).to_string());
            }
        }
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{i} AS ({part} RETURNING 1)"));
        params.extend(st.params.iter().cloned());
        if st.must_change {
            checks.push(format!("(SELECT COUNT(*) FROM w{i})"));
        }
    }
    // Every part runs to completion whether or not the main query reads it.
    if checks.is_empty() {
        sql.push_str(" SELECT 1");
    } else {
        sql.push_str(&format!(" SELECT 1 / LEAST({}) AS ok", checks.join(", ")));
    }
    (sql, params)
}

/// Makes the N-th write statement from now fail (tests only): every write
/// path of the store counts through [`Failpoint::tick`].
#[derive(Debug, Clone, Default)]
pub struct Failpoint(Arc<AtomicI64>);

impl Failpoint {
    /// The `n`-th write from now fails (1 = the next); `None` disarms.
    pub fn arm(&self, n: Option<i64>) {
        self.0.store(n.unwrap_or(0), Ordering::SeqCst);
    }

    /// Whether the armed write has been reached (and disarmed) yet.
    pub fn fired(&self) -> bool {
        self.0.load(Ordering::SeqCst) < 0
    }

    /// Counts one write statement; fails it if it is the armed one.
    pub(crate) fn tick(&self) -> Result<()> {
        let before = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 0).then_some(if n == 1 { -1 } else { n - 1 })
            })
            .unwrap_or(0);
        if before == 1 {
            return Err(Error::Store(
                "failpoint: this write was made to fail".into(),
            ));
        }
        Ok(())
    }
}
