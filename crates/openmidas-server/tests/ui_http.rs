//! The dashboard's access rules over plain HTTP (behaviour.md section 14): no page without a
//! session; the login refuses a wrong token; the cookie is HttpOnly and SameSite=Strict and
//! holds no token; every state-changing form needs the session's CSRF token; one-time links
//! work once; logout ends the session; no page shows a secret; players are keyset-paged and
//! searched by prefix; ledger mode has no emulator page.

use openmidas_testkit::{Backend, Mode, TestServer, ADMIN_TOKEN};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Logs in with the form; answers the cookie pair (`om_session=...`).
async fn login(server: &TestServer, http: &reqwest::Client) -> String {
    let response = http
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/ui");
    let set = response.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    set.split(';').next().expect("pair").to_string()
}

async fn page(server: &TestServer, http: &reqwest::Client, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = http
        .get(server.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET");
    (response.status(), response.text().await.expect("body"))
}

async fn post_form(
    server: &TestServer,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
    form: &str,
) -> reqwest::Response {
    http.post(server.url(path))
        .header(COOKIE, cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .expect("POST")
}

/// The CSRF token in a page's forms.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..].split('"').next().expect("value").to_string()
}

#[tokio::test]
async fn no_page_without_a_session_and_the_login_checks_the_token() {
    let server = TestServer::start().await;
    let http = client();
    for path in ["/ui", "/ui/apps", "/ui/requests", "/ui/pushes", "/ui/clock"] {
        let response = http.get(server.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/ui/login", "{path}");
    }
    // A cookie that is not ours gets nowhere either.
    let (status, _) = page(&server, &http, "om_session=abc.1.def", "/ui").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, html) = page(&server, &http, "", "/ui/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<label for=\"token\">"), "{html}");

    let wrong = http
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-the-token")
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());

    let response = http
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .expect("login");
    let set = response.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains(ADMIN_TOKEN), "the cookie holds no token: {set}");
    let cookie = set.split(';').next().expect("pair").to_string();
    let (status, html) = page(&server, &http, &cookie, "/ui").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Apps</h1>"), "{html}");
    assert!(!html.contains(ADMIN_TOKEN));
    // The bearer token works too (scripts), the cookie nowhere else than under /ui.
    let (status, _) = {
        let r = http
            .get(server.url("/ui/apps"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET");
        (r.status(), ())
    };
    assert_eq!(status, StatusCode::OK);
    let admin = http
        .get(server.url("/admin/apps"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(admin.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_logout_ends_the_session() {
    let server = TestServer::start().await;
    let http = client();
    let cookie = login(&server, &http).await;
    let (_, html) = page(&server, &http, &cookie, "/ui/faults").await;
    let csrf = csrf_of(&html);

    for (path, form) in [
        ("/ui/faults", "errcode=-1".to_string()),
        ("/ui/faults", "errcode=-1&csrf=wrong".to_string()),
        (
            "/ui/apps",
            "appid=wxnew&offer_id=1&secret=s&app_key=k&sandbox_app_key=k".to_string(),
        ),
        ("/ui/clock", "action=freeze".to_string()),
        ("/ui/logout", String::new()),
    ] {
        let response = post_form(&server, &http, &cookie, path, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} {form}");
    }
    let (_, faults) = server.get_admin("/admin/faults").await;
    assert_eq!(faults["items"], json!([]), "nothing was added");

    let added = post_form(
        &server,
        &http,
        &cookie,
        "/ui/faults",
        &format!("errcode=-1&csrf={csrf}"),
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, faults) = server.get_admin("/admin/faults").await;
    assert_eq!(faults["items"].as_array().map(Vec::len), Some(1));
    // A bad rule re-renders the form with the parser's words.
    let bad = post_form(
        &server,
        &http,
        &cookie,
        "/ui/faults",
        &format!("delay_ms=99999999&csrf={csrf}"),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("body").contains("[delay_ms]"));

    // Without a session, a form post goes to the login page.
    let anonymous = post_form(&server, &http, "", "/ui/faults", &format!("errcode=-1&csrf={csrf}")).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);

    let out = post_form(&server, &http, &cookie, "/ui/logout", &format!("csrf={csrf}")).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE].to_str().expect("ascii").contains("Max-Age=0"));
    let (status, _) = page(&server, &http, &cookie, "/ui").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the old cookie no longer works");
}

#[tokio::test]
async fn one_time_links_work_once() {
    let server = TestServer::start().await;
    let http = client();
    let refused = http
        .post(server.url("/admin/ui/login-links"))
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (status, link) = server.admin("/admin/ui/login-links", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(link["errcode"], 0, "{link}");
    assert_eq!(link["expires_in"], 60);
    let path = link["path"].as_str().expect("path").to_string();
    assert!(path.starts_with("/ui/login?once="), "{path}");

    let first = http.get(server.url(&path)).send().await.expect("GET");
    assert_eq!(first.status(), StatusCode::OK);
    let set = first.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let body = first.text().await.expect("body");
    assert!(body.contains("url=/ui"), "moves on to /ui: {body}");
    let cookie = set.split(';').next().expect("pair").to_string();
    let (status, _) = page(&server, &http, &cookie, "/ui").await;
    assert_eq!(status, StatusCode::OK);

    let again = http.get(server.url(&path)).send().await.expect("GET");
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(again.headers().get(SET_COOKIE).is_none());
    let made_up = http
        .get(server.url("/ui/login?once=0123456789abcdef"))
        .send()
        .await
        .expect("GET");
    assert_eq!(made_up.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_mask_every_secret_and_players_are_paged_and_searched() {
    let server = TestServer::start().await;
    let http = client();
    let cookie = login(&server, &http).await;
    let app = server.create_app().await;
    for i in 0..60 {
        let openid = if i < 55 {
            format!("oPage{i:03}")
        } else {
            format!("oOther{i}")
        };
        server.recharge(&app, &openid, "official", 10 + i).await;
    }
    let session_key = server.login(&app, "oPage000").await;
    let token = server.token(&app).await;

    let (_, players) = page(&server, &http, &cookie, &format!("/ui/apps/{}/players", app.appid)).await;
    assert_eq!(players.matches("/ui/account?").count(), 50, "one page of 50");
    let next_at = players.find("rel=\"next\" href=\"").expect("a next page") + 17;
    let next = players[next_at..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    let (_, rest) = page(&server, &http, &cookie, &next).await;
    assert_eq!(rest.matches("/ui/account?").count(), 10, "{rest}");
    assert!(!rest.contains("rel=\"next\""));

    let (_, searched) = page(
        &server,
        &http,
        &cookie,
        &format!("/ui/apps/{}/players?q=oOther", app.appid),
    )
    .await;
    assert_eq!(searched.matches("/ui/account?").count(), 5);
    let (_, sandbox) = page(
        &server,
        &http,
        &cookie,
        &format!("/ui/apps/{}/players?env=sandbox", app.appid),
    )
    .await;
    assert!(sandbox.contains("No player"));

    let secrets = [
        app.secret.as_str(),
        app.app_key.as_str(),
        app.sandbox_app_key.as_str(),
        session_key.as_str(),
        token.as_str(),
        ADMIN_TOKEN,
    ];
    let account = format!(
        "/ui/account?env=official&appid={}&offer_id={}&zone_id=1&openid=oPage000",
        app.appid, app.offer_id
    );
    for path in [
        "/ui".to_string(),
        format!("/ui/apps/{}", app.appid),
        format!("/ui/apps/{}/players", app.appid),
        format!("/ui/apps/{}/purchases", app.appid),
        account,
        "/ui/requests".to_string(),
        "/ui/pushes".to_string(),
        "/ui/faults".to_string(),
        "/ui/clock".to_string(),
        format!("/ui/search?q={}", app.appid),
    ] {
        let (status, html) = page(&server, &http, &cookie, &path).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::SEE_OTHER,
            "{path}: {status}"
        );
        for secret in secrets {
            assert!(!html.contains(secret), "{path} shows a secret");
        }
    }
    let (_, edit) = page(&server, &http, &cookie, &format!("/ui/apps/{}", app.appid)).await;
    assert!(
        edit.contains(&format!("Now {}…", &app.secret[..3])),
        "masked: first 3 characters"
    );
}

#[tokio::test]
async fn the_app_form_saves_through_the_admin_logic_and_keeps_empty_secrets() {
    let server = TestServer::start().await;
    let http = client();
    let cookie = login(&server, &http).await;
    let (_, html) = page(&server, &http, &cookie, "/ui/apps/new").await;
    let csrf = csrf_of(&html);
    let missing = post_form(
        &server,
        &http,
        &cookie,
        "/ui/apps",
        &format!("csrf={csrf}&appid=wxform&offer_id=42"),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing
        .text()
        .await
        .expect("body")
        .contains("[secret] secret is required"));

    let form = format!(
        "csrf={csrf}&appid=wxform&offer_id=42&secret=SecretSecret123&app_key=KeyKeyKey12345&sandbox_app_key=SandKeySand123&refund_delay_secs=30&coin_price_fen=7&duplicate_bill_no=replay"
    );
    let created = post_form(&server, &http, &cookie, "/ui/apps", &form).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let stored = server.store.app("wxform").await.expect("read").expect("created");
    assert_eq!((stored.refund_delay_secs, stored.coin_price_fen), (30, 7));
    assert_eq!(stored.duplicate_bill_no.as_str(), "replay");

    // Edit: the secret fields left empty keep their values.
    let edit = format!("csrf={csrf}&appid=wxform&offer_id=43&secret=&app_key=&sandbox_app_key=&refund_delay_secs=5");
    let saved = post_form(&server, &http, &cookie, "/ui/apps", &edit).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let stored = server.store.app("wxform").await.expect("read").expect("kept");
    assert_eq!(stored.offer_id, "43");
    assert_eq!(stored.secret, "SecretSecret123");
    assert_eq!(stored.app_key, "KeyKeyKey12345");
    assert_eq!(stored.refund_delay_secs, 5);
}

#[tokio::test]
async fn ledger_mode_has_no_emulator_page() {
    let server = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    let http = client();
    let cookie = login(&server, &http).await;
    let (status, home) = page(&server, &http, &cookie, "/ui").await;
    assert_eq!(status, StatusCode::OK);
    for link in ["/ui/requests", "/ui/faults", "/ui/clock"] {
        assert!(
            !home.contains(&format!("href=\"{link}\"")),
            "{link} linked in ledger mode"
        );
        let (status, _) = page(&server, &http, &cookie, link).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{link}");
    }
    let (status, _) = page(&server, &http, &cookie, "/ui/pushes").await;
    assert_eq!(status, StatusCode::OK);
}

/// The dashboard's store reads on every backend: accounts by openid prefix in
/// `(openid, offer_id, zone_id)` order with keyset paging; an account's orders of both
/// books, newest first, paged by cursor.
async fn dashboard_reads(server: TestServer) {
    use openmidas_ledger::{AccountCursor, AccountFilter, AccountKey, Env, OrderCursor};
    let app = server.create_app().await;
    for (openid, zone) in [
        ("oB", "1"),
        ("oA", "2"),
        ("oA", "1"),
        ("oAB", "1"),
        ("oC", "1"),
        ("pA", "1"),
    ] {
        let (_, answer) = server
            .admin(
                "/admin/recharge",
                json!({"appid": app.appid, "openid": openid, "env": "official", "buy_quantity": 5, "zone_id": zone}),
            )
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
    }
    server.recharge(&app, "oSandbox", "sandbox", 1).await;
    let list = |prefix: &str, after: Option<AccountCursor>, limit: u32| AccountFilter {
        appid: app.appid.clone(),
        env: Env::Official,
        openid_prefix: prefix.to_string(),
        after,
        limit,
    };
    let names = |rows: &[(AccountKey, openmidas_ledger::Account)]| -> Vec<String> {
        rows.iter()
            .map(|(k, _)| format!("{}/{}", k.openid, k.zone_id))
            .collect()
    };
    let all = server.store.accounts(&list("", None, 100)).await.expect("accounts");
    assert_eq!(names(&all), ["oA/1", "oA/2", "oAB/1", "oB/1", "oC/1", "pA/1"]);
    assert!(all.iter().all(|(_, a)| a.balance() == 5));
    let prefixed = server.store.accounts(&list("oA", None, 100)).await.expect("accounts");
    assert_eq!(names(&prefixed), ["oA/1", "oA/2", "oAB/1"]);
    let first = server.store.accounts(&list("o", None, 2)).await.expect("accounts");
    assert_eq!(names(&first), ["oA/1", "oA/2"]);
    let (last, _) = first.last().expect("a page");
    let cursor = AccountCursor {
        openid: last.openid.clone(),
        offer_id: last.offer_id.clone(),
        zone_id: last.zone_id.clone(),
    };
    let second = server
        .store
        .accounts(&list("o", Some(cursor), 2))
        .await
        .expect("accounts");
    assert_eq!(names(&second), ["oAB/1", "oB/1"]);
    assert!(server
        .store
        .accounts(&list("x", None, 10))
        .await
        .expect("accounts")
        .is_empty());

    // Orders of one account: purchases and pays, newest first.
    let token = server.token(&app).await;
    for (i, amt) in [1, 1, 2].into_iter().enumerate() {
        server.clock.advance_secs(1);
        let body = app.signed(
            openmidas_testkit::PAY,
            &token,
            openmidas_testkit::with(app.fields("oB"), json!({"amt": amt, "bill_no": format!("pay-{i}")})),
            None,
        );
        let (_, paid) = server.midas(openmidas_testkit::PAY, &token, &body).await;
        assert_eq!(paid["errcode"], 0, "{paid}");
    }
    let key = AccountKey {
        env: Env::Official,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: "1".into(),
        openid: "oB".into(),
    };
    let orders = server.store.orders_of(&key, None, 10).await.expect("orders");
    let numbers: Vec<&str> = orders.iter().map(|(k, _)| k.number.as_str()).collect();
    assert_eq!(&numbers[..3], ["pay-2", "pay-1", "pay-0"]);
    assert_eq!(orders.len(), 4, "the recharge's purchase too: {numbers:?}");
    let (k, o) = &orders[1];
    let after = OrderCursor {
        created_at_ms: o.created_at_ms,
        book: k.book,
        number: k.number.clone(),
    };
    let rest = server.store.orders_of(&key, Some(&after), 10).await.expect("orders");
    let numbers: Vec<&str> = rest.iter().map(|(k, _)| k.number.as_str()).collect();
    assert_eq!(numbers.len(), 2);
    assert_eq!(numbers[0], "pay-0");
}

openmidas_testkit::backend_tests!(dashboard_reads);
