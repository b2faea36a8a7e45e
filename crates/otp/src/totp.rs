//! Time-based one-time passwords (RFC 6238).
//!
//! The current time is always an argument (`unix` seconds), never read
//! here, so servers and tests control it. Verification returns the [`Step`]
//! that matched: a server stores the last accepted step per authenticator
//! and refuses any step at or before it, which makes every code single use.

use crate::Secret;
use crate::hotp::{Algorithm, CodeFormat, find_match};

pub use crate::hotp::VerifyError;

/// A TOTP time step: `(unix - t0) / period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step(pub u64);

/// How many steps around the current one are accepted, for clocks that
/// drift and people who type slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Steps before the current one.
    pub behind: u64,
    /// Steps after the current one.
    pub ahead: u64,
}

impl Window {
    /// Only the current step (OWASP ASVS 5.0 §6.5.5's strict reading).
    pub const STRICT: Self = Self {
        behind: 0,
        ahead: 0,
    };

    /// `steps` either side of the current one.
    pub const fn symmetric(steps: u64) -> Self {
        Self {
            behind: steps,
            ahead: steps,
        }
    }
}

impl Default for Window {
    /// One step either side, as RFC 6238 §5.2 recommends.
    fn default() -> Self {
        Self::symmetric(1)
    }
}

/// A period of zero seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the period must be at least one second")]
pub struct ZeroPeriod;

/// A TOTP configuration: hash, code format, period and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totp {
    algorithm: Algorithm,
    format: CodeFormat,
    period: u64,
    t0: u64,
}

impl Default for Totp {
    /// SHA-1, 6 digits, 30 seconds, epoch 0: what Google Authenticator,
    /// Microsoft Authenticator and WinAuth expect.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            format: CodeFormat::default(),
            period: 30,
            t0: 0,
        }
    }
}

impl Totp {
    /// A configuration with the given hash, format and period in seconds.
    pub fn new(algorithm: Algorithm, format: CodeFormat, period: u64) -> Result<Self, ZeroPeriod> {
        if period == 0 {
            return Err(ZeroPeriod);
        }
        Ok(Self {
            algorithm,
            format,
            period,
            t0: 0,
        })
    }

    /// The hash function.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The code format.
    pub fn format(&self) -> CodeFormat {
        self.format
    }

    /// The period in seconds (never zero).
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The step that contains the instant `unix` (seconds since 1970).
    pub fn step_at(&self, unix: u64) -> Step {
        Step(unix.saturating_sub(self.t0) / self.period)
    }

    /// Seconds until the code shown at `unix` changes (1 to `period`).
    pub fn seconds_left(&self, unix: u64) -> u64 {
        self.period - unix.saturating_sub(self.t0) % self.period
    }

    /// The code for the step containing `unix`.
    pub fn generate(&self, secret: &Secret, unix: u64) -> String {
        self.generate_at(secret, self.step_at(unix))
    }

    /// The code for a given step.
    pub fn generate_at(&self, secret: &Secret, step: Step) -> String {
        crate::hotp::code_for(secret, self.algorithm, self.format, step.0)
    }

    /// Checks `code` (spaces, hyphens and full-width digits tolerated) at
    /// the instant `unix`, accepting steps within `window`. Returns the
    /// matched step, preferring the current one, then the past, then the
    /// future. Every step in the window is computed and compared in
    /// constant time.
    pub fn verify(
        &self,
        secret: &Secret,
        code: &str,
        unix: u64,
        window: Window,
    ) -> Result<Step, VerifyError> {
        let code = self.format.normalize(code)?;
        let now = self.step_at(unix).0;
        let past = (1..=window.behind).filter_map(|d| now.checked_sub(d));
        let future = (1..=window.ahead).filter_map(|d| now.checked_add(d));
        let candidates = std::iter::once(now).chain(past).chain(future);
        find_match(secret, self.algorithm, self.format, &code, candidates)
            .map(Step)
            .ok_or(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn the_window_returns_which_step_matched() {
        let totp = Totp::default();
        let s = secret();
        let now = 1_700_000_000;
        let step = totp.step_at(now);
        let previous = totp.generate_at(&s, Step(step.0 - 1));
        let next = totp.generate_at(&s, Step(step.0 + 1));
        let current = totp.generate(&s, now);
        assert_eq!(totp.verify(&s, &current, now, Window::default()), Ok(step));
        assert_eq!(
            totp.verify(&s, &previous, now, Window::default()),
            Ok(Step(step.0 - 1))
        );
        assert_eq!(
            totp.verify(&s, &next, now, Window::default()),
            Ok(Step(step.0 + 1))
        );
        assert_eq!(
            totp.verify(&s, &previous, now, Window::STRICT),
            Err(VerifyError::Mismatch)
        );
        let two_back = totp.generate_at(&s, Step(step.0 - 2));
        assert_eq!(
            totp.verify(&s, &two_back, now, Window::default()),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn step_zero_has_no_past() {
        let totp = Totp::default();
        let s = secret();
        let code = totp.generate(&s, 0);
        assert_eq!(totp.verify(&s, &code, 5, Window::symmetric(3)), Ok(Step(0)));
    }

    #[test]
    fn seconds_left_counts_down_to_the_next_step() {
        let totp = Totp::default();
        assert_eq!(totp.seconds_left(0), 30);
        assert_eq!(totp.seconds_left(29), 1);
        assert_eq!(totp.seconds_left(30), 30);
    }

    #[test]
    fn a_zero_period_is_refused() {
        assert_eq!(
            Totp::new(Algorithm::Sha1, CodeFormat::default(), 0),
            Err(ZeroPeriod)
        );
    }
}
