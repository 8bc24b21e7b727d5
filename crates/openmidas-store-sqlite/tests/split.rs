//! A command that fails inside a group commit fails alone: the batch is rolled back and
//! applied again one command per transaction, so its neighbours are applied, once, and the
//! account cache agrees with the file.

use std::sync::Arc;

use openmidas_ledger::{AccountKey, Command, Env, Outcome, Store, StoreError, StoreExt};
use openmidas_store_sqlite::{SqliteConfig, SqliteStore};

fn key(openid: &str) -> AccountKey {
    AccountKey {
        env: Env::Official,
        appid: "wx".into(),
        offer_id: "o".into(),
        zone_id: "1".into(),
        openid: openid.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_command_leaves_its_batch_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.db");
    let store = Arc::new(SqliteStore::open(SqliteConfig::new(&path)).expect("open"));
    for p in 0..4 {
        let command = Command::recharge(key(&format!("p{p}")), &format!("t{p}"), 100, "wx", 1);
        store.execute(command).await.expect("recharge");
    }
    // A journal line for the order "poison" cannot be written: that command fails in the
    // database, as a bug or a full disk would make one fail.
    let side = rusqlite::Connection::open(&path).expect("side connection");
    side.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON journal WHEN NEW.order_no = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
    )
    .expect("trigger");
    drop(side);

    // Many pays at once (the writer takes them as one or a few batches), the poison among them.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let number = if i == 17 { "poison".to_string() } else { format!("b{i}") };
        tasks.push(tokio::spawn(async move {
            let command = Command::pay(key(&format!("p{}", i % 4)), &number, 2, 2);
            (number, store.execute(command).await)
        }));
    }
    let mut paid = 0;
    for task in tasks {
        let (number, result) = task.await.expect("task");
        match (number.as_str(), result) {
            ("poison", Err(StoreError::Backend(_))) => {}
            ("poison", other) => panic!("the poisoned pay: {other:?}"),
            (_, Ok(Outcome::Paid { .. })) => paid += 1,
            (number, other) => panic!("{number}: {other:?}"),
        }
    }
    assert_eq!(paid, 39);
    // The cache (what getbalance reads) and the file agree: 39 pays of 2, the poison's none.
    let cached: i64 = {
        let mut sum = 0;
        for p in 0..4 {
            sum += store.account(&key(&format!("p{p}"))).await.expect("account").balance();
        }
        sum
    };
    assert_eq!(cached, 400 - 39 * 2);
    store.shutdown().await;
    drop(store);
    let reopened = SqliteStore::open(SqliteConfig::new(&path)).expect("reopen");
    let mut on_disk = 0;
    for p in 0..4 {
        let account = reopened.account(&key(&format!("p{p}"))).await.expect("account");
        account.check_invariants().expect("invariants");
        on_disk += account.balance();
        let journal = reopened.journal(&key(&format!("p{p}")), 0, 100).await.expect("journal");
        assert!(journal.iter().all(|(_, e)| e.order_no != "poison"));
    }
    assert_eq!(on_disk, cached);
    reopened.shutdown().await;
}
