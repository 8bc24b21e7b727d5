//! The storage boundary. SQLite (embedded, the default) and PostgreSQL implement [`Store`];
//! the server only ever talks to `dyn Store`.
//!
//! Writes go through one method, [`Store::write`], with a [`Write`]; typed helpers over it
//! live once in [`StoreExt`]. What a write reads, decides and writes is decided here, not in
//! the stores: ledger commands by [`crate::batch::Batch`], the other writes by
//! [`Write::plan`]. A store only carries out row reads and row writes in its own SQL, in
//! one transaction, and commits.
//!
//! Contract for every implementation:
//! - [`Store::write`] returns `Ok` only once the change is durable (fsync'd, under the
//!   configured durability mode);
//! - ledger commands run [`crate::batch::Batch::decide`] in one transaction with the reads
//!   it names; an order number is applied at most once, whatever the concurrency;
//! - reads never wait behind queued writes.

mod write;

pub use write::{RowRead, RowValue, RowWrite, Write, Written};

use std::sync::Arc;

use async_trait::async_trait;

use crate::account::Env;
use crate::account::{Account, AccountKey, InvariantViolation};
use crate::auth::{App, CodeRefusal, LoginCode, Session, TokenQuotaReached, TokenRecord};
use crate::bill::{Bill, BillAnswer};
use crate::clock::{ClockChange, ClockState};
use crate::command::{Command, JournalEntry, Outcome};
use crate::order::{Book, Order, OrderKey};
use crate::push::{Push, PushAttempt, PushFilter};
use crate::state::{ResetScope, StateDoc, StateProblem};

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
    /// Applies one write durably and answers what it did.
    async fn write(&self, write: Write) -> Result<Written, StoreError>;

    /// Shared, so a cache in front of the store hands it out without copying it.
    async fn app(&self, appid: &str) -> Result<Option<Arc<App>>, StoreError>;
    async fn apps(&self) -> Result<Vec<App>, StoreError>;
    async fn token(&self, token: &str) -> Result<Option<Arc<TokenRecord>>, StoreError>;
    async fn session(&self, appid: &str, openid: &str) -> Result<Option<Session>, StoreError>;
    /// An account's state; `Account::default()` if it was never touched.
    async fn account(&self, key: &AccountKey) -> Result<Account, StoreError>;
    async fn order(&self, key: &OrderKey) -> Result<Option<Order>, StoreError>;
    /// An account's journal entries with id greater than `after_id`, oldest first.
    async fn journal(
        &self,
        key: &AccountKey,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError>;

    /// Accounts of an app and env in `(openid, offer_id, zone_id)` order, at most
    /// `filter.limit` (the dashboard's players): keyset paging over an index, never a scan.
    async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<(AccountKey, Account)>, StoreError>;
    /// An account's orders of both books, newest first (by creation time, then book and
    /// number), those after `after` in that order, at most `limit`.
    async fn orders_of(
        &self,
        key: &AccountKey,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError>;

    /// The purchase-book order (a purchase or a purchase refund) of an app and env with this
    /// platform id (xpay `wx_order_id`).
    async fn order_by_wx_order_id(
        &self,
        appid: &str,
        env: Env,
        wx_order_id: &str,
    ) -> Result<Option<(OrderKey, Order)>, StoreError>;
    /// Purchase-book orders of an app and env created in `from_ms..to_ms`, oldest first, at
    /// most `limit` (xpay bills).
    async fn purchases(
        &self,
        appid: &str,
        env: Env,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError>;
    /// The bill whose link has this token.
    async fn bill(&self, token: &str) -> Result<Option<Bill>, StoreError>;
    /// Events of the outbox (behaviour.md section 12) by id, at most `filter.limit`.
    async fn pushes(&self, filter: &PushFilter) -> Result<Vec<Push>, StoreError>;
    async fn push(&self, id: i64) -> Result<Option<Push>, StoreError>;

    /// The emulator's clock as stored (behaviour.md section 13.1).
    async fn clock(&self) -> Result<ClockState, StoreError>;
    /// Every row of every table of [`crate::state::TABLES`], read in one transaction, in
    /// key order; [`StoreError::Backend`] past [`crate::state::MAX_STATE_ROWS`] rows.
    async fn export(&self) -> Result<StateDoc, StoreError>;

    /// Finishes queued writes and stops accepting new ones.
    async fn shutdown(&self);
}

/// Which accounts [`Store::accounts`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFilter {
    pub appid: String,
    pub env: Env,
    /// Only openids that start with this (empty: any).
    pub openid_prefix: String,
    /// Only accounts after this one in `(openid, offer_id, zone_id)` order (paging).
    pub after: Option<AccountCursor>,
    pub limit: u32,
}

/// Where a page of accounts ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCursor {
    pub openid: String,
    pub offer_id: String,
    pub zone_id: String,
}

impl AccountFilter {
    /// Where the range of openids starts: the cursor's openid when it is past the prefix.
    /// A store seeks to it, then skips the rows of that openid up to the cursor: starting at
    /// the prefix instead would walk every earlier row of the index (1.8 s at a page 900,000
    /// accounts deep on SQLite, which does not seek on a row-value comparison).
    pub fn range_start(&self) -> &str {
        match &self.after {
            Some(after) if after.openid > self.openid_prefix => &after.openid,
            _ => &self.openid_prefix,
        }
    }

    /// The first text after every text that starts with the prefix (in code point order,
    /// which is UTF-8 byte order): openids with the prefix are exactly those in
    /// `[openid_prefix, end)`. `None` when there is no such text (an empty prefix).
    pub fn prefix_end(&self) -> Option<String> {
        let mut chars: Vec<char> = self.openid_prefix.chars().collect();
        while let Some(last) = chars.pop() {
            let mut next = u32::from(last) + 1;
            if (0xD800..=0xDFFF).contains(&next) {
                next = 0xE000;
            }
            if let Some(c) = char::from_u32(next) {
                chars.push(c);
                return Some(chars.into_iter().collect());
            }
        }
        None
    }
}

/// Where a page of [`Store::orders_of`] ended: the last order's creation time, book and
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at_ms: i64,
    pub book: Book,
    pub number: String,
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Backend(format!("the store answered an unexpected result for {what}"))
}

/// Typed writes, written once over [`Store::write`] for every store.
#[async_trait]
pub trait StoreExt: Store {
    /// Applies one ledger command durably and answers its outcome.
    async fn execute(&self, command: Command) -> Result<Outcome, StoreError> {
        match self.write(Write::Ledger(command)).await? {
            Written::Outcome(outcome) => Ok(outcome),
            _ => Err(unexpected("a ledger command")),
        }
    }

    /// Takes up to `limit` due events for delivery, leased to the caller.
    async fn claim_pushes(&self, now_ms: i64, limit: u32) -> Result<Vec<Push>, StoreError> {
        match self.write(Write::ClaimPushes { now_ms, limit }).await? {
            Written::Pushes(pushes) => Ok(pushes),
            _ => Err(unexpected("claim_pushes")),
        }
    }

    /// Records a delivery; answers the event after it (`None`: it no longer exists).
    async fn record_push_attempt(&self, attempt: PushAttempt) -> Result<Option<Push>, StoreError> {
        match self.write(Write::RecordPushAttempt(attempt)).await? {
            Written::Push(push) => Ok(push),
            _ => Err(unexpected("record_push_attempt")),
        }
    }

    /// Creates or replaces an app.
    async fn upsert_app(&self, app: App, now_ms: i64) -> Result<(), StoreError> {
        match self.write(Write::UpsertApp { app, now_ms }).await? {
            Written::Done => Ok(()),
            _ => Err(unexpected("upsert_app")),
        }
    }

    /// Issues `token` from `/cgi-bin/token`: the app's previous basic tokens stop being
    /// the latest 300 s from now. Refused once the app was issued `daily_limit` basic
    /// tokens in the last 24 h.
    async fn issue_basic_token(
        &self,
        appid: &str,
        token: String,
        daily_limit: u32,
        now_ms: i64,
    ) -> Result<Result<TokenRecord, TokenQuotaReached>, StoreError> {
        let write = Write::IssueBasicToken {
            appid: appid.to_string(),
            token,
            daily_limit,
            now_ms,
        };
        match self.write(write).await? {
            Written::Token(t) => Ok(Ok(t)),
            Written::TokenQuotaReached => Ok(Err(TokenQuotaReached)),
            _ => Err(unexpected("issue_basic_token")),
        }
    }

    /// `/cgi-bin/stable_token`: the current stable token, or `candidate` as the new one
    /// (see [`crate::auth::stable_plan`]), unless the app was issued `daily_limit` stable
    /// tokens in the last 24 h.
    async fn stable_token(
        &self,
        appid: &str,
        candidate: String,
        force_refresh: bool,
        daily_limit: u32,
        now_ms: i64,
    ) -> Result<Result<TokenRecord, TokenQuotaReached>, StoreError> {
        let write = Write::StableToken {
            appid: appid.to_string(),
            candidate,
            force_refresh,
            daily_limit,
            now_ms,
        };
        match self.write(write).await? {
            Written::Token(t) => Ok(Ok(t)),
            Written::TokenQuotaReached => Ok(Err(TokenQuotaReached)),
            _ => Err(unexpected("stable_token")),
        }
    }

    async fn insert_login_code(&self, code: LoginCode) -> Result<(), StoreError> {
        match self.write(Write::InsertLoginCode(code)).await? {
            Written::Done => Ok(()),
            _ => Err(unexpected("insert_login_code")),
        }
    }

    /// Exchanges a login code once; on success `session_key` becomes the player's session.
    async fn redeem_login_code(
        &self,
        appid: &str,
        code: &str,
        session_key: String,
        now_ms: i64,
    ) -> Result<Result<Session, CodeRefusal>, StoreError> {
        let write = Write::RedeemLoginCode {
            appid: appid.to_string(),
            code: code.to_string(),
            session_key,
            now_ms,
        };
        match self.write(write).await? {
            Written::Redeemed(result) => Ok(result),
            _ => Err(unexpected("redeem_login_code")),
        }
    }

    /// Moves the emulator's clock; answers where it now stands.
    async fn move_clock(&self, change: ClockChange, real_ms: i64) -> Result<ClockState, StoreError> {
        match self.write(Write::Clock { change, real_ms }).await? {
            Written::Clock(state) => Ok(state),
            _ => Err(unexpected("move_clock")),
        }
    }

    /// xpay `download_bill`: generating on the first call for the range, then a link.
    async fn request_bill(&self, bill: Bill, token: String, now_ms: i64) -> Result<BillAnswer, StoreError> {
        match self.write(Write::RequestBill { bill, token, now_ms }).await? {
            Written::Bill(answer) => Ok(answer),
            _ => Err(unexpected("request_bill")),
        }
    }

    /// Empties the state of one app or all (emulator mode only).
    async fn reset(&self, scope: ResetScope) -> Result<(), StoreError> {
        match self.write(Write::Reset(scope)).await? {
            Written::Done => Ok(()),
            _ => Err(unexpected("reset")),
        }
    }

    /// Replaces the whole state with `doc`, if it passes [`StateDoc::check`] (emulator mode
    /// only). Nothing changes when it does not.
    async fn replace_state(&self, doc: StateDoc) -> Result<Result<(), StateProblem>, StoreError> {
        if let Err(problem) = doc.check() {
            return Ok(Err(problem));
        }
        match self.write(Write::ReplaceState(Box::new(doc))).await? {
            Written::Done => Ok(Ok(())),
            _ => Err(unexpected("replace_state")),
        }
    }
}

#[async_trait]
impl<S: Store + ?Sized> StoreExt for S {}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(prefix: &str) -> AccountFilter {
        AccountFilter {
            appid: "wx".into(),
            env: Env::Official,
            openid_prefix: prefix.into(),
            after: None,
            limit: 1,
        }
    }

    #[test]
    fn the_range_starts_at_the_cursor_when_it_is_past_the_prefix() {
        let after = |openid: &str| AccountFilter {
            after: Some(AccountCursor {
                openid: openid.into(),
                offer_id: "o".into(),
                zone_id: "1".into(),
            }),
            ..filter("p1")
        };
        assert_eq!(filter("p1").range_start(), "p1");
        assert_eq!(after("p1-900000").range_start(), "p1-900000");
        assert_eq!(after("a").range_start(), "p1", "a cursor before the prefix");
    }

    #[test]
    fn prefix_end_bounds_exactly_the_texts_with_the_prefix() {
        assert_eq!(filter("").prefix_end(), None);
        assert_eq!(filter("oab").prefix_end().as_deref(), Some("oac"));
        assert_eq!(filter("o\u{D7FF}").prefix_end().as_deref(), Some("o\u{E000}"));
        assert_eq!(filter("o\u{10FFFF}").prefix_end().as_deref(), Some("p"));
        assert_eq!(filter("\u{10FFFF}").prefix_end(), None);
        let end = filter("o1").prefix_end().unwrap();
        for text in ["o1", "o1zzz", "o1\u{10FFFF}\u{10FFFF}"] {
            assert!(text >= "o1" && text < end.as_str(), "{text:?}");
        }
        for text in ["o0zzz", "o2", "o"] {
            assert!(!(text >= "o1" && text < end.as_str()), "{text:?}");
        }
    }
}
