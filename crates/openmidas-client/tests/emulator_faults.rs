//! The SDK against the emulator's own fault rules (behaviour.md section 13.2), no proxy: a
//! pay that is applied and then answered -1, or whose connection is dropped after it was
//! applied, is retried by the SDK with the same body; the retry answers 90012 with the
//! original result, and the SDK reports the pay as done, once.

mod support;

use openmidas_client::openmidas::Recharge;
use openmidas_client::v2::{PayRequest, Player};
use openmidas_client::MidasEnv;
use openmidas_testkit::{TestServer, ADMIN_TOKEN};
use serde_json::json;

async fn rule(server: &TestServer, rule: serde_json::Value) {
    let (status, answer) = server.admin("/admin/faults", rule).await;
    assert_eq!((status.as_u16(), &answer["errcode"]), (200, &json!(0)), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debited_then_minus_one_is_reported_as_one_pay() {
    let server = TestServer::start().await;
    let app = server.create_app().await;
    let client = support::client(&server, &app);
    let admin = openmidas_client::openmidas::AdminClient::new(&server.base_url, ADMIN_TOKEN).unwrap();
    let code = admin.login_code(client.appid(), Some("player")).await.unwrap();
    let session_key = client.code_to_session(&code.code).await.unwrap().session_key;
    admin
        .recharge(&Recharge {
            appid: app.appid.clone(),
            openid: "player".into(),
            env: MidasEnv::Official,
            buy_quantity: 100,
            zone_id: None,
            out_trade_no: None,
        })
        .await
        .unwrap();
    let player = Player::new("player");

    rule(
        &server,
        json!({"match": {"path": "/wxa/game/pay"}, "errcode": -1, "when": "after", "times": 1}),
    )
    .await;
    let paid = client
        .v2()
        .pay(&player, &PayRequest::new("order-1", 30), &session_key)
        .await
        .expect("the SDK reports success");
    assert_eq!(
        (paid.balance, paid.replayed),
        (70, true),
        "applied by the first attempt"
    );

    rule(
        &server,
        json!({"match": {"path": "/wxa/game/pay"}, "drop_connection": true, "when": "after", "times": 1}),
    )
    .await;
    let paid = client
        .v2()
        .pay(&player, &PayRequest::new("order-2", 20), &session_key)
        .await
        .expect("the SDK reports success");
    assert_eq!((paid.balance, paid.replayed), (50, true));

    let balance = client.v2().get_balance(&player, &session_key).await.unwrap();
    assert_eq!((balance.balance, balance.sum_cost), (50, 50), "each pay applied once");
    // The request log shows both faults and both retries.
    let (_, log) = server.get_admin("/admin/requests?limit=1000").await;
    let pays: Vec<&serde_json::Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/wxa/game/pay")
        .collect();
    let errcodes: Vec<&serde_json::Value> = pays.iter().map(|e| &e["errcode"]).collect();
    assert_eq!(
        errcodes,
        [&json!(-1), &json!(90012), &serde_json::Value::Null, &json!(90012)]
    );
}
