//! What protects an account once its password is known to someone else.
//!
//! - **Lockout** (SPEC §4.5): every code check is first counted as a
//!   failure through an atomic compare-and-set on the account, and only a
//!   right code clears the count. From `slowdown_after_failures` wrong
//!   codes in a row each further check waits, doubling from one second up
//!   to `slowdown_max_seconds`; at `lockout_after_failures` code entry is
//!   locked until a password reset or an admin unlock. New codes being
//!   sent never reset the count.
//! - **Password guessing**: every password check is claimed as a failure
//!   of the address tried from the client's IP first; after
//!   `password_slowdown_after` in a row each further check waits, doubling
//!   from one second up to `password_slowdown_max_seconds`. Never a
//!   lockout: the owner signs in from another IP at once, and from the
//!   same one after the wait. An IP with `password_failures_per_ip_hour`
//!   wrong passwords across all addresses waits for the hour to end. At
//!   `password_alert_after` wrong passwords in a day the owner is emailed.
//! - **Abuse alert** (§7.1): codes are sent only after the right password,
//!   so unfinished sign-ins from unremembered browsers mean the password
//!   is known. At `abuse_alert_after` in 24 hours the owner is emailed
//!   once; at `abuse_pause_after` no more codes are sent until the
//!   password changes.

use super::Nidan;
use super::notices::Notice;
use crate::error::{Error, Result};
use crate::model::{Account, Challenge, EventKind, Origin};
use crate::secrets::token_hash;
use crate::store::{Claim, Store, Write};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The counter of wrong passwords from the visitor's IP.
fn ip_key(origin: &Origin) -> String {
    format!("password-ip:{}", origin.ip)
}

/// A claimed code check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckClaim {
    /// The sign-in attempt's tries left after this one (`None` outside an
    /// attempt).
    pub left: Option<i64>,
    /// The account's wrong codes in a row if this one is wrong.
    pub failures: i64,
}

/// The wait before the next check after `failures` wrong codes in a row,
/// if any: 1 s at `after`, doubling, at most `max` seconds.
pub fn slowdown_seconds(failures: i64, after: i64, max: i64) -> Option<i64> {
    if failures < after {
        return None;
    }
    let doublings = u32::try_from(failures - after).unwrap_or(u32::MAX).min(30);
    Some((1_i64 << doublings).min(max.max(1)))
}

impl<S: Store> Nidan<S> {
    /// Claims one code check for `account` — in the sign-in attempt
    /// `challenge_id`, or outside one (turning 2SV off, confirming a new
    /// method) — or says why not: locked, wait this long, or the attempt
    /// has no tries left. The check counts as a failure (and takes the
    /// attempt's try) until [`Self::code_check_passed`] clears it, so a
    /// crash or a concurrent request on another node never gets a free
    /// try. The attempt's tries left after this one.
    pub(crate) async fn claim_code_check(
        &self,
        account: &Account,
        challenge_id: Option<&str>,
    ) -> Result<CheckClaim> {
        let mut guard = account.guard.clone();
        // A second round reads the count again: the account was read
        // before another check (on any node) moved it.
        for round in 0..2 {
            if round > 0 {
                guard = self
                    .store
                    .account_by_id(&account.id)
                    .await?
                    .ok_or(Error::NotSignedIn)?
                    .guard;
            }
            if let Some(claim) = self.try_claim(account, &guard, challenge_id).await? {
                return Ok(claim);
            }
        }
        // Another check of this account is running right now.
        Err(Error::SlowDown { retry_after: 1 })
    }

    /// One compare-and-set on the count read in `g`: `None` if it moved.
    async fn try_claim(
        &self,
        account: &Account,
        g: &crate::model::AccountGuard,
        challenge_id: Option<&str>,
    ) -> Result<Option<CheckClaim>> {
        let p = &self.policy;
        if g.code_failures >= p.lockout_after_failures {
            return Err(Error::CodeEntryLocked);
        }
        let now = self.now();
        if let Some(at) = g.code_retry_at
            && at > now
        {
            return Err(Error::SlowDown {
                retry_after: at - now,
            });
        }
        let failures = g.code_failures + 1;
        let retry_at =
            slowdown_seconds(failures, p.slowdown_after_failures, p.slowdown_max_seconds)
                .map(|wait| now + wait);
        let Some(challenge_id) = challenge_id else {
            let claimed = self
                .store
                .claim_account_check(&account.id, g.code_failures, retry_at)
                .await?;
            return Ok(claimed.then_some(CheckClaim {
                left: None,
                failures,
            }));
        };
        match self
            .store
            .claim_code_check(&account.id, g.code_failures, retry_at, challenge_id)
            .await?
        {
            Claim::Claimed(left) => Ok(Some(CheckClaim {
                left: Some(left),
                failures,
            })),
            Claim::Busy => Ok(None),
            Claim::Exhausted => Err(Error::TooManyAttempts),
        }
    }

    /// A right code: the count of wrong codes in a row starts again.
    pub(crate) async fn code_check_passed(&self, account: &Account) -> Result<()> {
        self.store.clear_code_failures(&account.id).await
    }

    /// Records a wrong code against the lockout; says when it locked.
    pub(crate) async fn code_check_failed(
        &self,
        account: &Account,
        claim: CheckClaim,
        origin: &Origin,
    ) -> Result<()> {
        if claim.failures == self.policy.lockout_after_failures {
            self.store
                .apply(vec![self.locked_event(account, origin)?])
                .await?;
        }
        Ok(())
    }

    /// The event of the wrong code that locks code entry.
    pub(crate) fn locked_event(&self, account: &Account, origin: &Origin) -> Result<Write> {
        let detail = format!(
            "{} wrong codes in a row",
            self.policy.lockout_after_failures
        );
        self.event(
            Some(&account.id),
            EventKind::CodeEntryLocked,
            origin,
            &detail,
        )
    }

    /// The event of the wrong code that spends a sign-in attempt's last try.
    pub(crate) fn attempt_ended_event(&self, account: &Account, origin: &Origin) -> Result<Write> {
        self.event(
            Some(&account.id),
            EventKind::SignInAttemptEnded,
            origin,
            "too many wrong codes",
        )
    }

    /// Claims one password check for `email` (as typed, known or not)
    /// from the visitor's IP, or says how long to wait. The check counts
    /// as a failure until [`Self::password_check_passed`] clears it.
    pub(crate) async fn claim_password_check(
        &self,
        email: &str,
        origin: &Origin,
    ) -> Result<String> {
        let p = &self.policy;
        let now = self.now();
        let key = token_hash(&format!(
            "password:{}\n{}",
            email.trim().to_lowercase(),
            origin.ip
        ));
        let hour = now - now.rem_euclid(HOUR);
        let from_ip = self.store.counter(&ip_key(origin), hour).await?;
        if from_ip >= p.password_failures_per_ip_hour {
            return Err(Error::PasswordSlowDown {
                retry_after: hour + HOUR - now,
            });
        }
        for _ in 0..2 {
            let seen = self.store.password_throttle(&key).await?;
            if let Some((_, Some(at))) = seen
                && at > now
            {
                return Err(Error::PasswordSlowDown {
                    retry_after: at - now,
                });
            }
            let failures = seen.map_or(0, |(f, _)| f);
            let retry_at = slowdown_seconds(
                failures + 1,
                p.password_slowdown_after,
                p.password_slowdown_max_seconds,
            )
            .map(|wait| now + wait);
            if self
                .store
                .claim_password_check(&key, seen.map(|(f, _)| f), retry_at, now)
                .await?
            {
                return Ok(key);
            }
        }
        // Another check for this address and IP is running right now.
        Err(Error::PasswordSlowDown { retry_after: 1 })
    }

    /// The right password: its throttle starts again.
    pub(crate) async fn password_check_passed(&self, key: &str) -> Result<()> {
        self.store.clear_password_throttle(key).await
    }

    /// A wrong password: counted for the IP, and for the account (if the
    /// address has one) towards the owner's alert.
    pub(crate) async fn password_check_failed(
        &self,
        account: Option<&Account>,
        origin: &Origin,
    ) -> Result<()> {
        let now = self.now();
        self.store
            .bump_counter(&ip_key(origin), now - now.rem_euclid(HOUR))
            .await?;
        let Some(account) = account else {
            return Ok(());
        };
        let wrong = self
            .store
            .bump_counter(
                &format!("password-wrong:{}", account.id),
                now - now.rem_euclid(DAY),
            )
            .await?;
        if wrong == self.policy.password_alert_after {
            self.record(
                Some(&account.id),
                EventKind::PasswordGuessingAlert,
                origin,
                &format!("{wrong} wrong passwords today"),
            )
            .await?;
            let ja = account.locale == "ja";
            let detail = if ja {
                format!("本日{wrong}回")
            } else {
                format!("{wrong} times today")
            };
            let action = if ja {
                format!(
                    "推測されにくいパスワードに変更し、2段階認証を有効にしてください: {}",
                    self.link("/password/forgot")
                )
            } else {
                format!(
                    "Make sure your password is hard to guess and two-step verification is on: {}",
                    self.link("/password/forgot")
                )
            };
            self.notify_with(
                account,
                Notice::PasswordGuessing,
                &detail,
                Some(&action),
                origin,
            )
            .await;
        }
        Ok(())
    }

    /// Where the abuse count starts: 24 hours ago, or the last password
    /// change if later.
    fn abuse_window_start(&self, account: &Account) -> i64 {
        (self.now() - DAY).max(account.guard.password_changed_at)
    }

    /// Called after a new sign-in attempt is stored (a correct password
    /// from a browser that is not remembered). Alerts the owner and pauses
    /// sending as the policy says; `Ok(true)` when codes must not be sent.
    pub(crate) async fn after_unfinished_sign_in(
        &self,
        account: &Account,
        origin: &Origin,
    ) -> Result<bool> {
        let p = &self.policy;
        if account.guard.codes_paused_at.is_some() {
            return Ok(true);
        }
        let since = self.abuse_window_start(account);
        let limit = p.abuse_alert_after.max(p.abuse_pause_after);
        let open = self
            .store
            .unfinished_challenges(&account.id, since, limit)
            .await?;
        let count = i64::try_from(open.len()).unwrap_or(i64::MAX);
        if count >= p.abuse_alert_after
            && self
                .store
                .mark_abuse_alerted(&account.id, self.now(), since)
                .await?
        {
            self.record(
                Some(&account.id),
                EventKind::AbuseAlertSent,
                origin,
                &format!("{count} unfinished sign-ins in 24 hours"),
            )
            .await?;
            let ja = account.locale == "ja";
            let detail = if ja {
                format!("24時間以内に{count}回")
            } else {
                format!("{count} times in the last 24 hours")
            };
            let action = if ja {
                format!(
                    "今すぐパスワードを変更してください: {}",
                    self.link("/password/forgot")
                )
            } else {
                format!(
                    "Change your password now: {}",
                    self.link("/password/forgot")
                )
            };
            self.notify_with(account, Notice::AbuseAlert, &detail, Some(&action), origin)
                .await;
        }
        if count >= p.abuse_pause_after {
            self.store.pause_codes(&account.id, self.now()).await?;
            self.record(
                Some(&account.id),
                EventKind::CodesPaused,
                origin,
                &format!("{count} unfinished sign-ins in 24 hours"),
            )
            .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The unfinished sign-ins the settings page shows (time, IP, browser):
    /// the last 7 days since the last password change, newest first.
    pub async fn unfinished_sign_ins(&self, account: &Account) -> Result<Vec<Challenge>> {
        let since = (self.now() - 7 * DAY).max(account.guard.password_changed_at);
        self.store
            .unfinished_challenges(&account.id, since, 50)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::slowdown_seconds;

    #[test]
    fn the_wait_doubles_from_one_second_to_the_cap() {
        let waits: Vec<_> = (0..16).map(|f| slowdown_seconds(f, 5, 300)).collect();
        assert_eq!(&waits[..5], &[None; 5]);
        assert_eq!(
            &waits[5..],
            &[1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map(Some)
        );
        assert_eq!(slowdown_seconds(i64::MAX, 5, 300), Some(300));
    }
}
