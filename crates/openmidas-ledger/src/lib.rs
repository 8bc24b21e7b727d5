//! The OpenMidas domain, with no HTTP, no JSON and no database: one ledger that every
//! dialect works on (behaviour.md sections 4 and 8).
//!
//! - [`account`]: an account's state and its arithmetic (recharge, present, pay, refund),
//!   with its invariants.
//! - [`order`]: the two order books, refunds as orders, order status, the refund rule.
//! - [`command`]: the state changes (each naming every order it reads) and their outcomes.
//! - [`decide`]: a command and the rows it read → the rows it writes, or a refusal.
//! - [`batch`]: many commands in one transaction, as every store runs them.
//! - [`auth`]: apps, tokens, login codes and sessions: their rules.
//! - [`bill`]: xpay bill downloads: generating, then a link that expires.
//! - [`push`]: the events a change causes (an outbox), and the rules of their delivery.
//! - [`store`]: the storage boundary: the `Store` trait, and the plans of every other write.
//! - [`clock`]: time as the server sees it, and the emulator's stored clock.
//! - [`state`]: the whole state as one document (the emulator's export and import).
//!
//! Domain types are deliberately not `Serialize`: the server's wire modules convert them.

pub mod account;
pub mod auth;
pub mod batch;
pub mod bill;
pub mod clock;
pub mod command;
pub mod decide;
pub mod order;
pub mod push;
pub mod state;
pub mod store;

pub use account::{Account, AccountKey, Coins, Env};
pub use auth::{App, BillNoCharset, DuplicateBillPolicy, SignatureHex};
pub use clock::{Clock, ClockChange, ClockState, ManualClock, SystemClock};
pub use command::{Command, Goods, Op, Original, Outcome, PurchaseOrder, Refusal};
pub use decide::{decide, Decision, Effect};
pub use order::{Book, Order, OrderKey, OrderKind, OrderStatus, PurchaseChannel};
pub use store::{AccountCursor, AccountFilter, OrderCursor, Store, StoreError, StoreExt, Write, Written};
