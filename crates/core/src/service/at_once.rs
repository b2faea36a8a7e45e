//! The code step's common cases in one unit of work (issue: the right code
//! in one round trip). The counted path ([`super::factor`]) claims a check
//! as a failure, checks, then clears it: three commits, and a right code
//! then starts the session in a fourth. Here the code is checked first
//! against what one read brought (the attempt, the account's guard, its
//! apps), and what the answer means is written as one unit sent at once
//! ([`crate::store::Store::apply_at_once`]): the count, the attempt's try,
//! the app's step, the event and the session — with compare-and-set
//! conditions on the values read, so a concurrent check of the account, a
//! used step or a spent attempt refuses the unit and the request takes the
//! counted path instead, which decides it exactly as before. Nothing is
//! answered before its unit is stored, so every answer is counted.
//!
//! Taken only when the outcome needs nothing else from the database: a
//! six-digit code, no slow-down or lockout in force, and for a wrong code
//! an account without phones (a texted code is checked in the database).
//! Replays, backup codes and phone codes take the counted path.

use super::Nidan;
use super::factor::{Typed, parse_code};
use super::guard::slowdown_seconds;
use crate::error::{Error, Result};
use crate::model::{Account, Challenge, EventKind, Method, Origin};
use crate::store::{Store, Write};

/// What the one read says of a typed code.
pub(crate) enum AtOnce {
    /// An app's code for a step not used yet.
    Right {
        /// The app.
        method_id: String,
        /// Its name, for the event.
        name: String,
        /// The step the code belongs to.
        step: i64,
    },
    /// No method accepts it, and none could in the database.
    Wrong,
    /// The counted path decides (see the module's comment).
    Counted,
}

impl<S: Store> Nidan<S> {
    /// Checks `typed` against the account's active `methods` without
    /// touching the database.
    pub(crate) fn check_at_once(
        &self,
        challenge: &Challenge,
        account: &Account,
        methods: Vec<Method>,
        typed: &str,
    ) -> Result<AtOnce> {
        let now = self.now();
        let g = &account.guard;
        if challenge.attempts_left <= 0
            || g.code_failures >= self.policy.lockout_after_failures
            || g.code_retry_at.is_some_and(|at| at > now)
        {
            return Ok(AtOnce::Counted);
        }
        let Typed::Digits(code) = parse_code(typed)? else {
            return Ok(AtOnce::Counted);
        };
        let found = self.match_app(methods, &code)?;
        Ok(match found.fresh {
            Some((method_id, name, step)) => AtOnce::Right {
                method_id,
                name,
                step,
            },
            // A replay is recorded and reported by the counted path; a
            // texted code is checked there too.
            None if found.replayed.is_some() || found.phones => AtOnce::Counted,
            None => AtOnce::Wrong,
        })
    }

    /// The writes that count and clear a right app code: the first writes
    /// of the unit that then completes the sign-in.
    pub(crate) fn right_code_writes(
        &self,
        challenge: &Challenge,
        account: &Account,
        method_id: String,
        step: i64,
    ) -> Vec<Write> {
        vec![
            Write::ClaimRightCode {
                account_id: account.id.clone(),
                seen_failures: account.guard.code_failures,
                challenge_id: challenge.id.clone(),
                at: self.now(),
            },
            Write::AdvanceLastStep { method_id, step },
        ]
    }

    /// Counts and records a wrong code in one unit, and says what to tell
    /// the person; [`Error::Conflict`] if the count or the attempt moved
    /// since they were read (the caller then takes the counted path).
    pub(crate) async fn refuse_at_once(
        &self,
        challenge: &Challenge,
        account: &Account,
        origin: &Origin,
    ) -> Result<Error> {
        let p = &self.policy;
        let failures = account.guard.code_failures + 1;
        let retry_at =
            slowdown_seconds(failures, p.slowdown_after_failures, p.slowdown_max_seconds)
                .map(|wait| self.now() + wait);
        let left = challenge.attempts_left - 1;
        let mut writes = vec![
            Write::ClaimWrongCode {
                account_id: account.id.clone(),
                seen_failures: account.guard.code_failures,
                retry_at,
                challenge_id: challenge.id.clone(),
                seen_left: challenge.attempts_left,
            },
            self.event(Some(&account.id), EventKind::CodeRefused, origin, "sign-in")?,
        ];
        if failures == p.lockout_after_failures {
            writes.push(self.locked_event(account, origin)?);
        }
        if left <= 0 {
            writes.push(self.attempt_ended_event(account, origin)?);
        }
        self.store.apply_at_once(writes).await?;
        Ok(if left <= 0 {
            Error::TooManyAttempts
        } else {
            Error::WrongCode {
                attempts_left: left,
            }
        })
    }
}
