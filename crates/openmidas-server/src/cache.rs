//! A read-through cache in front of any [`Store`] for the two lookups every Midas call makes
//! before touching money: the access token and the app. Balances, orders and sessions are
//! never cached.
//!
//! Why it is safe: an entry lives at most `ttl` (1 s by default). Writes through this node
//! invalidate at once (a new token drops every cached token; an app update drops that app).
//! Another node's writes are seen within `ttl`: a token it retires stops working here at
//! most `ttl` late (retirement normally takes effect 300 s after the new token anyway), an
//! app it updates takes effect here within `ttl`. Unknown tokens and apps are never cached,
//! so a token minted on another node works here at once. An emulator reset or import empties
//! both maps at once here, and within `ttl` on the other nodes.

use openmidas_ledger::push::{Push, PushFilter};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openmidas_ledger::account::{Account, AccountKey, Env};
use openmidas_ledger::auth::{App, Session, TokenRecord};
use openmidas_ledger::bill::Bill;
use openmidas_ledger::clock::ClockState;
use openmidas_ledger::command::JournalEntry;
use openmidas_ledger::order::{Order, OrderKey};
use openmidas_ledger::state::StateDoc;
use openmidas_ledger::{AccountFilter, OrderCursor, Store, StoreError, Write, Written};
use parking_lot::Mutex;

/// Default lifetime of a cached entry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);
/// Most entries per map; a full map is cleared (simple, and bounded).
const MAX_ENTRIES: usize = 65_536;

/// A map whose entries live `ttl`, bounded by clearing when full.
pub(crate) struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (V, Instant), foldhash::fast::RandomState>>,
    ttl: Duration,
}

impl<K: Hash + Eq, V: Clone> TtlMap<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        TtlMap {
            entries: Mutex::new(HashMap::default()),
            ttl,
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock();
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    pub(crate) fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.lock().remove(key);
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }
}

/// A [`Store`] that caches `token` and `app` lookups of the store it wraps.
pub struct CachingStore {
    inner: Arc<dyn Store>,
    tokens: TtlMap<String, Arc<TokenRecord>>,
    apps: TtlMap<String, Arc<App>>,
}

impl CachingStore {
    pub fn new(inner: Arc<dyn Store>, ttl: Duration) -> Self {
        CachingStore {
            inner,
            tokens: TtlMap::new(ttl),
            apps: TtlMap::new(ttl),
        }
    }
}

#[async_trait]
impl Store for CachingStore {
    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        // What the write changes leaves this node's cache at once.
        let app = match &write {
            Write::UpsertApp { app, .. } => Some(app.appid.clone()),
            _ => None,
        };
        let tokens = matches!(write, Write::IssueBasicToken { .. } | Write::StableToken { .. });
        let everything = write.replaces_state();
        let result = self.inner.write(write).await;
        if let Some(appid) = app {
            self.apps.remove(appid.as_str());
        }
        if tokens || everything {
            self.tokens.clear();
        }
        if everything {
            self.apps.clear();
        }
        result
    }

    async fn app(&self, appid: &str) -> Result<Option<Arc<App>>, StoreError> {
        if let Some(app) = self.apps.get(appid) {
            return Ok(Some(app));
        }
        let app = self.inner.app(appid).await?;
        if let Some(app) = &app {
            self.apps.put(appid.to_string(), app.clone());
        }
        Ok(app)
    }

    async fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.inner.apps().await
    }

    async fn token(&self, token: &str) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        if let Some(record) = self.tokens.get(token) {
            return Ok(Some(record));
        }
        let record = self.inner.token(token).await?;
        if let Some(record) = &record {
            self.tokens.put(token.to_string(), record.clone());
        }
        Ok(record)
    }

    async fn session(&self, appid: &str, openid: &str) -> Result<Option<Session>, StoreError> {
        self.inner.session(appid, openid).await
    }

    async fn account(&self, key: &AccountKey) -> Result<Account, StoreError> {
        self.inner.account(key).await
    }

    async fn order(&self, key: &OrderKey) -> Result<Option<Order>, StoreError> {
        self.inner.order(key).await
    }

    async fn journal(
        &self,
        key: &AccountKey,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        self.inner.journal(key, after_id, limit).await
    }

    async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<(AccountKey, Account)>, StoreError> {
        self.inner.accounts(filter).await
    }

    async fn orders_of(
        &self,
        key: &AccountKey,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        self.inner.orders_of(key, after, limit).await
    }

    async fn order_by_wx_order_id(
        &self,
        appid: &str,
        env: Env,
        wx_order_id: &str,
    ) -> Result<Option<(OrderKey, Order)>, StoreError> {
        self.inner.order_by_wx_order_id(appid, env, wx_order_id).await
    }

    async fn purchases(
        &self,
        appid: &str,
        env: Env,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(OrderKey, Order)>, StoreError> {
        self.inner.purchases(appid, env, from_ms, to_ms, limit).await
    }

    async fn bill(&self, token: &str) -> Result<Option<Bill>, StoreError> {
        self.inner.bill(token).await
    }

    async fn pushes(&self, filter: &PushFilter) -> Result<Vec<Push>, StoreError> {
        self.inner.pushes(filter).await
    }

    async fn push(&self, id: i64) -> Result<Option<Push>, StoreError> {
        self.inner.push(id).await
    }

    async fn clock(&self) -> Result<ClockState, StoreError> {
        self.inner.clock().await
    }

    async fn export(&self) -> Result<StateDoc, StoreError> {
        self.inner.export().await
    }

    async fn shutdown(&self) {
        self.inner.shutdown().await
    }
}
