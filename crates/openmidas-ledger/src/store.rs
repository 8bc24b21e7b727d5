//! The storage trait. SQLite (embedded, the default) and PostgreSQL implement it; the
//! server only ever talks to `dyn Store`.
//!
//! Contract for every implementation:
//! - a method that changes state returns `Ok` only once the change is durable (fsync'd,
//!   under the configured durability mode);
//! - [`Store::execute`] applies [`crate::command::decide`] in one transaction with the reads
//!   it depends on; an order number is applied at most once, whatever the concurrency;
//! - reads never wait behind queued writes.

use std::sync::Arc;

use async_trait::async_trait;

use crate::account::{Account, AccountKey, InvariantViolation};
use crate::auth::{App, CodeRefusal, LoginCode, Session, TokenRecord};
use crate::command::{JournalEntry, LedgerCommand, OrderNamespace, OrderRecord, Outcome};

/// A storage failure. Every one is answered `-1 system error`; none is the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the write queue is full")]
    Overloaded,
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error(transparent)]
    Invariant(#[from] InvariantViolation),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or replaces an app.
    async fn upsert_app(&self, app: App, now_ms: i64) -> Result<(), StoreError>;
    /// Shared, so a cache in front of the store hands it out without copying it.
    async fn app(&self, appid: &str) -> Result<Option<Arc<App>>, StoreError>;
    async fn apps(&self) -> Result<Vec<App>, StoreError>;

    /// Issues `token` from `/cgi-bin/token`: the app's previous basic tokens stop being
    /// the latest 300 s from now.
    async fn issue_basic_token(&self, appid: &str, token: String, now_ms: i64) -> Result<TokenRecord, StoreError>;
    /// `/cgi-bin/stable_token`: the current stable token, or `candidate` as the new one
    /// (see [`crate::auth::stable_plan`]).
    async fn stable_token(
        &self,
        appid: &str,
        candidate: String,
        force_refresh: bool,
        now_ms: i64,
    ) -> Result<TokenRecord, StoreError>;
    async fn token(&self, token: &str) -> Result<Option<Arc<TokenRecord>>, StoreError>;

    async fn insert_login_code(&self, code: LoginCode) -> Result<(), StoreError>;
    /// Exchanges a login code once; on success `session_key` becomes the player's session.
    async fn redeem_login_code(
        &self,
        appid: &str,
        code: &str,
        session_key: String,
        now_ms: i64,
    ) -> Result<Result<Session, CodeRefusal>, StoreError>;
    async fn session(&self, appid: &str, openid: &str) -> Result<Option<Session>, StoreError>;

    /// An account's state; `Account::default()` if it was never touched.
    async fn account(&self, key: &AccountKey) -> Result<Account, StoreError>;
    /// Applies one ledger command durably and answers its outcome.
    async fn execute(&self, command: LedgerCommand) -> Result<Outcome, StoreError>;
    /// An order by number within `(env, appid, offer_id)`.
    async fn order(
        &self,
        key: &AccountKey,
        namespace: OrderNamespace,
        order_no: &str,
    ) -> Result<Option<OrderRecord>, StoreError>;
    /// An account's journal entries with id greater than `after_id`, oldest first.
    async fn journal(
        &self,
        key: &AccountKey,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError>;

    /// Finishes queued writes and stops accepting new ones.
    async fn shutdown(&self);
}
