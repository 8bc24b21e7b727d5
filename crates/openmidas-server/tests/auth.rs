//! Tokens, login sessions, admin routes and the HTTP edges (404, 405), through real HTTP.
//! Every error body is snapshotted.

use openmidas_testkit::*;
use serde_json::{json, Value};

fn snapshot(name: &str, status: StatusCode, body: &Value) {
    insta::assert_json_snapshot!(name, json!({"status": status.as_u16(), "body": redact_rid(body)}));
}

async fn token_endpoint(server: TestServer) {
    let app = server.create_app().await;
    let (status, answer) = server
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            app.appid, app.secret
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["expires_in"], 7200);
    let token = answer["access_token"].as_str().unwrap();
    assert!(
        token.len() >= 64
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        answer.as_object().unwrap().len(),
        2,
        "exactly access_token and expires_in: {answer}"
    );

    let cases = [
        (
            "token_wrong_grant_type",
            format!("grant_type=password&appid={}&secret={}", app.appid, app.secret),
        ),
        (
            "token_missing_grant_type",
            format!("appid={}&secret={}", app.appid, app.secret),
        ),
        (
            "token_missing_appid",
            format!("grant_type=client_credential&secret={}", app.secret),
        ),
        (
            "token_missing_secret",
            format!("grant_type=client_credential&appid={}", app.appid),
        ),
        (
            "token_unknown_appid",
            "grant_type=client_credential&appid=wxnope&secret=x".to_string(),
        ),
        (
            "token_wrong_secret",
            format!("grant_type=client_credential&appid={}&secret=wrong", app.appid),
        ),
    ];
    for (name, query) in cases {
        let (status, answer) = server.get(&format!("/cgi-bin/token?{query}")).await;
        snapshot(name, status, &answer);
    }
}

async fn stable_token_endpoint(server: TestServer) {
    let app = server.create_app().await;
    let post = |body: Value| {
        let server = &server;
        async move { server.post_raw("/cgi-bin/stable_token", body.to_string()).await }
    };
    let request = json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret});
    let (_, first) = post(request.clone()).await;
    let first_token = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(first["expires_in"], 7200);

    // The same token while more than 300 s remain.
    server.clock.advance_secs(1000);
    let (_, again) = post(request.clone()).await;
    assert_eq!(again["access_token"], first_token.as_str());
    assert_eq!(again["expires_in"], 6200);

    // Independent of /cgi-bin/token: a basic token does not retire the stable one.
    let basic = server.token(&app).await;
    assert_ne!(basic, first_token);
    server.clock.advance_secs(400);
    let body = app.signed(GETBALANCE, &first_token, app.fields("p"), None);
    assert_eq!(server.midas(GETBALANCE, &first_token, &body).await.1["errcode"], 0);

    // In the last 300 s a new token comes; the old one lives out its lifetime.
    server.clock.advance_secs(7200 - 1400 - 299);
    let (_, rotated) = post(request.clone()).await;
    let rotated_token = rotated["access_token"].as_str().unwrap().to_string();
    assert_ne!(rotated_token, first_token);
    assert_eq!(server.midas(GETBALANCE, &first_token, &body).await.1["errcode"], 0);

    // force_refresh rotates at once and retires the previous token; under 30 s later it
    // answers the same token again.
    server.clock.advance_secs(60);
    let forced_request =
        json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret, "force_refresh": true});
    let (_, forced) = post(forced_request.clone()).await;
    let forced_token = forced["access_token"].as_str().unwrap().to_string();
    assert_ne!(forced_token, rotated_token);
    let rotated_body = app.signed(GETBALANCE, &rotated_token, app.fields("p"), None);
    assert_eq!(
        server.midas(GETBALANCE, &rotated_token, &rotated_body).await.1["errcode"],
        40001
    );
    let (_, again) = post(forced_request).await;
    assert_eq!(again["access_token"], forced_token.as_str());

    let cases = [
        ("stable_token_not_json", Value::String("{".into())),
        ("stable_token_not_object", json!([1])),
        (
            "stable_token_force_refresh_not_bool",
            json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret, "force_refresh": "yes"}),
        ),
        (
            "stable_token_wrong_grant_type",
            json!({"grant_type": "x", "appid": app.appid, "secret": app.secret}),
        ),
        (
            "stable_token_missing_appid",
            json!({"grant_type": "client_credential", "secret": app.secret}),
        ),
        (
            "stable_token_wrong_secret",
            json!({"grant_type": "client_credential", "appid": app.appid, "secret": "no"}),
        ),
    ];
    for (name, body) in cases {
        let raw = match &body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (status, answer) = server.post_raw("/cgi-bin/stable_token", raw).await;
        snapshot(name, status, &answer);
    }
}

async fn jscode2session_endpoint(server: TestServer) {
    let app = server.create_app().await;
    let other = server.create_app().await;
    let code = server.login_code(&app, "player-9").await;
    let url = |appid: &str, secret: &str, code: &str| {
        format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code")
    };
    let (_, answer) = server.get(&url(&app.appid, &app.secret, &code)).await;
    assert_eq!(answer["openid"], "player-9");
    assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");

    // Reused: 40163.
    let (status, answer) = server.get(&url(&app.appid, &app.secret, &code)).await;
    snapshot("code_reused", status, &answer);
    // Unknown: 40029. Another app's: 40029. Expired (300 s): 40029.
    let (status, answer) = server.get(&url(&app.appid, &app.secret, "nope")).await;
    snapshot("code_unknown", status, &answer);
    let code = server.login_code(&app, "p").await;
    let (_, answer) = server.get(&url(&other.appid, &other.secret, &code)).await;
    assert_eq!(answer["errcode"], 40029);
    server.clock.advance_secs(300);
    let (_, answer) = server.get(&url(&app.appid, &app.secret, &code)).await;
    assert_eq!(answer["errcode"], 40029);
    let fresh = server.login_code(&app, "p").await;
    server.clock.advance_secs(299);
    let (_, answer) = server.get(&url(&app.appid, &app.secret, &fresh)).await;
    assert_eq!(answer["openid"], "p");

    let cases = [
        (
            "jscode2session_missing_appid",
            format!("secret={}&js_code=x&grant_type=authorization_code", app.secret),
        ),
        (
            "jscode2session_missing_secret",
            format!("appid={}&js_code=x&grant_type=authorization_code", app.appid),
        ),
        (
            "jscode2session_missing_code",
            format!(
                "appid={}&secret={}&grant_type=authorization_code",
                app.appid, app.secret
            ),
        ),
        (
            "jscode2session_wrong_grant_type",
            format!(
                "appid={}&secret={}&js_code=x&grant_type=client_credential",
                app.appid, app.secret
            ),
        ),
        (
            "jscode2session_unknown_appid",
            "appid=wxnope&secret=x&js_code=x&grant_type=authorization_code".to_string(),
        ),
        (
            "jscode2session_wrong_secret",
            format!("appid={}&secret=bad&js_code=x&grant_type=authorization_code", app.appid),
        ),
    ];
    for (name, query) in cases {
        let (status, answer) = server.get(&format!("/sns/jscode2session?{query}")).await;
        snapshot(name, status, &answer);
    }

    // A fresh openid when none is given.
    let (_, answer) = server.admin("/admin/login", json!({"appid": app.appid})).await;
    let openid = answer["openid"].as_str().unwrap();
    assert!(openid.starts_with('o') && openid.len() == 28, "{openid}");
}

async fn admin_routes(server: TestServer) {
    // No token, a wrong token: 401.
    let response = server
        .http
        .post(server.url("/admin/apps"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let answer: Value = response.json().await.unwrap();
    snapshot("admin_unauthorized", StatusCode::UNAUTHORIZED, &answer);
    let response = server
        .http
        .post(server.url("/admin/recharge"))
        .bearer_auth("wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server.http.get(server.url("/admin/apps")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let app = server.create_app().await;
    // The listing carries no secrets.
    let response = server
        .http
        .get(server.url("/admin/apps"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains(&app.appid));
    for secret in [&app.secret, &app.app_key, &app.sandbox_app_key] {
        assert!(!text.contains(secret.as_str()), "listing leaks a secret");
    }

    let cases = [
        ("apps_not_json", "/admin/apps", Value::String("nope".into())),
        ("apps_missing_appid", "/admin/apps", json!({"secret": "s"})),
        (
            "apps_new_missing_offer_id",
            "/admin/apps",
            json!({"appid": "wxnew", "secret": "s", "app_key": "k", "sandbox_app_key": "k"}),
        ),
        (
            "apps_bad_policy",
            "/admin/apps",
            json!({"appid": app.appid, "duplicate_bill_no": "sometimes"}),
        ),
        (
            "apps_bad_window",
            "/admin/apps",
            json!({"appid": app.appid, "ts_window_secs": 0}),
        ),
        (
            "apps_bad_type",
            "/admin/apps",
            json!({"appid": app.appid, "require_mp_sig": "yes"}),
        ),
        ("login_unknown_app", "/admin/login", json!({"appid": "wxnope"})),
        (
            "login_bad_openid",
            "/admin/login",
            json!({"appid": app.appid, "openid": ""}),
        ),
        (
            "recharge_missing_openid",
            "/admin/recharge",
            json!({"appid": app.appid, "env": "official", "buy_quantity": 1}),
        ),
        (
            "recharge_missing_quantity",
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p", "env": "official"}),
        ),
        (
            "recharge_zero",
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p", "env": "official", "buy_quantity": 0}),
        ),
        (
            "recharge_too_much",
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p", "env": "official", "buy_quantity": 1_000_000_001i64}),
        ),
        (
            "recharge_bad_env",
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p", "env": "prod", "buy_quantity": 1}),
        ),
        (
            "recharge_bad_trade_no",
            "/admin/recharge",
            json!({"appid": app.appid, "openid": "p", "env": "official", "buy_quantity": 1, "out_trade_no": "_x"}),
        ),
        (
            "recharge_unknown_app",
            "/admin/recharge",
            json!({"appid": "wxnope", "openid": "p", "env": "official", "buy_quantity": 1}),
        ),
    ];
    for (name, path, body) in cases {
        let raw = match &body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let response = server
            .http
            .post(server.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = response.status();
        snapshot(name, status, &response.json().await.unwrap());
    }

    // A repeated out_trade_no: -15003, and the balance is unchanged.
    let recharge =
        json!({"appid": app.appid, "openid": "p", "env": "official", "buy_quantity": 5, "out_trade_no": "T-1"});
    assert_eq!(server.admin("/admin/recharge", recharge.clone()).await.1["balance"], 5);
    let (status, answer) = server.admin("/admin/recharge", recharge).await;
    snapshot("recharge_duplicate", status, &answer);
    assert_eq!(server.recharge(&app, "p", "official", 1).await["balance"], 6);

    // Update keeps what is not given.
    let (_, saved) = server
        .admin(
            "/admin/apps",
            json!({"appid": app.appid, "duplicate_bill_no": "replay"}),
        )
        .await;
    assert_eq!(saved["created"], false);
    assert_eq!(saved["app"]["duplicate_bill_no"], "replay");
    assert_eq!(saved["app"]["offer_id"], app.offer_id.as_str());
    let token = server.token(&app).await;
    assert!(!token.is_empty(), "the secret survived the update");
}

async fn http_edges(server: TestServer) {
    let (status, answer) = server.get("/cgi-bin/nope").await;
    snapshot("unknown_path", status, &answer);
    let (status, answer) = server.get(GETBALANCE.uri()).await;
    snapshot("get_on_post_route", status, &answer);
    let (status, answer) = server.post_raw("/cgi-bin/token", "").await;
    snapshot("post_on_get_route", status, &answer);
    let (status, answer) = server.get("/healthz").await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"status": "ok"})));
}

/// WeChat's daily quota (45009): an app is issued at most `token_daily_limit` tokens of each
/// kind in the last 24 h on the server's clock; the kinds are counted apart.
async fn token_daily_quota(server: TestServer) {
    let app = server.create_app_with(1, json!({"token_daily_limit": 3})).await;
    let (_, apps) = server.get_admin("/admin/apps").await;
    let listed = apps["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["appid"] == app.appid.as_str());
    assert_eq!(listed.expect("listed")["token_daily_limit"], 3, "{apps}");
    let basic = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.appid, app.secret
    );
    let mut last = String::new();
    for _ in 0..3 {
        let (status, answer) = server.get(&basic).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        last = answer["access_token"].as_str().expect("a token").to_string();
        server.clock.advance_secs(1);
    }
    let (status, answer) = server.get(&basic).await;
    snapshot("token_daily_quota", status, &answer);
    // Nothing was issued: the last token is still the latest.
    let body = app.signed(GETBALANCE, &last, app.fields("p"), None);
    server.clock.advance_secs(400);
    assert_eq!(server.midas(GETBALANCE, &last, &body).await.1["errcode"], 0);

    // Stable tokens have their own count; answering the current one again is no issue.
    let forced =
        json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret, "force_refresh": true});
    let plain = json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret});
    let mut stable = String::new();
    for _ in 0..3 {
        let (status, answer) = server.post_raw("/cgi-bin/stable_token", forced.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_ne!(answer["access_token"], stable.as_str());
        stable = answer["access_token"].as_str().expect("a token").to_string();
        server.clock.advance_secs(31);
    }
    let (status, answer) = server.post_raw("/cgi-bin/stable_token", forced.to_string()).await;
    snapshot("stable_token_daily_quota", status, &answer);
    let (_, again) = server.post_raw("/cgi-bin/stable_token", plain.to_string()).await;
    assert_eq!(again["access_token"], stable.as_str(), "{again}");

    // The window slides: 24 h after the first basic issue, one more; then the quota again.
    let elapsed = 3 + 400 + 3 * 31;
    server.clock.advance_secs(86_400 - elapsed - 1);
    assert_eq!(server.get(&basic).await.1["errcode"], 45009);
    server.clock.advance_secs(1);
    let (status, answer) = server.get(&basic).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["access_token"].is_string(), "{answer}");
    assert_eq!(server.get(&basic).await.1["errcode"], 45009);
    // A day after the last issues, the whole quota is back.
    server.clock.advance_secs(86_400);
    for _ in 0..3 {
        assert!(server.get(&basic).await.1["access_token"].is_string());
    }
    let (status, answer) = server.post_raw("/cgi-bin/stable_token", forced.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_ne!(answer["access_token"], stable.as_str());
}

/// Many earlier tokens (not timed): the quota counts them exactly, the latest token is the
/// one just issued, and tokens that expired over a day ago are pruned a bounded batch per
/// issue, those that expired first first (seen in the state export).
async fn tokens_with_many_earlier_ones(server: TestServer) {
    const ISSUED: usize = 150;
    const PRUNE_BATCH: usize = 64;
    let app = server.create_app_with(2, json!({"token_daily_limit": ISSUED})).await;
    let mut tokens = Vec::with_capacity(ISSUED);
    for _ in 0..ISSUED {
        tokens.push(server.token(&app).await);
        server.clock.advance_secs(1);
    }
    let basic = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.appid, app.secret
    );
    let (status, answer) = server.get(&basic).await;
    assert_eq!(
        (status, &answer["errcode"]),
        (StatusCode::OK, &json!(45009)),
        "{answer}"
    );
    let errcode = |token: String| {
        let server = &server;
        let body = app.signed(GETBALANCE, &token, app.fields("p"), None);
        async move { server.midas(GETBALANCE, &token, &body).await.1["errcode"].clone() }
    };
    server.clock.advance_secs(301);
    assert_eq!(errcode(tokens[ISSUED - 1].clone()).await, 0, "the latest token");
    assert_eq!(errcode(tokens[0].clone()).await, 40001, "retired");
    let kept = || {
        let server = &server;
        async move {
            let (status, state) = server.get_admin("/admin/state").await;
            assert_eq!(status, StatusCode::OK, "{state}");
            let mut kept: Vec<String> = state["tokens"]
                .as_array()
                .expect("tokens")
                .iter()
                .map(|t| t["token"].as_str().expect("token").to_string())
                .collect();
            kept.sort();
            kept
        }
    };
    let sorted = |mut list: Vec<String>| {
        list.sort();
        list
    };
    assert_eq!(kept().await, sorted(tokens.clone()));

    // 26 h on, every one of them expired over a day ago: each issue prunes one batch.
    server.clock.advance_secs(26 * 3600);
    let mut fresh = vec![server.token(&app).await];
    assert_eq!(errcode(fresh[0].clone()).await, 0);
    let mut expected = tokens[PRUNE_BATCH..].to_vec();
    expected.extend(fresh.clone());
    assert_eq!(kept().await, sorted(expected));
    for _ in 1..ISSUED.div_ceil(PRUNE_BATCH) {
        fresh.push(server.token(&app).await);
    }
    assert_eq!(kept().await, sorted(fresh.clone()));
    assert_eq!(errcode(tokens[ISSUED - 1].clone()).await, 40001, "pruned");
    assert_eq!(errcode(fresh.last().unwrap().clone()).await, 0);
}

backend_tests!(
    token_endpoint,
    stable_token_endpoint,
    token_daily_quota,
    tokens_with_many_earlier_ones,
    jscode2session_endpoint,
    admin_routes,
    http_edges
);
