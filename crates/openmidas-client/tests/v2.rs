//! Virtual payment 2.0 through the SDK (`Client::v2`) against a real in-process OpenMidas:
//! every call in both environments, the item purchases of the simulated player, typed
//! errors, and the retry rules through the fault-injecting proxy (a lost answer, a -1 or a
//! dropped connection on a pay, a refund or a present is re-sent with the same body; the
//! account moves exactly once; a 40001 re-sends with the new token in the query).

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use openmidas_client::codes::{Common, V2};
use openmidas_client::openmidas::{AdminClient, ItemPurchase, Recharge};
use openmidas_client::v2::{Balance, BizId, PayRequest, Player};
use openmidas_client::{Client, Error, MidasEnv, RetryPolicy, Secret, SessionKey};
use openmidas_ledger::{Clock as _, ManualClock};
use openmidas_protocol::client::game_item;
use openmidas_testkit::{TestApp, TestServer, ADMIN_TOKEN, START_MS};
use support::{Fault, FaultProxy, Seen};

const PAY: &str = "/wxa/game/pay";
const CANCELPAY: &str = "/wxa/game/cancelpay";
const PRESENT: &str = "/wxa/game/present";
const GETBALANCE: &str = "/wxa/game/getbalance";

fn admin(server: &TestServer) -> AdminClient {
    AdminClient::new(&server.base_url, ADMIN_TOKEN).expect("admin client")
}

async fn login(server: &TestServer, client: &Client, openid: &str) -> SessionKey {
    let code = admin(server)
        .login_code(client.appid(), Some(openid))
        .await
        .expect("login code");
    client
        .code_to_session(&code.code)
        .await
        .expect("jscode2session")
        .session_key
}

/// A coin purchase of `n` coins numbered `out_trade_no`; answers the balance after it.
async fn buy_coins(server: &TestServer, app: &TestApp, openid: &str, env: MidasEnv, n: i64, out_trade_no: &str) -> i64 {
    admin(server)
        .recharge(&Recharge {
            appid: app.appid.clone(),
            openid: openid.into(),
            env,
            buy_quantity: n,
            zone_id: None,
            out_trade_no: Some(out_trade_no.into()),
        })
        .await
        .expect("coin purchase")
        .balance
}

fn item(app: &TestApp, openid: &str, env: MidasEnv, out_trade_no: &str) -> ItemPurchase {
    ItemPurchase {
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        openid: openid.into(),
        env,
        zone_id: None,
        platform: Some("android".into()),
        product_id: "sword".into(),
        quantity: 2,
        price_fen: 300,
        out_trade_no: out_trade_no.into(),
        attach: Some("level-3".into()),
        pay_later: false,
    }
}

fn key_of(app: &TestApp, env: MidasEnv) -> Secret {
    Secret::new(match env {
        MidasEnv::Official => app.app_key.as_str(),
        MidasEnv::Sandbox => app.sandbox_app_key.as_str(),
    })
}

fn numbers(b: &Balance) -> (i64, i64, i64, i64, i64, i64, bool) {
    (
        b.balance,
        b.present_balance,
        b.sum_save,
        b.sum_present,
        b.sum_balance,
        b.sum_cost,
        b.first_save,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_in_both_environments() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let v2 = client.v2();
    let sk = login(&server, &client, "p").await;

    for env in [MidasEnv::Official, MidasEnv::Sandbox] {
        let player = Player::new("p").env(env);
        let fresh = v2.get_balance(&player, &sk).await.unwrap();
        assert_eq!(numbers(&fresh), (0, 0, 0, 0, 0, 0, true), "{env:?}");
        assert_eq!(buy_coins(&server, &app, "p", env, 100, "coins-1").await, 100);

        let given = v2.present(&player, "gift-1", 10, &sk).await.unwrap();
        assert_eq!(
            (given.bill_no.as_str(), given.balance, given.replayed),
            ("gift-1", 110, false)
        );

        let mut request = PayRequest::new("pay-1", 30);
        request.payitem = Some("sword".into());
        request.remark = Some("level 3".into());
        // user_ip is sent and signed when set.
        let paid = v2
            .pay(&player.clone().user_ip("10.0.0.1"), &request, &sk)
            .await
            .unwrap();
        assert_eq!(
            (
                paid.bill_no.as_str(),
                paid.balance,
                paid.used_present_amount,
                paid.replayed
            ),
            ("pay-1", 80, 10, false)
        );
        let b = v2.get_balance(&player, &sk).await.unwrap();
        assert_eq!(numbers(&b), (80, 0, 100, 10, 110, 30, false));

        // A partial refund gives cash back first; the rest of the pay, then its gift.
        let r1 = v2.refund(&player, "refund-1", "pay-1", 15, &sk).await.unwrap();
        assert_eq!(
            (r1.bill_no.as_str(), r1.balance, r1.used_present_amount, r1.replayed),
            ("refund-1", 95, 0, false)
        );
        let r2 = v2.refund(&player, "refund-2", "pay-1", 15, &sk).await.unwrap();
        assert_eq!((r2.balance, r2.used_present_amount), (110, 10));
        let b = v2.get_balance(&player, &sk).await.unwrap();
        assert_eq!((b.balance, b.present_balance, b.sum_cost), (110, 10, 0));
        // Fully refunded: nothing is left of the pay.
        let e = v2.refund(&player, "refund-3", "pay-1", 1, &sk).await.unwrap_err();
        assert!(e.is(V2::InvalidParameter), "{e:?}");

        // The coin purchase, as queryorderinfo sees it.
        let info = v2
            .query_order_info(&player, "coins-1", BizId::Coins, &sk)
            .await
            .unwrap();
        assert_eq!(
            (
                info.out_trade_no.as_str(),
                info.product_id.as_str(),
                info.pay_state,
                info.deliver_state,
                info.pay_finish_time
            ),
            ("coins-1", "", 2, 2, START_MS / 1000)
        );
        assert!(info.transaction_id.starts_with("4200") && info.mch_order_no.starts_with("mch"));
    }

    // Another zone is another account.
    let zone2 = Player::new("p").zone("2");
    assert_eq!(v2.get_balance(&zone2, &sk).await.unwrap().balance, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_purchases_paid_at_once_later_or_never() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let v2 = client.v2();
    let admin = admin(&server);
    let sk = login(&server, &client, "p").await;

    for env in [MidasEnv::Official, MidasEnv::Sandbox] {
        let player = Player::new("p").env(env);
        let key = key_of(&app, env);
        let bought = admin
            .buy_item(&item(&app, "p", env, "item-1"), &key, &sk)
            .await
            .unwrap();
        assert_eq!(
            (bought.out_trade_no.as_str(), bought.status.as_str()),
            ("item-1", "paid")
        );
        let info = v2.query_order_info(&player, "item-1", BizId::Item, &sk).await.unwrap();
        assert_eq!(
            (info.product_id.as_str(), info.pay_state, info.deliver_state),
            ("sword", 2, 1)
        );
        assert_eq!(
            v2.get_balance(&player, &sk).await.unwrap().balance,
            0,
            "items move no coins"
        );

        // Paid later.
        let mut later = item(&app, "p", env, "item-2");
        later.pay_later = true;
        let created = admin.buy_item(&later, &key, &sk).await.unwrap();
        assert_eq!(created.status, "created");
        let info = v2.query_order_info(&player, "item-2", BizId::Item, &sk).await.unwrap();
        assert_eq!((info.pay_state, info.pay_finish_time), (1, 0));
        let settled = admin.pay_purchase(&app.appid, env, "item-2").await.unwrap();
        assert_eq!((settled.status.as_str(), settled.balance), ("paid", Some(0)));
        let info = v2.query_order_info(&player, "item-2", BizId::Item, &sk).await.unwrap();
        assert_eq!(info.pay_state, 2);

        // Never paid: closed, and then it cannot be paid.
        let mut walk = item(&app, "p", env, "item-3");
        walk.pay_later = true;
        admin.buy_item(&walk, &key, &sk).await.unwrap();
        let closed = admin.close_purchase(&app.appid, env, "item-3").await.unwrap();
        assert_eq!((closed.status.as_str(), closed.balance), ("closed", None));
        let e = admin.pay_purchase(&app.appid, env, "item-3").await.unwrap_err();
        assert!(e.is(Common::InvalidArgs), "{e:?}");
    }

    // The item purchase's own fail codes, read from its table.
    let e = admin
        .buy_item(
            &item(&app, "p", MidasEnv::Official, "item-1"),
            &key_of(&app, MidasEnv::Official),
            &sk,
        )
        .await
        .unwrap_err();
    assert!(e.is(game_item::Code::DuplicateOrder), "{e:?}");
    assert_eq!(e.api().unwrap().meaning(), game_item::Code::DuplicateOrder.meaning());
    // The sandbox key does not sign an official purchase.
    let e = admin
        .buy_item(
            &item(&app, "p", MidasEnv::Official, "item-9"),
            &key_of(&app, MidasEnv::Sandbox),
            &sk,
        )
        .await
        .unwrap_err();
    assert!(e.is(game_item::Code::SignatureInvalid), "{e:?}");
    // Nor does a session_key the player no longer has.
    let _newer = login(&server, &client, "p").await;
    let e = admin
        .buy_item(
            &item(&app, "p", MidasEnv::Official, "item-9"),
            &key_of(&app, MidasEnv::Official),
            &sk,
        )
        .await
        .unwrap_err();
    assert!(e.is(game_item::Code::SignatureInvalid), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_errors_and_local_checks() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let v2 = client.v2();
    let sk = login(&server, &client, "p").await;
    let player = Player::new("p");
    buy_coins(&server, &app, "p", MidasEnv::Official, 50, "coins-1").await;

    let e = v2.pay(&player, &PayRequest::new("big", 51), &sk).await.unwrap_err();
    assert!(e.is(V2::InsufficientBalance), "{e:?}");
    assert_eq!(e.api().unwrap().meaning(), V2::InsufficientBalance.meaning());
    assert!(!e.retryable());
    let e = v2.refund(&player, "r-1", "never-paid", 1, &sk).await.unwrap_err();
    assert_eq!(e.errcode(), Some(90000));
    assert!(e.is(V2::OrderNotFound), "{e:?}");
    let e = v2
        .query_order_info(&player, "nothing", BizId::Coins, &sk)
        .await
        .unwrap_err();
    assert!(e.is(V2::PurchaseNotFound), "{e:?}");
    // The coin purchase is not an item purchase.
    let e = v2
        .query_order_info(&player, "coins-1", BizId::Item, &sk)
        .await
        .unwrap_err();
    assert!(e.is(V2::PurchaseNotFound), "{e:?}");

    // A player who never logged in has no session: 90016 (in 2.0's table, not v1's 90010).
    let e = v2.get_balance(&Player::new("stranger"), &sk).await.unwrap_err();
    assert_eq!(e.errcode(), Some(90016));
    assert!(e.is(V2::SessionNotFound), "{e:?}");
    assert_eq!(e.api().unwrap().meaning(), V2::SessionNotFound.meaning());
    // A session_key replaced by a newer login no longer signs: 90010.
    let newer = login(&server, &client, "p").await;
    let e = v2.get_balance(&player, &sk).await.unwrap_err();
    assert!(e.is(V2::SignatureInvalid), "{e:?}");
    let sk = newer;
    // The wrong AppKey: 90011.
    let crossed = Client::builder(
        &app.appid,
        app.secret.as_str(),
        &app.offer_id,
        app.sandbox_app_key.as_str(),
    )
    .base_url(&server.base_url)
    .build()
    .unwrap();
    let e = crossed.v2().get_balance(&player, &sk).await.unwrap_err();
    assert!(e.is(V2::PaySigInvalid), "{e:?}");

    // A repeated bill_no: the original result when the parameters match (unless disabled),
    // else 90012 stays an error.
    let first = v2.pay(&player, &PayRequest::new("b-1", 10), &sk).await.unwrap();
    assert!(!first.replayed);
    let again = v2.pay(&player, &PayRequest::new("b-1", 10), &sk).await.unwrap();
    assert_eq!(
        (again.balance, again.used_present_amount, again.replayed),
        (40, 0, true)
    );
    let e = v2.pay(&player, &PayRequest::new("b-1", 11), &sk).await.unwrap_err();
    assert!(e.is(V2::BillNoRepeated), "{e:?}");
    let strict = support::builder(&server, &app, &server.base_url)
        .accept_repeated_bill_no(false)
        .build()
        .unwrap();
    let e = strict
        .v2()
        .pay(&player, &PayRequest::new("b-1", 10), &sk)
        .await
        .unwrap_err();
    assert!(e.is(V2::BillNoRepeated), "{e:?}");
    v2.present(&player, "g-1", 5, &sk).await.unwrap();
    assert!(v2.present(&player, "g-1", 5, &sk).await.unwrap().replayed);
    v2.refund(&player, "r-2", "b-1", 4, &sk).await.unwrap();
    assert!(v2.refund(&player, "r-2", "b-1", 4, &sk).await.unwrap().replayed);
    let e = v2.refund(&player, "r-2", "b-1", 3, &sk).await.unwrap_err();
    assert!(e.is(V2::BillNoRepeated), "{e:?}");
    let b = v2.get_balance(&player, &sk).await.unwrap();
    assert_eq!((b.balance, b.sum_cost, b.sum_present), (49, 6, 5));

    // Refused before sending: 2.0's bill_no rule (no `|`, no leading `_`), v1's rule for the
    // pay's number, amounts in range.
    for bill_no in ["a|b", "_a", ""] {
        let e = v2.pay(&player, &PayRequest::new(bill_no, 1), &sk).await.unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{bill_no:?}: {e:?}");
    }
    let e = v2.refund(&player, "r-3", "not valid", 1, &sk).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    let e = v2.present(&player, "g-2", 0, &sk).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    // A pay made through v1 with a v1-only number is refunded by 2.0.
    client
        .pay(
            MidasEnv::Official,
            &openmidas_client::Player::new("p"),
            &openmidas_client::PayRequest::new("v1|pay", 2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(v2.refund(&player, "r-4", "v1|pay", 2, &sk).await.unwrap().balance, 49);

    // The sandbox needs its AppKey.
    let no_sandbox = Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let e = no_sandbox
        .v2()
        .get_balance(&Player::new("p").env(MidasEnv::Sandbox), &sk)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
}

/// A client behind the fault proxy, a direct client to read balances, a logged-in player.
struct Setup {
    server: TestServer,
    app: TestApp,
    proxy: FaultProxy,
    client: Client,
    direct: Client,
    session_key: SessionKey,
    player: Player,
}

async fn setup(initial_coins: i64) -> Setup {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let proxy = FaultProxy::start(&server.base_url).await;
    // Its clock moves a second each time it is read: a retry that rebuilt its body would
    // carry another ts, and the tests would see it.
    let ticks = Arc::new(AtomicI64::new(START_MS));
    let client = support::builder(&server, &app, &proxy.base_url)
        .clock(Arc::new(move || ticks.fetch_add(1000, Ordering::Relaxed)))
        .build()
        .unwrap();
    let direct = support::client(&server, &app);
    let session_key = login(&server, &direct, "player").await;
    if initial_coins > 0 {
        buy_coins(&server, &app, "player", MidasEnv::Official, initial_coins, "coins-1").await;
    }
    // Warm the token cache so faults hit the payment call.
    client.access_token().await.unwrap();
    Setup {
        server,
        app,
        proxy,
        client,
        direct,
        session_key,
        player: Player::new("player"),
    }
}

impl Setup {
    async fn balance(&self) -> Balance {
        self.direct
            .v2()
            .get_balance(&self.player, &self.session_key)
            .await
            .unwrap()
    }

    async fn pay(&self, bill_no: &str, amount: i64) -> Result<openmidas_client::v2::PayResult, Error> {
        self.client
            .v2()
            .pay(&self.player, &PayRequest::new(bill_no, amount), &self.session_key)
            .await
    }

    /// Every request to `path` carried the same body and the same query (token and both
    /// signatures), and the body names `bill_no`; answers how many there were.
    fn sent_identically(&self, path: &str, bill_no: &str) -> usize {
        let seen = self.proxy.seen(path);
        let first: &Seen = seen.first().expect("a request");
        for other in &seen {
            assert_eq!(other, first, "a retry of {path} changed its request");
        }
        let body: serde_json::Value = serde_json::from_slice(&first.body).expect("JSON body");
        assert_eq!(body["bill_no"], bill_no);
        assert!(first.param("pay_sig").is_some() && first.param("signature").is_some());
        seen.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_an_injected_system_error_is_applied_once() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::ErrorBeforeForward);
    let paid = s.pay("order-1", 30).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (70, false));
    assert_eq!((s.sent_identically(PAY, "order-1"), s.proxy.forwarded(PAY)), (2, 1));
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (70, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_whose_answer_was_replaced_by_system_error_is_not_charged_twice() {
    let s = setup(100).await;
    s.direct
        .v2()
        .present(&s.player, "gift-1", 10, &s.session_key)
        .await
        .unwrap();
    s.proxy.inject(PAY, Fault::ErrorAfterForward);
    let paid = s.pay("order-1", 30).await.unwrap();
    // The first attempt was applied; the retry got 90012 with the original result.
    assert_eq!((paid.balance, paid.used_present_amount, paid.replayed), (80, 10, true));
    assert_eq!((s.sent_identically(PAY, "order-1"), s.proxy.forwarded(PAY)), (2, 2));
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost, b.present_balance), (80, 30, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_after_dropped_connections_is_charged_exactly_once() {
    let s = setup(100).await;
    s.proxy.inject(PAY, Fault::DropAfterForward);
    s.proxy.inject(PAY, Fault::DropAfterForward);
    let paid = s.pay("order-1", 40).await.unwrap();
    assert_eq!(
        (paid.bill_no.as_str(), paid.balance, paid.replayed),
        ("order-1", 60, true)
    );
    assert_eq!((s.sent_identically(PAY, "order-1"), s.proxy.forwarded(PAY)), (3, 3));
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (60, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_after_a_lost_answer_or_a_dropped_connection_is_applied_once() {
    let s = setup(100).await;
    s.pay("order-1", 60).await.unwrap();
    let v2 = s.client.v2();

    s.proxy.inject(CANCELPAY, Fault::ErrorAfterForward);
    let r1 = v2
        .refund(&s.player, "refund-1", "order-1", 20, &s.session_key)
        .await
        .unwrap();
    assert_eq!((r1.bill_no.as_str(), r1.balance, r1.replayed), ("refund-1", 60, true));
    assert_eq!(s.sent_identically(CANCELPAY, "refund-1"), 2);

    s.proxy.inject(CANCELPAY, Fault::DropAfterForward);
    s.proxy.inject(CANCELPAY, Fault::ErrorBeforeForward);
    let r2 = v2
        .refund(&s.player, "refund-2", "order-1", 40, &s.session_key)
        .await
        .unwrap();
    assert_eq!((r2.balance, r2.replayed), (100, true));
    let refund_2: Vec<Seen> = s.proxy.seen(CANCELPAY).into_iter().skip(2).collect();
    assert_eq!(refund_2.len(), 3);
    assert!(refund_2.iter().all(|seen| *seen == refund_2[0]));
    assert_eq!(s.proxy.forwarded(CANCELPAY), 2 + 2);

    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (100, 0));
    // Nothing is left of the pay: the refunds were applied once each.
    let e = v2
        .refund(&s.player, "refund-3", "order-1", 1, &s.session_key)
        .await
        .unwrap_err();
    assert!(e.is(V2::InvalidParameter), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn present_after_a_dropped_connection_is_given_exactly_once() {
    let s = setup(0).await;
    s.proxy.inject(PRESENT, Fault::DropAfterForward);
    let given = s
        .client
        .v2()
        .present(&s.player, "gift-1", 15, &s.session_key)
        .await
        .unwrap();
    assert_eq!((given.balance, given.replayed), (15, true));
    assert_eq!(s.sent_identically(PRESENT, "gift-1"), 2);
    let b = s.balance().await;
    assert_eq!((b.balance, b.present_balance, b.sum_present), (15, 15, 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_system_errors_give_up_retryable_and_a_later_retry_applies_once() {
    let s = setup(100).await;
    for _ in 0..4 {
        s.proxy.inject(PAY, Fault::ErrorAfterForward);
    }
    let e = s.pay("order-1", 10).await.unwrap_err();
    assert!(e.is(Common::SystemError), "{e:?}");
    assert!(e.retryable());
    assert_eq!(s.sent_identically(PAY, "order-1"), 4);
    // Applied by the first attempt, whatever the answers said.
    assert_eq!(s.balance().await.balance, 90);
    let again = s.pay("order-1", 10).await.unwrap();
    assert_eq!((again.balance, again.replayed), (90, true));
    assert_eq!(s.balance().await.sum_cost, 10);

    // Without retries, a lost answer is an error that shows no secret.
    let once = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    s.proxy.inject(PAY, Fault::DropAfterForward);
    let e = once
        .v2()
        .pay(&s.player, &PayRequest::new("order-2", 5), &s.session_key)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }) && e.retryable(), "{e:?}");
    let token = once.access_token().await.unwrap();
    let shown = format!("{e} {e:?}");
    for secret in [token.expose(), s.session_key.expose(), "pay_sig=", "signature="] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert_eq!(s.balance().await.balance, 85);
}

/// A client whose clock stands still: only the service's 40001 / 42001 tells it its token
/// is no longer good.
async fn frozen_setup() -> Setup {
    let s = setup(50).await;
    let frozen = Arc::new(ManualClock::new(START_MS));
    let client = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .clock(Arc::new(move || frozen.now_ms()))
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    Setup { client, ..s }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_token_40001_is_refreshed_and_the_request_re_sent_with_the_new_token() {
    let s = frozen_setup().await;
    // Another process fetches a token: ours is retired after the 300 s overlap.
    s.server.token(&s.app).await;
    s.server.clock.advance_secs(301);

    let paid = s.pay("after-retire", 20).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (30, false));
    assert_eq!(s.client.tokens().fetch_count(), 2);
    let seen = s.proxy.seen(PAY);
    assert_eq!(seen.len(), 2);
    let (refused, resent) = (&seen[0], &seen[1]);
    // The same body and signatures (pay_sig and signature never cover the token), a new token.
    assert_eq!(refused.body, resent.body);
    assert_eq!(refused.param("pay_sig"), resent.param("pay_sig"));
    assert_eq!(refused.param("signature"), resent.param("signature"));
    assert_ne!(refused.param("access_token"), resent.param("access_token"));
    let token = s.client.access_token().await.unwrap();
    assert_eq!(resent.param("access_token"), Some(token.expose()));
    assert_eq!(s.balance().await.sum_cost, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_42001_is_refreshed_once() {
    let s = frozen_setup().await;
    s.server.clock.advance_secs(7201);
    let b = s.client.v2().get_balance(&s.player, &s.session_key).await.unwrap();
    assert_eq!(b.balance, 50);
    assert_eq!(s.client.tokens().fetch_count(), 2);
    let seen = s.proxy.seen(GETBALANCE);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
    assert_ne!(seen[0].param("access_token"), seen[1].param("access_token"));
}
