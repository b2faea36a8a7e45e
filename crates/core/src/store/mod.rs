//! What the domain needs from persistence. Implementations only store and
//! fetch; every rule lives in [`crate::service`]. The operations that
//! carry single use and limits are atomic conditional updates, so they
//! hold across processes sharing one database.

use std::future::Future;

use crate::error::Result;

mod accounts;
mod challenges;
mod events;
mod limits;
mod links;
mod methods;
mod recovery;
mod sessions;
mod write;

pub use accounts::Accounts;
pub use challenges::Challenges;
pub use events::Events;
pub use limits::Limits;
pub use links::Links;
pub use methods::Methods;
pub use recovery::Recovery;
pub use sessions::Sessions;
pub use write::{Purge, Write};

/// Every record trait at once, for code that holds a concrete store
/// (tests, tools): `use nidan_core::store::records::*;`.
pub mod records {
    pub use super::{
        Accounts, Challenges, Events, Limits, Links, Methods, Recovery, Sessions, Store,
    };
}

/// The outcome of [`Limits::claim_code_check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Claimed; this many tries are left in the attempt after this one.
    Claimed(i64),
    /// Another check of the account got there first.
    Busy,
    /// The attempt has no tries left, or is completed.
    Exhausted,
}

/// Persistence for the domain. All times are Unix seconds.
pub trait Store:
    Accounts + Methods + Challenges + Sessions + Events + Limits + Recovery + Links
{
    /// Applies `writes` in order as one transaction: all of them, or —
    /// if any fails, or a conditional one ([`Write::SpendLink`],
    /// [`Write::DecideRecoveryCase`]) changes nothing — none.
    fn apply(&self, writes: Vec<Write>) -> impl Future<Output = Result<()>> + Send;
    /// Deletes what has run its course (see [`Purge`]); how many rows of
    /// each kind. Plain conditional deletes: any number of nodes may run it
    /// at once.
    fn purge(&self, purge: &Purge)
    -> impl Future<Output = Result<Vec<(&'static str, u64)>>> + Send;
    /// [`Self::apply`] for a unit whose writes each touch rows no other
    /// write of the unit touches, and none reads what another wrote: the
    /// store may then send the whole unit at once (on PostgreSQL, one
    /// statement: one round trip and one commit). All or nothing, and
    /// [`crate::Error::Conflict`] as with `apply`.
    fn apply_at_once(&self, writes: Vec<Write>) -> impl Future<Output = Result<()>> + Send {
        self.apply(writes)
    }

    /// Whether the database answers (for `/readyz`).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
}
