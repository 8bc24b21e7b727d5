//! midas getBalance end to end, official and sandbox, and every error path of the
//! verification pipeline (behaviour.md section 3), through real HTTP. Every error body is
//! snapshotted, so wire compatibility is reviewable byte for byte.

use openmidas_testkit::*;
use serde_json::{json, Value};

fn snapshot(name: &str, status: StatusCode, body: &Value) {
    insta::assert_json_snapshot!(
        name,
        json!({"status": status.as_u16(), "body": redact_required_rid(body)})
    );
}

async fn happy_path(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let session_key = server.login(&app, "player-1").await;
    assert_eq!(session_key.len(), 24, "16 bytes in base64");

    // A never-seen account: all zero, first_save 1.
    let body = app.signed(GETBALANCE, &token, app.fields("player-1"), Some(&session_key));
    let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"errcode":0,"errmsg":"ok","balance":0,"gen_balance":0,"first_save":1,"save_amt":0,"save_sum":0,"cost_sum":0,"present_sum":0})
    );

    let recharged = server.recharge(&app, "player-1", "official", 250).await;
    assert_eq!(recharged["errcode"], 0);
    assert_eq!(recharged["balance"], 250);
    let (_, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(
        answer,
        json!({"errcode":0,"errmsg":"ok","balance":250,"gen_balance":0,"first_save":2,"save_amt":250,"save_sum":250,"cost_sum":0,"present_sum":0})
    );
    // The wire order of the seven fields is the documented one.
    let text = reqwest::Client::new()
        .post(server.url(&format!("{}?access_token={token}", GETBALANCE.uri())))
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        text,
        r#"{"errcode":0,"errmsg":"ok","balance":250,"gen_balance":0,"first_save":2,"save_amt":250,"save_sum":250,"cost_sum":0,"present_sum":0}"#
    );

    // Sandbox: separate balances, its own key.
    let sandbox_body = app.signed(SANDBOX_GETBALANCE, &token, app.fields("player-1"), Some(&session_key));
    let (_, answer) = server.midas(SANDBOX_GETBALANCE, &token, &sandbox_body).await;
    assert_eq!(answer["balance"], 0);
    assert_eq!(answer["first_save"], 1);
    server.recharge(&app, "player-1", "sandbox", 7).await;
    let (_, answer) = server.midas(SANDBOX_GETBALANCE, &token, &sandbox_body).await;
    assert_eq!(answer["balance"], 7);
    let (_, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(answer["balance"], 250);

    // Zones are separate accounts.
    let zone2 = with(app.fields("player-1"), json!({"zone_id": "2"}));
    let (_, answer) = server
        .midas(GETBALANCE, &token, &app.signed(GETBALANCE, &token, zone2, None))
        .await;
    assert_eq!(answer["balance"], 0);
}

async fn keys_do_not_cross_environments(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    // A sandbox request signed with the official key, and the reverse: 90011.
    let body = sign_body(SANDBOX_GETBALANCE, &app.app_key, &token, app.fields("p"), None);
    let (status, answer) = server.midas(SANDBOX_GETBALANCE, &token, &body).await;
    snapshot("sig_error", status, &answer);
    let body = sign_body(GETBALANCE, &app.sandbox_app_key, &token, app.fields("p"), None);
    let (_, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(answer["errcode"], 90011);
    // The official path signed as if it were the sandbox path (right key, wrong org_loc).
    let body = sign_body(SANDBOX_GETBALANCE, &app.app_key, &token, app.fields("p"), None);
    let (_, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(answer["errcode"], 90011);
}

async fn token_errors(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let body = app.signed(GETBALANCE, &token, app.fields("p"), None);

    let (status, answer) = server.post_raw(GETBALANCE.uri(), body.clone()).await;
    snapshot("access_token_missing", status, &answer);
    let (status, answer) = server
        .post_raw(&format!("{}?access_token=", GETBALANCE.uri()), body.clone())
        .await;
    assert_eq!((status, answer["errcode"].clone()), (StatusCode::OK, json!(41001)));
    let (status, answer) = server.midas(GETBALANCE, "not-a-token", &body).await;
    snapshot("access_token_unknown", status, &answer);

    // The token is checked first: a bad token with a broken body still answers 40001.
    let (_, answer) = server.midas(GETBALANCE, "not-a-token", "{not json").await;
    assert_eq!(answer["errcode"], 40001);

    // Expiry on the manual clock: valid until 7200 s, expired from then on.
    server.clock.advance_secs(7199);
    let (_, answer) = server.midas(GETBALANCE, &token, &body).await;
    assert_eq!(answer["errcode"], 0);
    server.clock.advance_secs(1);
    let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
    snapshot("access_token_expired", status, &answer);
}

async fn new_token_retires_the_old_after_overlap(server: TestServer) {
    let app = server.create_app().await;
    let old = server.token(&app).await;
    server.clock.advance_secs(10);
    let new = server.token(&app).await;
    assert_ne!(old, new);
    let old_body = app.signed(GETBALANCE, &old, app.fields("p"), None);
    let new_body = app.signed(GETBALANCE, &new, app.fields("p"), None);
    server.clock.advance_secs(299);
    assert_eq!(server.midas(GETBALANCE, &old, &old_body).await.1["errcode"], 0);
    server.clock.advance_secs(1);
    let (_, answer) = server.midas(GETBALANCE, &old, &old_body).await;
    assert_eq!(answer["errcode"], 40001);
    assert_eq!(
        redact_required_rid(&answer)["errmsg"],
        "invalid credential, access_token is invalid or not latest rid: <rid>"
    );
    assert_eq!(server.midas(GETBALANCE, &new, &new_body).await.1["errcode"], 0);
}

async fn no_privilege(server: TestServer) {
    let app = server.create_app().await;
    let other = server.create_app().await;
    let other_token = server.token(&other).await;
    // Another app's token.
    let body = app.signed(GETBALANCE, &other_token, app.fields("p"), None);
    let (status, answer) = server.midas(GETBALANCE, &other_token, &body).await;
    snapshot("no_privilege_other_apps_token", status, &answer);
    // The right app, a wrong offer_id.
    let token = server.token(&app).await;
    let wrong_offer = with(app.fields("p"), json!({"offer_id": other.offer_id}));
    let (status, answer) = server
        .midas(GETBALANCE, &token, &app.signed(GETBALANCE, &token, wrong_offer, None))
        .await;
    snapshot("no_privilege_wrong_offer_id", status, &answer);
}

async fn mp_sig_rules(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    // mp_sig sent, but the player never logged in: 90010.
    let body = app.signed(
        GETBALANCE,
        &token,
        app.fields("stranger"),
        Some("V7Q38/i2KXaqrQyl2Yx9Hg=="),
    );
    let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
    snapshot("session_not_found", status, &answer);

    // A stale session_key (the player logged in again): 90009.
    let first = server.login(&app, "p").await;
    let second = server.login(&app, "p").await;
    assert_ne!(first, second);
    let (status, answer) = server
        .midas(
            GETBALANCE,
            &token,
            &app.signed(GETBALANCE, &token, app.fields("p"), Some(&first)),
        )
        .await;
    snapshot("mp_sig_error", status, &answer);
    let (_, answer) = server
        .midas(
            GETBALANCE,
            &token,
            &app.signed(GETBALANCE, &token, app.fields("p"), Some(&second)),
        )
        .await;
    assert_eq!(answer["errcode"], 0);

    // mp_sig covers the access_token: signed for another token, it fails.
    let token2 = server.token(&app).await;
    let body = app.signed(GETBALANCE, &token2, app.fields("p"), Some(&second));
    assert_eq!(server.midas(GETBALANCE, &token, &body).await.1["errcode"], 90009);

    // Upper-case hex is accepted (mp_sig covers sig as sent, so only mp_sig changes case).
    let body = app.signed(GETBALANCE, &token, app.fields("p"), Some(&second));
    let mut value: Value = serde_json::from_str(&body).unwrap();
    value["mp_sig"] = json!(value["mp_sig"].as_str().unwrap().to_uppercase());
    assert_eq!(
        server.midas(GETBALANCE, &token, &value.to_string()).await.1["errcode"],
        0
    );
    let body = app.signed(GETBALANCE, &token, app.fields("p"), None);
    let mut value: Value = serde_json::from_str(&body).unwrap();
    value["sig"] = json!(value["sig"].as_str().unwrap().to_uppercase());
    assert_eq!(
        server.midas(GETBALANCE, &token, &value.to_string()).await.1["errcode"],
        0
    );

    // Absent mp_sig is fine unless the app requires it.
    let body = app.signed(GETBALANCE, &token, app.fields("p"), None);
    assert_eq!(server.midas(GETBALANCE, &token, &body).await.1["errcode"], 0);
    let (_, saved) = server
        .admin("/admin/apps", json!({"appid": app.appid, "require_mp_sig": true}))
        .await;
    assert_eq!(saved["errcode"], 0, "{saved}");
    let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
    snapshot("mp_sig_required", status, &answer);
    let body = app.signed(GETBALANCE, &token, app.fields("p"), Some(&second));
    assert_eq!(server.midas(GETBALANCE, &token, &body).await.1["errcode"], 0);
}

async fn field_errors(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let post = |body: String| {
        let server = &server;
        let token = token.clone();
        async move { server.midas(GETBALANCE, &token, &body).await }
    };
    for field in ["appid", "offer_id", "openid", "zone_id", "pf", "ts"] {
        let mut fields = app.fields("p");
        fields.remove(field);
        let (status, answer) = post(app.signed(GETBALANCE, &token, fields, None)).await;
        snapshot(&format!("missing_{field}"), status, &answer);
    }
    // sig itself missing.
    let unsigned = Value::Object(app.fields("p")).to_string();
    let (status, answer) = post(unsigned).await;
    snapshot("missing_sig", status, &answer);

    let wrong_types = [
        ("appid", json!(123)),
        ("offer_id", json!(["x"])),
        ("openid", json!(null)),
        ("zone_id", json!(1)),
        ("pf", json!(true)),
        ("ts", json!("1700000000")),
        ("ts", json!(1.5)),
        ("user_ip", json!(1)),
        ("sig", json!(1)),
        ("mp_sig", json!({"a": 1})),
    ];
    for (i, (field, value)) in wrong_types.into_iter().enumerate() {
        let fields = with(app.fields("p"), json!({ field: value }));
        let mut body: Value = serde_json::from_str(&app.signed(GETBALANCE, &token, fields, None)).unwrap();
        if field == "sig" || field == "mp_sig" {
            body[field] = value.clone();
        }
        let (status, answer) = post(body.to_string()).await;
        snapshot(&format!("wrong_type_{i}_{field}"), status, &answer);
    }
    let too_long = with(app.fields(&"x".repeat(129)), json!({}));
    let (status, answer) = post(app.signed(GETBALANCE, &token, too_long, None)).await;
    snapshot("openid_too_long", status, &answer);
    let empty = with(app.fields("p"), json!({"zone_id": ""}));
    let (status, answer) = post(app.signed(GETBALANCE, &token, empty, None)).await;
    snapshot("zone_id_empty", status, &answer);

    for (name, body) in [
        ("invalid_json", "{\"appid\": "),
        ("empty_body", ""),
        ("not_an_object_array", "[1,2]"),
        ("not_an_object_string", "\"hello\""),
        ("duplicate_key", "{\"appid\":\"a\",\"appid\":\"b\"}"),
    ] {
        let (status, answer) = post(body.to_string()).await;
        snapshot(name, status, &answer);
    }
    let not_utf8 = b"{\"appid\":\"\xff\"}".to_vec();
    let (status, answer) = server
        .post_raw(&format!("{}?access_token={token}", GETBALANCE.uri()), not_utf8)
        .await;
    snapshot("not_utf8", status, &answer);

    // Over 64 KiB: 413 with a 90018 body.
    let mut fields = app.fields("p");
    fields.insert("pay_item".into(), json!("x".repeat(70 * 1024)));
    let (status, answer) = post(app.signed(GETBALANCE, &token, fields, None)).await;
    snapshot("body_too_large", status, &answer);

    // Unknown extra fields are signed like any other and accepted.
    let extra = with(
        app.fields("p"),
        json!({"extra": {"nested": [1, 2.50]}, "user_ip": "1.2.3.4"}),
    );
    let (_, answer) = post(app.signed(GETBALANCE, &token, extra, None)).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
}

async fn ts_window(server: TestServer) {
    let app = server.create_app_with(77, json!({"ts_window_secs": 60})).await;
    let token = server.token(&app).await;
    let now_secs = START_MS / 1000;
    for (ts, expected) in [
        (now_secs, 0),
        (now_secs - 60, 0),
        (now_secs + 60, 0),
        (now_secs - 61, 90018),
    ] {
        let fields = with(app.fields("p"), json!({ "ts": ts }));
        let (status, answer) = server
            .midas(GETBALANCE, &token, &app.signed(GETBALANCE, &token, fields, None))
            .await;
        assert_eq!(answer["errcode"], expected, "ts {ts}");
        if expected != 0 {
            snapshot("ts_outside_window", status, &answer);
        }
    }
}

/// JSON escapes in keys and values mean their text: a field written `"zone\u005fid"` is
/// `zone_id`, a value written `"player\u002d1"` is `player-1`, and `sig` covers the
/// unescaped text (so the signature of the plain body still verifies).
async fn escaped_fields_mean_their_text(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    server.recharge(&app, "player-1", "official", 42).await;
    let plain = app.signed(GETBALANCE, &token, app.fields("player-1"), None);
    let escaped =
        plain
            .replacen(r#""zone_id""#, r#""zone\u005fid""#, 1)
            .replacen(r#""player-1""#, r#""player\u002d1""#, 1);
    assert_ne!(escaped, plain, "the body has the fields to escape");
    let (status, answer) = server.midas(GETBALANCE, &token, &escaped).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["balance"], 42);
    // A changed value is still caught, escaped or not.
    let tampered = escaped.replacen(r#""player\u002d1""#, r#""player\u002d2""#, 1);
    let (_, answer) = server.midas(GETBALANCE, &token, &tampered).await;
    assert_eq!(answer["errcode"], 90011);
}

backend_tests!(
    escaped_fields_mean_their_text,
    happy_path,
    keys_do_not_cross_environments,
    token_errors,
    new_token_retires_the_old_after_overlap,
    no_privilege,
    mp_sig_rules,
    field_errors,
    ts_window,
);

/// Every payment route of every dialect is POST-only: PUT, DELETE and PATCH answer 405
/// with 43002 ("require POST method"), never GET's 43001 (behaviour.md section 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_on_post_routes_answer_43002() {
    let server = TestServer::start_backend(Backend::Sqlite).await;
    for route in openmidas_protocol::route::ROUTES {
        for method in [reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::PATCH] {
            let response = server
                .http
                .request(method.clone(), server.url(route.path))
                .body("{}")
                .send()
                .await
                .expect("request");
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {}",
                route.path
            );
            let answer: Value = response.json().await.expect("JSON");
            assert_eq!(answer["errcode"], 43002, "{method} {}: {answer}", route.path);
        }
    }
}
