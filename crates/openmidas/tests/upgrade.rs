//! A database made by the previous release (schema version 1, v1 only) opens with this one,
//! is migrated in place, and keeps every balance, order and journal line: its pays can be
//! refunded by 2.0, cancelled by v1, repeated; its cancelled pay stays cancelled; its
//! recharges are coin purchases that 2.0's queryorderinfo finds.
//!
//! The fixtures in `tests/fixtures/` were made by release 0.1 (commit 02395c6) with
//! `make-release-0.1-fixtures.sh`: an SQLite file as that release left it, and the data of
//! a PostgreSQL database it wrote (`pg_dump --data-only --inserts`), loaded here on top of
//! that release's schema (`migrations/postgres/0001_init.sql`).

use std::sync::Arc;

use openmidas_ledger::{AccountKey, Env, Store};
use openmidas_protocol::v2::Op;
use openmidas_store_sqlite::{SqliteConfig, SqliteStore};
use openmidas_testkit::postgres::fresh_database;
use openmidas_testkit::{with, StatusCode, TestApp, TestServer, CANCELPAY, GETBALANCE, PAY, START_MS};
use serde_json::{json, Value};

/// The fixture's app, as its configuration created it.
fn fixture_app() -> TestApp {
    TestApp {
        appid: "wxupgradefixture".into(),
        secret: "fixture-secret".into(),
        offer_id: "1450000099".into(),
        app_key: "fixtureAppKeyOfficial000000000000".into(),
        sandbox_app_key: "fixtureAppKeySandbox000000000000".into(),
    }
}

/// When the fixture was made (its last journal line), on the clock of its rows.
const FIXTURE_MS: i64 = 1_796_168_908_189;

fn key(env: Env, zone_id: &str, openid: &str) -> AccountKey {
    AccountKey {
        env,
        appid: "wxupgradefixture".into(),
        offer_id: "1450000099".into(),
        zone_id: zone_id.into(),
        openid: openid.into(),
    }
}

/// What the previous release left: every balance as it answered it then. Answers when the
/// recharge `t-1` was made.
async fn balances_are_kept(store: &dyn Store) -> i64 {
    let p1 = store.account(&key(Env::Official, "1", "p1")).await.expect("p1");
    assert_eq!(
        (
            p1.balance(),
            p1.gift,
            p1.save_amt,
            p1.save_sum,
            p1.cost_sum,
            p1.present_sum,
            p1.recharged
        ),
        (70, 0, 100, 120, 50, 20, true)
    );
    let p2 = store.account(&key(Env::Sandbox, "1", "p2")).await.expect("p2");
    assert_eq!((p2.balance(), p2.cost_sum, p2.save_amt), (25, 15, 40));
    let p3 = store.account(&key(Env::Official, "2", "p3")).await.expect("p3");
    assert_eq!((p3.balance(), p3.gift, p3.recharged), (7, 7, false));
    for account in [p1, p2, p3] {
        account.check_invariants().expect("invariants");
    }
    let journal = store
        .journal(&key(Env::Official, "1", "p1"), 0, 100)
        .await
        .expect("journal");
    let lines: Vec<(&str, &str, i64)> = journal
        .iter()
        .map(|(_, e)| (e.kind.as_str(), e.order_no.as_str(), e.balance_after))
        .collect();
    assert_eq!(
        lines,
        [
            ("recharge", "t-1", 100),
            ("present", "p-1", 120),
            ("pay", "b-1", 70),
            ("pay", "b-2", 60),
            ("cancelpay", "b-2", 70)
        ]
    );
    journal[0].1.at_ms
}

/// The migrated orders behave as orders of this release, through every dialect.
async fn orders_work_in_every_dialect(server: TestServer, recharged_at_ms: i64) {
    server.clock.set_ms(FIXTURE_MS + 3_600_000);
    let app = fixture_app();
    let token = server.token(&app).await;
    let session = server.login(&app, "p1").await;
    let v1 = |endpoint, extra: Value| {
        let body = app.signed(endpoint, &token, with(app.fields("p1"), extra), None);
        let server = &server;
        let token = &token;
        async move { server.midas(endpoint, token, &body).await.1 }
    };
    let v2 = |op: Op, extra: Value| {
        let body = Value::Object(with(app.v2_fields("p1"), extra)).to_string();
        let (server, app, token, session) = (&server, &app, &token, &session);
        async move { server.v2(app, op, token, &body, session).await }
    };

    // b-2 was cancelled by the previous release: still cancelled.
    let answer = v1(CANCELPAY, json!({"bill_no": "b-2"})).await;
    assert_eq!(answer["errcode"], 90015, "{answer}");
    // b-1 (50: 20 gift, 30 cash) is repeated with its original result.
    let answer = v1(PAY, json!({"bill_no": "b-1", "amt": 50})).await;
    assert_eq!(
        openmidas_testkit::strip_rid(&answer),
        json!({"errcode": 90012, "errmsg": "bill_no repeated", "bill_no": "b-1", "balance": 70, "used_gen_amt": 20})
    );
    // A 2.0 refund of 20 gives back cash first; a v1 cancelpay the rest (10 cash, 20 gift).
    let (status, refund) = v2(
        Op::CancelPay,
        json!({"bill_no": "r-1", "pay_bill_no": "b-1", "amount": 20}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            refund["errcode"].clone(),
            refund["balance"].clone(),
            refund["used_present_amount"].clone()
        ),
        (json!(0), json!(90), json!(0)),
        "{refund}"
    );
    let answer = v1(CANCELPAY, json!({"bill_no": "b-1"})).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    let (_, balance) = v2(Op::GetBalance, json!({})).await;
    assert_eq!(
        (
            balance["balance"].clone(),
            balance["present_balance"].clone(),
            balance["sum_cost"].clone()
        ),
        (json!(120), json!(20), json!(0))
    );
    // The recharge is a coin purchase, paid and delivered; its number is still taken.
    let (_, info) = v2(Op::QueryOrderInfo, json!({"out_trade_no": "t-1", "biz_id": 1})).await;
    assert_eq!(
        (
            info["errcode"].clone(),
            info["pay_state"].clone(),
            info["deliver_state"].clone()
        ),
        (json!(0), json!(2), json!(2)),
        "{info}"
    );
    assert_eq!(info["pay_finish_time"], recharged_at_ms / 1000);
    // xpay sees the same account.
    let xpay = |op: openmidas_protocol::xpay::Op, extra: Value| {
        let mut fields = serde_json::Map::new();
        fields.insert("openid".into(), json!("p1"));
        fields.insert("env".into(), json!(0));
        let body = Value::Object(with(fields, extra)).to_string();
        let (server, app, token, session) = (&server, &app, &token, &session);
        async move { server.xpay(app, op, token, &body, session).await.1 }
    };
    let xpay_balance = xpay(openmidas_protocol::xpay::Op::QueryUserBalance, json!({})).await;
    assert_eq!(
        (&xpay_balance["balance"], &xpay_balance["present_balance"]),
        (&json!(120), &json!(20)),
        "{xpay_balance}"
    );
    // Its number (t-1) is shorter than xpay's order_id rule allows: xpay refuses to look it
    // up by number, as WeChat would.
    let order = xpay(openmidas_protocol::xpay::Op::QueryOrder, json!({"order_id": "t-1"})).await;
    assert_eq!(order["errcode"], 268490002, "{order}");
    let (_, repeated) = server
        .admin(
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p1", "env": "official", "buy_quantity": 1, "out_trade_no": "t-1"}),
        )
        .await;
    assert_eq!(repeated["errcode"], -15003);
    // The sandbox pay b-1 is its own order, untouched.
    let sandbox = server.store.account(&key(Env::Sandbox, "1", "p2")).await.expect("p2");
    assert_eq!(sandbox.balance(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_sqlite_database_upgrades_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openmidas.db");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-0.1-sqlite.db");
    std::fs::copy(&fixture, &path).expect("copy the fixture");
    let store = SqliteStore::open(SqliteConfig::new(&path)).expect("open and migrate");
    let recharged_at_ms = balances_are_kept(&store).await;
    let server = TestServer::start_on(Arc::new(store)).await;
    orders_work_in_every_dialect(server, recharged_at_ms).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_postgres_database_upgrades_in_place() {
    let database = fresh_database(false).await;
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = std::fs::read_to_string(root.join("migrations/postgres/0001_init.sql")).expect("0001");
    client
        .batch_execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)")
        .await
        .expect("version table");
    for statement in openmidas_store_postgres::migrations::statements(&schema) {
        client.batch_execute(&statement).await.expect("schema of release 0.1");
    }
    let data = std::fs::read_to_string(root.join("crates/openmidas/tests/fixtures/release-0.1-postgres-data.sql"))
        .expect("fixture data");
    client.batch_execute(&data).await.expect("the data release 0.1 wrote");

    let config = openmidas_store_postgres::PgConfig::new(&database.url);
    let store = openmidas_store_postgres::PostgresStore::open(config)
        .await
        .expect("open and migrate");
    let recharged_at_ms = balances_are_kept(&store).await;
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);
    let server = TestServer::start_on(Arc::new(store)).await;
    orders_work_in_every_dialect(server, recharged_at_ms).await;
}

/// A rolling upgrade: release 0.1 nodes may still serve for a while beside migrated ones.
/// A 0.1 node decides a cancel from `cancelled_at_ms` alone; this release sets it on every
/// pay that gave anything back (so the 0.1 node refuses to give it back again), and reads a
/// pay that a 0.1 node cancelled after the migration as refunded in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_0_1_nodes_beside_migrated_ones_never_refund_twice() {
    let database = fresh_database(false).await;
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let store = openmidas_store_postgres::PostgresStore::open(openmidas_store_postgres::PgConfig::new(&database.url))
        .await
        .expect("open");
    let server = TestServer::start_on(Arc::new(store)).await;
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let session = server.login(&app, "p").await;
    server.recharge(&app, "p", "official", 100).await;
    let v1 = |endpoint, extra: Value| {
        let body = app.signed(endpoint, &token, with(app.fields("p"), extra), None);
        let (server, token) = (&server, &token);
        async move { server.midas(endpoint, token, &body).await.1 }
    };
    let cancelled_at = |number: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("SELECT cancelled_at_ms FROM orders WHERE order_no = $1", &[&number])
                .await
                .expect("order")
                .get::<_, Option<i64>>(0)
        }
    };

    // A pay partly refunded here carries the time a 0.1 node reads as "cancelled".
    assert_eq!(v1(PAY, json!({"bill_no": "p-1", "amt": 30})).await["errcode"], 0);
    assert_eq!(cancelled_at("p-1").await, None);
    let body = Value::Object(with(
        app.v2_fields("p"),
        json!({"bill_no": "r-1", "pay_bill_no": "p-1", "amount": 10}),
    ))
    .to_string();
    let (_, refund) = server.v2(&app, Op::CancelPay, &token, &body, &session).await;
    assert_eq!(refund["errcode"], 0, "{refund}");
    assert!(cancelled_at("p-1").await.is_some(), "a 0.1 node would cancel it again");

    // A 0.1 node cancels a pay after the migration: it gives the coins back and sets only
    // cancelled_at_ms (its statements, verbatim).
    assert_eq!(v1(PAY, json!({"bill_no": "p-2", "amt": 20})).await["errcode"], 0);
    client
        .batch_execute(&format!(
            "UPDATE accounts SET cash = cash + 20, cost_sum = cost_sum - 20 WHERE openid = 'p';
             UPDATE orders SET cancelled_at_ms = {} WHERE order_no = 'p-2' AND cancelled_at_ms IS NULL",
            START_MS + 1000
        ))
        .await
        .expect("a 0.1 node's cancel");
    assert_eq!(v1(CANCELPAY, json!({"bill_no": "p-2"})).await["errcode"], 90015);
    let body = Value::Object(with(
        app.v2_fields("p"),
        json!({"bill_no": "r-2", "pay_bill_no": "p-2", "amount": 1}),
    ))
    .to_string();
    let (_, refund) = server.v2(&app, Op::CancelPay, &token, &body, &session).await;
    assert_eq!(refund["errcode"], 90018, "nothing left of p-2: {refund}");
    let balance = v1(GETBALANCE, json!({})).await;
    assert_eq!(
        (balance["balance"].clone(), balance["cost_sum"].clone()),
        (json!(80), json!(20))
    );
}
