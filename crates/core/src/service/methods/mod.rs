//! One module per kind of sign-in method, each with the same shape:
//!
//! - **begin**: `begin_app`, `begin_phone` — start enrolling (inactive
//!   until the wizard or settings confirm it), returning what the page
//!   shows (a QR code, a masked number);
//! - **pending**: `pending_app`, `pending_phone` — the same again, to show
//!   the page once more;
//! - **confirm**: `confirm_app`, `confirm_phone` — the first code, through
//!   the counted check ([`super::factor::Purpose`]);
//! - **check**: at sign-in every kind is checked on the one counted path,
//!   [`super::factor`], which matches on [`crate::model::Factor`];
//! - **describe**: [`crate::model::Method::kind`] and the method's name.
//!
//! What the kinds share — the wizard order (primary, then a backup under
//! `policy.backup_rule`) — is in [`super::wizard`]. A new kind is a new
//! [`crate::model::Factor`] variant and a module here; the compiler points
//! at the rest (see "Adding a sign-in method" in the README).

pub mod app;
pub mod backup_codes;
pub mod passkey;
pub mod phone;
