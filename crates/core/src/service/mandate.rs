//! Mandatory two-step verification with a deadline (SPEC §8.1, seed 002:
//! sellers had to turn 2SV on by 6/30).

use super::Nidan;
use crate::model::Account;
use crate::store::Store;

/// What the policy asks of an account that has 2SV off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mandate {
    /// Nothing.
    None,
    /// 2SV will be required from this time (Unix seconds): remind.
    Before(i64),
    /// 2SV is required now: sign-in goes straight to the wizard.
    Required,
}

impl<S: Store> Nidan<S> {
    /// The mandate for an account.
    pub fn mandate(&self, account: &Account) -> Mandate {
        let Some(rule) = &self.policy.require_2sv else {
            return Mandate::None;
        };
        if account.two_sv_on_since.is_some() {
            return Mandate::None;
        }
        if let Some(role) = &rule.role
            && !account.roles.iter().any(|r| r == role)
        {
            return Mandate::None;
        }
        // The server refuses to start with a bad date; treat one as "now"
        // rather than silently not enforcing.
        match rule.deadline() {
            Ok(deadline) if self.now() < deadline => Mandate::Before(deadline),
            _ => Mandate::Required,
        }
    }
}
