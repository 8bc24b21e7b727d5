//! Several stores ("nodes") on one PostgreSQL database, racing each other the way stateless
//! OpenMidas nodes behind a load balancer do. Every test runs at the database's default
//! isolation (READ COMMITTED: row locks) and with SERIALIZABLE as the database default
//! (40001 and retries), each on a fresh database of the test cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openmidas_ledger::auth::{App, CodeRefusal, LoginCode, TokenKind, LOGIN_CODE_TTL_MS};
use openmidas_ledger::{
    AccountKey, Command, Env, Op, OrderKey, OrderKind, OrderStatus, Original, Outcome, Refusal, Store, StoreError,
    StoreExt,
};
use openmidas_store_postgres::{PgConfig, PostgresStore};
use openmidas_testkit::postgres::{fresh_database, TestDatabase};

const NOW: i64 = 1_767_225_600_000;

fn key(openid: &str) -> AccountKey {
    AccountKey {
        env: Env::Official,
        appid: "wxnodes".into(),
        offer_id: "1450000001".into(),
        zone_id: "1".into(),
        openid: openid.into(),
    }
}

fn app() -> App {
    App::new("wxnodes", "secret", "1450000001", "key", "sandbox")
}

async fn open(db: &TestDatabase, tweak: impl Fn(&mut PgConfig)) -> Arc<PostgresStore> {
    let mut config = PgConfig::new(&db.url);
    config.writers = 2;
    config.pool_size = 4;
    tweak(&mut config);
    Arc::new(PostgresStore::open(config).await.expect("open store"))
}

/// `n` nodes on one fresh database.
async fn nodes(n: usize, serializable: bool) -> (TestDatabase, Vec<Arc<PostgresStore>>) {
    let db = fresh_database(serializable).await;
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(open(&db, |_| {}).await);
    }
    (db, stores)
}

async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

fn recharge(openid: &str, amount: i64, no: &str) -> Command {
    Command::recharge(key(openid), no, amount, &format!("wx-{no}"), NOW)
}

fn pay(openid: &str, amount: i64, bill: &str) -> Command {
    Command::pay(key(openid), bill, amount, NOW)
}

/// Runs the test body once per isolation.
macro_rules! both_isolations {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn read_committed() {
                    super::$name(false).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn serializable() {
                    super::$name(true).await
                }
            }
        )*
    };
}

both_isolations!(
    nodes_starting_at_once_migrate_once,
    one_bill_no_on_many_nodes_applies_once,
    concurrent_pays_across_nodes_never_overdraw,
    cancel_raced_across_nodes_applies_once,
    login_code_redeemed_once_across_nodes,
    tokens_are_shared_and_rotate_across_nodes,
    a_full_queue_answers_overloaded,
);

async fn nodes_starting_at_once_migrate_once(serializable: bool) {
    let db = fresh_database(serializable).await;
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { open(&db, |_| {}).await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in opening {
        stores.push(task.await.expect("open task"));
    }
    let client = sql(&db).await;
    let rows = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .expect("versions");
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let expected: Vec<i64> = openmidas_store_postgres::migrations::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(versions, expected);
    // A fifth node on a migrated database, and every node works.
    stores.push(open(&db, |_| {}).await);
    for (i, store) in stores.iter().enumerate() {
        let outcome = store
            .execute(recharge("m", 1, &format!("t{i}")))
            .await
            .expect("recharge");
        assert!(matches!(outcome, Outcome::Purchased { .. }), "{outcome:?}");
    }
    assert_eq!(stores[0].account(&key("m")).await.expect("account").balance(), 5);
}

async fn one_bill_no_on_many_nodes_applies_once(serializable: bool) {
    let (db, stores) = nodes(3, serializable).await;
    stores[0].execute(recharge("u", 1000, "r1")).await.expect("recharge");
    for round in 0..10 {
        let bill = format!("bill-{round}");
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                let bill = bill.clone();
                tokio::spawn(async move { store.execute(pay("u", 7, &bill)).await })
            })
            .collect();
        let mut paid = 0;
        let mut balances = Vec::new();
        for task in tasks {
            match task.await.expect("task").expect("execute") {
                Outcome::Paid { balance, .. } => {
                    paid += 1;
                    balances.push(balance);
                }
                Outcome::Refused(Refusal::Repeated {
                    original: Some(Original::Paid { balance, .. }),
                }) => balances.push(balance),
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(paid, 1, "round {round}: exactly one node applies the bill_no");
        // Every answer carries the one original result.
        assert!(balances.windows(2).all(|w| w[0] == w[1]), "{balances:?}");
        assert_eq!(balances[0], 1000 - 7 * (round + 1));
    }
    let account = stores[2].account(&key("u")).await.expect("account");
    assert_eq!(account.balance(), 1000 - 70);
    let client = sql(&db).await;
    let pays: i64 = client
        .query_one("SELECT count(*) FROM journal WHERE kind = 'pay'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(pays, 10);
}

async fn concurrent_pays_across_nodes_never_overdraw(serializable: bool) {
    let (db, stores) = nodes(3, serializable).await;
    for (i, openid) in ["a", "b"].iter().enumerate() {
        stores[i]
            .execute(recharge(openid, 300, &format!("r-{openid}")))
            .await
            .expect("recharge");
    }
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let store = stores[i % 3].clone();
            let openid = if i % 2 == 0 { "a" } else { "b" };
            tokio::spawn(async move {
                let amount = 1 + (i as i64 % 7);
                (
                    openid,
                    amount,
                    store.execute(pay(openid, amount, &format!("p{i}"))).await,
                )
            })
        })
        .collect();
    let mut spent: HashMap<&str, i64> = HashMap::new();
    for task in tasks {
        let (openid, amount, outcome) = task.await.expect("task");
        match outcome.expect("execute") {
            Outcome::Paid { .. } => *spent.entry(openid).or_default() += amount,
            Outcome::Refused(Refusal::InsufficientBalance) => {}
            other => panic!("{other:?}"),
        }
    }
    let client = sql(&db).await;
    for openid in ["a", "b"] {
        let account = stores[0].account(&key(openid)).await.expect("account");
        let spent = spent.get(openid).copied().unwrap_or(0);
        assert!(spent <= 300);
        assert_eq!(account.balance(), 300 - spent, "{openid}");
        assert_eq!(account.cost_sum, spent);
        account.check_invariants().expect("invariants");
        let journal_sum: i64 = client
            .query_one(
                "SELECT COALESCE(SUM(cash_delta + gift_delta), 0)::BIGINT FROM journal WHERE openid = $1",
                &[&openid],
            )
            .await
            .expect("sum")
            .get(0);
        assert_eq!(
            journal_sum,
            account.balance(),
            "{openid}: the journal adds up to the balance"
        );
    }
}

async fn cancel_raced_across_nodes_applies_once(serializable: bool) {
    let (_db, stores) = nodes(3, serializable).await;
    stores[0].execute(recharge("c", 100, "r")).await.expect("recharge");
    stores[1].execute(pay("c", 40, "to-cancel")).await.expect("pay");
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let store = stores[i % 3].clone();
            tokio::spawn(async move { store.execute(cancel("c", "to-cancel")).await })
        })
        .collect();
    let mut cancelled = 0;
    for task in tasks {
        match task.await.expect("task").expect("execute") {
            Outcome::Cancelled { .. } => cancelled += 1,
            Outcome::Refused(Refusal::NothingLeft) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(cancelled, 1);
    let account = stores[2].account(&key("c")).await.expect("account");
    assert_eq!((account.balance(), account.cost_sum), (100, 0));
    let order = stores[0]
        .order(&OrderKey::currency(&key("c"), "to-cancel"))
        .await
        .expect("order")
        .expect("exists");
    assert_eq!(
        (order.kind, order.status, order.updated_at_ms),
        (OrderKind::Pay, OrderStatus::Refunded, NOW + 1000)
    );
}

async fn login_code_redeemed_once_across_nodes(serializable: bool) {
    let (_db, stores) = nodes(3, serializable).await;
    stores[0].upsert_app(app(), NOW).await.expect("app");
    stores[1]
        .insert_login_code(LoginCode {
            code: "code-1".into(),
            appid: "wxnodes".into(),
            openid: "player".into(),
            created_at_ms: NOW,
            expires_at_ms: NOW + LOGIN_CODE_TTL_MS,
        })
        .await
        .expect("code");
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let store = stores[i % 3].clone();
            tokio::spawn(async move {
                store
                    .redeem_login_code("wxnodes", "code-1", format!("session-key-{i}"), NOW + 10)
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("redeem") {
            Ok(session) => winners.push(session.session_key),
            Err(refusal) => assert_eq!(refusal, CodeRefusal::Used),
        }
    }
    assert_eq!(winners.len(), 1, "a login code is exchanged once");
    let session = stores[2]
        .session("wxnodes", "player")
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(session.session_key, winners[0]);
}

async fn tokens_are_shared_and_rotate_across_nodes(serializable: bool) {
    let (_db, stores) = nodes(3, serializable).await;
    stores[0].upsert_app(app(), NOW).await.expect("app");
    assert_eq!(
        stores[2].app("wxnodes").await.expect("app"),
        Some(std::sync::Arc::new(app()))
    );
    let first = stores[0]
        .issue_basic_token("wxnodes", "token-first".into(), 2000, NOW)
        .await
        .expect("token")
        .expect("within the quota");
    let seen = stores[1]
        .token("token-first")
        .await
        .expect("read")
        .expect("visible on node 2");
    assert_eq!(*seen, first);
    // Concurrent issues on every node: afterwards exactly one basic token is the latest,
    // and every other one is retired.
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let store = stores[i % 3].clone();
            tokio::spawn(async move {
                store
                    .issue_basic_token("wxnodes", format!("token-{i}"), 2000, NOW + 1000 + i as i64)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("issue").expect("within the quota");
    }
    let mut latest = 0;
    for i in 0..9 {
        let t = stores[0]
            .token(&format!("token-{i}"))
            .await
            .expect("read")
            .expect("token exists");
        assert_eq!(t.kind, TokenKind::Basic);
        if t.retired_at_ms.is_none() {
            latest += 1;
        }
    }
    assert_eq!(latest, 1, "one latest basic token, whatever node issued it");
    let old = stores[2].token("token-first").await.expect("read").expect("kept");
    assert!(old.retired_at_ms.is_some());
    // Stable tokens: every node answers the same current one.
    let a = stores[0]
        .stable_token("wxnodes", "stable-a".into(), false, 2000, NOW)
        .await
        .expect("stable")
        .expect("within the quota");
    let b = stores[1]
        .stable_token("wxnodes", "stable-b".into(), false, 2000, NOW + 5)
        .await
        .expect("stable")
        .expect("within the quota");
    assert_eq!(a.token, b.token);
}

async fn a_full_queue_answers_overloaded(serializable: bool) {
    let db = fresh_database(serializable).await;
    let store = open(&db, |c| {
        c.writers = 1;
        c.queue_depth = 1;
        c.max_batch = 1;
    })
    .await;
    store.execute(recharge("q", 10, "r")).await.expect("recharge");
    // Another session holds the account's row lock, so the writer waits on the first pay.
    let mut blocker = sql(&db).await;
    let tx = blocker.transaction().await.expect("begin");
    tx.query("SELECT cash FROM accounts WHERE openid = 'q' FOR UPDATE", &[])
        .await
        .expect("lock");
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.execute(pay("q", 1, "q1")).await })
    };
    // Wait until the writer is stuck on that lock (so the queue is empty again).
    let watcher = sql(&db).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second pay takes the one queue slot: polling its future once enqueues it.
    let mut second = Box::pin(store.execute(pay("q", 1, "q2")));
    assert!(tokio::time::timeout(Duration::ZERO, &mut second).await.is_err());
    let third = store.execute(pay("q", 1, "q3")).await;
    assert!(matches!(third, Err(StoreError::Overloaded)), "{third:?}");
    tx.rollback().await.expect("release the lock");
    assert!(matches!(first.await.expect("task"), Ok(Outcome::Paid { .. })));
    assert!(matches!(second.await, Ok(Outcome::Paid { .. })));
    assert_eq!(store.account(&key("q")).await.expect("account").balance(), 8);
}

/// Writes queued before shutdown are applied and answered; none after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_drains_queued_writes() {
    let db = fresh_database(false).await;
    let store = open(&db, |c| c.writers = 1).await;
    store.execute(recharge("s", 1000, "r")).await.expect("recharge");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.execute(pay("s", 1, &format!("s{i}"))).await })
        })
        .collect();
    tokio::task::yield_now().await;
    store.shutdown().await;
    let mut paid = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Outcome::Paid { .. }) => paid += 1,
            Err(StoreError::ShuttingDown) => {}
            other => panic!("{other:?}"),
        }
    }
    let after = open(&db, |_| {}).await;
    assert_eq!(after.account(&key("s")).await.expect("account").balance(), 1000 - paid);
    assert!(matches!(
        store.execute(pay("s", 1, "late")).await,
        Err(StoreError::ShuttingDown)
    ));
}

/// A node that cannot reach its database fails to open with a clear error, not a hang.
#[tokio::test]
async fn unreachable_database_fails_to_open() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = PgConfig::new(format!("postgres://nobody@127.0.0.1:{port}/none?connect_timeout=2"));
    config.writers = 1;
    let error = match PostgresStore::open(config).await {
        Ok(_) => panic!("opened a database that does not exist"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("cannot connect to PostgreSQL"), "{error}");
}

/// Installs a trigger on `journal` (test databases only) that raises `errcode` while `when`
/// holds; `n` is the number of journal inserts attempted so far, from a sequence (which
/// rollbacks do not undo).
async fn inject_journal_failure(client: &tokio_postgres::Client, when: &str, errcode: &str) {
    client
        .batch_execute(&format!(
            "CREATE SEQUENCE journal_attempts;
             CREATE FUNCTION inject_failure() RETURNS trigger AS $$
             DECLARE n BIGINT := nextval('journal_attempts');
             BEGIN
                 IF {when} THEN RAISE EXCEPTION 'injected failure' USING ERRCODE = '{errcode}'; END IF;
                 RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER inject_failure BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION inject_failure();"
        ))
        .await
        .expect("install the failure trigger");
}

async fn journal_attempts(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT last_value FROM journal_attempts", &[])
        .await
        .expect("sequence")
        .get(0)
}

/// Two serialization failures in a row, then success: the command is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialization_failures_are_retried() {
    let db = fresh_database(false).await;
    let store = open(&db, |_| {}).await;
    let client = sql(&db).await;
    inject_journal_failure(&client, "n <= 2", "40001").await;
    let outcome = store
        .execute(recharge("r", 50, "t1"))
        .await
        .expect("applied on the third run");
    assert!(matches!(outcome, Outcome::Purchased { balance: 50, .. }), "{outcome:?}");
    assert_eq!(journal_attempts(&client).await, 3);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM journal", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, 1);
    assert_eq!(store.account(&key("r")).await.expect("account").balance(), 50);
}

/// A conflict that never clears: the store gives up after `max_attempts` runs with a
/// backend error, and nothing of the command remains; once the conflict is gone, the
/// client's retry of the same bill_no applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_leave_nothing_behind() {
    let db = fresh_database(false).await;
    let store = open(&db, |c| {
        c.max_attempts = 4;
        c.retry_base = Duration::from_millis(1);
        c.retry_cap = Duration::from_millis(5);
    })
    .await;
    store.execute(recharge("g", 100, "t1")).await.expect("recharge");
    let client = sql(&db).await;
    inject_journal_failure(&client, "NEW.kind = 'pay'", "40P01").await;
    let started = std::time::Instant::now();
    let failed = store.execute(pay("g", 30, "stuck")).await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(journal_attempts(&client).await, 4, "exactly max_attempts runs");
    assert_eq!(store.account(&key("g")).await.expect("account").balance(), 100);
    assert_eq!(
        store
            .order(&OrderKey::currency(&key("g"), "stuck"))
            .await
            .expect("order"),
        None
    );
    client
        .batch_execute("DROP TRIGGER inject_failure ON journal")
        .await
        .expect("drop trigger");
    let retried = store.execute(pay("g", 30, "stuck")).await.expect("retry");
    assert!(matches!(retried, Outcome::Paid { balance: 70, .. }), "{retried:?}");
}

/// In a group commit, one command that fails on its own (not a conflict) fails alone: the
/// batch is re-applied one command at a time and the rest of it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_command_does_not_spoil_its_batch() {
    let db = fresh_database(false).await;
    let store = open(&db, |c| c.writers = 1).await;
    store.execute(recharge("x", 100, "tx")).await.expect("recharge");
    store.execute(recharge("y", 100, "ty")).await.expect("recharge");
    let client = sql(&db).await;
    inject_journal_failure(&client, "NEW.order_no = 'poison'", "P0001").await;

    // Hold x's row so the writer waits on x's pay; everything after it queues up and is
    // taken as one batch.
    let mut blocker = sql(&db).await;
    let tx = blocker.transaction().await.expect("begin");
    tx.query("SELECT cash FROM accounts WHERE openid = 'x' FOR UPDATE", &[])
        .await
        .expect("lock");
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move { store.execute(pay("x", 1, "x1")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bills = ["y1", "y2", "poison", "y3", "y4"];
    let queued: Vec<_> = bills
        .iter()
        .map(|bill| {
            let store = store.clone();
            let bill = bill.to_string();
            tokio::spawn(async move { (bill.clone(), store.execute(pay("y", 10, &bill)).await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.rollback().await.expect("release");
    assert!(matches!(blocked.await.expect("task"), Ok(Outcome::Paid { .. })));
    for task in queued {
        let (bill, result) = task.await.expect("task");
        if bill == "poison" {
            assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
        } else {
            assert!(matches!(result, Ok(Outcome::Paid { .. })), "{bill}: {result:?}");
        }
    }
    let y = store.account(&key("y")).await.expect("account");
    assert_eq!((y.balance(), y.cost_sum), (60, 40));
    assert_eq!(
        store
            .order(&OrderKey::currency(&key("y"), "poison"))
            .await
            .expect("order"),
        None
    );
}

/// `--durability relaxed`: the writers run with `synchronous_commit = off`; the ledger
/// behaves the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_durability_applies_commands() {
    let db = fresh_database(false).await;
    let store = open(&db, |c| c.durability = openmidas_store_postgres::Durability::Relaxed).await;
    store.execute(recharge("d", 10, "t")).await.expect("recharge");
    let outcome = store.execute(pay("d", 4, "b")).await.expect("pay");
    assert!(matches!(outcome, Outcome::Paid { balance: 6, .. }), "{outcome:?}");
    let again = store.execute(pay("d", 4, "b")).await.expect("repeat");
    assert!(matches!(
        again,
        Outcome::Refused(Refusal::Repeated {
            original: Some(Original::Paid { balance: 6, .. })
        })
    ));
}

/// The database drops every connection (a failover, a restart, an administrator): the
/// writers and the pool reconnect, and requests go on without an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_by_the_server_are_replaced() {
    let db = fresh_database(false).await;
    let store = open(&db, |_| {}).await;
    store.upsert_app(app(), NOW).await.expect("app");
    for openid in ["k1", "k2", "k3", "k4"] {
        store
            .execute(recharge(openid, 10, &format!("t-{openid}")))
            .await
            .expect("recharge");
        store.account(&key(openid)).await.expect("read");
    }
    let client = sql(&db).await;
    let killed: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) k",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 2, "terminated {killed} connections");
    for openid in ["k1", "k2", "k3", "k4"] {
        let outcome = store
            .execute(pay(openid, 3, &format!("after-{openid}")))
            .await
            .expect("pay after the drop");
        assert!(matches!(outcome, Outcome::Paid { balance: 7, .. }), "{outcome:?}");
        assert_eq!(store.account(&key(openid)).await.expect("read").balance(), 7);
    }
    assert!(store.app("wxnodes").await.expect("read").is_some());
    store
        .issue_basic_token("wxnodes", "after-drop".into(), 2000, NOW)
        .await
        .expect("token after the drop")
        .expect("within the quota");
}

/// A database migrated by a newer build is refused, not written to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let db = fresh_database(false).await;
    drop(open(&db, |_| {}).await);
    let client = sql(&db).await;
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (9999, '9999_future', 0)",
            &[],
        )
        .await
        .expect("insert a future version");
    let error = match PostgresStore::open(PgConfig::new(&db.url)).await {
        Ok(_) => panic!("opened a database with a newer schema"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("newer than this build knows"), "{error}");
}

fn present(openid: &str, amount: i64, bill: &str) -> Command {
    Command::present(key(openid), bill, amount, NOW)
}

fn cancel(openid: &str, bill: &str) -> Command {
    let op = Op::CancelPay {
        pay_number: bill.into(),
        window_ms: 48 * 3_600_000,
    };
    Command::new(key(openid), NOW + 1000, op)
}

/// Waits until `n` sessions of the test database wait on a lock.
async fn wait_for_lock_waiters(client: &tokio_postgres::Client, n: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no session waited on a lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Pending<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Outcome, StoreError>> + Send + 'a>>;

/// Runs `commands` on a one-writer store as ONE group commit: the writer is first held on a
/// row lock (a pay on `"hold"`), the commands are queued behind it (polling a future once
/// enqueues it), then the lock is released and the writer takes them all as its next batch.
/// `after_release` runs while the batch is under way. Returns their outcomes, in order.
async fn one_batch<'a, F, Fut>(
    db: &TestDatabase,
    store: &'a PostgresStore,
    commands: Vec<Command>,
    after_release: F,
) -> Vec<Result<Outcome, StoreError>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut blocker = sql(db).await;
    let tx = blocker.transaction().await.expect("begin");
    tx.query("SELECT cash FROM accounts WHERE openid = 'hold' FOR UPDATE", &[])
        .await
        .expect("lock");
    let mut held: Pending<'a> = Box::pin(store.execute(pay("hold", 1, &format!("hold-{}", rand_suffix()))));
    assert!(tokio::time::timeout(Duration::ZERO, &mut held).await.is_err());
    let watcher = sql(db).await;
    wait_for_lock_waiters(&watcher, 1).await;
    let mut queued: Vec<Pending<'a>> = commands
        .into_iter()
        .map(|c| Box::pin(store.execute(c)) as Pending<'a>)
        .collect();
    for future in &mut queued {
        assert!(tokio::time::timeout(Duration::ZERO, future).await.is_err());
    }
    tx.rollback().await.expect("release");
    after_release().await;
    assert!(matches!(held.await, Ok(Outcome::Paid { .. })));
    let mut results = Vec::new();
    for future in queued {
        results.push(future.await);
    }
    results
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// How many transactions wrote the orders with these numbers (PostgreSQL's `xmin`).
async fn writing_transactions(client: &tokio_postgres::Client, order_nos: &[&str]) -> i64 {
    let nos: Vec<String> = order_nos.iter().map(|s| s.to_string()).collect();
    client
        .query_one(
            "SELECT count(DISTINCT xmin::text) FROM orders WHERE order_no = ANY($1)",
            &[&nos],
        )
        .await
        .expect("xmin")
        .get(0)
}

both_isolations!(
    a_batch_answers_as_if_its_commands_ran_one_by_one,
    a_batch_racing_another_node_on_a_new_account_and_a_bill_no,
);

/// Inside one group commit: two commands on one account see each other; a bill_no repeated
/// in the batch is a duplicate (with the original result only for the same request); a pay
/// made earlier in the batch can be cancelled, once; a cancel's refund is spendable by the
/// next pay; an account created in the batch carries its state; an order stored before the
/// batch is cancelled; a bill_no equal to an out_trade_no of the batch is another order.
async fn a_batch_answers_as_if_its_commands_ran_one_by_one(serializable: bool) {
    let db = fresh_database(serializable).await;
    let store = open(&db, |c| c.writers = 1).await;
    store.execute(recharge("hold", 10, "t-hold")).await.expect("recharge");
    store.execute(recharge("y", 100, "t-y")).await.expect("recharge");
    store.execute(recharge("z", 50, "t-z")).await.expect("recharge");
    let paid = store.execute(pay("z", 20, "old")).await.expect("pay");
    assert!(matches!(paid, Outcome::Paid { balance: 30, .. }), "{paid:?}");

    let commands = vec![
        pay("y", 60, "b1"),
        pay("y", 60, "b2"),
        pay("y", 60, "b1"),
        pay("z", 10, "b1"),
        cancel("y", "b1"),
        cancel("y", "b1"),
        pay("y", 100, "b4"),
        recharge("n", 30, "t-n"),
        pay("n", 20, "b-n"),
        recharge("n", 5, "t-n"),
        present("n", 4, "p-n"),
        cancel("z", "old"),
        cancel("z", "b2"),
        // The same number as the recharge above, but a bill_no: another namespace.
        present("z", 3, "t-n"),
    ];
    let results = one_batch(&db, &store, commands, || async {}).await;
    let outcomes: Vec<Outcome> = results.into_iter().map(|r| r.expect("execute")).collect();
    let expected = vec![
        Outcome::Paid {
            number: "b1".into(),
            balance: 40,
            gift: 0,
        },
        Outcome::Refused(Refusal::InsufficientBalance),
        Outcome::Refused(Refusal::Repeated {
            original: Some(Original::Paid {
                number: "b1".into(),
                balance: 40,
                gift: 0,
            }),
        }),
        Outcome::Refused(Refusal::Repeated { original: None }),
        Outcome::Cancelled {
            pay_number: "b1".into(),
            balance: 100,
        },
        Outcome::Refused(Refusal::NothingLeft),
        Outcome::Paid {
            number: "b4".into(),
            balance: 0,
            gift: 0,
        },
        Outcome::Purchased {
            number: "t-n".into(),
            balance: 30,
            status: OrderStatus::Delivered,
        },
        Outcome::Paid {
            number: "b-n".into(),
            balance: 10,
            gift: 0,
        },
        Outcome::Refused(Refusal::RepeatedPurchase),
        Outcome::Presented {
            number: "p-n".into(),
            balance: 14,
            gift: 4,
        },
        Outcome::Cancelled {
            pay_number: "old".into(),
            balance: 50,
        },
        Outcome::Refused(Refusal::PayNotFound),
        Outcome::Presented {
            number: "t-n".into(),
            balance: 53,
            gift: 3,
        },
    ];
    assert_eq!(outcomes, expected);

    let client = sql(&db).await;
    assert_eq!(
        writing_transactions(&client, &["b1", "b4", "t-n", "b-n", "p-n", "old"]).await,
        1,
        "the commands ran as one group commit"
    );
    let y = store.account(&key("y")).await.expect("account");
    assert_eq!((y.balance(), y.cost_sum, y.save_sum), (0, 100, 100));
    let z = store.account(&key("z")).await.expect("account");
    assert_eq!((z.balance(), z.cost_sum, z.gift), (53, 0, 3));
    let n = store.account(&key("n")).await.expect("account");
    assert_eq!((n.cash, n.gift, n.cost_sum, n.save_amt), (10, 4, 20, 30));
    for account in [y, z, n] {
        account.check_invariants().expect("invariants");
    }
    let b1 = store
        .order(&OrderKey::currency(&key("y"), "b1"))
        .await
        .expect("order")
        .expect("b1 stored");
    assert_eq!(
        (b1.amount, b1.balance_after, b1.status, b1.updated_at_ms),
        (60, 40, OrderStatus::Refunded, NOW + 1000)
    );
    assert_eq!(
        store.order(&OrderKey::currency(&key("y"), "b2")).await.expect("order"),
        None
    );
    let old = store
        .order(&OrderKey::currency(&key("z"), "old"))
        .await
        .expect("order")
        .expect("old stored");
    assert_eq!((old.status, old.updated_at_ms), (OrderStatus::Refunded, NOW + 1000));
    // The journal keeps command order, per account and across accounts.
    let rows = client
        .query(
            "SELECT openid, kind, order_no, cash_delta + gift_delta FROM journal
             WHERE openid IN ('y', 'z', 'n') AND order_no NOT IN ('t-y', 't-z', 'old') OR kind = 'cancelpay'
             ORDER BY id",
            &[],
        )
        .await
        .expect("journal");
    let journal: Vec<(String, String, String, i64)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    let expected_journal: Vec<(String, String, String, i64)> = [
        ("y", "pay", "b1", -60),
        ("y", "cancelpay", "b1", 60),
        ("y", "pay", "b4", -100),
        ("n", "recharge", "t-n", 30),
        ("n", "pay", "b-n", -20),
        ("n", "present", "p-n", 4),
        ("z", "cancelpay", "old", 20),
        ("z", "present", "t-n", 3),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), *d))
    .collect();
    assert_eq!(journal, expected_journal);
}

/// Another node commits, while a batch waits, a new account and an order the batch also
/// creates: the batch's plain INSERTs fail (23505) and the whole batch is re-run, which
/// sees the other node's rows: the repeated bill_no answers the duplicate and the rest
/// applies on top of what the other node wrote. Nothing is applied twice.
async fn a_batch_racing_another_node_on_a_new_account_and_a_bill_no(serializable: bool) {
    let db = fresh_database(serializable).await;
    let store = open(&db, |c| c.writers = 1).await;
    store.execute(recharge("hold", 10, "t-hold")).await.expect("recharge");
    store.execute(recharge("w", 100, "t-w")).await.expect("recharge");

    // The "other node": a transaction that presents 50 to the new account "fresh" (bill
    // "race") and pays 5 from "w" (bill "race-w"), not yet committed.
    let mut other = sql(&db).await;
    // READ COMMITTED even on a SERIALIZABLE database: this stand-in for a node does not
    // retry, so it must not be the one that gives way.
    let other_tx = other
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await
        .expect("begin");
    other_tx
        .batch_execute(&format!(
            "INSERT INTO accounts (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum,
                                   cost_sum, present_sum, recharged, updated_at_ms)
             VALUES ('official', 'wxnodes', '1450000001', '1', 'fresh', 0, 50, 0, 50, 0, 50, FALSE, {NOW});
             INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, zone_id, openid, amount,
                                 used_gift, balance_after, created_at_ms, updated_at_ms)
             VALUES ('official', 'wxnodes', '1450000001', 'bill', 'race', 'present', '1', 'fresh', 50, 0, 50, {NOW}, {NOW});
             INSERT INTO journal (env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta,
                                  gift_delta, balance_after, at_ms)
             VALUES ('official', 'wxnodes', '1450000001', '1', 'fresh', 'present', 'race', 50, 0, 50, 50, {NOW});
             UPDATE accounts SET cash = cash - 5, cost_sum = cost_sum + 5 WHERE openid = 'w';
             INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, zone_id, openid, amount,
                                 used_gift, balance_after, created_at_ms, updated_at_ms)
             VALUES ('official', 'wxnodes', '1450000001', 'bill', 'race-w', 'pay', '1', 'w', 5, 0, 95, {NOW}, {NOW});
             INSERT INTO journal (env, appid, offer_id, zone_id, openid, kind, order_no, amount, cash_delta,
                                  gift_delta, balance_after, at_ms)
             VALUES ('official', 'wxnodes', '1450000001', '1', 'w', 'pay', 'race-w', 5, -5, 0, 95, {NOW});"
        ))
        .await
        .expect("the other node's writes");

    let commands = vec![
        present("fresh", 50, "race"),
        present("fresh", 7, "mine"),
        pay("w", 5, "race-w"),
        pay("w", 10, "mine-w"),
    ];
    let other_pid: i32 = other_tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let watcher = sql(&db).await;
    let results = one_batch(&db, &store, commands, || async {
        // The batch waits on the other node's uncommitted rows; then the other node commits.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let blocked: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                    &[&other_pid],
                )
                .await
                .expect("pg_blocking_pids")
                .get(0);
            if blocked > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the batch never waited on the other node"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        other_tx.commit().await.expect("the other node commits");
    })
    .await;
    let outcomes: Vec<Outcome> = results.into_iter().map(|r| r.expect("execute")).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Refused(Refusal::Repeated {
                original: Some(Original::Presented {
                    number: "race".into(),
                    balance: 50,
                }),
            }),
            Outcome::Presented {
                number: "mine".into(),
                balance: 57,
                gift: 57,
            },
            Outcome::Refused(Refusal::Repeated {
                original: Some(Original::Paid {
                    number: "race-w".into(),
                    balance: 95,
                    gift: 0,
                }),
            }),
            Outcome::Paid {
                number: "mine-w".into(),
                balance: 85,
                gift: 0,
            },
        ]
    );
    let fresh = store.account(&key("fresh")).await.expect("account");
    assert_eq!((fresh.gift, fresh.present_sum, fresh.save_sum), (57, 57, 57));
    let w = store.account(&key("w")).await.expect("account");
    assert_eq!((w.balance(), w.cost_sum), (85, 15));
    let client = sql(&db).await;
    for (openid, balance) in [("fresh", 57i64), ("w", 85)] {
        let sum: i64 = client
            .query_one(
                "SELECT COALESCE(SUM(cash_delta + gift_delta), 0)::BIGINT FROM journal WHERE openid = $1",
                &[&openid],
            )
            .await
            .expect("sum")
            .get(0);
        assert_eq!(sum, balance, "{openid}: the journal adds up to the balance");
    }
    let race_rows: i64 = client
        .query_one("SELECT count(*) FROM journal WHERE order_no IN ('race', 'race-w')", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(race_rows, 2, "the other node's orders were applied once");
}
