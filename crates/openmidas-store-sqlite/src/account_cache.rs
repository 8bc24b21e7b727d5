//! Accounts as the writer last committed them, so `getbalance` usually skips SQLite.
//!
//! Correct because this process is the only writer of the database (the store holds an
//! exclusive lock on it): the writer publishes every account it changed after each commit
//! and before answering anyone, so an answer never precedes its cache update. A reader that
//! misses reads SQLite and fills the cache only if no commit was published meanwhile (the
//! sequence number is unchanged), so a stale read can never overwrite a newer value.

use std::collections::HashMap;

use openmidas_ledger::account::{Account, AccountKey};
use parking_lot::Mutex;

pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    max_entries: usize,
}

struct Inner {
    accounts: HashMap<AccountKey, Account>,
    /// Commits published so far.
    published: u64,
}

/// A miss, remembering what had been published when it happened.
pub(crate) struct Miss(u64);

impl AccountCache {
    pub fn new(max_entries: usize) -> Self {
        assert!(max_entries > 0);
        AccountCache {
            inner: Mutex::new(Inner {
                accounts: HashMap::new(),
                published: 0,
            }),
            max_entries,
        }
    }

    pub fn get(&self, key: &AccountKey) -> Result<Account, Miss> {
        let inner = self.inner.lock();
        inner.accounts.get(key).copied().ok_or(Miss(inner.published))
    }

    /// Caches what a reader read after `miss`, unless a commit was published since.
    pub fn fill(&self, key: &AccountKey, account: Account, miss: Miss) {
        let mut inner = self.inner.lock();
        if inner.published == miss.0 {
            insert(&mut inner, key.clone(), account, self.max_entries);
        }
    }

    /// The writer's committed changes, in commit order (the last one of a key wins).
    pub fn publish(&self, updates: Vec<(AccountKey, Account)>) {
        let mut inner = self.inner.lock();
        for (key, account) in updates {
            insert(&mut inner, key, account, self.max_entries);
        }
        inner.published += 1;
    }
}

fn insert(inner: &mut Inner, key: AccountKey, account: Account, max_entries: usize) {
    // Bounded: a full cache starts over (rare, and only costs misses).
    if inner.accounts.len() >= max_entries && !inner.accounts.contains_key(&key) {
        inner.accounts.clear();
    }
    inner.accounts.insert(key, account);
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmidas_ledger::Env;

    fn key(n: u32) -> AccountKey {
        AccountKey {
            env: Env::Official,
            appid: "a".into(),
            offer_id: "o".into(),
            zone_id: "1".into(),
            openid: n.to_string(),
        }
    }

    #[test]
    fn a_fill_after_a_publish_is_dropped() {
        let cache = AccountCache::new(10);
        let miss = cache.get(&key(1)).unwrap_err();
        let new = Account {
            cash: 5,
            save_amt: 5,
            save_sum: 5,
            recharged: true,
            ..Account::default()
        };
        cache.publish(vec![(key(1), new)]);
        // The reader's (older) value arrives late: it must not replace the published one.
        cache.fill(&key(1), Account::default(), miss);
        assert_eq!(cache.get(&key(1)).ok(), Some(new));
        // A fill with nothing published in between is kept.
        let miss = cache.get(&key(2)).unwrap_err();
        cache.fill(&key(2), new, miss);
        assert_eq!(cache.get(&key(2)).ok(), Some(new));
    }

    #[test]
    fn bounded() {
        let cache = AccountCache::new(3);
        cache.publish((0..10).map(|n| (key(n), Account::default())).collect());
        assert!(cache.inner.lock().accounts.len() <= 3);
    }
}
