//! The OpenMidas domain, with no HTTP, no JSON and no database.
//!
//! - [`account`]: an account's state and the pure rules of behaviour.md section 4
//!   (recharge, present, pay, cancelpay), which every store applies inside its transaction.
//! - [`command`]: the state changes a store executes, and their outcomes.
//! - [`auth`]: apps, access tokens, login codes and sessions.
//! - [`store`]: the one trait every storage backend implements.
//! - [`clock`]: time as the server sees it (controllable in tests).
//!
//! Domain types are deliberately not `Serialize`: the server's wire module converts them.

pub mod account;
pub mod auth;
pub mod clock;
pub mod command;
pub mod store;

pub use account::{Account, AccountKey, Env};
pub use auth::{App, DuplicateBillPolicy};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{LedgerCommand, Outcome, Refusal};
pub use store::{Store, StoreError};
