//! `serve --admin-listen` (behaviour.md section 14.4): the admin API, the dashboard and the
//! metrics move to their own address; the public listener answers them as unknown paths,
//! and the admin listener serves nothing of the WeChat side. The CLI reaches both with
//! `OPENMIDAS_URL` and `OPENMIDAS_ADMIN_URL`.

mod common;

use std::process::Command;

use common::{test_app, Launch, Process};
use serde_json::{json, Value};

const ADMIN: &str = "admin-listen-test-token";

async fn get(http: &reqwest::Client, url: String, admin: bool) -> (u16, String) {
    let mut request = http.get(&url);
    if admin {
        request = request.bearer_auth(ADMIN);
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test]
async fn the_admin_surface_is_served_only_on_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start_with(
        Launch {
            dir: dir.path(),
            database: None,
            admin_token: Some(ADMIN),
            env: vec![],
            log_name: "stderr.log",
        },
        &["--admin-listen", "127.0.0.1:0"],
    );
    let banner = process.wait_for_stdout("admin API, dashboard and metrics only on http://");
    let admin_url = banner
        .lines()
        .find_map(|l| l.strip_prefix("admin API, dashboard and metrics only on "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the admin address")
        .to_string();
    let public_url = process.base_url.clone();
    assert_ne!(admin_url, public_url);
    let http = common::http_client();

    // The public listener: no admin routes, no dashboard, no metrics; they look unknown.
    for path in ["/admin/apps", "/ui", "/ui/login", "/metrics", "/admin/clock"] {
        let (status, body) = get(&http, format!("{public_url}{path}"), true).await;
        assert_eq!(status, 404, "{path} on the public listener: {body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["errcode"], 40066, "{path}");
    }
    assert_eq!(get(&http, format!("{public_url}/healthz"), false).await.0, 200);

    // The admin listener: the admin API, the dashboard, the metrics; no WeChat routes.
    let app = test_app(1);
    let created = http
        .post(format!("{admin_url}/admin/apps"))
        .bearer_auth(ADMIN)
        .json(&json!({
            "appid": app.appid, "secret": app.secret, "offer_id": app.offer_id,
            "app_key": app.app_key, "sandbox_app_key": app.sandbox_app_key,
        }))
        .send()
        .await
        .expect("create app");
    assert_eq!(created.status(), 200);
    assert_eq!(get(&http, format!("{admin_url}/metrics"), false).await.0, 200);
    assert_eq!(get(&http, format!("{admin_url}/ui/login"), false).await.0, 200);
    assert_eq!(get(&http, format!("{admin_url}/healthz"), false).await.0, 200);
    let token_path = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.appid, app.secret
    );
    assert_eq!(get(&http, format!("{admin_url}{token_path}"), false).await.0, 404);
    let (status, body) = get(&http, format!("{public_url}{token_path}"), false).await;
    assert_eq!(status, 200);
    assert!(body.contains("access_token"), "{body}");

    // The CLI: WeChat calls to OPENMIDAS_URL, admin calls to OPENMIDAS_ADMIN_URL.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_openmidas"))
            .args(args)
            .env_remove("OPENMIDAS_PROFILE")
            .env("HOME", dir.path())
            .env("OPENMIDAS_URL", &public_url)
            .env("OPENMIDAS_ADMIN_URL", &admin_url)
            .env("OPENMIDAS_ADMIN_TOKEN", ADMIN)
            .env("OPENMIDAS_APPID", &app.appid)
            .env("OPENMIDAS_SECRET", &app.secret)
            .env("OPENMIDAS_OFFER_ID", &app.offer_id)
            .env("OPENMIDAS_APP_KEY", &app.app_key)
            .output()
            .expect("run openmidas");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["recharge", "--openid", "p1", "--amount", "30"]);
    let balance: Value = serde_json::from_str(&cli(&["--json", "balance", "--openid", "p1"])).unwrap();
    assert_eq!(balance["balance"], 30);
}
