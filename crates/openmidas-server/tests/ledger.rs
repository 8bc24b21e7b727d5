//! pay, cancelpay and present end to end (behaviour.md sections 3 and 4), official and
//! sandbox, through real HTTP; every error body snapshotted.

use openmidas_testkit::*;
use serde_json::{json, Map, Value};

fn snapshot(name: &str, status: StatusCode, body: &Value) {
    insta::assert_json_snapshot!(
        name,
        json!({"status": status.as_u16(), "body": redact_required_rid(body)})
    );
}

struct Fixture {
    server: TestServer,
    app: TestApp,
    token: String,
}

impl Fixture {
    async fn new(server: TestServer) -> Fixture {
        let app = server.create_app().await;
        let token = server.token(&app).await;
        Fixture { server, app, token }
    }

    async fn call(
        &self,
        endpoint: openmidas_protocol::v1::Endpoint,
        fields: Map<String, Value>,
    ) -> (StatusCode, Value) {
        let body = self.app.signed(endpoint, &self.token, fields, None);
        self.server.midas(endpoint, &self.token, &body).await
    }

    async fn pay(&self, openid: &str, bill_no: &str, amt: i64) -> Value {
        self.call(
            PAY,
            with(self.app.fields(openid), json!({"bill_no": bill_no, "amt": amt})),
        )
        .await
        .1
    }

    async fn present(&self, openid: &str, bill_no: &str, count: i64) -> Value {
        self.call(
            PRESENT,
            with(
                self.app.fields(openid),
                json!({"bill_no": bill_no, "present_counts": count}),
            ),
        )
        .await
        .1
    }

    async fn cancel(&self, openid: &str, bill_no: &str) -> Value {
        self.call(CANCELPAY, with(self.app.fields(openid), json!({"bill_no": bill_no})))
            .await
            .1
    }

    async fn balance(&self, openid: &str) -> Value {
        self.call(GETBALANCE, self.app.fields(openid)).await.1
    }
}

async fn pay_spends_gift_first(server: TestServer) {
    let f = Fixture::new(server).await;
    f.server.recharge(&f.app, "p", "official", 100).await;
    assert_eq!(
        f.present("p", "gift-1", 30).await,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "gift-1", "balance": 130})
    );
    assert_eq!(
        f.pay("p", "pay-1", 50).await,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "pay-1", "balance": 80, "used_gen_amt": 30})
    );
    assert_eq!(
        f.balance("p").await,
        json!({"errcode":0,"errmsg":"ok","balance":80,"gen_balance":0,"first_save":2,"save_amt":100,"save_sum":130,"cost_sum":50,"present_sum":30})
    );
    // Insufficient: 90013, nothing changes.
    let (status, answer) = f
        .call(PAY, with(f.app.fields("p"), json!({"bill_no": "pay-2", "amt": 81})))
        .await;
    snapshot("insufficient_balance", status, &answer);
    assert_eq!(f.balance("p").await["balance"], 80);
    // The refused bill_no was not consumed.
    assert_eq!(f.pay("p", "pay-2", 80).await["balance"], 0);

    // A present-only account: first_save stays 1.
    f.present("q", "gift-q", 5).await;
    let q = f.balance("q").await;
    assert_eq!(
        (q["balance"].clone(), q["gen_balance"].clone(), q["first_save"].clone()),
        (json!(5), json!(5), json!(1))
    );
}

async fn duplicate_bill_no(server: TestServer) {
    let f = Fixture::new(server).await;
    f.server.recharge(&f.app, "p", "official", 100).await;
    let first = f.pay("p", "dup-1", 10).await;
    f.pay("p", "other", 5).await;
    // Same parameters (a retry, with a new ts): 90012 carrying the original result.
    let retry = with(
        f.app.fields("p"),
        json!({"bill_no": "dup-1", "amt": 10, "ts": START_MS / 1000 + 30}),
    );
    let (status, answer) = f.call(PAY, retry).await;
    snapshot("pay_repeated_same_params", status, &answer);
    assert_eq!(answer["balance"], first["balance"]);
    // Different amount, another player, or a present with that bill_no: 90012, bare.
    let (status, answer) = f
        .call(PAY, with(f.app.fields("p"), json!({"bill_no": "dup-1", "amt": 11})))
        .await;
    snapshot("pay_repeated_other_params", status, &answer);
    let bare = redact_required_rid(&answer);
    assert_eq!(redact_required_rid(&f.pay("q", "dup-1", 10).await), bare);
    assert_eq!(redact_required_rid(&f.present("p", "dup-1", 10).await), bare);
    assert_eq!(f.balance("p").await["balance"], 85);

    // Present: same rules.
    f.present("p", "gift-1", 3).await;
    let (status, answer) = f
        .call(
            PRESENT,
            with(f.app.fields("p"), json!({"bill_no": "gift-1", "present_counts": 3})),
        )
        .await;
    snapshot("present_repeated_same_params", status, &answer);
    assert_eq!(f.balance("p").await["balance"], 88);

    // bill_no is per (env, appid, offer_id): the sandbox has its own.
    f.server.recharge(&f.app, "p", "sandbox", 10).await;
    let body = f.app.signed(
        SANDBOX_PAY,
        &f.token,
        with(f.app.fields("p"), json!({"bill_no": "dup-1", "amt": 10})),
        None,
    );
    assert_eq!(f.server.midas(SANDBOX_PAY, &f.token, &body).await.1["errcode"], 0);

    // Replay mode: errcode 0 with the original result.
    f.server
        .admin(
            "/admin/apps",
            json!({"appid": f.app.appid, "duplicate_bill_no": "replay"}),
        )
        .await;
    let (_, answer) = f
        .call(PAY, with(f.app.fields("p"), json!({"bill_no": "dup-1", "amt": 10})))
        .await;
    assert_eq!(
        answer,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "dup-1", "balance": 90, "used_gen_amt": 0})
    );
    let (_, answer) = f
        .call(PAY, with(f.app.fields("p"), json!({"bill_no": "dup-1", "amt": 99})))
        .await;
    assert_eq!(answer["errcode"], 90012);
    assert_eq!(f.balance("p").await["balance"], 88);
}

async fn cancelpay_rules(server: TestServer) {
    let mut f = Fixture::new(server).await;
    f.server.recharge(&f.app, "p", "official", 100).await;
    f.present("p", "gift", 20).await;
    f.pay("p", "pay-1", 50).await; // 20 gift + 30 cash
    assert_eq!(
        f.cancel("p", "pay-1").await,
        json!({"errcode": 0, "errmsg": "ok", "bill_no": "pay-1"})
    );
    assert_eq!(
        f.balance("p").await,
        json!({"errcode":0,"errmsg":"ok","balance":120,"gen_balance":20,"first_save":2,"save_amt":100,"save_sum":120,"cost_sum":0,"present_sum":20})
    );
    let (status, answer) = f
        .call(CANCELPAY, with(f.app.fields("p"), json!({"bill_no": "pay-1"})))
        .await;
    snapshot("cancel_already_cancelled", status, &answer);
    let (status, answer) = f
        .call(CANCELPAY, with(f.app.fields("p"), json!({"bill_no": "never"})))
        .await;
    snapshot("cancel_unknown", status, &answer);
    // A present is not a pay; another player's pay is not found.
    assert_eq!(f.cancel("p", "gift").await["errcode"], 90000);
    f.pay("p", "pay-2", 10).await;
    assert_eq!(f.cancel("q", "pay-2").await["errcode"], 90000);
    // The 48 h window, on the manual clock.
    f.server.clock.advance_secs(48 * 3600);
    f.token = f.server.token(&f.app).await; // the old one expired after 2 h
    assert_eq!(f.cancel("p", "pay-2").await["errcode"], 0);
    f.pay("p", "pay-3", 10).await;
    f.server.clock.advance_secs(48 * 3600 + 1);
    f.token = f.server.token(&f.app).await;
    let (status, answer) = f
        .call(CANCELPAY, with(f.app.fields("p"), json!({"bill_no": "pay-3"})))
        .await;
    snapshot("cancel_too_late", status, &answer);
    // A cancelled pay's bill_no stays used.
    assert_eq!(f.pay("p", "pay-1", 50).await["errcode"], 90012);
    assert_eq!(f.balance("p").await["balance"], 110);
}

async fn sandbox_twins(server: TestServer) {
    let f = Fixture::new(server).await;
    f.server.recharge(&f.app, "p", "sandbox", 40).await;
    let call = |endpoint, extra: Value| {
        let f = &f;
        async move {
            let body = f.app.signed(endpoint, &f.token, with(f.app.fields("p"), extra), None);
            f.server.midas(endpoint, &f.token, &body).await.1
        }
    };
    assert_eq!(
        call(SANDBOX_PRESENT, json!({"bill_no": "g", "present_counts": 2})).await["balance"],
        42
    );
    assert_eq!(
        call(SANDBOX_PAY, json!({"bill_no": "b", "amt": 12})).await["used_gen_amt"],
        2
    );
    assert_eq!(call(SANDBOX_CANCELPAY, json!({"bill_no": "b"})).await["errcode"], 0);
    assert_eq!(call(SANDBOX_GETBALANCE, json!({})).await["balance"], 42);
    assert_eq!(f.balance("p").await["balance"], 0, "official untouched");
    // Official keys do not open the sandbox.
    let body = sign_body(
        SANDBOX_PAY,
        &f.app.app_key,
        &f.token,
        with(f.app.fields("p"), json!({"bill_no": "x", "amt": 1})),
        None,
    );
    assert_eq!(f.server.midas(SANDBOX_PAY, &f.token, &body).await.1["errcode"], 90011);
}

async fn field_errors(server: TestServer) {
    let f = Fixture::new(server).await;
    let cases: Vec<(&str, openmidas_protocol::v1::Endpoint, Value)> = vec![
        ("pay_missing_amt", PAY, json!({"bill_no": "b"})),
        ("pay_missing_bill_no", PAY, json!({"amt": 1})),
        ("pay_amt_string", PAY, json!({"bill_no": "b", "amt": "1"})),
        ("pay_amt_zero", PAY, json!({"bill_no": "b", "amt": 0})),
        ("pay_amt_negative", PAY, json!({"bill_no": "b", "amt": -5})),
        ("pay_amt_too_big", PAY, json!({"bill_no": "b", "amt": 1_000_000_001i64})),
        ("pay_bill_no_charset", PAY, json!({"bill_no": "a/b", "amt": 1})),
        (
            "pay_bill_no_too_long",
            PAY,
            json!({"bill_no": "b".repeat(64), "amt": 1}),
        ),
        ("pay_bill_no_number", PAY, json!({"bill_no": 12, "amt": 1})),
        (
            "pay_pay_item_too_long",
            PAY,
            json!({"bill_no": "b", "amt": 1, "pay_item": "x".repeat(1025)}),
        ),
        (
            "pay_app_remark_type",
            PAY,
            json!({"bill_no": "b", "amt": 1, "app_remark": []}),
        ),
        ("present_missing_counts", PRESENT, json!({"bill_no": "b"})),
        (
            "present_counts_float",
            PRESENT,
            json!({"bill_no": "b", "present_counts": 2.0}),
        ),
        (
            "present_bill_no_empty",
            PRESENT,
            json!({"bill_no": "", "present_counts": 1}),
        ),
        ("cancel_missing_bill_no", CANCELPAY, json!({})),
    ];
    for (name, endpoint, extra) in cases {
        let (status, answer) = f.call(endpoint, with(f.app.fields("p"), extra)).await;
        snapshot(name, status, &answer);
    }
    // An integer past 64 bits (fields are checked before the signature, so no re-signing).
    let body = f.app.signed(
        PAY,
        &f.token,
        with(f.app.fields("p"), json!({"bill_no": "b", "amt": 1})),
        None,
    );
    let body = body.replace("\"amt\":1", "\"amt\":99999999999999999999");
    let (status, answer) = f.server.midas(PAY, &f.token, &body).await;
    snapshot("pay_amt_huge", status, &answer);

    // The longest bill_no and every allowed character work.
    let long = format!("{}_-|*@", "Az9".repeat(19));
    assert_eq!(long.len(), 62);
    assert_eq!(f.present("p", &format!("{long}x"), 1).await["errcode"], 0);
}

backend_tests!(
    pay_spends_gift_first,
    duplicate_bill_no,
    cancelpay_rules,
    sandbox_twins,
    field_errors
);
