//! Guessing the admin token (behaviour.md section 14.5): after 30 failed admin
//! authentications from an address within a minute, that address gets 429 (errcode 45011)
//! on every admin route and on the dashboard's login, even with the right token, until the
//! window ends; the WeChat routes are not affected. The window's end is tested in the unit
//! tests of `admin::lockout` (it runs on the machine's clock, not the emulator's).

use openmidas_server::admin::lockout::MAX_FAILURES;
use openmidas_testkit::*;
use serde_json::{json, Value};

async fn apps(server: &TestServer, token: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(server.url("/admin/apps"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_guessing_the_admin_token_is_locked_out() {
    let server = TestServer::start_backend(Backend::Sqlite).await;
    assert_eq!(apps(&server, ADMIN_TOKEN).await.0, StatusCode::OK);
    for attempt in 0..MAX_FAILURES {
        let (status, _) = apps(&server, &format!("guess-{attempt}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let (status, body) = apps(&server, "one-more-guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["errcode"], 45011);
    let shown = json!({
        "status": status.as_u16(),
        "body": {
            "errcode": body["errcode"],
            // The seconds left depend on timing: shown as <secs>.
            "errmsg": body["errmsg"].as_str().unwrap_or_default().replace(char::is_numeric, "").replace("retry in  s", "retry in <secs> s"),
        }
    });
    insta::assert_json_snapshot!("admin_locked_out", shown);
    // The right token does not open a locked-out address either.
    assert_eq!(apps(&server, ADMIN_TOKEN).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Nor does the dashboard's login.
    let login = server
        .http
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    // The person at the login page sees the page, saying why.
    let page = login.text().await.expect("page");
    assert!(page.contains("Too many failed logins from this address"), "{page}");
    assert!(page.contains("<form"), "{page}");
    // The WeChat side is not affected.
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_at_the_dashboard_login_count_too() {
    let server = TestServer::start_backend(Backend::Sqlite).await;
    for attempt in 0..MAX_FAILURES {
        let response = server
            .http
            .post(server.url("/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token=guess-{attempt}"))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    assert_eq!(apps(&server, ADMIN_TOKEN).await.0, StatusCode::TOO_MANY_REQUESTS);
}
