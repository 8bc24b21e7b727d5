//! xpay through the SDK (`Client::xpay`, `AdminClient::virtual_payment`) against a real
//! in-process OpenMidas: every call in both environments, a purchase driven from creation to
//! refund with `query_order` at every step, bills, typed errors read in xpay's table, and the
//! retry rules, through the fault-injecting proxy and through the server's own fault rules:
//! a state change whose answer was lost is re-sent with the same body, applied once, and
//! reported once (`replayed: true` when the retry met 268490004 or, for refund_order,
//! 268490014).

mod support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use openmidas_client::codes::{Common, Xpay as Code};
use openmidas_client::openmidas::{AdminClient, VirtualProduct, VirtualPurchase};
use openmidas_client::xpay::{
    bill_range, is_not_found, Balance, Bill, BillLink, CurrencyPayRequest, OrderRef, OrderStatus, OrderType, Player,
    RefundOrderRequest,
};
use openmidas_client::{Client, Error, MidasEnv, RetryPolicy, Secret, SessionKey};
use openmidas_ledger::{Clock as _, ManualClock};
use openmidas_protocol::client::virtual_payment;
use openmidas_testkit::{TestApp, TestServer, ADMIN_TOKEN, START_MS};
use serde_json::json;
use support::{Fault, FaultProxy, Seen};

const CURRENCY_PAY: &str = "/xpay/currency_pay";
const CANCEL: &str = "/xpay/cancel_currency_pay";
const PRESENT: &str = "/xpay/present_currency";
const REFUND_ORDER: &str = "/xpay/refund_order";
const BALANCE: &str = "/xpay/query_user_balance";

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

fn key_of(app: &TestApp, env: MidasEnv) -> Secret {
    Secret::new(match env {
        MidasEnv::Official => app.app_key.as_str(),
        MidasEnv::Sandbox => app.sandbox_app_key.as_str(),
    })
}

fn purchase(
    app: &TestApp,
    openid: &str,
    env: MidasEnv,
    product: VirtualProduct,
    out_trade_no: &str,
) -> VirtualPurchase {
    VirtualPurchase {
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        openid: openid.into(),
        env,
        product,
        quantity: 2,
        out_trade_no: out_trade_no.into(),
        attach: "level-3".into(),
        pay_later: false,
    }
}

fn sword(price_fen: i64) -> VirtualProduct {
    VirtualProduct::Goods {
        product_id: "sword".into(),
        price_fen,
        activity_price_fen: None,
    }
}

/// The player buys `n` coins through `wx.requestVirtualPayment`; answers the balance after.
async fn buy_coins(
    server: &TestServer,
    app: &TestApp,
    session_key: &SessionKey,
    openid: &str,
    env: MidasEnv,
    n: i64,
    out_trade_no: &str,
) -> i64 {
    let mut coins = purchase(app, openid, env, VirtualProduct::Coins, out_trade_no);
    coins.quantity = n;
    let bought = admin(server)
        .virtual_payment(&coins, &key_of(app, env), session_key)
        .await
        .expect("coin purchase");
    assert_eq!(bought.status, "delivered");
    bought.balance
}

fn numbers(b: &Balance) -> (i64, i64, i64, i64, i64, i64, bool) {
    (
        b.balance,
        b.present_balance,
        b.sum_save,
        b.sum_present,
        b.sum_balance,
        b.sum_cost,
        b.first_save_flag,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_currency_call_in_both_environments() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let xpay = client.xpay();
    let sk = login(&server, &client, "p").await;

    for env in [MidasEnv::Official, MidasEnv::Sandbox] {
        let player = Player::new("p").env(env);
        let fresh = xpay.query_user_balance(&player, &sk).await.unwrap();
        assert_eq!(numbers(&fresh), (0, 0, 0, 0, 0, 0, true), "{env:?}");
        assert_eq!(buy_coins(&server, &app, &sk, "p", env, 100, "coins-0001").await, 100);

        let given = xpay.present_currency(&player, "gift-0001", 20).await.unwrap();
        assert_eq!(
            (
                given.order_id.as_str(),
                given.balance,
                given.present_balance,
                given.replayed
            ),
            ("gift-0001", Some(120), Some(20), false)
        );

        let mut request = CurrencyPayRequest::new("pay-00001", 30);
        request.payitem = Some(r#"[{"productid":"sword","unit_price":30,"quantity":1}]"#.into());
        request.remark = Some("level 3".into());
        // user_ip is sent and signed when set.
        let paid = xpay
            .currency_pay(&player.clone().user_ip("10.0.0.1"), &request, &sk)
            .await
            .unwrap();
        assert_eq!(
            (
                paid.order_id.as_str(),
                paid.balance,
                paid.used_present_amount,
                paid.replayed
            ),
            ("pay-00001", Some(90), Some(20), false),
            "gift coins first"
        );
        let b = xpay.query_user_balance(&player, &sk).await.unwrap();
        assert_eq!(numbers(&b), (90, 0, 100, 20, 120, 30, false));

        // Refunds: cash back first, in part, then the rest; then nothing is left.
        let back = xpay
            .cancel_currency_pay(&player, "back-0001", "pay-00001", 10, &sk)
            .await
            .unwrap();
        assert_eq!((back.order_id.as_str(), back.replayed), ("back-0001", false));
        let b = xpay.query_user_balance(&player, &sk).await.unwrap();
        assert_eq!((b.balance, b.present_balance, b.sum_cost), (100, 0, 20));
        let e = xpay
            .cancel_currency_pay(&player, "back-0002", "pay-00001", 21, &sk)
            .await
            .unwrap_err();
        assert!(e.is(Code::InsufficientBalance), "more than is left: {e:?}");
        xpay.cancel_currency_pay(&player, "back-0002", "pay-00001", 20, &sk)
            .await
            .unwrap();
        let b = xpay.query_user_balance(&player, &sk).await.unwrap();
        assert_eq!((b.balance, b.present_balance, b.sum_cost), (120, 20, 0));
        let e = xpay
            .cancel_currency_pay(&player, "back-0003", "pay-00001", 1, &sk)
            .await
            .unwrap_err();
        assert!(e.is(Code::AlreadyRefunded), "{e:?}");
        let e = xpay
            .cancel_currency_pay(&player, "back-0004", "nosuchpay", 1, &sk)
            .await
            .unwrap_err();
        assert!(is_not_found(&e), "{e:?}");
    }

    // The same account as 2.0's zone 1, and the same book of numbers.
    let v2_player = openmidas_client::v2::Player::new("p");
    assert_eq!(client.v2().get_balance(&v2_player, &sk).await.unwrap().balance, 120);
    let e = client
        .v2()
        .pay(&v2_player, &openmidas_client::v2::PayRequest::new("pay-00001", 1), &sk)
        .await
        .unwrap_err();
    assert!(e.is(openmidas_client::codes::V2::BillNoRepeated), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_from_creation_to_refund_with_query_order_at_every_step() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    server
        .admin("/admin/apps", json!({"appid": app.appid, "refund_delay_secs": 60}))
        .await;
    let client = support::client(&server, &app);
    let xpay = client.xpay();
    let admin = admin(&server);
    let sk = login(&server, &client, "p").await;
    let player = Player::new("p");
    let by_id = OrderRef::OrderId("item-00001".into());
    let status_of = |order: &openmidas_client::xpay::Order| OrderStatus::from_code(order.status);

    // Created: the player has not paid yet.
    let mut item = purchase(&app, "p", MidasEnv::Official, sword(150), "item-00001");
    item.pay_later = true;
    let created = admin
        .virtual_payment(&item, &key_of(&app, MidasEnv::Official), &sk)
        .await
        .unwrap();
    assert_eq!((created.status.as_str(), created.balance), ("created", 0));
    assert_eq!(created.wx_order_id.len(), 32);
    let order = xpay.query_order(&player, &by_id).await.unwrap();
    assert_eq!(status_of(&order), Some(OrderStatus::Created));
    assert_eq!(
        (order.order_fee, order.paid_fee, order.order_type, order.env_type),
        (300, 0, OrderType::Purchase.code(), 1)
    );
    assert_eq!((order.paid_time, order.left_fee), (None, None));
    // Nothing to deliver or refund yet.
    let e = xpay.notify_provide_goods(MidasEnv::Official, &by_id).await.unwrap_err();
    assert!(e.is(Code::InvalidParameter) && !is_not_found(&e), "{e:?}");
    let e = xpay
        .refund_order(&player, &by_id, &RefundOrderRequest::new("refund-0001", 300, 100))
        .await
        .unwrap_err();
    assert!(e.is(Code::InvalidParameter), "{e:?}");

    // Paid: the goods wait for delivery. Found by wx_order_id too.
    admin
        .pay_purchase(&app.appid, MidasEnv::Official, "item-00001")
        .await
        .unwrap();
    let by_wx = OrderRef::WxOrderId(created.wx_order_id.clone().into());
    let order = xpay.query_order(&player, &by_wx).await.unwrap();
    assert_eq!(order.order_id, "item-00001");
    assert_eq!(status_of(&order), Some(OrderStatus::Paid));
    assert_eq!(
        (order.paid_fee, order.left_fee, order.paid_time),
        (300, Some(300), Some(START_MS / 1000))
    );
    assert!(order.provide_time.is_none());

    // Delivered (and again is fine).
    xpay.notify_provide_goods(MidasEnv::Official, &by_id).await.unwrap();
    xpay.notify_provide_goods(MidasEnv::Official, &by_wx).await.unwrap();
    let order = xpay.query_order(&player, &by_id).await.unwrap();
    assert_eq!(status_of(&order), Some(OrderStatus::Delivered));
    assert_eq!(order.provide_time, Some(START_MS / 1000));

    // A stale left_fee is refused; the refund of 100 fen is in progress for 60 s.
    let e = xpay
        .refund_order(&player, &by_id, &RefundOrderRequest::new("refund-0001", 299, 100))
        .await
        .unwrap_err();
    assert!(e.is(Code::LeftFeeMismatch), "{e:?}");
    let mut refund = RefundOrderRequest::new("refund-0001", 300, 100);
    refund.refund_reason = 3;
    refund.req_from = 2;
    refund.biz_meta = Some("the player changed their mind".into());
    let started = xpay.refund_order(&player, &by_id, &refund).await.unwrap();
    assert_eq!(
        (
            started.refund_order_id.as_str(),
            started.pay_order_id.as_deref(),
            started.pay_wx_order_id.as_deref(),
            started.replayed
        ),
        (
            "refund-0001",
            Some("item-00001"),
            Some(created.wx_order_id.as_str()),
            false
        )
    );
    let refund_ref = OrderRef::OrderId("refund-0001".into());
    let pending = xpay.query_order(&player, &refund_ref).await.unwrap();
    assert_eq!(
        (pending.order_type, status_of(&pending), pending.refund_fee),
        (OrderType::Refund.code(), Some(OrderStatus::Created), Some(100)),
        "1 while in progress"
    );
    assert_eq!(pending.biz_meta.as_deref(), Some("the player changed their mind"));
    assert_eq!(pending.wx_order_id, started.refund_wx_order_id);
    let order = xpay.query_order(&player, &by_id).await.unwrap();
    assert_eq!((order.left_fee, order.refund_fee), (Some(200), Some(100)));
    // The same refund again, on a first attempt: in progress (retryable), not replayed.
    let e = xpay.refund_order(&player, &by_id, &refund).await.unwrap_err();
    assert!(e.is(Code::RefundInProgress) && e.retryable(), "{e:?}");

    // 60 s later it is done; the same number again is 268490004.
    server.clock.advance_secs(60);
    let done = xpay.query_order(&player, &refund_ref).await.unwrap();
    assert_eq!(status_of(&done), Some(OrderStatus::Refunded));
    let e = xpay.refund_order(&player, &by_id, &refund).await.unwrap_err();
    assert!(e.is(Code::Repeated) && !e.retryable(), "{e:?}");

    // The rest: the purchase is refunded in full. Money refunds move no coins.
    xpay.refund_order(&player, &by_wx, &RefundOrderRequest::new("refund-0002", 200, 200))
        .await
        .unwrap();
    let order = xpay.query_order(&player, &by_id).await.unwrap();
    assert_eq!(
        (status_of(&order), order.left_fee, order.refund_fee),
        (Some(OrderStatus::Refunded), Some(0), Some(300))
    );
    assert_eq!(xpay.query_user_balance(&player, &sk).await.unwrap().balance, 0);

    // Another player's purchase is not found; so is the other env's.
    let e = xpay.query_order(&Player::new("q"), &by_id).await.unwrap_err();
    assert!(is_not_found(&e), "{e:?}");
    let e = xpay
        .query_order(&Player::new("p").env(MidasEnv::Sandbox), &by_id)
        .await
        .unwrap_err();
    assert!(is_not_found(&e), "{e:?}");

    // A closed purchase: bought, never paid.
    let mut walked = purchase(&app, "p", MidasEnv::Official, sword(100), "item-00002");
    walked.pay_later = true;
    admin
        .virtual_payment(&walked, &key_of(&app, MidasEnv::Official), &sk)
        .await
        .unwrap();
    admin
        .close_purchase(&app.appid, MidasEnv::Official, "item-00002")
        .await
        .unwrap();
    let order = xpay
        .query_order(&player, &OrderRef::OrderId("item-00002".into()))
        .await
        .unwrap();
    assert_eq!(status_of(&order), Some(OrderStatus::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bills_are_generated_then_linked_and_downloaded() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let xpay = client.xpay();
    let sk = login(&server, &client, "p").await;
    let player = Player::new("p");
    let key = key_of(&app, MidasEnv::Official);
    let admin = admin(&server);
    admin
        .virtual_payment(
            &purchase(&app, "p", MidasEnv::Official, sword(250), "item-00001"),
            &key,
            &sk,
        )
        .await
        .unwrap();
    buy_coins(&server, &app, &sk, "p", MidasEnv::Official, 10, "coins-0001").await;
    xpay.refund_order(
        &player,
        &OrderRef::OrderId("item-00001".into()),
        &RefundOrderRequest::new("refund-0001", 500, 200),
    )
    .await
    .unwrap();

    // START_MS is 2026-01-01 08:00 in China.
    let range = bill_range(20260101, 20260101).unwrap();
    assert_eq!(
        xpay.download_bill(MidasEnv::Official, range).await.unwrap(),
        Bill::Generating,
        "the first call for a range answers 268490011, handed back rather than retried"
    );
    let Bill::Ready(link) = xpay.download_bill(MidasEnv::Official, range).await.unwrap() else {
        panic!("the second call answers the link");
    };
    assert!(link.url.contains("/xpay/bills/"), "a link of this server");
    assert!(
        !format!("{link:?}").contains("/xpay/bills/"),
        "the link is not in Debug output"
    );
    let csv = xpay.download_bill_csv(&link).await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "order_id,wx_order_id,order_type,status,openid,product_id,order_fee,paid_fee,refund_fee,create_time,paid_time,provide_time,pay_order_id"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("refund-0001,") && l.ends_with(",item-00001")));
    // The sandbox has its own bills: none of these.
    assert_eq!(
        xpay.download_bill(MidasEnv::Sandbox, range).await.unwrap(),
        Bill::Generating
    );

    // A link dies after 30 minutes of the server's clock: 404 with 268490002.
    server.clock.advance_secs(1800);
    let e = xpay.download_bill_csv(&link).await.unwrap_err();
    assert!(e.is(Code::InvalidParameter), "{e:?}");
    let e = xpay
        .download_bill_csv(&BillLink {
            url: format!("{}/xpay/bills/nosuchtoken", server.base_url),
        })
        .await
        .unwrap_err();
    assert!(e.is(Code::InvalidParameter), "{e:?}");

    // Ranges are checked before sending: real dates, in order, at most 31 days.
    for (begin, end) in [(20260230, 20260301), (20260102, 20260101), (20260101, 20260201)] {
        let e = bill_range(begin, end).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{begin}-{end}: {e:?}");
    }
    assert_eq!(bill_range(20260101, 20260131).unwrap().days(), 31);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_payments_are_checked_as_the_phone_checks_them() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let admin = admin(&server);
    let sk = login(&server, &client, "p").await;
    let official = key_of(&app, MidasEnv::Official);

    // Goods at a discounted price: the order fee is the discounted unit price times 2.
    let mut discounted = purchase(
        &app,
        "p",
        MidasEnv::Official,
        VirtualProduct::Goods {
            product_id: "shield".into(),
            price_fen: 500,
            activity_price_fen: Some(400),
        },
        "item-00001",
    );
    let bought = admin.virtual_payment(&discounted, &official, &sk).await.unwrap();
    assert_eq!((bought.status.as_str(), bought.balance), ("paid", 0));
    let order = client
        .xpay()
        .query_order(&Player::new("p"), &OrderRef::OrderId("item-00001".into()))
        .await
        .unwrap();
    assert_eq!(order.order_fee, 800);
    assert_eq!(
        discounted.sign_data().unwrap(),
        format!(
            r#"{{"offerId":"{}","buyQuantity":2,"env":0,"currencyType":"CNY","productId":"shield","goodsPrice":500,"activitySellingPrice":400,"outTradeNo":"item-00001","attach":"level-3"}}"#,
            app.offer_id
        )
    );
    assert_eq!(discounted.mode(), virtual_payment::Mode::Goods);

    // The client's own fail codes, read from its table.
    let e = admin.virtual_payment(&discounted, &official, &sk).await.unwrap_err();
    assert!(e.is(virtual_payment::Code::DuplicateOutTradeNo), "{e:?}");
    assert_eq!(
        e.api().unwrap().meaning(),
        virtual_payment::Code::DuplicateOutTradeNo.meaning()
    );
    discounted.out_trade_no = "item-00002".into();
    let e = admin
        .virtual_payment(&discounted, &key_of(&app, MidasEnv::Sandbox), &sk)
        .await
        .unwrap_err();
    assert!(e.is(virtual_payment::Code::PaySigInvalid), "the sandbox key: {e:?}");
    let stranger = purchase(&app, "nobody", MidasEnv::Official, VirtualProduct::Coins, "coins-0001");
    let e = admin.virtual_payment(&stranger, &official, &sk).await.unwrap_err();
    assert!(e.is(virtual_payment::Code::SessionExpired), "{e:?}");
    let _newer = login(&server, &client, "p").await;
    let e = admin.virtual_payment(&discounted, &official, &sk).await.unwrap_err();
    assert!(
        e.is(virtual_payment::Code::SignatureInvalid),
        "an old session_key: {e:?}"
    );
    let mut short = purchase(&app, "p", MidasEnv::Official, VirtualProduct::Coins, "short");
    short.quantity = 1;
    let e = admin.virtual_payment(&short, &official, &sk).await.unwrap_err();
    assert!(e.is(virtual_payment::Code::ParamError), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_errors_and_local_checks() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let xpay = client.xpay();
    let sk = login(&server, &client, "p").await;
    let player = Player::new("p");
    buy_coins(&server, &app, &sk, "p", MidasEnv::Official, 50, "coins-0001").await;

    let e = xpay
        .currency_pay(&player, &CurrencyPayRequest::new("big-00001", 51), &sk)
        .await
        .unwrap_err();
    assert!(e.is(Code::InsufficientBalance), "{e:?}");
    assert_eq!(e.api().unwrap().meaning(), Code::InsufficientBalance.meaning());
    assert!(!e.retryable());

    // A player who never logged in has no session: 268490009. A replaced session_key and
    // the wrong AppKey: 268490003, whose errmsg says which signature.
    let e = xpay
        .query_user_balance(&Player::new("stranger"), &sk)
        .await
        .unwrap_err();
    assert!(e.is(Code::SessionNotFound), "{e:?}");
    let newer = login(&server, &client, "p").await;
    let e = xpay.query_user_balance(&player, &sk).await.unwrap_err();
    assert!(
        e.is(Code::SignatureInvalid) && e.api().unwrap().errmsg.contains("(signature)"),
        "{e:?}"
    );
    let sk = newer;
    let crossed = Client::builder(
        &app.appid,
        app.secret.as_str(),
        &app.offer_id,
        app.sandbox_app_key.as_str(),
    )
    .base_url(&server.base_url)
    .build()
    .unwrap();
    let e = crossed
        .xpay()
        .present_currency(&player, "gift-0001", 1)
        .await
        .unwrap_err();
    assert!(
        e.is(Code::SignatureInvalid) && e.api().unwrap().errmsg.contains("(pay_sig)"),
        "{e:?}"
    );

    // A repeated order_id on a first attempt is an error, whatever the amount: xpay's
    // 268490004 carries no original result to compare.
    let first = xpay
        .currency_pay(&player, &CurrencyPayRequest::new("pay-00001", 10), &sk)
        .await
        .unwrap();
    assert_eq!((first.balance, first.replayed), (Some(40), false));
    let e = xpay
        .currency_pay(&player, &CurrencyPayRequest::new("pay-00001", 10), &sk)
        .await
        .unwrap_err();
    assert!(e.is(Code::Repeated) && !e.retryable(), "{e:?}");
    xpay.present_currency(&player, "gift-0001", 5).await.unwrap();
    let e = xpay.present_currency(&player, "gift-0001", 5).await.unwrap_err();
    assert!(e.is(Code::Repeated), "{e:?}");
    // A number of v1's or 2.0's book is one of xpay's too.
    client
        .v2()
        .pay(
            &openmidas_client::v2::Player::new("p"),
            &openmidas_client::v2::PayRequest::new("v2-pay-0001", 1),
            &sk,
        )
        .await
        .unwrap();
    let e = xpay
        .currency_pay(&player, &CurrencyPayRequest::new("v2-pay-0001", 1), &sk)
        .await
        .unwrap_err();
    assert!(e.is(Code::Repeated), "{e:?}");
    // ...and a 2.0 pay is refunded through xpay.
    xpay.cancel_currency_pay(&player, "back-0001", "v2-pay-0001", 1, &sk)
        .await
        .unwrap();
    let b = xpay.query_user_balance(&player, &sk).await.unwrap();
    assert_eq!((b.balance, b.sum_cost, b.sum_present), (45, 10, 5));

    // Refused before sending: xpay's order_id rule (8-32, no leading `_`), amounts,
    // refund numbers and fees, text sizes.
    for order_id in ["short", "_leading-underscore", "has space 1", &"x".repeat(33)] {
        let e = xpay
            .currency_pay(&player, &CurrencyPayRequest::new(order_id, 1), &sk)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{order_id:?}: {e:?}");
    }
    let e = xpay.present_currency(&player, "gift-0002", 0).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    let mut long_remark = CurrencyPayRequest::new("pay-00002", 1);
    long_remark.remark = Some("r".repeat(1025));
    let e = xpay.currency_pay(&player, &long_remark, &sk).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    let item = OrderRef::OrderId("item-00001".into());
    for request in [
        RefundOrderRequest::new("refund|0001", 10, 1),
        RefundOrderRequest::new("refund-0001", 10, 11),
        RefundOrderRequest::new("refund-0001", 10, 0),
        RefundOrderRequest::new("refund-0001", -1, 1),
        RefundOrderRequest {
            refund_reason: 6,
            ..RefundOrderRequest::new("refund-0001", 10, 1)
        },
        RefundOrderRequest {
            req_from: 0,
            ..RefundOrderRequest::new("refund-0001", 10, 1)
        },
    ] {
        let e = xpay.refund_order(&player, &item, &request).await.unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{request:?}: {e:?}");
    }
    let e = xpay
        .query_order(&player, &OrderRef::WxOrderId("".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    // Unknown orders are `数据不存在`, told apart from field errors of the same code.
    let e = xpay.query_order(&player, &item).await.unwrap_err();
    assert!(is_not_found(&e) && e.is(Code::InvalidParameter), "{e:?}");
    let e = xpay.notify_provide_goods(MidasEnv::Official, &item).await.unwrap_err();
    assert!(is_not_found(&e), "{e:?}");

    // The sandbox needs its AppKey.
    let no_sandbox = Client::builder(&app.appid, app.secret.as_str(), &app.offer_id, app.app_key.as_str())
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let e = no_sandbox
        .xpay()
        .query_user_balance(&Player::new("p").env(MidasEnv::Sandbox), &sk)
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
    // Its clock moves a second each time it is read: a retry must not rebuild its body.
    let ticks = Arc::new(AtomicI64::new(START_MS));
    let client = support::builder(&server, &app, &proxy.base_url)
        .clock(Arc::new(move || ticks.fetch_add(1000, Ordering::Relaxed)))
        .build()
        .unwrap();
    let direct = support::client(&server, &app);
    let session_key = login(&server, &direct, "player").await;
    if initial_coins > 0 {
        buy_coins(
            &server,
            &app,
            &session_key,
            "player",
            MidasEnv::Official,
            initial_coins,
            "coins-0001",
        )
        .await;
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
            .xpay()
            .query_user_balance(&self.player, &self.session_key)
            .await
            .unwrap()
    }

    async fn pay(&self, order_id: &str, amount: i64) -> Result<openmidas_client::xpay::CurrencyPayResult, Error> {
        self.client
            .xpay()
            .currency_pay(
                &self.player,
                &CurrencyPayRequest::new(order_id, amount),
                &self.session_key,
            )
            .await
    }

    /// Every request to `path` carried the same body and query (token and signatures), the
    /// body names `number` as `field`, and the query is xpay's (no sig_method; `signature`
    /// exactly where the operation takes one); answers how many there were.
    fn sent_identically(&self, path: &str, field: &str, number: &str) -> usize {
        let seen = self.proxy.seen(path);
        let first: &Seen = seen.first().expect("a request");
        for other in &seen {
            assert_eq!(other, first, "a retry of {path} changed its request");
        }
        let body: serde_json::Value = serde_json::from_slice(&first.body).expect("JSON body");
        assert_eq!(body[field], number);
        assert!(first.param("pay_sig").is_some() && first.param("sig_method").is_none());
        let signed = [CURRENCY_PAY, CANCEL, BALANCE].contains(&path);
        assert_eq!(first.param("signature").is_some(), signed, "{path}: {}", first.query);
        seen.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_pay_after_an_injected_system_error_is_applied_once() {
    let s = setup(100).await;
    s.proxy.inject(CURRENCY_PAY, Fault::ErrorBeforeForward);
    let paid = s.pay("order-0001", 30).await.unwrap();
    assert_eq!((paid.balance, paid.replayed), (Some(70), false), "the retry applied it");
    assert_eq!(
        (
            s.sent_identically(CURRENCY_PAY, "order_id", "order-0001"),
            s.proxy.forwarded(CURRENCY_PAY)
        ),
        (2, 1)
    );
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (70, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_pay_answered_minus_one_after_being_applied_is_reported_once() {
    let s = setup(100).await;
    s.proxy.inject(CURRENCY_PAY, Fault::ErrorAfterForward);
    let paid = s.pay("order-0001", 30).await.unwrap();
    // The first attempt was applied; the retry got 268490004, which has no balance.
    assert_eq!(
        (
            paid.order_id.as_str(),
            paid.balance,
            paid.used_present_amount,
            paid.replayed
        ),
        ("order-0001", None, None, true)
    );
    assert_eq!(
        (
            s.sent_identically(CURRENCY_PAY, "order_id", "order-0001"),
            s.proxy.forwarded(CURRENCY_PAY)
        ),
        (2, 2)
    );
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (70, 30), "charged once");

    // Two dropped connections after forwarding: still once.
    s.proxy.inject(CURRENCY_PAY, Fault::DropAfterForward);
    s.proxy.inject(CURRENCY_PAY, Fault::DropAfterForward);
    let paid = s.pay("order-0002", 20).await.unwrap();
    assert!(paid.replayed);
    assert_eq!(s.balance().await.sum_cost, 50);

    // Unless repeats are not accepted: then the 268490004 stays an error.
    let strict = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .accept_repeated_bill_no(false)
        .build()
        .unwrap();
    s.proxy.inject(CURRENCY_PAY, Fault::ErrorAfterForward);
    let e = strict
        .xpay()
        .currency_pay(&s.player, &CurrencyPayRequest::new("order-0003", 5), &s.session_key)
        .await
        .unwrap_err();
    assert!(e.is(Code::Repeated), "{e:?}");
    assert_eq!(s.balance().await.sum_cost, 55, "applied once all the same");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn present_after_a_dropped_connection_is_given_once() {
    let s = setup(0).await;
    s.proxy.inject(PRESENT, Fault::DropAfterForward);
    let given = s
        .client
        .xpay()
        .present_currency(&s.player, "gift-0001", 15)
        .await
        .unwrap();
    assert_eq!(
        (
            given.order_id.as_str(),
            given.balance,
            given.present_balance,
            given.replayed
        ),
        ("gift-0001", None, None, true)
    );
    assert_eq!(s.sent_identically(PRESENT, "order_id", "gift-0001"), 2);
    let b = s.balance().await;
    assert_eq!((b.balance, b.present_balance, b.sum_present), (15, 15, 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_a_lost_answer_is_applied_once() {
    let s = setup(100).await;
    s.pay("order-0001", 60).await.unwrap();
    let xpay = s.client.xpay();
    s.proxy.inject(CANCEL, Fault::ErrorAfterForward);
    let back = xpay
        .cancel_currency_pay(&s.player, "back-0001", "order-0001", 20, &s.session_key)
        .await
        .unwrap();
    assert_eq!((back.order_id.as_str(), back.replayed), ("back-0001", true));
    assert_eq!(s.sent_identically(CANCEL, "order_id", "back-0001"), 2);
    // A 502 before forwarding: the retry applies it, nothing replayed.
    s.proxy.inject(CANCEL, Fault::BadGatewayBeforeForward);
    let back = xpay
        .cancel_currency_pay(&s.player, "back-0002", "order-0001", 40, &s.session_key)
        .await
        .unwrap();
    assert!(!back.replayed);
    let b = s.balance().await;
    assert_eq!((b.balance, b.sum_cost), (100, 0));
    let e = xpay
        .cancel_currency_pay(&s.player, "back-0003", "order-0001", 1, &s.session_key)
        .await
        .unwrap_err();
    assert!(e.is(Code::AlreadyRefunded), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_order_after_a_lost_answer_is_started_once() {
    let s = setup(0).await;
    s.server
        .admin("/admin/apps", json!({"appid": s.app.appid, "refund_delay_secs": 60}))
        .await;
    admin(&s.server)
        .virtual_payment(
            &purchase(&s.app, "player", MidasEnv::Official, sword(500), "item-00001"),
            &key_of(&s.app, MidasEnv::Official),
            &s.session_key,
        )
        .await
        .unwrap();
    let xpay = s.client.xpay();
    let item = OrderRef::OrderId("item-00001".into());

    // In progress: the retry meets 268490014, handed back (not re-sent) and read as success.
    s.proxy.inject(REFUND_ORDER, Fault::ErrorAfterForward);
    let refund = RefundOrderRequest::new("refund-0001", 1000, 300);
    let started = xpay.refund_order(&s.player, &item, &refund).await.unwrap();
    assert_eq!(
        (started.refund_order_id.as_str(), started.pay_order_id, started.replayed),
        ("refund-0001", None, true)
    );
    assert_eq!(
        s.sent_identically(REFUND_ORDER, "refund_order_id", "refund-0001"),
        2,
        "268490014 is an answer, not retried"
    );

    // Done by the time of the retry (no delay): 268490004, success too.
    s.server
        .admin("/admin/apps", json!({"appid": s.app.appid, "refund_delay_secs": 0}))
        .await;
    s.proxy.inject(REFUND_ORDER, Fault::DropAfterForward);
    let rest = xpay
        .refund_order(&s.player, &item, &RefundOrderRequest::new("refund-0002", 700, 700))
        .await
        .unwrap();
    assert!(rest.replayed);
    let order = s.direct.xpay().query_order(&s.player, &item).await.unwrap();
    assert_eq!(
        (order.left_fee, order.refund_fee, OrderStatus::from_code(order.status)),
        (Some(0), Some(1000), Some(OrderStatus::Refunded)),
        "each refund applied once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_system_errors_give_up_retryable_and_a_later_call_meets_268490004() {
    let s = setup(100).await;
    for _ in 0..4 {
        s.proxy.inject(CURRENCY_PAY, Fault::ErrorAfterForward);
    }
    let e = s.pay("order-0001", 10).await.unwrap_err();
    assert!(e.is(Common::SystemError) && e.retryable(), "{e:?}");
    assert_eq!(s.sent_identically(CURRENCY_PAY, "order_id", "order-0001"), 4);
    assert_eq!(s.balance().await.balance, 90, "applied by the first attempt");
    // A later call's first attempt cannot know the number was its own: xpay says 268490004.
    let e = s.pay("order-0001", 10).await.unwrap_err();
    assert!(e.is(Code::Repeated), "{e:?}");
    assert_eq!(s.balance().await.sum_cost, 10);

    // Without retries, a lost answer is an error that shows no secret.
    let once = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    s.proxy.inject(CURRENCY_PAY, Fault::DropAfterForward);
    let e = once
        .xpay()
        .currency_pay(&s.player, &CurrencyPayRequest::new("order-0002", 5), &s.session_key)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }) && e.retryable(), "{e:?}");
    let token = once.access_token().await.unwrap();
    let shown = format!("{e} {e:?}");
    for secret in [token.expose(), s.session_key.expose(), "pay_sig=", "signature="] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_token_40001_is_refreshed_and_the_same_body_re_sent() {
    let s = setup(50).await;
    let frozen = Arc::new(ManualClock::new(START_MS));
    let client = support::builder(&s.server, &s.app, &s.proxy.base_url)
        .clock(Arc::new(move || frozen.now_ms()))
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    // Another process fetches a token: ours is retired after the 300 s overlap.
    s.server.token(&s.app).await;
    s.server.clock.advance_secs(301);
    let paid = client
        .xpay()
        .currency_pay(&s.player, &CurrencyPayRequest::new("order-0001", 20), &s.session_key)
        .await
        .unwrap();
    assert_eq!((paid.balance, paid.replayed), (Some(30), false));
    let seen = s.proxy.seen(CURRENCY_PAY);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(seen[0].param("pay_sig"), seen[1].param("pay_sig"));
    assert_eq!(seen[0].param("signature"), seen[1].param("signature"));
    assert_ne!(seen[0].param("access_token"), seen[1].param("access_token"));
}

async fn rule(server: &TestServer, rule: serde_json::Value) {
    let (status, answer) = server.admin("/admin/faults", rule).await;
    assert_eq!((status.as_u16(), &answer["errcode"]), (200, &json!(0)), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_s_own_faults_are_reported_once() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let sk = login(&server, &client, "player").await;
    buy_coins(&server, &app, &sk, "player", MidasEnv::Official, 100, "coins-0001").await;
    let player = Player::new("player");
    let xpay = client.xpay();

    // Debited, then -1: the retry meets 268490004 and the SDK reports one pay.
    rule(
        &server,
        json!({"match": {"path": CURRENCY_PAY}, "errcode": -1, "when": "after", "times": 1}),
    )
    .await;
    let paid = xpay
        .currency_pay(&player, &CurrencyPayRequest::new("order-0001", 30), &sk)
        .await
        .expect("the SDK reports success");
    assert_eq!((paid.balance, paid.replayed), (None, true));

    // Given, then the connection dropped: one present.
    rule(
        &server,
        json!({"match": {"path": PRESENT}, "drop_connection": true, "when": "after", "times": 1}),
    )
    .await;
    let given = xpay.present_currency(&player, "gift-0001", 10).await.unwrap();
    assert!(given.replayed);

    // Refused before running (nothing changed): the retry applies it, not a replay.
    rule(
        &server,
        json!({"match": {"path": CANCEL}, "errcode": -1, "when": "before", "times": 1}),
    )
    .await;
    let back = xpay
        .cancel_currency_pay(&player, "back-0001", "order-0001", 5, &sk)
        .await
        .unwrap();
    assert!(!back.replayed);

    let b = xpay.query_user_balance(&player, &sk).await.unwrap();
    assert_eq!(
        (b.balance, b.sum_cost, b.sum_present),
        (85, 25, 10),
        "each applied once"
    );
    // The request log shows each fault and its retry.
    let (_, log) = server.get_admin("/admin/requests?limit=1000").await;
    let errcodes = |path: &str| -> Vec<serde_json::Value> {
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["path"] == path)
            .map(|e| e["errcode"].clone())
            .collect()
    };
    assert_eq!(errcodes(CURRENCY_PAY), [json!(-1), json!(268490004)]);
    assert_eq!(errcodes(PRESENT), [serde_json::Value::Null, json!(268490004)]);
    assert_eq!(errcodes(CANCEL), [json!(-1), json!(0)]);
}
