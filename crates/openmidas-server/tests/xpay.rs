//! xpay (`/xpay/*`) and `wx.requestVirtualPayment` end to end, through real HTTP on every
//! backend: the checks of behaviour.md section 10.1 in their order, the currency operations
//! on the account v1 and 2.0 share (section 8), purchases through their whole life (created,
//! paid, delivered or closed, refunded in part and in full, section 11), and bills. Every
//! error body is snapshotted (the ` rid: ` suffix redacted).

use openmidas_protocol::client::virtual_payment::PAY_SIG_URI;
use openmidas_protocol::sign;
use openmidas_protocol::xpay::Op;
use openmidas_testkit::*;
use serde_json::{json, Map, Value};

fn snapshot(name: &str, status: StatusCode, body: &Value) {
    insta::assert_json_snapshot!(
        name,
        json!({"status": status.as_u16(), "body": redact_required_rid(body)})
    );
}

/// An app, a token and a logged-in player `p`.
struct Game {
    server: TestServer,
    app: TestApp,
    token: String,
    session: String,
}

fn fields(openid: &str, extra: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("openid".into(), json!(openid));
    map.insert("env".into(), json!(0));
    with(map, extra)
}

impl Game {
    async fn new(server: TestServer) -> Game {
        let app = server.create_app().await;
        let token = server.token(&app).await;
        let session = server.login(&app, "p").await;
        Game {
            server,
            app,
            token,
            session,
        }
    }

    fn body(&self, extra: Value) -> String {
        Value::Object(fields("p", extra)).to_string()
    }

    async fn call(&self, op: Op, extra: Value) -> (StatusCode, Value) {
        let body = self.body(extra);
        self.server.xpay(&self.app, op, &self.token, &body, &self.session).await
    }

    async fn ok(&self, op: Op, extra: Value) -> Value {
        let (status, answer) = self.call(op, extra).await;
        assert_eq!(
            (status, &answer["errcode"]),
            (StatusCode::OK, &json!(0)),
            "{op:?}: {answer}"
        );
        answer
    }

    async fn balance(&self) -> Value {
        self.ok(Op::QueryUserBalance, json!({"user_ip": "127.0.0.1"})).await
    }

    /// A `wx.requestVirtualPayment` of the player, signed as the real client signs it.
    async fn buy(&self, mode: &str, sign_data: Value, pay: &str) -> (StatusCode, Value) {
        let data = sign_data.to_string();
        let signed = sign::v2::sign(PAY_SIG_URI, &data, &self.app.app_key, Some(&self.session));
        self.server
            .admin(
                "/admin/client/virtual_payment",
                json!({"appid": self.app.appid, "openid": "p", "mode": mode, "sign_data": data,
                       "pay_sig": signed.pay_sig, "signature": signed.signature, "pay": pay}),
            )
            .await
    }

    fn coins(&self, out_trade_no: &str, quantity: i64) -> Value {
        json!({"offerId": self.app.offer_id, "buyQuantity": quantity, "env": 0, "currencyType": "CNY",
               "outTradeNo": out_trade_no, "attach": "coins"})
    }

    fn goods(&self, out_trade_no: &str, quantity: i64, price: i64) -> Value {
        json!({"offerId": self.app.offer_id, "buyQuantity": quantity, "env": 0, "currencyType": "CNY",
               "productId": "sword", "goodsPrice": price, "outTradeNo": out_trade_no, "attach": "goods"})
    }
}

async fn currency_on_the_shared_account(server: TestServer) {
    let g = Game::new(server).await;
    let fresh = g.balance().await;
    assert_eq!(
        fresh,
        json!({"errcode": 0, "errmsg": "ok", "balance": 0, "present_balance": 0, "sum_save": 0,
               "sum_present": 0, "sum_balance": 0, "sum_cost": 0, "first_save_flag": true})
    );
    g.server.recharge(&g.app, "p", "official", 100).await;
    let given = g
        .ok(Op::PresentCurrency, json!({"order_id": "gift-0001", "amount": 20}))
        .await;
    assert_eq!(
        given,
        json!({"errcode": 0, "errmsg": "ok", "balance": 120, "order_id": "gift-0001", "present_balance": 20})
    );
    let paid = g
        .ok(
            Op::CurrencyPay,
            json!({"order_id": "pay-00001", "amount": 30, "user_ip": "1.2.3.4", "payitem": "[]", "remark": "r"}),
        )
        .await;
    assert_eq!(
        paid,
        json!({"errcode": 0, "errmsg": "ok", "order_id": "pay-00001", "balance": 90, "used_present_amount": 20})
    );
    // Repeats: 268490004, whatever the amount.
    for (op, extra, name) in [
        (
            Op::CurrencyPay,
            json!({"order_id": "pay-00001", "amount": 30}),
            "currency_pay_repeated",
        ),
        (
            Op::CurrencyPay,
            json!({"order_id": "pay-00001", "amount": 31}),
            "currency_pay_repeated_other_amount",
        ),
        (
            Op::PresentCurrency,
            json!({"order_id": "gift-0001", "amount": 20}),
            "present_repeated",
        ),
    ] {
        let (status, answer) = g.call(op, extra).await;
        snapshot(name, status, &answer);
    }
    let (status, answer) = g
        .call(Op::CurrencyPay, json!({"order_id": "pay-00002", "amount": 91}))
        .await;
    snapshot("currency_pay_balance_too_low", status, &answer);

    // Refunds: cash back first, partial, then the rest; then refunded in full.
    let (status, answer) = g
        .call(
            Op::CancelCurrencyPay,
            json!({"pay_order_id": "pay-00001", "order_id": "back-0001", "amount": 31}),
        )
        .await;
    snapshot("cancel_above_the_pay", status, &answer);
    let back = g
        .ok(
            Op::CancelCurrencyPay,
            json!({"pay_order_id": "pay-00001", "order_id": "back-0001", "amount": 10}),
        )
        .await;
    assert_eq!(back, json!({"errcode": 0, "errmsg": "ok", "order_id": "back-0001"}));
    let b = g.balance().await;
    assert_eq!(
        (&b["balance"], &b["present_balance"]),
        (&json!(100), &json!(0)),
        "cash back first: {b}"
    );
    g.ok(
        Op::CancelCurrencyPay,
        json!({"pay_order_id": "pay-00001", "order_id": "back-0002", "amount": 20}),
    )
    .await;
    let (status, answer) = g
        .call(
            Op::CancelCurrencyPay,
            json!({"pay_order_id": "pay-00001", "order_id": "back-0003", "amount": 1}),
        )
        .await;
    snapshot("cancel_fully_refunded", status, &answer);
    let (status, answer) = g
        .call(
            Op::CancelCurrencyPay,
            json!({"pay_order_id": "nosuchpay", "order_id": "back-0004", "amount": 1}),
        )
        .await;
    snapshot("cancel_unknown_pay", status, &answer);
    let b = g.balance().await;
    assert_eq!(
        (&b["balance"], &b["present_balance"], &b["sum_cost"]),
        (&json!(120), &json!(20), &json!(0))
    );

    // One account with 2.0 (and v1's zone 1): the same balance, and one book of numbers.
    let v2_body = Value::Object(g.app.v2_fields("p")).to_string();
    let (_, v2) = g
        .server
        .v2(
            &g.app,
            openmidas_protocol::v2::Op::GetBalance,
            &g.token,
            &v2_body,
            &g.session,
        )
        .await;
    assert_eq!((&v2["balance"], &v2["present_balance"]), (&json!(120), &json!(20)));
    let v2_pay = Value::Object(with(
        g.app.v2_fields("p"),
        json!({"bill_no": "pay-00001", "amount": 30}),
    ))
    .to_string();
    let (_, repeat) = g
        .server
        .v2(&g.app, openmidas_protocol::v2::Op::Pay, &g.token, &v2_pay, &g.session)
        .await;
    assert_eq!(
        repeat["errcode"], 90012,
        "an xpay order_id is a 2.0 bill_no of the same book: {repeat}"
    );
}

async fn checks_in_order(server: TestServer) {
    let g = Game::new(server).await;
    let pay = Op::CurrencyPay;
    let good = g.body(json!({"order_id": "order-001", "amount": 1}));
    let query = g.app.xpay_query(pay, &g.token, &good, &g.session);
    let path = |q: &str| format!("{}?{q}", pay.uri());
    let post = |q: String, body: String| {
        let server = &g.server;
        async move { server.post_raw(&path(&q), body).await }
    };

    // 1. The token.
    let (status, answer) = post(query.replace(&g.token, "nosuchtoken"), good.clone()).await;
    snapshot("token_unknown", status, &answer);
    // 2. The query: pay_sig everywhere, signature on the three that take one.
    let no_pay_sig = query.split("&pay_sig=").next().unwrap().to_string();
    let (status, answer) = post(no_pay_sig, good.clone()).await;
    snapshot("pay_sig_missing", status, &answer);
    let no_signature = query
        .split('&')
        .filter(|p| !p.starts_with("signature="))
        .collect::<Vec<_>>()
        .join("&");
    let (status, answer) = post(no_signature, good.clone()).await;
    snapshot("signature_missing", status, &answer);
    // 3. The body.
    let (status, answer) = post(query.clone(), "not json".into()).await;
    snapshot("body_not_json", status, &answer);
    let (status, answer) = post(query.clone(), format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000))).await;
    snapshot("body_too_large", status, &answer);
    // 4. The fields (each with its own signatures, so only the field is wrong).
    for (name, extra) in [
        (
            "openid_empty",
            json!({"openid": "", "order_id": "order-001", "amount": 1}),
        ),
        ("order_id_short", json!({"order_id": "short", "amount": 1})),
        ("order_id_charset", json!({"order_id": "_leading1", "amount": 1})),
        ("amount_zero", json!({"order_id": "order-001", "amount": 0})),
        ("amount_string", json!({"order_id": "order-001", "amount": "10"})),
        ("env_two", json!({"env": 2, "order_id": "order-001", "amount": 1})),
        ("amount_missing", json!({"order_id": "order-001"})),
    ] {
        let (status, answer) = g.call(pay, extra).await;
        snapshot(name, status, &answer);
    }
    // 5. pay_sig (with the body echo), then the player's signature, then its session.
    let bad_pay_sig = query.replace(
        &format!(
            "pay_sig={}",
            sign::v2::pay_sig(&g.app.app_key, pay.uri(), good.as_bytes())
        ),
        &format!(
            "pay_sig={}",
            sign::v2::pay_sig(&g.app.sandbox_app_key, pay.uri(), good.as_bytes())
        ),
    );
    let (status, answer) = post(bad_pay_sig, good.clone()).await;
    snapshot("pay_sig_wrong", status, &answer);
    let bad_signature = query.replace(
        &format!("signature={}", sign::v2::signature(&g.session, good.as_bytes())),
        &format!("signature={}", "0".repeat(64)),
    );
    let (status, answer) = post(bad_signature, good.clone()).await;
    snapshot("signature_wrong", status, &answer);
    let stranger = Value::Object(fields("nobody", json!({"order_id": "order-001", "amount": 1}))).to_string();
    let (status, answer) = g.server.xpay(&g.app, pay, &g.token, &stranger, &g.session).await;
    snapshot("no_session", status, &answer);
    // Nothing above moved anything.
    assert_eq!(g.balance().await["sum_cost"], 0);

    // Order operations: exactly one of order_id and wx_order_id; download_bill's days.
    for (name, op, extra) in [
        (
            "query_order_both_ids",
            Op::QueryOrder,
            json!({"order_id": "order-001", "wx_order_id": "wx1"}),
        ),
        ("query_order_no_id", Op::QueryOrder, json!({})),
        ("query_order_unknown", Op::QueryOrder, json!({"order_id": "order-001"})),
        (
            "bill_range_too_long",
            Op::DownloadBill,
            json!({"begin_ds": 20260101, "end_ds": 20260201}),
        ),
        (
            "bill_not_a_date",
            Op::DownloadBill,
            json!({"begin_ds": 20260230, "end_ds": 20260301}),
        ),
        (
            "bill_backwards",
            Op::DownloadBill,
            json!({"begin_ds": 20260102, "end_ds": 20260101}),
        ),
    ] {
        let (status, answer) = g.call(op, extra).await;
        snapshot(name, status, &answer);
    }
}

async fn purchases_through_their_life(server: TestServer) {
    let g = Game::new(server).await;
    g.server
        .admin("/admin/apps", json!({"appid": g.app.appid, "refund_delay_secs": 60}))
        .await;

    // Coins: paid and credited at once (status 4).
    let (_, bought) = g.buy("short_series_coin", g.coins("coins-0001", 30), "auto").await;
    assert_eq!(
        (&bought["errcode"], &bought["status"], &bought["balance"]),
        (&json!(0), &json!("delivered"), &json!(30))
    );
    let order = &g.ok(Op::QueryOrder, json!({"order_id": "coins-0001"})).await["order"];
    assert_eq!(
        (
            &order["status"],
            &order["order_fee"],
            &order["paid_fee"],
            &order["left_fee"]
        ),
        (&json!(4), &json!(300), &json!(300), &json!(300))
    );
    let keys: Vec<&str> = order.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "order_id",
            "create_time",
            "update_time",
            "status",
            "biz_type",
            "order_fee",
            "paid_fee",
            "order_type",
            "paid_time",
            "provide_time",
            "env_type",
            "left_fee",
            "wx_order_id",
            "channel_order_id",
            "wxpay_order_id"
        ],
        "exactly the documented fields, the optional ones where they apply"
    );
    assert_eq!(g.balance().await["balance"], 30);

    // Goods: paid, waiting for delivery (2); notify_provide_goods delivers (4).
    let (_, item) = g.buy("short_series_goods", g.goods("item-00001", 2, 150), "auto").await;
    assert_eq!(item["status"], "paid");
    let by_wx = g.ok(Op::QueryOrder, json!({"wx_order_id": item["wx_order_id"]})).await;
    assert_eq!(
        (
            &by_wx["order"]["order_id"],
            &by_wx["order"]["status"],
            &by_wx["order"]["order_fee"]
        ),
        (&json!("item-00001"), &json!(2), &json!(300))
    );
    g.ok(Op::NotifyProvideGoods, json!({"order_id": "item-00001"})).await;
    g.ok(Op::NotifyProvideGoods, json!({"wx_order_id": item["wx_order_id"]}))
        .await;
    let delivered = g.ok(Op::QueryOrder, json!({"order_id": "item-00001"})).await;
    assert_eq!(delivered["order"]["status"], 4);
    assert!(delivered["order"]["provide_time"].is_i64());

    // Left unpaid (1), then paid (2); another left unpaid, then closed (6).
    let (_, pending) = g
        .buy("short_series_goods", g.goods("item-00002", 1, 100), "manual")
        .await;
    assert_eq!(pending["status"], "created");
    assert_eq!(
        g.ok(Op::QueryOrder, json!({"order_id": "item-00002"})).await["order"]["status"],
        1
    );
    let (status, answer) = g.call(Op::NotifyProvideGoods, json!({"order_id": "item-00002"})).await;
    snapshot("deliver_unpaid", status, &answer);
    let (status, answer) = g
        .call(Op::RefundOrder, json!({"order_id": "item-00002", "refund_order_id": "refund-0001", "left_fee": 100, "refund_fee": 1, "refund_reason": "1", "req_from": "1"}))
        .await;
    snapshot("refund_unpaid", status, &answer);
    g.server
        .admin(
            "/admin/client/purchases/pay",
            json!({"appid": g.app.appid, "env": 0, "out_trade_no": "item-00002"}),
        )
        .await;
    assert_eq!(
        g.ok(Op::QueryOrder, json!({"order_id": "item-00002"})).await["order"]["status"],
        2
    );
    g.buy("short_series_goods", g.goods("item-00003", 1, 100), "manual")
        .await;
    g.server
        .admin(
            "/admin/client/purchases/close",
            json!({"appid": g.app.appid, "env": 0, "out_trade_no": "item-00003"}),
        )
        .await;
    assert_eq!(
        g.ok(Op::QueryOrder, json!({"order_id": "item-00003"})).await["order"]["status"],
        6
    );

    // Refunds of money: left_fee must match; in progress for 60 s; then done.
    let refund = |number: &str, left_fee: i64, refund_fee: i64| {
        json!({"order_id": "item-00001", "refund_order_id": number, "left_fee": left_fee, "refund_fee": refund_fee,
               "refund_reason": "2", "req_from": "1", "biz_meta": "why"})
    };
    let (status, answer) = g.call(Op::RefundOrder, refund("refund-0002", 299, 100)).await;
    snapshot("refund_left_fee_stale", status, &answer);
    let started = g.ok(Op::RefundOrder, refund("refund-0002", 300, 100)).await;
    assert_eq!(started["refund_order_id"], "refund-0002");
    assert_eq!(started["pay_order_id"], "item-00001");
    assert_eq!(started["pay_wx_order_id"], item["wx_order_id"]);
    let keys: Vec<&str> = started.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "errcode",
            "errmsg",
            "refund_order_id",
            "refund_wx_order_id",
            "pay_order_id",
            "pay_wx_order_id"
        ]
    );
    let (status, answer) = g.call(Op::RefundOrder, refund("refund-0002", 300, 100)).await;
    snapshot("refund_in_progress", status, &answer);
    let in_progress = g.ok(Op::QueryOrder, json!({"order_id": "refund-0002"})).await;
    assert_eq!(
        (
            &in_progress["order"]["order_type"],
            &in_progress["order"]["status"],
            &in_progress["order"]["refund_fee"]
        ),
        (&json!(1), &json!(1), &json!(100))
    );
    assert_eq!(in_progress["order"]["biz_meta"], "why");
    let purchase = g.ok(Op::QueryOrder, json!({"order_id": "item-00001"})).await;
    assert_eq!(
        (&purchase["order"]["left_fee"], &purchase["order"]["refund_fee"]),
        (&json!(200), &json!(100))
    );
    g.server.admin("/admin/clock", json!({"advance_secs": 60})).await;
    let done = g.ok(Op::QueryOrder, json!({"order_id": "refund-0002"})).await;
    assert_eq!(done["order"]["status"], 5);
    let (status, answer) = g.call(Op::RefundOrder, refund("refund-0002", 300, 100)).await;
    snapshot("refund_repeated", status, &answer);
    // The rest: the purchase is refunded in full (5); coins never move.
    let token = g.server.token(&g.app).await;
    let g = Game { token, ..g };
    g.ok(Op::RefundOrder, refund("refund-0003", 200, 200)).await;
    assert_eq!(
        g.ok(Op::QueryOrder, json!({"order_id": "item-00001"})).await["order"]["status"],
        5
    );
    assert_eq!(g.balance().await["balance"], 30, "money refunds move no coins");
    let (status, answer) = g.call(Op::RefundOrder, refund("refund-0004", 1, 1)).await;
    snapshot("refund_fully_refunded", status, &answer);
    let (status, answer) = g.call(Op::RefundOrder, refund("refund-0004", 0, 1)).await;
    snapshot("refund_fee_above_left_fee", status, &answer);

    // Another player's order is not found; the client's own refusals.
    let other = Value::Object(fields("q", json!({"order_id": "item-00001"}))).to_string();
    let (status, answer) = g
        .server
        .xpay(&g.app, Op::QueryOrder, &g.token, &other, &g.session)
        .await;
    snapshot("query_order_other_player", status, &answer);
    let (status, answer) = g.buy("short_series_coin", g.coins("coins-0001", 30), "auto").await;
    snapshot("buy_out_trade_no_reused", status, &answer);
    let mut dollars = g.coins("coins-0002", 1);
    dollars["currencyType"] = json!("USD");
    let (status, answer) = g.buy("short_series_coin", dollars, "auto").await;
    snapshot("buy_currency", status, &answer);
    let (status, answer) = g.buy("short_series_goods", g.coins("coins-0003", 1), "auto").await;
    snapshot("buy_goods_without_product", status, &answer);
    let mut typed = g.coins("coins-0004", 1);
    typed["offerId"] = json!(123);
    let (status, answer) = g.buy("short_series_coin", typed, "auto").await;
    snapshot("buy_offer_id_number", status, &answer);
    let data = g.coins("coins-0005", 1).to_string();
    let wrong = sign::v2::sign(PAY_SIG_URI, &data, &g.app.sandbox_app_key, Some(&g.session));
    let right = sign::v2::sign(PAY_SIG_URI, &data, &g.app.app_key, Some(&g.session));
    let buy_raw = |pay_sig: &str, signature: &str, openid: &str| {
        json!({"appid": g.app.appid, "openid": openid, "mode": "short_series_coin", "sign_data": data,
               "pay_sig": pay_sig, "signature": signature})
    };
    let (status, answer) = g
        .server
        .admin(
            "/admin/client/virtual_payment",
            buy_raw(&wrong.pay_sig, right.signature.as_deref().unwrap(), "p"),
        )
        .await;
    snapshot("buy_pay_sig_wrong", status, &answer);
    let (status, answer) = g
        .server
        .admin(
            "/admin/client/virtual_payment",
            buy_raw(&right.pay_sig, &"0".repeat(64), "p"),
        )
        .await;
    snapshot("buy_signature_wrong", status, &answer);
    let (status, answer) = g
        .server
        .admin(
            "/admin/client/virtual_payment",
            buy_raw(&right.pay_sig, &"0".repeat(64), "nobody"),
        )
        .await;
    snapshot("buy_no_session", status, &answer);
    let (status, answer) = g
        .server
        .admin(
            "/admin/client/virtual_payment",
            json!({"appid": g.app.appid, "openid": "p", "mode": "short_series_coin", "sign_data": {"offerId": "1"},
                   "pay_sig": "x", "signature": "y"}),
        )
        .await;
    snapshot("buy_sign_data_not_a_string", status, &answer);
}

async fn bills(server: TestServer) {
    let g = Game::new(server).await;
    g.buy("short_series_goods", g.goods("item-00001", 1, 500), "auto").await;
    g.buy("short_series_coin", g.coins("coins-0001", 10), "auto").await;
    g.ok(Op::RefundOrder, json!({"order_id": "item-00001", "refund_order_id": "refund-0001", "left_fee": 500, "refund_fee": 200, "refund_reason": "0", "req_from": "2"}))
        .await;
    // START_MS is 2026-01-01T00:00:00Z: 08:00 in China, on 2026-01-01.
    let range = json!({"begin_ds": 20260101, "end_ds": 20260101});
    let (status, answer) = g.call(Op::DownloadBill, range.clone()).await;
    snapshot("bill_generating", status, &answer);
    let ready = g.ok(Op::DownloadBill, range.clone()).await;
    let url = ready["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&g.server.base_url) && url.contains("/xpay/bills/"),
        "{url}"
    );
    assert_eq!(
        g.ok(Op::DownloadBill, range.clone()).await["url"],
        ready["url"],
        "the same link while it lives"
    );
    // As a third-party client (silenceper/wechat) sends it: no env (official), days as strings.
    let (status, answer) = g
        .server
        .xpay(
            &g.app,
            Op::DownloadBill,
            &g.token,
            r#"{"begin_ds":"20260101","end_ds":"20260101"}"#,
            &g.session,
        )
        .await;
    assert_eq!((status, &answer["url"]), (StatusCode::OK, &ready["url"]), "{answer}");
    let response = g.server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "order_id,wx_order_id,order_type,status,openid,product_id,order_fee,paid_fee,refund_fee,create_time,paid_time,provide_time,pay_order_id"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("refund-0001,") && l.ends_with(",item-00001")),
        "{csv}"
    );
    assert!(lines.iter().any(|l| l.starts_with("coins-0001,")), "{csv}");
    // Another day holds none of them; a link dies after 30 minutes.
    let (_, _) = g
        .call(Op::DownloadBill, json!({"begin_ds": 20251231, "end_ds": 20251231}))
        .await;
    let other_day = g
        .ok(Op::DownloadBill, json!({"begin_ds": 20251231, "end_ds": 20251231}))
        .await;
    let csv = g
        .server
        .http
        .get(other_day["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "{csv}");
    g.server.admin("/admin/clock", json!({"advance_secs": 1800})).await;
    let (status, answer) = g.server.get(&url.replace(&g.server.base_url, "")).await;
    snapshot("bill_link_expired", status, &answer);
}

backend_tests!(
    currency_on_the_shared_account,
    checks_in_order,
    purchases_through_their_life,
    bills,
);
