//! The dashboard in a real headless Chromium through WebDriver (chromedriver, started here
//! on a free port): log in; create an app through the form (with a push URL this test
//! receives on); recharge and pay through the API and see the balance and the chart change
//! on the account page; open a request with a bad signature in the request log and see its
//! diagnosis; redeliver a push; add a fault and see it fire (the next request fails, its
//! log entry names the rule); no page shows a secret; ledger mode has no emulator page.
//! Screenshots of every page go to `<target dir>/ui-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test fails when `CI` is
//! set, and is skipped with a note otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::RawQuery;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use openmidas_testkit::{rid_of, sign_body, with, Backend, Mode, TestApp, TestServer, ADMIN_TOKEN, GETBALANCE, PAY};
use serde_json::json;

const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn first_existing(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.exists())
}

/// chromedriver, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver(path: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.to_string_lossy(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,1000", "--no-first-run", "--disable-extensions"],
        }),
    );
    // chromedriver speaks plain HTTP on the loopback: no TLS connector.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// Where screenshots go: `<target dir>/ui-screenshots/` (the test binary lives in
/// `<target dir>/<profile>/deps/`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Visits pages, keeps their HTML (checked for secrets at the end) and screenshots.
struct Tour {
    client: Client,
    base: String,
    dir: PathBuf,
    shots: usize,
    pages: Vec<(String, String)>,
}

impl Tour {
    async fn goto(&mut self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("goto");
    }

    /// Screenshot and source of the current page.
    async fn shot(&mut self, name: &str) -> String {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.dir.join(format!("{:02}-{name}.png", self.shots)), png).expect("write screenshot");
        let html = self.client.source().await.expect("source");
        self.pages.push((name.to_string(), html.clone()));
        html
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Waits until the text of `css` passes `done` (after a click that navigates).
    async fn text_when(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if done(&text) {
                        return text;
                    }
                }
            }
            assert!(Instant::now() < deadline, "{css} never became what was expected");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    async fn login(&mut self) {
        self.goto("/ui").await;
        self.find("#token").await;
        self.shot("login").await;
        self.fill("#token", ADMIN_TOKEN).await;
        self.find("form[action='/ui/login'] button")
            .await
            .click()
            .await
            .expect("log in");
        self.find("main h1").await;
        assert_eq!(self.text("main h1").await, "Apps");
    }
}

/// A push receiver: answers the URL check, acknowledges and counts deliveries.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = Router::new().route(
        "/push",
        get(|RawQuery(q): RawQuery| async move {
            q.unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix("echostr=").map(str::to_string))
                .unwrap_or_default()
        })
        .post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "success"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (first_existing(&CHROMIUM), first_existing(&CHROMEDRIVER)) else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)");
        }
        eprintln!("SKIPPED the_dashboard_in_a_real_browser: no chromium/chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let started = Instant::now();
    let driver = start_driver(&chromedriver).await;
    let server = TestServer::start().await;
    let client = browser(&driver, &chromium).await;
    let dir = screenshot_dir();
    let mut tour = Tour {
        client,
        base: server.base_url.clone(),
        dir: dir.clone(),
        shots: 0,
        pages: Vec::new(),
    };
    tour.login().await;

    // An app through the form, pushing to this test.
    let (push_url, pushes_got) = receiver().await;
    let app = TestApp {
        appid: "wxuibrowser0001".into(),
        secret: "UiSecret-0123456789abcdef".into(),
        offer_id: "1450000777".into(),
        app_key: "UiAppKey-zNLgAGgqsEWJOg1nFVaO5r7f".into(),
        sandbox_app_key: "UiSandboxKey-8C0hiJsNb3v6HNPnyZ2J".into(),
    };
    let push_token = "UiPushToken42";
    tour.goto("/ui/apps/new").await;
    for (field, value) in [
        ("#appid", app.appid.as_str()),
        ("#offer_id", app.offer_id.as_str()),
        ("#secret", app.secret.as_str()),
        ("#app_key", app.app_key.as_str()),
        ("#sandbox_app_key", app.sandbox_app_key.as_str()),
        ("#refund_delay_secs", "60"),
        ("#push_url", push_url.as_str()),
        ("#push_token", push_token),
    ] {
        tour.fill(field, value).await;
    }
    tour.shot("app-form").await;
    tour.find("form.app button[type=submit]")
        .await
        .click()
        .await
        .expect("save");
    assert!(tour.text("p.notice").await.contains("saved"));
    tour.shot("app-saved").await;
    let stored = server
        .store
        .app(&app.appid)
        .await
        .expect("read")
        .expect("the form created it");
    assert_eq!(stored.refund_delay_secs, 60);
    assert_eq!(stored.push.as_ref().map(|p| p.token.as_str()), Some(push_token));
    tour.goto("/ui/apps").await;
    tour.shot("apps").await;

    // Money moves through the API; the account page follows.
    let openid = "oUiPlayer0001";
    let recharged = server.recharge(&app, openid, "official", 10).await;
    assert_eq!(recharged["errcode"], 0, "{recharged}");
    let account = format!(
        "/ui/account?env=official&appid={}&offer_id={}&zone_id=1&openid={openid}",
        app.appid, app.offer_id
    );
    tour.goto(&account).await;
    assert_eq!(tour.text("td[data-field=balance]").await, "10");
    let chart = tour.find("#balance-chart").await;
    assert_eq!(chart.attr("data-points").await.expect("attr").as_deref(), Some("1"));
    tour.shot("account-after-recharge").await;
    let session_key = server.login(&app, openid).await;
    let token = server.token(&app).await;
    let body = app.signed(
        PAY,
        &token,
        with(app.fields(openid), json!({"amt": 3, "bill_no": "ui-pay-1"})),
        None,
    );
    let (_, paid) = server.midas(PAY, &token, &body).await;
    assert_eq!(paid["errcode"], 0, "{paid}");
    tour.goto(&account).await;
    assert_eq!(tour.text("td[data-field=balance]").await, "7");
    let chart = tour.find("#balance-chart").await;
    assert_eq!(chart.attr("data-points").await.expect("attr").as_deref(), Some("2"));
    assert_eq!(chart.attr("data-last").await.expect("attr").as_deref(), Some("7"));
    assert!(tour.text("#orders + table tbody").await.contains("ui-pay-1"));
    tour.shot("account-after-pay").await;
    tour.find(&format!("a[href='/ui/apps/{}/players?env=official']", app.appid))
        .await
        .click()
        .await
        .expect("players link");
    tour.find("table tbody th a").await;
    tour.shot("players").await;
    tour.goto(&format!("/ui/apps/{}/purchases", app.appid)).await;
    tour.find("table").await;
    tour.shot("purchases").await;

    // A bad signature, diagnosed in the request log.
    let bad = sign_body(GETBALANCE, "not-the-app-key-at-all", &token, app.fields(openid), None);
    let (_, refused) = server.midas(GETBALANCE, &token, &bad).await;
    assert_ne!(refused["errcode"], 0, "{refused}");
    let rid = rid_of(&refused);
    tour.goto("/ui/requests").await;
    tour.find(&format!("a[href='/ui/requests/{rid}']")).await;
    tour.shot("request-log").await;
    tour.find(&format!("a[href='/ui/requests/{rid}']"))
        .await
        .click()
        .await
        .expect("open the request");
    tour.find("#diagnosis").await;
    assert!(!tour.text("#diagnosis .signed").await.is_empty());
    assert!(!tour.text("#diagnosis .expected").await.is_empty());
    assert!(tour.text("#diagnosis .received").await.len() >= 32);
    tour.shot("request-diagnosis").await;

    // The live refresh shows a new request without reloading.
    tour.goto(&format!("/ui/requests?appid={}", app.appid)).await;
    let before = tour
        .client
        .find_all(Locator::Css("#request-rows tr"))
        .await
        .expect("rows")
        .len();
    let fine = app.signed(GETBALANCE, &token, app.fields(openid), None);
    let (_, balance) = server.midas(GETBALANCE, &token, &fine).await;
    assert_eq!(balance["balance"], 7, "{balance}");
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let rows = tour
            .client
            .find_all(Locator::Css("#request-rows tr"))
            .await
            .expect("rows")
            .len();
        if rows > before {
            break;
        }
        assert!(Instant::now() < deadline, "the log did not refresh itself");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A push, redelivered from its page.
    wait_until("the coin push's first delivery", || {
        pushes_got.load(Ordering::SeqCst) >= 1
    })
    .await;
    tour.goto(&format!("/ui/pushes?appid={}", app.appid)).await;
    let row = tour.find("#pushes tbody tr").await;
    let id = row.attr("data-push").await.expect("attr").expect("push id");
    let attempts_before: u32 = tour
        .text("#pushes tbody tr td.attempts")
        .await
        .parse()
        .expect("a number");
    tour.shot("pushes").await;
    tour.find(&format!("form[action='/ui/pushes/{id}/redeliver'] button"))
        .await
        .click()
        .await
        .expect("redeliver");
    assert!(tour
        .text("p.notice")
        .await
        .contains(&format!("Push {id} was sent again")));
    let attempts_after: u32 = tour
        .text("#pushes tbody tr td.attempts")
        .await
        .parse()
        .expect("a number");
    assert_eq!(attempts_after, attempts_before + 1);
    assert_eq!(tour.text("#pushes tbody tr td.status").await, "delivered");
    wait_until("the redelivery", || pushes_got.load(Ordering::SeqCst) >= 2).await;
    tour.shot("pushes-redelivered").await;

    // A fault from the form fires on the next request, and its entry names it.
    tour.goto("/ui/faults").await;
    tour.find("#dialect")
        .await
        .select_by_value("v1")
        .await
        .expect("dialect");
    tour.fill("#path", "/cgi-bin/midas/getbalance").await;
    tour.fill("#errcode", "-1").await;
    tour.fill("#times", "1").await;
    tour.find("form.fault button[type=submit]")
        .await
        .click()
        .await
        .expect("add rule");
    assert!(tour.text("p.notice").await.contains("added"));
    tour.shot("faults").await;
    let (_, faulted) = server.midas(GETBALANCE, &token, &fine).await;
    assert_eq!(faulted["errcode"], -1, "{faulted}");
    let faulted_rid = rid_of(&faulted);
    tour.goto(&format!("/ui/requests/{faulted_rid}")).await;
    assert!(tour.text("#fault-heading").await.contains("Fault rule #1 fired"));
    assert_eq!(tour.text("#errcode").await, "-1");
    tour.shot("request-fault").await;
    tour.goto("/ui/faults").await;
    assert_eq!(tour.text("#faults td.fired").await, "1");

    // The clock.
    tour.goto("/ui/clock").await;
    let frozen_before = tour.text("#frozen").await;
    tour.find("form.clock input[value=freeze] ~ button, form.clock input[value=resume] ~ button")
        .await
        .click()
        .await
        .expect("freeze or resume");
    tour.text_when("#frozen", |t| t != frozen_before).await;
    tour.fill("#advance_secs", "7200").await;
    tour.find("form.clock input[value=advance] ~ button")
        .await
        .click()
        .await
        .expect("advance");
    tour.text_when("#offset", |t| t.starts_with("7200")).await;
    tour.shot("clock").await;

    // No page showed a secret.
    let secrets = [
        app.secret.as_str(),
        app.app_key.as_str(),
        app.sandbox_app_key.as_str(),
        push_token,
        session_key.as_str(),
        token.as_str(),
        ADMIN_TOKEN,
    ];
    for (name, html) in &tour.pages {
        for secret in secrets {
            assert!(!html.contains(secret), "page {name} shows a secret");
        }
    }

    // Ledger mode: no emulator page, no link to one.
    let ledger = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    tour.base = ledger.base_url.clone();
    // Cookies do not name a port: the browser sends the session to this server too, and it
    // holds there (one admin token, one key: a session holds on every node).
    tour.goto("/ui").await;
    assert_eq!(tour.text("main h1").await, "Apps");
    let home = tour.shot("ledger-home").await;
    for link in ["/ui/requests", "/ui/faults", "/ui/clock"] {
        assert!(
            !home.contains(&format!("href=\"{link}\"")),
            "{link} linked in ledger mode"
        );
        tour.goto(link).await;
        let html = tour.client.source().await.expect("source");
        assert!(
            html.contains("40066"),
            "{link} is an unknown path in ledger mode: {html}"
        );
    }
    tour.client.clone().close().await.expect("close the browser");
    eprintln!(
        "browser test: {} screenshots in {} ({:.1} s)",
        tour.shots,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}
