//! The rules an operator may tune (SPEC §8.2), with the defaults that the
//! embedded setup runs.

use serde::{Deserialize, Serialize};

/// Which methods may serve as the required backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackupRule {
    /// Amazon's rule (seed 000): when the primary is an authenticator app,
    /// the backup must be a phone; a phone primary may have either.
    #[default]
    PhoneIfPrimaryApp,
    /// Any other method, a second authenticator app included.
    AnyOtherMethod,
    /// Backup codes alone are enough; no second method is asked for.
    BackupCodesSuffice,
}

/// Mandatory 2SV from a date (SPEC §8.1): `{ from = "2026-06-30", role = "seller" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require2sv {
    /// The deadline, `YYYY-MM-DD` (UTC midnight): from then on sign-in
    /// goes straight to the wizard.
    pub from: String,
    /// Only accounts with this role; every account when absent.
    #[serde(default)]
    pub role: Option<String>,
}

impl Require2sv {
    /// The deadline as Unix seconds, or a message saying what is wrong.
    pub fn deadline(&self) -> Result<i64, String> {
        crate::calendar::parse_date(&self.from).ok_or_else(|| {
            format!(
                "policy.require_2sv.from must be a date like 2026-06-30, not {:?}",
                self.from
            )
        })
    }
}

/// Tunable rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The service's name: the TOTP issuer and the pages' title.
    pub service_name: String,
    /// Lifetime of a "Keep me signed in" session, in days.
    pub keep_signed_in_days: i64,
    /// Lifetime of a browser session, in hours.
    pub session_hours: i64,
    /// How long a remembered browser skips the code, in days.
    pub remember_browser_days: i64,
    /// TOTP steps accepted either side of the current one (0 = strict).
    pub totp_window: u64,
    /// Wrong codes that end a sign-in attempt.
    pub max_code_attempts: i64,
    /// Minutes a sign-in attempt stays open after the password.
    pub challenge_minutes: i64,
    /// Minutes after a password entry during which security settings
    /// open without asking for it again.
    pub step_up_minutes: i64,
    /// Which backup is required by the wizard.
    pub backup_rule: BackupRule,
    /// Sign in with a discoverable passkey from the email page, with no
    /// password: the passkey (with its user verification: a fingerprint,
    /// a PIN) counts as both steps. New passkeys are then asked to be
    /// discoverable.
    pub passwordless: bool,
    /// Backup codes generated at a time.
    pub backup_code_count: usize,
    /// Region for phone numbers typed without a country code (ISO 3166).
    pub default_region: String,
    /// The domain in the WebOTP line of texts (`@domain #123456`).
    pub webotp_domain: String,
    /// Minutes a texted or spoken code stays valid.
    pub sent_code_minutes: i64,
    /// Seconds between two sends to one account.
    pub resend_cooldown_seconds: i64,
    /// Sends per account per 15 minutes.
    pub sends_per_account_15min: i64,
    /// Sends per phone number per day.
    pub sends_per_number_day: i64,
    /// Sends per country calling code per hour, across all accounts
    /// (SMS-pumping defence).
    pub sends_per_country_hour: i64,
    /// Sends per client IP per hour.
    pub sends_per_ip_hour: i64,
    /// Country calling codes that may receive texts and calls (`81`, `1`);
    /// empty allows all.
    pub allowed_country_codes: Vec<String>,
    /// Consecutive wrong codes (across sign-in attempts) after which each
    /// further check must wait, doubling from 1 second.
    pub slowdown_after_failures: i64,
    /// The longest wait between two code checks, in seconds.
    pub slowdown_max_seconds: i64,
    /// Consecutive wrong codes that lock code entry until a password reset
    /// or an admin unlock (NIST SP 800-63B: at most 100).
    pub lockout_after_failures: i64,
    /// Wrong passwords in a row, for one address from one IP, after which
    /// each further password check waits, doubling from 1 second (never a
    /// lockout: NIST SP 800-63B §5.2.2).
    pub password_slowdown_after: i64,
    /// The longest wait between two password checks, in seconds.
    pub password_slowdown_max_seconds: i64,
    /// Wrong passwords from one IP per hour, across all addresses, after
    /// which that IP waits for the hour to end (password spraying).
    pub password_failures_per_ip_hour: i64,
    /// Wrong passwords for one account in 24 hours after which the owner
    /// is emailed once ("someone is guessing your password").
    pub password_alert_after: i64,
    /// Unfinished sign-ins (correct password, no code) in 24 hours after
    /// which the owner is emailed (§7.1).
    pub abuse_alert_after: i64,
    /// Unfinished sign-ins in 24 hours after which no more codes are sent
    /// until the password is changed.
    pub abuse_pause_after: i64,
    /// Mandatory 2SV, if any.
    pub require_2sv: Option<Require2sv>,
    /// Days a recovery document is kept after the decision (0 = deleted
    /// at the decision).
    pub recovery_retention_days: i64,
    /// Largest identity document accepted, in bytes.
    pub recovery_max_bytes: usize,
    /// Minutes a password-reset link works.
    pub password_reset_minutes: i64,
    /// Days the audit log keeps an event (the periodic purge deletes older
    /// ones; export them first with `nidan admin events --format jsonl`).
    pub audit_retention_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            service_name: "nidan".into(),
            keep_signed_in_days: 30,
            session_hours: 12,
            remember_browser_days: 60,
            totp_window: 1,
            max_code_attempts: 5,
            challenge_minutes: 10,
            step_up_minutes: 10,
            backup_rule: BackupRule::default(),
            passwordless: false,
            backup_code_count: 10,
            default_region: "JP".into(),
            webotp_domain: "localhost".into(),
            sent_code_minutes: 10,
            resend_cooldown_seconds: 30,
            sends_per_account_15min: 5,
            sends_per_number_day: 10,
            sends_per_country_hour: 1000,
            sends_per_ip_hour: 20,
            allowed_country_codes: Vec::new(),
            slowdown_after_failures: 5,
            slowdown_max_seconds: 300,
            lockout_after_failures: 100,
            password_slowdown_after: 5,
            password_slowdown_max_seconds: 300,
            password_failures_per_ip_hour: 100,
            password_alert_after: 10,
            abuse_alert_after: 3,
            abuse_pause_after: 10,
            require_2sv: None,
            recovery_retention_days: 0,
            recovery_max_bytes: 10 * 1024 * 1024,
            password_reset_minutes: 60,
            audit_retention_days: 400,
        }
    }
}
