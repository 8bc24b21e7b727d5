//! Pushes on PostgreSQL (behaviour.md section 12): the outbox written in the transaction of
//! the change that causes an event, claims by several nodes at once (each event leased by
//! one), the retry schedule, app push settings, and purchases written before version 5.

use std::collections::HashMap;
use std::sync::Arc;

use openmidas_ledger::auth::App;
use openmidas_ledger::command::{PurchaseOrder, PurchaseRefund};
use openmidas_ledger::push::{
    PushAck, PushAttempt, PushFilter, PushFormat, PushKind, PushMode, PushSettings, PushStatus, PUSH_LEASE_MS,
};
use openmidas_ledger::state::ResetScope;
use openmidas_ledger::{
    AccountKey, Command, Env, Goods, Op, OrderKey, OrderStatus, Outcome, PurchaseChannel, Refusal, Store, StoreError,
    StoreExt,
};
use openmidas_store_postgres::migrations::{statements, MIGRATIONS};
use openmidas_store_postgres::{PgConfig, PostgresStore};
use openmidas_testkit::postgres::{fresh_database, TestDatabase};

const NOW: i64 = 1_767_225_600_000;
const APPID: &str = "wxpushes";

fn key(appid: &str, openid: &str) -> AccountKey {
    AccountKey {
        env: Env::Sandbox,
        appid: appid.into(),
        offer_id: "1450000001".into(),
        zone_id: "1".into(),
        openid: openid.into(),
    }
}

fn settings() -> PushSettings {
    PushSettings {
        url: "https://game.example/notify".into(),
        token: "pushToken123".into(),
        encoding_aes_key: Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into()),
        mode: PushMode::Safe,
        format: PushFormat::Xml,
        ack: PushAck::Lenient,
    }
}

async fn open(db: &TestDatabase) -> Arc<PostgresStore> {
    let mut config = PgConfig::new(&db.url);
    config.writers = 2;
    config.pool_size = 4;
    Arc::new(PostgresStore::open(config).await.expect("open store"))
}

async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

async fn count(client: &tokio_postgres::Client, query: &str) -> i64 {
    client.query_one(query, &[]).await.expect(query).get(0)
}

/// A purchase of `appid`'s player `openid`, paid at once or not.
fn purchase(appid: &str, openid: &str, number: &str, item: bool, paid: bool, push: bool, at_ms: i64) -> Command {
    let goods = if item {
        Goods::Item {
            product_id: "sword".into(),
            quantity: 1,
        }
    } else {
        Goods::Coins { quantity: 10 }
    };
    Command::new(
        key(appid, openid),
        at_ms,
        Op::Purchase(PurchaseOrder {
            number: number.into(),
            goods,
            fee_fen: 80,
            orig_fee_fen: 100,
            channel: PurchaseChannel::Xpay,
            wx_order_id: format!("wx-{number}"),
            attach: "attach".into(),
            paid,
            push,
        }),
    )
}

fn all(appid: Option<&str>, status: Option<PushStatus>) -> PushFilter {
    PushFilter {
        appid: appid.map(str::to_string),
        status,
        after_id: 0,
        limit: 1000,
    }
}

fn attempt(id: i64, at_ms: i64, acked: bool, scheduled: bool) -> PushAttempt {
    PushAttempt {
        id,
        at_ms,
        acked,
        reply: if acked { "success".into() } else { "HTTP 500".into() },
        scheduled,
        lease_until_ms: 0,
    }
}

/// A scheduled attempt carries the lease its claim took: the event's current one.
async fn leased(store: &PostgresStore, attempt: PushAttempt) -> PushAttempt {
    let lease_until_ms = store
        .push(attempt.id)
        .await
        .expect("push")
        .map_or(0, |p| p.lease_until_ms);
    PushAttempt {
        lease_until_ms,
        ..attempt
    }
}

/// A paid purchase that asks for pushes writes one event, in its own transaction; its
/// repeat writes none; a purchase paid later writes its event when paid; an xpay refund's
/// event is due when the refund completes. Should the event's insert fail, nothing of the
/// command stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_written_with_the_change_that_causes_them() {
    let db = fresh_database(false).await;
    let store = open(&db).await;
    let client = sql(&db).await;

    let outcome = store
        .execute(purchase(APPID, "u", "t1", false, true, true, NOW))
        .await
        .expect("purchase");
    assert!(matches!(outcome, Outcome::Purchased { .. }), "{outcome:?}");
    assert_eq!(count(&client, "SELECT count(*) FROM pushes").await, 1);
    let same_transaction: bool = client
        .query_one(
            "SELECT (SELECT xmin::text FROM orders WHERE order_no = 't1')
                  = (SELECT xmin::text FROM pushes WHERE order_no = 't1')",
            &[],
        )
        .await
        .expect("xmin")
        .get(0);
    assert!(
        same_transaction,
        "the event and its order were written by one transaction"
    );

    let pushes = store.pushes(&all(Some(APPID), None)).await.expect("pushes");
    assert_eq!(pushes.len(), 1);
    let event = &pushes[0];
    assert_eq!(
        (
            event.appid.as_str(),
            event.env,
            event.number.as_str(),
            event.kind,
            event.channel,
            event.created_ms
        ),
        (
            APPID,
            Env::Sandbox,
            "t1",
            PushKind::CoinsDelivered,
            PurchaseChannel::Xpay,
            NOW
        )
    );
    assert_eq!(
        (
            event.status,
            event.attempts,
            event.scheduled_attempts,
            event.next_attempt_ms,
            event.lease_until_ms,
            event.last_reply.as_str()
        ),
        (PushStatus::Pending, 0, 0, NOW, 0, "")
    );
    assert_eq!(store.push(event.id).await.expect("push").as_ref(), Some(event));
    assert_eq!(store.push(event.id + 1000).await.expect("push"), None);

    // The purchase keeps its price before discount and its channel.
    let order = store
        .order(&OrderKey::purchase(&key(APPID, "u"), "t1"))
        .await
        .expect("order")
        .expect("stored");
    let details = order.purchase.expect("a purchase");
    assert_eq!((details.fee_fen, details.orig_fee_fen), (80, 100));
    assert_eq!(details.channel, PurchaseChannel::Xpay);

    // The repeat is refused and writes nothing.
    let again = store
        .execute(purchase(APPID, "u", "t1", false, true, true, NOW + 1))
        .await
        .expect("repeat");
    assert_eq!(again, Outcome::Refused(Refusal::RepeatedPurchase));
    assert_eq!(count(&client, "SELECT count(*) FROM pushes").await, 1);

    // No push URL, no event; an unpaid purchase has none until it is paid.
    store
        .execute(purchase(APPID, "u", "t2", false, true, false, NOW))
        .await
        .expect("purchase without pushes");
    store
        .execute(purchase(APPID, "u", "t3", true, false, true, NOW))
        .await
        .expect("unpaid purchase");
    assert_eq!(count(&client, "SELECT count(*) FROM pushes").await, 1);
    let pay = Command::new(
        key(APPID, "u"),
        NOW + 5_000,
        Op::PayPurchase {
            number: "t3".into(),
            push: true,
        },
    );
    let paid = store.execute(pay.clone()).await.expect("pay");
    assert!(matches!(paid, Outcome::PurchasePaid { .. }), "{paid:?}");
    let paid_again = store.execute(pay).await.expect("pay again");
    assert!(matches!(paid_again, Outcome::Refused(_)), "{paid_again:?}");
    let t3: Vec<_> = store
        .pushes(&all(None, Some(PushStatus::Pending)))
        .await
        .expect("pushes")
        .into_iter()
        .filter(|p| p.number == "t3")
        .collect();
    assert_eq!(t3.len(), 1);
    assert_eq!((t3[0].kind, t3[0].next_attempt_ms), (PushKind::GoodsPaid, NOW + 5_000));

    // An xpay refund: its event goes out when the refund completes.
    let refund = Command::new(
        key(APPID, "u"),
        NOW + 10_000,
        Op::RefundPurchase(PurchaseRefund {
            number: "r1".into(),
            purchase_number: "t3".into(),
            left_fee: 80,
            refund_fee: 30,
            wx_order_id: "wx-r1".into(),
            biz_meta: String::new(),
            delay_ms: 60_000,
            push: true,
        }),
    );
    let started = store.execute(refund).await.expect("refund");
    assert!(matches!(started, Outcome::PurchaseRefundStarted { .. }), "{started:?}");
    let r1 = store
        .pushes(&all(Some(APPID), None))
        .await
        .expect("pushes")
        .into_iter()
        .find(|p| p.number == "r1")
        .expect("the refund's event");
    assert_eq!(
        (r1.kind, r1.channel, r1.created_ms, r1.next_attempt_ms),
        (PushKind::RefundDone, PurchaseChannel::Xpay, NOW + 10_000, NOW + 70_000)
    );
    let refund_order = store
        .order(&OrderKey::purchase(&key(APPID, "u"), "r1"))
        .await
        .expect("order")
        .expect("stored");
    assert_eq!(
        refund_order.purchase.expect("a purchase refund").channel,
        PurchaseChannel::Xpay
    );

    // The event's insert fails: the purchase, its coins and its journal line are gone too.
    client
        .batch_execute(
            "CREATE FUNCTION refuse_push() RETURNS trigger AS $$
             BEGIN
                 IF NEW.order_no = 'poison' THEN RAISE EXCEPTION 'injected failure' USING ERRCODE = 'P0001'; END IF;
                 RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_push BEFORE INSERT ON pushes FOR EACH ROW EXECUTE FUNCTION refuse_push();",
        )
        .await
        .expect("install the failure trigger");
    let before = store.account(&key(APPID, "p")).await.expect("account");
    let failed = store
        .execute(purchase(APPID, "p", "poison", false, true, true, NOW))
        .await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    assert_eq!(store.account(&key(APPID, "p")).await.expect("account"), before);
    assert_eq!(
        store
            .order(&OrderKey::purchase(&key(APPID, "p"), "poison"))
            .await
            .expect("order"),
        None
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM journal WHERE order_no = 'poison'").await,
        0
    );
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

both_isolations!(concurrent_claims_lease_each_event_to_one_node);

/// Two nodes, four claimers, fifty due events: every event is claimed exactly once while
/// its lease lasts; once the leases expire, every event can be claimed again, once.
async fn concurrent_claims_lease_each_event_to_one_node(serializable: bool) {
    const EVENTS: usize = 50;
    let db = fresh_database(serializable).await;
    let nodes = [open(&db).await, open(&db).await];
    for i in 0..EVENTS {
        let outcome = nodes[i % 2]
            .execute(purchase(
                APPID,
                &format!("c{}", i % 5),
                &format!("n{i}"),
                i % 3 == 0,
                true,
                true,
                NOW,
            ))
            .await
            .expect("purchase");
        assert!(matches!(outcome, Outcome::Purchased { .. }), "{outcome:?}");
    }
    let ids: Vec<i64> = nodes[0]
        .pushes(&all(None, None))
        .await
        .expect("pushes")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids.len(), EVENTS);

    for (round, now_ms) in [NOW + 1, NOW + 1 + PUSH_LEASE_MS].into_iter().enumerate() {
        // The claimers start together, so their claims overlap.
        let start = Arc::new(tokio::sync::Barrier::new(4));
        let claimers: Vec<_> = (0..4)
            .map(|c| {
                let store = nodes[c % 2].clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let mut mine = Vec::new();
                    loop {
                        let claimed = store.claim_pushes(now_ms, 3).await.expect("claim");
                        if claimed.is_empty() {
                            return mine;
                        }
                        for push in claimed {
                            assert_eq!(push.lease_until_ms, now_ms + PUSH_LEASE_MS);
                            mine.push(push.id);
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut claims: HashMap<i64, usize> = HashMap::new();
        let mut claimers_with_events = 0;
        for claimer in claimers {
            let mine = claimer.await.expect("claimer");
            if !mine.is_empty() {
                claimers_with_events += 1;
            }
            for id in mine {
                *claims.entry(id).or_default() += 1;
            }
        }
        let twice: Vec<_> = claims.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "round {round}: claimed more than once: {twice:?}");
        let mut claimed: Vec<i64> = claims.into_keys().collect();
        claimed.sort_unstable();
        assert_eq!(claimed, ids, "round {round}: every due event is claimed");
        assert!(claimers_with_events >= 1);
        // While the leases last, nothing is due.
        for node in &nodes {
            assert!(node
                .claim_pushes(now_ms + PUSH_LEASE_MS - 1, 10)
                .await
                .expect("claim")
                .is_empty());
        }
    }
}

/// A delivery's record follows section 12's schedule: the retries wait their intervals,
/// the event fails after the last; an acknowledgement delivers it; a manual redelivery
/// moves no schedule; an event that is gone answers `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_attempts_follow_the_schedule() {
    let db = fresh_database(false).await;
    let store = open(&db).await;
    store
        .execute(purchase(APPID, "s", "goods", true, true, true, NOW))
        .await
        .expect("purchase");
    store
        .execute(purchase(APPID, "s", "acked", false, true, true, NOW))
        .await
        .expect("purchase");
    let events = store.pushes(&all(None, None)).await.expect("pushes");
    let goods = events.iter().find(|p| p.number == "goods").expect("goods").clone();
    let acked = events.iter().find(|p| p.number == "acked").expect("acked").clone();

    // An acknowledged event is delivered and never claimed again.
    let claimed = store.claim_pushes(NOW, 10).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    let delivered = store
        .record_push_attempt(leased(&store, attempt(acked.id, NOW + 100, true, true)).await)
        .await
        .expect("record")
        .expect("the event");
    assert_eq!(
        (delivered.status, delivered.attempts, delivered.lease_until_ms),
        (PushStatus::Delivered, 1, 0)
    );
    assert_eq!(store.push(acked.id).await.expect("push"), Some(delivered));

    // The item purchase's event, failing every time: 15 retries (xpay), then failed.
    let expected_waits: [i64; 15] = [
        15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600,
    ];
    let mut now = NOW + 100;
    let failed_first = store
        .record_push_attempt(leased(&store, attempt(goods.id, now, false, true)).await)
        .await
        .expect("record")
        .expect("the event");
    assert_eq!(
        (
            failed_first.attempts,
            failed_first.next_attempt_ms,
            failed_first.lease_until_ms
        ),
        (1, now + 15_000, 0)
    );
    assert_eq!(failed_first.last_reply, "HTTP 500");

    // A manual redelivery that fails moves no schedule.
    let manual = store
        .record_push_attempt(attempt(goods.id, now + 1_000, false, false))
        .await
        .expect("record")
        .expect("the event");
    assert_eq!(
        (manual.attempts, manual.scheduled_attempts, manual.next_attempt_ms),
        (2, 1, now + 15_000)
    );

    let mut event = manual;
    for (retry, wait_secs) in expected_waits.iter().enumerate() {
        let due = event.next_attempt_ms;
        assert_eq!(due, now + wait_secs * 1000, "retry {}", retry + 1);
        assert!(
            store.claim_pushes(due - 1, 10).await.expect("claim").is_empty(),
            "retry {}: not due yet",
            retry + 1
        );
        let claimed = store.claim_pushes(due, 10).await.expect("claim");
        assert_eq!(claimed.iter().map(|p| p.id).collect::<Vec<_>>(), [goods.id]);
        now = due;
        event = store
            .record_push_attempt(leased(&store, attempt(goods.id, now, false, true)).await)
            .await
            .expect("record")
            .expect("the event");
        assert_eq!(event.lease_until_ms, 0);
    }
    assert_eq!(
        (event.status, event.attempts, event.scheduled_attempts),
        (PushStatus::Failed, 17, 16)
    );
    assert_eq!(store.push(goods.id).await.expect("push").as_ref(), Some(&event));
    assert!(store.claim_pushes(i64::MAX / 2, 10).await.expect("claim").is_empty());

    // Listings by status, app and page.
    let failed = store
        .pushes(&all(Some(APPID), Some(PushStatus::Failed)))
        .await
        .expect("pushes");
    assert_eq!(failed.iter().map(|p| p.id).collect::<Vec<_>>(), [goods.id]);
    assert!(store
        .pushes(&all(Some("wxother"), None))
        .await
        .expect("pushes")
        .is_empty());
    let first_page = store
        .pushes(&PushFilter {
            limit: 1,
            ..all(None, None)
        })
        .await
        .expect("pushes");
    assert_eq!(first_page.len(), 1);
    let second_page = store
        .pushes(&PushFilter {
            after_id: first_page[0].id,
            ..all(None, None)
        })
        .await
        .expect("pushes");
    assert_eq!(second_page.len(), 1);
    assert!(second_page[0].id > first_page[0].id);

    // Gone (a reset meanwhile): nothing to record.
    assert_eq!(
        store
            .record_push_attempt(leased(&store, attempt(goods.id + 1000, now, false, true)).await)
            .await
            .expect("record"),
        None
    );
}

/// An app's push settings are stored and read back; none is all NULL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_push_settings_round_trip() {
    let db = fresh_database(false).await;
    let store = open(&db).await;
    let client = sql(&db).await;
    let mut app = App::new(APPID, "secret", "1450000001", "key", "sandbox");
    app.push = Some(settings());
    store.upsert_app(app.clone(), NOW).await.expect("upsert");
    let read = store.app(APPID).await.expect("app").expect("stored");
    assert_eq!(read.push, Some(settings()));
    assert_eq!(store.apps().await.expect("apps")[0].push, Some(settings()));
    let row = client
        .query_one(
            "SELECT push_mode, push_format, push_ack FROM apps WHERE appid = $1",
            &[&APPID],
        )
        .await
        .expect("row");
    let names: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(names, ("safe".into(), "xml".into(), "lenient".into()));

    let plain = PushSettings {
        encoding_aes_key: None,
        mode: PushMode::Plain,
        format: PushFormat::Json,
        ack: PushAck::Strict,
        ..settings()
    };
    app.push = Some(plain.clone());
    store.upsert_app(app.clone(), NOW + 1).await.expect("upsert");
    assert_eq!(store.app(APPID).await.expect("app").expect("stored").push, Some(plain));

    app.push = None;
    store.upsert_app(app, NOW + 2).await.expect("upsert");
    assert_eq!(store.app(APPID).await.expect("app").expect("stored").push, None);
    let nulls = count(
        &client,
        "SELECT count(*) FROM apps WHERE push_url IS NULL AND push_token IS NULL
            AND push_encoding_aes_key IS NULL AND push_mode IS NULL AND push_format IS NULL AND push_ack IS NULL",
    )
    .await;
    assert_eq!(nulls, 1);
}

/// A database at schema version 4 (before pushes) migrates in place: its purchases read
/// with their price as the price before discount and the mini-game channel, its currency
/// orders as before, and paying an old unpaid purchase pushes it as a mini-game purchase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_4_database_reads_its_old_purchases() {
    let db = fresh_database(false).await;
    let client = sql(&db).await;
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
        )
        .await
        .expect("version table");
    for (version, name, sql) in &MIGRATIONS[..4] {
        for statement in statements(sql) {
            client.batch_execute(&statement).await.expect(&statement);
        }
        client
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, 0)",
                &[version, name],
            )
            .await
            .expect("version row");
    }
    client
        .batch_execute(&format!(
            "INSERT INTO accounts (env, appid, offer_id, zone_id, openid, cash, gift, save_amt, save_sum,
                                   cost_sum, present_sum, recharged, updated_at_ms)
             VALUES ('sandbox', '{APPID}', '1450000001', '1', 'old', 10, 0, 10, 10, 0, 0, TRUE, {NOW});
             INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, status, zone_id, openid, amount,
                                 used_gift, balance_after, created_at_ms, updated_at_ms, product_id, fee_fen,
                                 wx_order_id, attach, paid_at_ms, delivered_at_ms)
             VALUES ('sandbox', '{APPID}', '1450000001', 'trade', 'old-paid', 'recharge', 'delivered', '1', 'old',
                     10, 0, 10, {NOW}, {NOW}, 'coins', 120, 'wx-old-paid', 'a', {NOW}, {NOW}),
                    ('sandbox', '{APPID}', '1450000001', 'trade', 'old-unpaid', 'item', 'created', '1', 'old',
                     1, 0, 0, {NOW}, {NOW}, 'sword', 300, 'wx-old-unpaid', 'b', NULL, NULL);
             INSERT INTO orders (env, appid, offer_id, namespace, order_no, kind, status, zone_id, openid, amount,
                                 used_gift, balance_after, created_at_ms, updated_at_ms)
             VALUES ('sandbox', '{APPID}', '1450000001', 'bill', 'old-pay', 'pay', 'created', '1', 'old',
                     0, 0, 10, {NOW}, {NOW});"
        ))
        .await
        .expect("version 4 rows");

    let store = open(&db).await;
    assert_eq!(
        count(&client, "SELECT max(version) FROM schema_migrations").await,
        MIGRATIONS.len() as i64
    );
    let account = key(APPID, "old");
    let paid = store
        .order(&OrderKey::purchase(&account, "old-paid"))
        .await
        .expect("order")
        .expect("stored");
    let details = paid.purchase.expect("a purchase");
    assert_eq!(
        (details.fee_fen, details.orig_fee_fen, details.channel),
        (120, 120, PurchaseChannel::MiniGame)
    );
    let by_wx = store
        .order_by_wx_order_id(APPID, Env::Sandbox, "wx-old-unpaid")
        .await
        .expect("order")
        .expect("found");
    let unpaid = by_wx.1.purchase.expect("a purchase");
    assert_eq!((unpaid.orig_fee_fen, unpaid.channel), (300, PurchaseChannel::MiniGame));
    let pay = store
        .order(&OrderKey::currency(&account, "old-pay"))
        .await
        .expect("order")
        .expect("stored");
    assert_eq!(pay.purchase, None);
    let listed = store
        .purchases(APPID, Env::Sandbox, 0, i64::MAX, 10)
        .await
        .expect("purchases");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|(_, o)| o
        .purchase
        .as_ref()
        .is_some_and(|p| p.channel == PurchaseChannel::MiniGame)));

    // Paying the old purchase: pushed as a mini-game purchase; the row gains its columns.
    let outcome = store
        .execute(Command::new(
            account.clone(),
            NOW + 1_000,
            Op::PayPurchase {
                number: "old-unpaid".into(),
                push: true,
            },
        ))
        .await
        .expect("pay");
    assert!(
        matches!(
            outcome,
            Outcome::PurchasePaid {
                status: OrderStatus::Paid,
                ..
            }
        ),
        "{outcome:?}"
    );
    let events = store.pushes(&all(Some(APPID), None)).await.expect("pushes");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].number.as_str(), events[0].kind, events[0].channel),
        ("old-unpaid", PushKind::GoodsPaid, PurchaseChannel::MiniGame)
    );
    let row = client
        .query_one(
            "SELECT orig_fee_fen, purchase_channel FROM orders WHERE order_no = 'old-unpaid'",
            &[],
        )
        .await
        .expect("row");
    let columns: (Option<i64>, Option<String>) = (row.get(0), row.get(1));
    assert_eq!(columns, (Some(300), Some("mini_game".into())));
}

/// Export and import keep the events and their ids; the id generator continues after
/// them; a reset of one app deletes its events only, a reset of all every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_export_import_and_reset_cover_pushes() {
    let db = fresh_database(false).await;
    let store = open(&db).await;
    let mut app = App::new(APPID, "secret", "1450000001", "key", "sandbox");
    app.push = Some(settings());
    store.upsert_app(app.clone(), NOW).await.expect("app");
    let mut other = App::new("wxother", "secret", "1450000001", "key", "sandbox");
    other.push = None;
    store.upsert_app(other, NOW).await.expect("app");
    for (appid, number) in [(APPID, "e1"), ("wxother", "e2"), (APPID, "e3")] {
        store
            .execute(purchase(appid, "x", number, true, true, true, NOW))
            .await
            .expect("purchase");
    }
    let claimed = store.claim_pushes(NOW, 1).await.expect("claim");
    store
        .record_push_attempt(leased(&store, attempt(claimed[0].id, NOW, false, true)).await)
        .await
        .expect("record");
    let before = store.pushes(&all(None, None)).await.expect("pushes");
    assert_eq!(before.len(), 3);

    let doc = store.export().await.expect("export");
    store
        .reset(ResetScope {
            appid: None,
            keep_apps: false,
        })
        .await
        .expect("reset all");
    assert!(store.pushes(&all(None, None)).await.expect("pushes").is_empty());
    assert!(store.apps().await.expect("apps").is_empty());

    store
        .replace_state(doc)
        .await
        .expect("import")
        .expect("a valid document");
    assert_eq!(store.pushes(&all(None, None)).await.expect("pushes"), before);
    assert_eq!(
        store.app(APPID).await.expect("app").expect("stored").push,
        Some(settings())
    );
    let restored = store
        .order(&OrderKey::purchase(&key(APPID, "x"), "e1"))
        .await
        .expect("order")
        .expect("stored")
        .purchase
        .expect("a purchase");
    assert_eq!((restored.orig_fee_fen, restored.channel), (100, PurchaseChannel::Xpay));

    // New events continue after the imported ids.
    store
        .execute(purchase(APPID, "x", "e4", true, true, true, NOW))
        .await
        .expect("purchase");
    let max_before = before.iter().map(|p| p.id).max().expect("ids");
    let e4 = store
        .pushes(&all(None, None))
        .await
        .expect("pushes")
        .into_iter()
        .find(|p| p.number == "e4")
        .expect("e4");
    assert!(e4.id > max_before, "{} after {max_before}", e4.id);

    store
        .reset(ResetScope {
            appid: Some(APPID.into()),
            keep_apps: true,
        })
        .await
        .expect("reset one app");
    let left = store.pushes(&all(None, None)).await.expect("pushes");
    assert_eq!(left.iter().map(|p| p.number.as_str()).collect::<Vec<_>>(), ["e2"]);
}
