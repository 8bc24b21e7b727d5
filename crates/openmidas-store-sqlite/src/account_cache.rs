//! Accounts as the writer last committed them, so `getbalance` usually skips SQLite.
//!
//! Correct because this process is the only writer of the database (the store holds an
//! exclusive lock on it): the writer publishes every account it changed after each commit
//! and before answering anyone, so an answer never precedes its cache update. A reader that
//! misses reads SQLite and fills the cache only if no commit was published meanwhile (the
//! sequence number is unchanged), so a stale read can never overwrite a newer value.

use std::collections::HashMap;

use openmidas_ledger::account::{Account, AccountKey};
use openmidas_ledger::Env;
use parking_lot::Mutex;

pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    max_entries: usize,
}

struct Inner {
    /// Keyed by [`packed`] keys: one heap block per key, so a lookup touches one block
    /// instead of an `AccountKey`'s four strings (measurable at 10,000+ accounts).
    accounts: HashMap<Box<[u8]>, Account, foldhash::fast::RandomState>,
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
                accounts: HashMap::default(),
                published: 0,
            }),
            max_entries,
        }
    }

    pub fn get(&self, key: &AccountKey) -> Result<Account, Miss> {
        let packed = packed(key);
        let inner = self.inner.lock();
        inner.accounts.get(&packed).copied().ok_or(Miss(inner.published))
    }

    /// Caches what a reader read after `miss`, unless a commit was published since.
    pub fn fill(&self, key: &AccountKey, account: Account, miss: Miss) {
        let mut inner = self.inner.lock();
        if inner.published == miss.0 {
            insert(&mut inner, packed(key), account, self.max_entries);
        }
    }

    /// The writer's committed changes, in commit order (the last one of a key wins).
    pub fn publish(&self, updates: Vec<(AccountKey, Account)>) {
        let mut inner = self.inner.lock();
        for (key, account) in updates {
            insert(&mut inner, packed(&key), account, self.max_entries);
        }
        inner.published += 1;
    }
}

impl AccountCache {
    /// Forgets every account (after a reset or an import replaced them), counting as a
    /// publication so that no read begun before it fills the cache.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.accounts.clear();
        inner.published += 1;
    }
}

/// The key's fields in one buffer: the environment, then each string with its length
/// first, so distinct keys never pack alike.
fn packed(key: &AccountKey) -> Box<[u8]> {
    let fields = [&key.appid, &key.offer_id, &key.zone_id, &key.openid];
    let mut out = Vec::with_capacity(1 + fields.iter().map(|f| 8 + f.len()).sum::<usize>());
    out.push(match key.env {
        Env::Official => 0,
        Env::Sandbox => 1,
    });
    for field in fields {
        out.extend_from_slice(&(field.len() as u64).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out.into_boxed_slice()
}

fn insert(inner: &mut Inner, key: Box<[u8]>, account: Account, max_entries: usize) {
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
    fn keys_with_the_same_bytes_in_other_fields_stay_apart() {
        let cache = AccountCache::new(10);
        let first = AccountKey {
            appid: "ab".into(),
            offer_id: "c".into(),
            ..key(1)
        };
        let second = AccountKey {
            appid: "a".into(),
            offer_id: "bc".into(),
            ..key(1)
        };
        let sandbox = AccountKey {
            env: Env::Sandbox,
            ..first.clone()
        };
        let funded = Account {
            cash: 7,
            ..Account::default()
        };
        cache.publish(vec![(first.clone(), funded)]);
        assert_eq!(cache.get(&first).ok(), Some(funded));
        assert!(cache.get(&second).is_err());
        assert!(cache.get(&sandbox).is_err());
    }

    #[test]
    fn bounded() {
        let cache = AccountCache::new(3);
        cache.publish((0..10).map(|n| (key(n), Account::default())).collect());
        assert!(cache.inner.lock().accounts.len() <= 3);
    }
}
