//! The rules an operator may tune (SPEC §8.2), with the defaults that the
//! embedded setup runs.

use serde::{Deserialize, Serialize};

/// Which methods may serve as the required backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackupRule {
    /// Any other method (until phones exist, a second authenticator app).
    #[default]
    AnyOtherMethod,
    /// Backup codes alone are enough; no second method is asked for.
    BackupCodesSuffice,
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
    /// Backup codes generated at a time.
    pub backup_code_count: usize,
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
            backup_code_count: 10,
        }
    }
}
