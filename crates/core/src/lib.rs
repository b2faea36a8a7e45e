//! The nidan domain. Every security decision of the product is made here:
//! is this password right, is this code right and unused, is a limit hit,
//! may this browser skip the code, what is recorded. The server parses
//! requests and renders results; the store persists; neither decides.
//!
//! # Layout
//! - [`calendar`]: Unix seconds as UTC dates.
//! - [`clock`]: [`Clock`], the only source of time.
//! - [`secrets`]: password hashing, random tokens and their hashes, the
//!   master key that encrypts TOTP keys at rest.
//! - [`delivery`]: the sender interfaces per channel and the words sent.
//! - [`phone`]: phone numbers as typed, E.164, masked, by line kind.
//! - [`model`]: the records (`Account`, `Method`, `Session`, ...).
//! - [`store`]: one small trait per record (accounts, methods, challenges,
//!   sessions, events, limits, recovery, links), combined into [`Store`],
//!   which persistence implements, including
//!   the atomic single-use operations.
//! - [`policy`]: the tunable rules (lifetimes, window, attempts).
//! - [`error`]: [`Error`], one variant per thing a user can be told.
//! - [`service`]: [`Nidan`], the operations: sign-up, sign-in as a state
//!   machine, the enable wizard, settings.

pub mod calendar;
pub mod clock;
pub mod delivery;
pub mod error;
pub mod model;
pub mod phone;
pub mod policy;
pub mod secrets;
pub mod service;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use policy::Policy;
pub use service::Nidan;
pub use store::Store;
