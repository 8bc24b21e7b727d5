//! Virtual payment 2.0 (`/wxa/game/*`) end to end, through real HTTP on every backend: the
//! checks of behaviour.md section 9.1 in their order, the field rules of 9.2, the ledger
//! answers, the accounts shared with v1 (section 8) and the app options. Every error body
//! is snapshotted (the ` rid: ` suffix redacted), so wire compatibility is reviewable byte
//! for byte.

use openmidas_protocol::v2::Op;
use openmidas_testkit::*;
use serde_json::{json, Map, Value};

fn snapshot(name: &str, status: StatusCode, body: &Value) {
    insta::assert_json_snapshot!(
        name,
        json!({"status": status.as_u16(), "body": redact_required_rid(body)})
    );
}

/// The simulated client's answers (its errors end with a request id, as WeChat's do).
fn snapshot_client(name: &str, status: StatusCode, body: &Value) {
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

impl Game {
    async fn new(server: TestServer) -> Game {
        Game::with_options(server, json!({})).await
    }

    async fn with_options(server: TestServer, options: Value) -> Game {
        let app = server.create_app_with(7, options).await;
        let token = server.token(&app).await;
        let session = server.login(&app, "p").await;
        Game {
            server,
            app,
            token,
            session,
        }
    }

    /// The common fields for `openid`, plus `extra`, serialized.
    fn body(&self, openid: &str, extra: Value) -> String {
        let fields: Map<String, Value> = with(self.app.v2_fields(openid), extra);
        Value::Object(fields).to_string()
    }

    /// Sends `body`, signed with `p`'s session.
    async fn call(&self, op: Op, body: &str) -> (StatusCode, Value) {
        self.server.v2(&self.app, op, &self.token, body, &self.session).await
    }

    /// Sends `body` with the query given as is (for the query checks).
    async fn raw(&self, op: Op, query: &str, body: &str) -> (StatusCode, Value) {
        self.server
            .post_raw(&format!("{}?{query}", op.uri()), body.to_string())
            .await
    }

    async fn ok(&self, op: Op, extra: Value) -> Value {
        let (status, answer) = self.call(op, &self.body("p", extra)).await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
        answer
    }

    async fn balance(&self) -> Value {
        self.ok(Op::GetBalance, json!({})).await
    }
}

async fn happy_path(server: TestServer) {
    let g = Game::new(server).await;
    // A never-seen account: all zero, first_save true; exactly the documented fields, in order.
    let body = g.body("p", json!({}));
    let query = g.app.v2_query(Op::GetBalance, &g.token, &body, &g.session);
    let text = reqwest::Client::new()
        .post(g.server.url(&format!("{}?{query}", Op::GetBalance.uri())))
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        text,
        r#"{"errcode":0,"errmsg":"ok","balance":0,"present_balance":0,"sum_save":0,"sum_present":0,"sum_balance":0,"sum_cost":0,"first_save":true}"#
    );

    // The documentation's example: recharged 10, present 1, pay 1 (the gift first).
    g.server.recharge(&g.app, "p", "official", 10).await;
    let present = g.ok(Op::Present, json!({"bill_no": "present-1", "amount": 1})).await;
    assert_eq!(
        present,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "present-1", "balance": 11})
    );
    let pay = g
        .ok(
            Op::Pay,
            json!({"bill_no": "pay-1", "amount": 1, "payitem": "sword", "remark": "r"}),
        )
        .await;
    assert_eq!(
        pay,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "pay-1", "balance": 10, "used_present_amount": 1})
    );
    assert_eq!(
        g.balance().await,
        json!({"errcode":0,"errmsg":"ok","balance":10,"present_balance":0,"sum_save":10,"sum_present":1,"sum_balance":11,"sum_cost":1,"first_save":false})
    );

    // A refund of the pay, an order of its own: the gift it took comes back.
    let refund = g
        .ok(
            Op::CancelPay,
            json!({"bill_no": "refund-1", "pay_bill_no": "pay-1", "amount": 1}),
        )
        .await;
    assert_eq!(
        refund,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "refund-1", "balance": 11, "used_present_amount": 1})
    );
    let balance = g.balance().await;
    assert_eq!(
        (balance["present_balance"].clone(), balance["sum_cost"].clone()),
        (json!(1), json!(0))
    );

    // coin_type 1 reads the zone-"1" account, which this is; user_ip is accepted.
    let top_up = g
        .ok(Op::GetBalance, json!({"coin_type": 1, "user_ip": "10.0.0.1"}))
        .await;
    assert_eq!(top_up["balance"], 11);

    // The sandbox (env 1) is another account, signed with the sandbox key.
    let sandbox = g.ok(Op::GetBalance, json!({"env": 1})).await;
    assert_eq!(sandbox["balance"], 0);
}

async fn partial_refunds_give_back_cash_first(server: TestServer) {
    let g = Game::new(server).await;
    g.server.recharge(&g.app, "p", "official", 100).await;
    g.ok(Op::Present, json!({"bill_no": "g", "amount": 10})).await;
    // 30: 10 gift and 20 cash.
    let pay = g.ok(Op::Pay, json!({"bill_no": "p1", "amount": 30})).await;
    assert_eq!(pay["used_present_amount"], 10);
    // 15: cash only.
    let r1 = g
        .ok(
            Op::CancelPay,
            json!({"bill_no": "r1", "pay_bill_no": "p1", "amount": 15}),
        )
        .await;
    assert_eq!(
        (r1["balance"].clone(), r1["used_present_amount"].clone()),
        (json!(95), json!(0))
    );
    // 10: the 5 cash left, then 5 gift.
    let r2 = g
        .ok(
            Op::CancelPay,
            json!({"bill_no": "r2", "pay_bill_no": "p1", "amount": 10}),
        )
        .await;
    assert_eq!(
        (r2["balance"].clone(), r2["used_present_amount"].clone()),
        (json!(105), json!(5))
    );
    // 6 is more than the 5 left.
    let (status, answer) = g
        .call(
            Op::CancelPay,
            &g.body("p", json!({"bill_no": "r3", "pay_bill_no": "p1", "amount": 6})),
        )
        .await;
    snapshot("refund_above_what_is_left", status, &answer);
    let r3 = g
        .ok(
            Op::CancelPay,
            json!({"bill_no": "r3", "pay_bill_no": "p1", "amount": 5}),
        )
        .await;
    assert_eq!(
        (r3["balance"].clone(), r3["used_present_amount"].clone()),
        (json!(110), json!(5))
    );
    // Fully refunded: any more is "amount invalid".
    let (_, answer) = g
        .call(
            Op::CancelPay,
            &g.body("p", json!({"bill_no": "r4", "pay_bill_no": "p1", "amount": 1})),
        )
        .await;
    assert_eq!(answer["errcode"], 90018);
    let balance = g.balance().await;
    assert_eq!(
        (
            balance["balance"].clone(),
            balance["present_balance"].clone(),
            balance["sum_cost"].clone()
        ),
        (json!(110), json!(10), json!(0))
    );

    // A repeated refund number: the original result when pay_bill_no and amount match.
    let (status, again) = g
        .call(
            Op::CancelPay,
            &g.body("p", json!({"bill_no": "r2", "pay_bill_no": "p1", "amount": 10})),
        )
        .await;
    snapshot("refund_repeated_same_parameters", status, &again);
    let (status, other) = g
        .call(
            Op::CancelPay,
            &g.body("p", json!({"bill_no": "r2", "pay_bill_no": "p1", "amount": 9})),
        )
        .await;
    snapshot("refund_repeated_other_parameters", status, &other);
}

async fn ledger_refusals(server: TestServer) {
    let g = Game::new(server).await;
    g.server.recharge(&g.app, "p", "official", 50).await;
    let (status, answer) = g
        .call(Op::Pay, &g.body("p", json!({"bill_no": "big", "amount": 51})))
        .await;
    snapshot("balance_not_enough", status, &answer);

    g.ok(Op::Pay, json!({"bill_no": "b", "amount": 20})).await;
    let (status, answer) = g
        .call(Op::Pay, &g.body("p", json!({"bill_no": "b", "amount": 20})))
        .await;
    snapshot("pay_repeated_same_parameters", status, &answer);
    let (status, answer) = g
        .call(Op::Pay, &g.body("p", json!({"bill_no": "b", "amount": 21})))
        .await;
    snapshot("pay_repeated_other_parameters", status, &answer);
    g.ok(Op::Present, json!({"bill_no": "gift", "amount": 3})).await;
    let (status, answer) = g
        .call(Op::Present, &g.body("p", json!({"bill_no": "gift", "amount": 3})))
        .await;
    snapshot("present_repeated_same_parameters", status, &answer);

    // Refunds of what is not a pay of this account in this env: 90000.
    let refund = |pay: &str, number: &str| json!({"bill_no": number, "pay_bill_no": pay, "amount": 1});
    let (status, answer) = g.call(Op::CancelPay, &g.body("p", refund("nothing", "r1"))).await;
    snapshot("refund_of_unknown_pay", status, &answer);
    let (_, answer) = g.call(Op::CancelPay, &g.body("p", refund("gift", "r2"))).await;
    assert_eq!(answer["errcode"], 90000, "a present is not a pay");
    let (_, answer) = g
        .call(Op::CancelPay, &g.body("p", with_env(refund("b", "r3"), 1)))
        .await;
    assert_eq!(answer["errcode"], 90000, "the sandbox has no such pay");
    let other = g.server.login(&g.app, "q").await;
    let body = g.body("q", refund("b", "r4"));
    let (_, answer) = g.server.v2(&g.app, Op::CancelPay, &g.token, &body, &other).await;
    assert_eq!(answer["errcode"], 90000, "another player's pay");

    // Past the cancel window (48 h by default, on the virtual clock).
    g.server.clock.advance_secs(48 * 3600 + 1);
    let token = g.server.token(&g.app).await;
    let body = g.body("p", refund("b", "r5"));
    let (status, answer) = g.server.v2(&g.app, Op::CancelPay, &token, &body, &g.session).await;
    snapshot("refund_past_the_window", status, &answer);
}

fn with_env(mut extra: Value, env: i64) -> Value {
    extra["env"] = json!(env);
    extra
}

async fn token_errors(server: TestServer) {
    let g = Game::new(server).await;
    let body = g.body("p", json!({}));
    let signed = g.app.v2_query(Op::GetBalance, "t", &body, &g.session);
    let without_token = signed.trim_start_matches("access_token=t&");
    let (status, answer) = g.raw(Op::GetBalance, without_token, &body).await;
    snapshot("access_token_missing", status, &answer);
    let (status, answer) = g.raw(Op::GetBalance, &signed, &body).await;
    snapshot("access_token_unknown", status, &answer);
    g.server.clock.advance_secs(7200);
    let (status, answer) = g.call(Op::GetBalance, &body).await;
    snapshot("access_token_expired", status, &answer);
}

async fn query_errors(server: TestServer) {
    let g = Game::new(server).await;
    let body = g.body("p", json!({}));
    let t = &g.token;
    let cases = [
        (
            "signature_missing",
            format!("access_token={t}&sig_method=hmac_sha256&pay_sig=00"),
        ),
        (
            "signature_empty",
            format!("access_token={t}&signature=&sig_method=hmac_sha256&pay_sig=00"),
        ),
        (
            "sig_method_missing",
            format!("access_token={t}&signature=00&pay_sig=00"),
        ),
        (
            "sig_method_wrong",
            format!("access_token={t}&signature=00&sig_method=md5&pay_sig=00"),
        ),
        (
            "pay_sig_missing",
            format!("access_token={t}&signature=00&sig_method=hmac_sha256"),
        ),
    ];
    for (name, query) in cases {
        let (status, answer) = g.raw(Op::GetBalance, &query, &body).await;
        snapshot(name, status, &answer);
    }
}

async fn body_errors(server: TestServer) {
    let g = Game::new(server).await;
    let cases = [
        ("empty_body", String::new()),
        ("invalid_json", "{\"openid\":".to_string()),
        ("not_an_object", "[1,2]".to_string()),
        ("duplicate_key", g.body("p", json!({})).replace("{", "{\"env\":0,")),
    ];
    for (name, body) in cases {
        let (status, answer) = g.call(Op::GetBalance, &body).await;
        snapshot(name, status, &answer);
    }
    let big = g.body("p", json!({"remark": "x".repeat(70_000)}));
    let (status, answer) = g.call(Op::Pay, &big).await;
    snapshot("body_too_large", status, &answer);
}

async fn field_errors(server: TestServer) {
    let g = Game::new(server).await;
    // Each common field missing, in check order.
    for field in ["openid", "offer_id", "ts", "zone_id", "env"] {
        let mut fields = g.app.v2_fields("p");
        fields.remove(field);
        let (status, answer) = g.call(Op::GetBalance, &Value::Object(fields).to_string()).await;
        snapshot(&format!("missing_{field}"), status, &answer);
    }
    let pay = json!({"bill_no": "b", "amount": 1});
    let cases: Vec<(&str, Op, Value)> = vec![
        ("bill_no_a_number", Op::Pay, json!({"bill_no": 10013324, "amount": 1})),
        ("amount_a_string", Op::Pay, json!({"bill_no": "b", "amount": "1"})),
        ("amount_a_fraction", Op::Pay, json!({"bill_no": "b", "amount": 1.5})),
        ("amount_zero", Op::Pay, json!({"bill_no": "b", "amount": 0})),
        (
            "amount_too_large",
            Op::Pay,
            json!({"bill_no": "b", "amount": 1_000_000_001}),
        ),
        ("amount_missing", Op::Present, json!({"bill_no": "b"})),
        ("bill_no_missing", Op::Pay, json!({"amount": 1})),
        (
            "bill_no_starts_with_underscore",
            Op::Pay,
            json!({"bill_no": "_b", "amount": 1}),
        ),
        ("bill_no_v1_character", Op::Pay, json!({"bill_no": "a|b", "amount": 1})),
        (
            "bill_no_too_long",
            Op::Pay,
            json!({"bill_no": "b".repeat(64), "amount": 1}),
        ),
        (
            "payitem_too_long",
            Op::Pay,
            with(
                pay.as_object().cloned().unwrap_or_default(),
                json!({"payitem": "x".repeat(1025)}),
            )
            .into(),
        ),
        (
            "remark_a_number",
            Op::Pay,
            with(pay.as_object().cloned().unwrap_or_default(), json!({"remark": 5})).into(),
        ),
        ("user_ip_a_number", Op::GetBalance, json!({"user_ip": 5})),
        ("env_two", Op::GetBalance, json!({"env": 2})),
        ("env_a_string", Op::GetBalance, json!({"env": "0"})),
        ("openid_empty", Op::GetBalance, json!({"openid": ""})),
        ("zone_id_a_number", Op::GetBalance, json!({"zone_id": 1})),
        ("ts_a_string", Op::GetBalance, json!({"ts": "1"})),
        ("coin_type_two", Op::GetBalance, json!({"coin_type": 2})),
        (
            "coin_type_one_in_zone_two",
            Op::GetBalance,
            json!({"coin_type": 1, "zone_id": "2"}),
        ),
        (
            "pay_bill_no_missing",
            Op::CancelPay,
            json!({"bill_no": "r", "amount": 1}),
        ),
        (
            "refund_amount_missing",
            Op::CancelPay,
            json!({"bill_no": "r", "pay_bill_no": "b"}),
        ),
        ("out_trade_no_missing", Op::QueryOrderInfo, json!({"biz_id": 1})),
        (
            "biz_id_three",
            Op::QueryOrderInfo,
            json!({"out_trade_no": "t", "biz_id": 3}),
        ),
        ("biz_id_missing", Op::QueryOrderInfo, json!({"out_trade_no": "t"})),
    ];
    for (name, op, extra) in cases {
        let (status, answer) = g.call(op, &g.body("p", extra)).await;
        snapshot(name, status, &answer);
    }
    // queryorderinfo takes no user_ip and ignores one sent, whatever its type.
    let (_, answer) = g
        .call(
            Op::QueryOrderInfo,
            &g.body("p", json!({"out_trade_no": "t", "biz_id": 1, "user_ip": 5})),
        )
        .await;
    assert_eq!(answer["errcode"], 90019);
}

async fn app_and_signature_errors(server: TestServer) {
    let g = Game::new(server).await;
    let body = g.body("p", json!({}));

    // Another offer than the token's app's.
    let other_offer = g.body("p", json!({"offer_id": "1450099999"}));
    let (status, answer) = g.call(Op::GetBalance, &other_offer).await;
    snapshot("offer_id_not_the_apps", status, &answer);

    // pay_sig with the other environment's key, over another path, or in uppercase.
    let sandbox_signed = sign_v2(Op::GetBalance, &body, &g.app.sandbox_app_key, &g.session);
    let (status, answer) = g
        .raw(
            Op::GetBalance,
            &format!("access_token={}&{sandbox_signed}", g.token),
            &body,
        )
        .await;
    snapshot("pay_sig_of_the_other_env", status, &answer);
    let other_path = openmidas_protocol::sign::v2::sign(Op::Pay.uri(), &body, &g.app.app_key, Some(&g.session));
    let (_, answer) = g.raw(Op::GetBalance, &other_path.query(&g.token), &body).await;
    assert_eq!(answer["errcode"], 90011, "pay_sig covers the path");
    let upper = g.app.v2_query(Op::GetBalance, &g.token, &body, &g.session);
    let (sig_part, pay_sig) = upper.rsplit_once("pay_sig=").expect("pay_sig");
    let (status, answer) = g
        .raw(
            Op::GetBalance,
            &format!("{sig_part}pay_sig={}", pay_sig.to_uppercase()),
            &body,
        )
        .await;
    snapshot("pay_sig_uppercase", status, &answer);

    // The body the client signed is not the body it sent (re-serialized with spaces).
    let spaced = body.replace(",", ", ");
    let signed_compact = g.app.v2_query(Op::GetBalance, &g.token, &body, &g.session);
    let (status, answer) = g.raw(Op::GetBalance, &signed_compact, &spaced).await;
    snapshot("pay_sig_over_another_body", status, &answer);

    // No session for this player: 90016; a stale or wrong session_key: 90010.
    let stranger = g.body("nobody", json!({}));
    let (status, answer) = g.call(Op::GetBalance, &stranger).await;
    snapshot("no_session", status, &answer);
    let (status, answer) = g
        .server
        .v2(&g.app, Op::GetBalance, &g.token, &body, "d3Jvbmcgc2Vzc2lvbiBrZXk=")
        .await;
    snapshot("signature_invalid", status, &answer);
    let old_session = g.session.clone();
    g.server.login(&g.app, "p").await;
    let (_, answer) = g.server.v2(&g.app, Op::GetBalance, &g.token, &body, &old_session).await;
    assert_eq!(answer["errcode"], 90010, "only the newest session_key signs");

    // The body echo stops at 1024 bytes.
    let long = g.body("p", json!({"user_ip": "1".repeat(60), "padding": "é".repeat(600)}));
    let (status, answer) = g.server.v2(&g.app, Op::GetBalance, &g.token, &long, "x").await;
    assert_eq!(status, StatusCode::OK);
    let errmsg = answer["errmsg"].as_str().unwrap_or_default();
    assert!(errmsg.contains("...], base64_encoded_post_body: "), "{errmsg}");
}

fn sign_v2(op: Op, body: &str, key: &str, session: &str) -> String {
    let signed = openmidas_protocol::sign::v2::sign(op.uri(), body, key, Some(session));
    let query = signed.query("t");
    query.trim_start_matches("access_token=t&").to_string()
}

async fn ts_window_and_options(server: TestServer) {
    let g = Game::with_options(
        server,
        json!({"ts_window_secs": 60, "signature_hex": "any", "bill_no_charset": "v1", "cancel_window_secs": 10}),
    )
    .await;
    let stale = g.body("p", json!({"ts": START_MS / 1000 - 61}));
    let (status, answer) = g.call(Op::GetBalance, &stale).await;
    snapshot("ts_outside_window", status, &answer);
    g.ok(Op::GetBalance, json!({"ts": START_MS / 1000 - 60})).await;

    // signature_hex = "any": uppercase hex is accepted.
    let body = g.body("p", json!({}));
    let signed = openmidas_protocol::sign::v2::sign(Op::GetBalance.uri(), &body, &g.app.app_key, Some(&g.session));
    let query = format!(
        "access_token={}&signature={}&sig_method=hmac_sha256&pay_sig={}",
        g.token,
        signed.signature.unwrap_or_default().to_uppercase(),
        signed.pay_sig.to_uppercase()
    );
    let (_, answer) = g.raw(Op::GetBalance, &query, &body).await;
    assert_eq!(answer["errcode"], 0, "{answer}");

    // bill_no_charset = "v1": v1's characters are accepted.
    g.server.recharge(&g.app, "p", "official", 10).await;
    g.ok(Op::Pay, json!({"bill_no": "a|b*c@d", "amount": 2})).await;

    // cancel_window_secs = 10.
    g.server.clock.advance_secs(11);
    let (_, answer) = g
        .call(
            Op::CancelPay,
            &g.body("p", json!({"bill_no": "r", "pay_bill_no": "a|b*c@d", "amount": 1})),
        )
        .await;
    assert_eq!(answer["errcode"], 90014);
}

/// App option `session_ttl_secs`: an older session signs nothing, in either dialect, until
/// the player logs in again.
async fn session_lifetime(server: TestServer) {
    let g = Game::with_options(server, json!({"session_ttl_secs": 60})).await;
    g.ok(Op::GetBalance, json!({})).await;
    g.server.clock.advance_secs(60);
    g.ok(Op::GetBalance, json!({})).await;
    g.server.clock.advance_secs(1);
    let (status, answer) = g.call(Op::GetBalance, &g.body("p", json!({}))).await;
    assert_eq!(
        (status, answer["errcode"].clone()),
        (StatusCode::OK, json!(90016)),
        "{answer}"
    );
    let v1 = g.app.signed(GETBALANCE, &g.token, g.app.fields("p"), Some(&g.session));
    let (_, answer) = g.server.midas(GETBALANCE, &g.token, &v1).await;
    assert_eq!(answer["errcode"], 90010, "{answer}");
    let fresh = g.server.login(&g.app, "p").await;
    let body = g.body("p", json!({}));
    let (_, answer) = g.server.v2(&g.app, Op::GetBalance, &g.token, &body, &fresh).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
}

/// behaviour.md section 8: one account and one order book whichever dialect touches it.
async fn v1_and_2_0_share_accounts_and_numbers(server: TestServer) {
    let g = Game::new(server).await;
    let g = &g;
    let v1_call = |endpoint, extra: Value| {
        let body = g.app.signed(endpoint, &g.token, with(g.app.fields("p"), extra), None);
        async move { g.server.midas(endpoint, &g.token, &body).await.1 }
    };

    // A 2.0 present shows in a v1 getbalance.
    g.ok(Op::Present, json!({"bill_no": "g1", "amount": 5})).await;
    g.server.recharge(&g.app, "p", "official", 100).await;
    let v1_balance = v1_call(GETBALANCE, json!({})).await;
    assert_eq!(
        (v1_balance["balance"].clone(), v1_balance["gen_balance"].clone()),
        (json!(105), json!(5))
    );

    // A v1 pay, refunded partly by 2.0; v1 cancelpay gives back only the rest.
    let paid = v1_call(PAY, json!({"bill_no": "v1-pay", "amt": 40})).await;
    assert_eq!(
        (paid["balance"].clone(), paid["used_gen_amt"].clone()),
        (json!(65), json!(5))
    );
    let refund = g
        .ok(
            Op::CancelPay,
            json!({"bill_no": "v2-refund", "pay_bill_no": "v1-pay", "amount": 30}),
        )
        .await;
    assert_eq!(
        (refund["balance"].clone(), refund["used_present_amount"].clone()),
        (json!(95), json!(0))
    );
    let cancelled = v1_call(CANCELPAY, json!({"bill_no": "v1-pay"})).await;
    assert_eq!(cancelled, json!({"errcode": 0, "errmsg": "ok", "bill_no": "v1-pay"}));
    let v1_balance = v1_call(GETBALANCE, json!({})).await;
    assert_eq!(
        (
            v1_balance["balance"].clone(),
            v1_balance["gen_balance"].clone(),
            v1_balance["cost_sum"].clone()
        ),
        (json!(105), json!(5), json!(0))
    );
    // Closed: 90015 for v1, "amount invalid" for 2.0.
    let again = v1_call(CANCELPAY, json!({"bill_no": "v1-pay"})).await;
    assert_eq!(again["errcode"], 90015);
    let (_, answer) = g
        .call(
            Op::CancelPay,
            &g.body(
                "p",
                json!({"bill_no": "v2-refund-2", "pay_bill_no": "v1-pay", "amount": 1}),
            ),
        )
        .await;
    assert_eq!(answer["errcode"], 90018);

    // A 2.0 pay refunded in full by 2.0: v1 cancelpay answers 90015.
    g.ok(Op::Pay, json!({"bill_no": "v2-pay", "amount": 10})).await;
    g.ok(
        Op::CancelPay,
        json!({"bill_no": "v2-refund-3", "pay_bill_no": "v2-pay", "amount": 10}),
    )
    .await;
    let answer = v1_call(CANCELPAY, json!({"bill_no": "v2-pay"})).await;
    assert_eq!(answer["errcode"], 90015);

    // One book: a v1 pay's number repeated by a 2.0 pay of the same account and amount is
    // the same order (its original result, in 2.0's names); a refund number used as a pay.
    let v1_paid = v1_call(PAY, json!({"bill_no": "shared", "amt": 7})).await;
    let (status, answer) = g
        .call(Op::Pay, &g.body("p", json!({"bill_no": "shared", "amount": 7})))
        .await;
    snapshot("v2_pay_repeats_a_v1_pay", status, &answer);
    assert_eq!(answer["balance"], v1_paid["balance"]);
    let answer = v1_call(PAY, json!({"bill_no": "v2-refund", "amt": 1})).await;
    assert_eq!(answer["errcode"], 90012);
    let answer = v1_call(PRESENT, json!({"bill_no": "g1", "present_counts": 5})).await;
    assert_eq!(
        strip_rid(&answer),
        json!({"errcode": 90012, "errmsg": "bill_no repeated", "bill_no": "g1", "balance": 5}),
        "a v1 repeat of a 2.0 present carries the original result in v1's names"
    );

    // Every movement is in the one journal, in order.
    let (_, journal) = g
        .server
        .get_admin(&format!("/admin/journal?appid={}&openid=p", g.app.appid))
        .await;
    let kinds: Vec<&str> = journal["entries"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        [
            "present",
            "recharge",
            "pay",
            "refund",
            "cancelpay",
            "pay",
            "refund",
            "pay"
        ]
    );
}

/// The player's side (behaviour.md section 11) as 2.0's queryorderinfo sees it.
async fn purchases_and_queryorderinfo(server: TestServer) {
    let g = Game::new(server).await;
    let admin = |path: &'static str, body: Value| {
        let server = &g.server;
        async move { server.admin(path, body).await }
    };
    let appid = g.app.appid.clone();

    // Coins through wx.requestMidasPayment (env as 2.0's 0/1 or as a name).
    let (_, bought) = admin(
        "/admin/client/midas_payment",
        json!({"appid": appid, "openid": "p", "env": 0, "buy_quantity": 60, "out_trade_no": "coins-1"}),
    )
    .await;
    assert_eq!(
        bought,
        json!({"errcode": 0, "errmsg": "ok", "out_trade_no": "coins-1", "balance": 60})
    );
    let info = g
        .ok(Op::QueryOrderInfo, json!({"out_trade_no": "coins-1", "biz_id": 1}))
        .await;
    assert_eq!(info["product_id"], "");
    assert_eq!(
        (info["pay_state"].clone(), info["deliver_state"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(info["pay_finish_time"], START_MS / 1000);
    let transaction_id = info["transaction_id"].as_str().unwrap_or_default().to_string();
    assert!(
        transaction_id.starts_with("4200") && transaction_id.len() == 28,
        "{transaction_id}"
    );
    assert!(!info["mch_order_no"].as_str().unwrap_or_default().is_empty());
    let keys: Vec<&String> = info.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(
        keys,
        [
            "errcode",
            "errmsg",
            "product_id",
            "pay_state",
            "deliver_state",
            "pay_finish_time",
            "out_trade_no",
            "mch_order_no",
            "transaction_id"
        ]
    );
    // Same number again: -15003 (the purchase book is its own).
    let (_, repeated) = admin(
        "/admin/client/midas_payment",
        json!({"appid": appid, "openid": "p", "env": "official", "buy_quantity": 1, "out_trade_no": "coins-1"}),
    )
    .await;
    assert_eq!(repeated["errcode"], -15003);
    // A purchase number and a currency number never collide.
    g.ok(Op::Present, json!({"bill_no": "coins-1", "amount": 1})).await;

    // Not found: unknown, the other biz_id, another player, the other env.
    for (name, openid, extra) in [
        ("purchase_unknown", "p", json!({"out_trade_no": "nothing", "biz_id": 1})),
        (
            "purchase_of_the_other_biz",
            "p",
            json!({"out_trade_no": "coins-1", "biz_id": 2}),
        ),
        (
            "purchase_of_the_sandbox",
            "p",
            json!({"out_trade_no": "coins-1", "biz_id": 1, "env": 1}),
        ),
    ] {
        let (status, answer) = g.call(Op::QueryOrderInfo, &g.body(openid, extra)).await;
        snapshot(name, status, &answer);
    }
    let q_session = g.server.login(&g.app, "q").await;
    let body = g.body("q", json!({"out_trade_no": "coins-1", "biz_id": 1}));
    let (_, answer) = g
        .server
        .v2(&g.app, Op::QueryOrderInfo, &g.token, &body, &q_session)
        .await;
    assert_eq!(answer["errcode"], 90019, "another player's purchase");

    // A purchase the player pays later: unpaid, then paid and credited.
    let (_, pending) = admin(
        "/admin/client/midas_payment",
        json!({"appid": appid, "openid": "p", "env": 0, "buy_quantity": 5, "out_trade_no": "later", "pay": "manual"}),
    )
    .await;
    assert_eq!(pending["balance"], 61, "nothing credited before payment");
    let info = g
        .ok(Op::QueryOrderInfo, json!({"out_trade_no": "later", "biz_id": 1}))
        .await;
    assert_eq!(
        (
            info["pay_state"].clone(),
            info["deliver_state"].clone(),
            info["pay_finish_time"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    g.server.clock.advance_secs(30);
    let (_, paid) = admin(
        "/admin/client/purchases/pay",
        json!({"appid": appid, "env": 0, "out_trade_no": "later"}),
    )
    .await;
    assert_eq!(
        paid,
        json!({"errcode": 0, "errmsg": "ok", "out_trade_no": "later", "status": "delivered", "balance": 66})
    );
    let info = g
        .ok(Op::QueryOrderInfo, json!({"out_trade_no": "later", "biz_id": 1}))
        .await;
    assert_eq!(info["pay_finish_time"], START_MS / 1000 + 30);
    let (_, twice) = admin(
        "/admin/client/purchases/pay",
        json!({"appid": appid, "env": 0, "out_trade_no": "later"}),
    )
    .await;
    assert_eq!(twice["errcode"], 40097, "{twice}");

    // One the player walks away from: closed, never credited.
    admin(
        "/admin/client/midas_payment",
        json!({"appid": appid, "openid": "p", "env": 0, "buy_quantity": 5, "out_trade_no": "walk", "pay": "manual"}),
    )
    .await;
    let (_, closed) = admin(
        "/admin/client/purchases/close",
        json!({"appid": appid, "env": "official", "out_trade_no": "walk"}),
    )
    .await;
    assert_eq!(
        closed,
        json!({"errcode": 0, "errmsg": "ok", "out_trade_no": "walk", "status": "closed"})
    );
    let (_, after) = admin(
        "/admin/client/purchases/pay",
        json!({"appid": appid, "env": 0, "out_trade_no": "walk"}),
    )
    .await;
    assert_eq!(after["errcode"], 40097);
    assert_eq!(g.balance().await["balance"], 66);
}

/// Item purchases through `wx.requestMidasPaymentGameItem`, verified like the real client.
async fn game_item_purchases(server: TestServer) {
    let g = Game::new(server).await;
    let sign_data = |out_trade_no: &str, offer: &str, extra: &str| {
        format!(
            r#"{{"mode":"goods","offerId":"{offer}","buyQuantity":2,"env":0,"currencyType":"CNY","platform":"android","zoneId":"1","productId":"sword","goodsPrice":300,"outTradeNo":"{out_trade_no}","attach":"a"{extra}}}"#
        )
    };
    let signed = |data: &str, key: &str, session: &str| {
        let s = openmidas_protocol::sign::v2::sign(
            openmidas_protocol::client::game_item::PAY_SIG_URI,
            data,
            key,
            Some(session),
        );
        (s.pay_sig, s.signature.unwrap_or_default())
    };
    let buy = |data: String, pay_sig: String, signature: String, openid: &'static str| {
        let body = json!({"appid": g.app.appid, "openid": openid, "sign_data": data, "pay_sig": pay_sig, "signature": signature});
        let server = &g.server;
        async move { server.admin("/admin/client/game_item", body).await }
    };

    let data = sign_data("item-1", &g.app.offer_id, "");
    let (pay_sig, signature) = signed(&data, &g.app.app_key, &g.session);
    let (_, bought) = buy(data.clone(), pay_sig.clone(), signature.clone(), "p").await;
    assert_eq!(
        bought,
        json!({"errcode": 0, "errmsg": "ok", "out_trade_no": "item-1", "status": "paid"})
    );
    let info = g
        .ok(Op::QueryOrderInfo, json!({"out_trade_no": "item-1", "biz_id": 2}))
        .await;
    assert_eq!(
        (
            info["product_id"].clone(),
            info["pay_state"].clone(),
            info["deliver_state"].clone()
        ),
        (json!("sword"), json!(2), json!(1))
    );
    assert_eq!(g.balance().await["balance"], 0, "an item purchase moves no coins");

    let (status, answer) = buy(data.clone(), pay_sig.clone(), signature.clone(), "p").await;
    snapshot_client("game_item_duplicate", status, &answer);
    let (status, answer) = g
        .server
        .admin(
            "/admin/client/game_item",
            json!({"appid": g.app.appid, "openid": "p", "sign_data": {"offerId": "1"}, "pay_sig": "x", "signature": "y"}),
        )
        .await;
    snapshot_client("game_item_sign_data_not_a_string", status, &answer);
    let data = sign_data("item-2", &g.app.offer_id, "");
    let (_, signature) = signed(&data, &g.app.app_key, &g.session);
    let (wrong_pay_sig, _) = signed(&data, &g.app.sandbox_app_key, &g.session);
    let (status, answer) = buy(data.clone(), wrong_pay_sig, signature, "p").await;
    snapshot_client("game_item_pay_sig_invalid", status, &answer);
    // The request log explains it (behaviour.md section 13.3).
    let (_, logged) = g
        .server
        .get_admin(&format!("/admin/requests/{}", rid_of(&answer)))
        .await;
    let diagnosis = &logged["request"]["diagnosis"];
    assert_eq!(diagnosis["key"], "<AppKey official>", "{logged}");
    assert!(
        diagnosis["likely_cause"]
            .as_str()
            .unwrap_or_default()
            .contains("sandbox AppKey"),
        "{logged}"
    );
    let (pay_sig, _) = signed(&data, &g.app.app_key, &g.session);
    let (status, answer) = buy(data.clone(), pay_sig.clone(), "00".repeat(32), "p").await;
    snapshot_client("game_item_signature_invalid", status, &answer);
    let (status, answer) = buy(data.clone(), pay_sig, "00".repeat(32), "nobody").await;
    snapshot_client("game_item_no_session", status, &answer);
    let data = sign_data("item-3", "1450012345", "");
    let (pay_sig, signature) = signed(&data, &g.app.app_key, &g.session);
    let (status, answer) = buy(data, pay_sig, signature, "p").await;
    snapshot_client("game_item_other_offer", status, &answer);
    let data = sign_data("item-4", &g.app.offer_id, "").replace("CNY", "USD");
    let (pay_sig, signature) = signed(&data, &g.app.app_key, &g.session);
    let (status, answer) = buy(data, pay_sig, signature, "p").await;
    snapshot_client("game_item_currency", status, &answer);
}

/// What the 2.0 routes answer to other methods and to an unknown 2.0 path (with a rid,
/// as every 2.0 error).
async fn routes_and_methods(server: TestServer) {
    let (status, answer) = server.get(Op::Pay.uri()).await;
    snapshot("get_on_a_2_0_route", status, &answer);
    let put = server.http.put(server.url(Op::Pay.uri())).send().await.expect("PUT");
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    let answer: Value = put.json().await.expect("JSON");
    assert_eq!(
        answer["errcode"], 43002,
        "a POST route answers 43002 whatever the method"
    );
    let (status, answer) = server.post_raw("/wxa/game/refund", "{}").await;
    snapshot("unknown_2_0_path", status, &answer);
    // A GET-only route answers 43001 to every other method.
    let delete = server
        .http
        .delete(server.url("/cgi-bin/token"))
        .send()
        .await
        .expect("DELETE");
    let answer: Value = delete.json().await.expect("JSON");
    assert_eq!(answer["errcode"], 43001);
}

backend_tests!(
    happy_path,
    partial_refunds_give_back_cash_first,
    ledger_refusals,
    token_errors,
    query_errors,
    body_errors,
    field_errors,
    app_and_signature_errors,
    ts_window_and_options,
    session_lifetime,
    v1_and_2_0_share_accounts_and_numbers,
    purchases_and_queryorderinfo,
    game_item_purchases,
    routes_and_methods,
);
