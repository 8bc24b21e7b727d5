//! `GET /metrics` through real HTTP (behaviour.md section 14): the output parses as
//! Prometheus text; requests are counted once each by dialect, literal route path and
//! errcode, in emulator and ledger mode; latency histograms move with them; the stores'
//! write batches, queue depth and commit latency (SQLite and PostgreSQL, in one process);
//! push deliveries by outcome; nothing secret in the output.
//!
//! The registry is the process's: every test here takes [`SERIAL`] first, so the numbers a
//! test reads before and after its requests move by its requests only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use openmidas_protocol::sign;
use openmidas_protocol::xpay::Op;
use openmidas_testkit::*;
use parking_lot::Mutex;
use serde_json::{json, Value};

/// One test at a time: the metrics are process-global.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One sample line: a name, its labels, its value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The text of `GET /metrics`, parsed.
#[derive(Debug)]
struct Metrics {
    samples: Vec<Sample>,
    text: String,
}

impl Metrics {
    /// The sum of the samples named `name` whose labels include `labels` (0 if none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    fn matching<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }
}

/// Parses Prometheus text format 0.0.4 strictly enough to catch a malformed line: every
/// sample belongs to a family whose `# TYPE` came first, label values are quoted with
/// escapes, values are numbers.
fn parse(text: &str) -> Metrics {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let keyword = parts.next().unwrap();
            let name = parts.next().unwrap_or_else(|| panic!("bad comment line {line:?}"));
            let tail = parts.next().unwrap_or_default();
            match keyword {
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail),
                        "bad type in {line:?}"
                    );
                    assert!(
                        types.insert(name.to_string(), tail.to_string()).is_none(),
                        "two TYPE lines for {name}"
                    );
                }
                "HELP" => assert!(!tail.is_empty(), "empty help: {line:?}"),
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (name_and_labels, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match name_and_labels.split_once('{') {
            None => (name_and_labels.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                (name.to_string(), parse_labels(rest, line))
            }
        };
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {line:?}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram" || t == "summary"))
            })
            .unwrap_or(&name);
        assert!(types.contains_key(family), "sample before its TYPE: {line:?}");
        samples.push(Sample { name, labels, value });
    }
    Metrics {
        samples,
        text: text.to_string(),
    }
}

fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('='), "{line:?}");
        assert_eq!(chars.next(), Some('"'), "{line:?}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    other => panic!("bad escape {other:?} in {line:?}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unclosed label value in {line:?}"),
            }
        }
        assert!(
            labels.insert(name.trim().to_string(), value).is_none(),
            "repeated label: {line:?}"
        );
        match chars.next() {
            Some(',') => continue,
            None => break,
            other => panic!("unexpected {other:?} in {line:?}"),
        }
    }
    labels
}

async fn metrics(server: &TestServer) -> Metrics {
    let response = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    parse(&response.text().await.expect("body"))
}

/// How far a sample moved between two reads.
fn delta(before: &Metrics, after: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels) - before.value(name, labels)
}

const REQUESTS: &str = "openmidas_requests_total";
const DURATION_COUNT: &str = "openmidas_request_duration_seconds_count";
const GETBALANCE_PATH: &str = "/cgi-bin/midas/getbalance";

/// Known requests, each counted once: 3 v1 getbalance successes, 2 failures (a wrong sig),
/// 1 xpay call, 1 unknown v1 path, 1 bill download (a templated route), a login; answers
/// the secrets the output must not show.
async fn known_requests(server: &TestServer) -> Vec<String> {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let session = server.login(&app, "metrics-player").await;
    let before = metrics(server).await;

    let body = app.signed(GETBALANCE, &token, app.fields("metrics-player"), None);
    for _ in 0..3 {
        let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
        assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    }
    let wrong = sign_body(
        GETBALANCE,
        "not-the-app-key",
        &token,
        app.fields("metrics-player"),
        None,
    );
    let mut failure = 0;
    for _ in 0..2 {
        let (_, answer) = server.midas(GETBALANCE, &token, &wrong).await;
        failure = answer["errcode"].as_i64().unwrap();
        assert_ne!(failure, 0, "{answer}");
    }
    let xpay_body = json!({"openid": "metrics-player", "env": 0, "user_ip": "127.0.0.1"}).to_string();
    let (_, xpay) = server
        .xpay(&app, Op::QueryUserBalance, &token, &xpay_body, &session)
        .await;
    assert_eq!(xpay["errcode"], 0, "{xpay}");
    let (status, unknown) = server
        .post_raw(&format!("/cgi-bin/midas/nosuchroute?access_token={token}"), "{}")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let unknown = unknown["errcode"].as_i64().unwrap();
    let bill = server
        .http
        .get(server.url("/xpay/bills/BILLTOKENSECRET123456"))
        .send()
        .await
        .unwrap();
    let bill_status = bill.status();
    let bill_code: Option<i64> = bill.json::<Value>().await.ok().and_then(|v| v["errcode"].as_i64());

    let after = metrics(server).await;
    let d = |labels: &[(&str, &str)]| delta(&before, &after, REQUESTS, labels);
    assert_eq!(
        d(&[("dialect", "v1"), ("path", GETBALANCE_PATH), ("errcode", "0")]),
        3.0
    );
    let failure = failure.to_string();
    assert_eq!(
        d(&[("dialect", "v1"), ("path", GETBALANCE_PATH), ("errcode", &failure)]),
        2.0
    );
    assert_eq!(d(&[("dialect", "v1"), ("path", GETBALANCE_PATH)]), 5.0, "nothing else");
    assert_eq!(
        d(&[
            ("dialect", "xpay"),
            ("path", "/xpay/query_user_balance"),
            ("errcode", "0")
        ]),
        1.0
    );
    assert_eq!(
        d(&[("dialect", "v1"), ("path", "other"), ("errcode", &unknown.to_string())]),
        1.0
    );
    let bill_code = match bill_code {
        Some(code) => code.to_string(),
        None if bill_status.is_success() => "0".to_string(),
        None => "none".to_string(),
    };
    assert_eq!(
        d(&[
            ("dialect", "xpay"),
            ("path", "/xpay/bills/{token}"),
            ("errcode", &bill_code)
        ]),
        1.0
    );
    // Once each: every dialect's total moved by exactly these requests.
    assert_eq!(d(&[("dialect", "v1")]), 6.0);
    assert_eq!(d(&[("dialect", "xpay")]), 2.0);
    assert_eq!(d(&[("dialect", "v2")]), 0.0);

    let h = |labels: &[(&str, &str)]| delta(&before, &after, DURATION_COUNT, labels);
    assert_eq!(h(&[("dialect", "v1"), ("path", GETBALANCE_PATH)]), 5.0);
    assert_eq!(h(&[("dialect", "v1"), ("path", "other")]), 1.0);
    assert_eq!(h(&[("dialect", "xpay"), ("path", "/xpay/query_user_balance")]), 1.0);
    assert_eq!(
        delta(
            &before,
            &after,
            "openmidas_request_duration_seconds_bucket",
            &[("dialect", "v1"), ("path", GETBALANCE_PATH), ("le", "+Inf")]
        ),
        5.0
    );
    assert!(
        delta(
            &before,
            &after,
            "openmidas_request_duration_seconds_sum",
            &[("dialect", "v1"), ("path", GETBALANCE_PATH)]
        ) > 0.0
    );
    vec![
        app.appid.clone(),
        app.secret.clone(),
        app.app_key.clone(),
        app.sandbox_app_key.clone(),
        token,
        session,
        "BILLTOKENSECRET".to_string(),
        "nosuchroute".to_string(),
    ]
}

fn assert_no_secrets(metrics: &Metrics, secrets: &[String]) {
    for secret in secrets {
        assert!(!metrics.text.contains(secret.as_str()), "{secret} shows in /metrics");
    }
    for sample in &metrics.samples {
        assert!(!sample.labels.contains_key("appid"), "{sample:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_once_by_dialect_path_and_errcode_in_emulator_mode() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let secrets = known_requests(&server).await;
    let after = metrics(&server).await;
    assert_no_secrets(&after, &secrets);
    // The process collector (Linux).
    if cfg!(target_os = "linux") {
        assert!(after.has("process_resident_memory_bytes", &[]), "{}", after.text);
        assert!(after.has("process_cpu_seconds_total", &[]));
    }
    // The label sets are the documented ones.
    for sample in after.samples.iter().filter(|s| s.name == REQUESTS) {
        let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["dialect", "errcode", "path"], "{sample:?}");
        assert!(
            ["v1", "v2", "xpay", "auth", "client"].contains(&sample.labels["dialect"].as_str()),
            "{sample:?}"
        );
    }
    // A request to /metrics is not itself counted; a wrong method answers 43001.
    let before = metrics(&server).await;
    let (status, answer) = server.post_raw("/metrics", "").await;
    assert_eq!(
        (status, &answer["errcode"]),
        (StatusCode::METHOD_NOT_ALLOWED, &json!(43001)),
        "{answer}"
    );
    let again = metrics(&server).await;
    assert_eq!(delta(&before, &again, REQUESTS, &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_mode_counts_too_with_the_errcode_of_a_repeat_carrying_its_result() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    let secrets = known_requests(&server).await;
    assert_no_secrets(&metrics(&server).await, &secrets);

    // A repeated bill_no with the same parameters answers 90012 with the original result
    // (not an error answer): still counted under 90012.
    let app = server.create_app().await;
    let token = server.token(&app).await;
    server.recharge(&app, "repeat-player", "official", 50).await;
    let before = metrics(&server).await;
    let body = app.signed(
        PAY,
        &token,
        with(
            app.fields("repeat-player"),
            json!({"bill_no": "metrics-pay-1", "amt": 5}),
        ),
        None,
    );
    let (_, first) = server.midas(PAY, &token, &body).await;
    assert_eq!(first["errcode"], 0, "{first}");
    let (_, repeat) = server.midas(PAY, &token, &body).await;
    assert_eq!(repeat["errcode"], 90012, "{repeat}");
    assert_eq!(repeat["bill_no"], "metrics-pay-1", "{repeat}");
    let after = metrics(&server).await;
    let d = |errcode: &str| {
        delta(
            &before,
            &after,
            REQUESTS,
            &[("dialect", "v1"), ("path", "/cgi-bin/midas/pay"), ("errcode", errcode)],
        )
    };
    assert_eq!((d("0"), d("90012")), (1.0, 1.0));
}

/// The store metrics of `store` exist, and move with five writes.
async fn store_metrics_move(server: &TestServer, store: &str) {
    let app = server.create_app().await;
    let before = metrics(server).await;
    for name in [
        "openmidas_store_write_batch_size_count",
        "openmidas_store_write_queue_depth",
        "openmidas_store_commit_duration_seconds_count",
    ] {
        assert!(before.has(name, &[("store", store)]), "{name} {store}: {}", before.text);
    }
    for i in 0..5 {
        let answer = server
            .recharge(&app, &format!("store-player-{i}"), "official", 10)
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
    }
    let after = metrics(server).await;
    let batches = delta(
        &before,
        &after,
        "openmidas_store_write_batch_size_count",
        &[("store", store)],
    );
    let writes = delta(
        &before,
        &after,
        "openmidas_store_write_batch_size_sum",
        &[("store", store)],
    );
    let commits = delta(
        &before,
        &after,
        "openmidas_store_commit_duration_seconds_count",
        &[("store", store)],
    );
    assert!(batches >= 1.0, "{batches}");
    assert!(writes >= 5.0, "five recharges are five writes at least: {writes}");
    assert!(writes >= batches);
    assert_eq!(commits, batches, "one commit time per batch");
    assert!(
        delta(
            &before,
            &after,
            "openmidas_store_commit_duration_seconds_sum",
            &[("store", store)]
        ) > 0.0
    );
    // Nothing waits once every write is answered (the push worker may be claiming).
    for _ in 0..100 {
        let now = metrics(server).await;
        if now.value("openmidas_store_write_queue_depth", &[("store", store)]) == 0.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the write queue never emptied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_metrics_move_on_writes_sqlite_and_postgres_in_one_process() {
    let _serial = SERIAL.lock().await;
    let sqlite = TestServer::start().await;
    store_metrics_move(&sqlite, "sqlite").await;
    let postgres = TestServer::start_backend_mode(Backend::Postgres, Mode::Ledger).await;
    store_metrics_move(&postgres, "postgres").await;
    // Both stores' series in one family.
    let all = metrics(&postgres).await;
    assert!(all.has("openmidas_store_write_batch_size_count", &[("store", "sqlite")]));
    assert_eq!(
        all.text.matches("# TYPE openmidas_store_write_batch_size ").count(),
        1,
        "{}",
        all.text
    );
}

/// What the push receiver answers.
#[derive(Clone)]
enum Reply {
    Ok(&'static str),
    Hang,
}

#[derive(Clone)]
struct Receiver {
    reply: Arc<Mutex<Reply>>,
    url: String,
}

async fn receive(State(r): State<Receiver>, axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let echostr = reqwest::Url::parse(&format!("http://x/?{}", query.unwrap_or_default()))
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "echostr")
                .map(|(_, v)| v.into_owned())
        });
    if let Some(echostr) = echostr {
        return echostr.into_response();
    }
    let reply = r.reply.lock().clone();
    match reply {
        Reply::Ok(body) => (AxumStatus::OK, body).into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "success".into_response()
        }
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            reply: Arc::new(Mutex::new(Reply::Ok("success"))),
            url: format!("http://{}/push", listener.local_addr().unwrap()),
        };
        let app = Router::new()
            .route("/push", get(receive).post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }
}

const DELIVERIES: &str = "openmidas_push_deliveries_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_deliveries_are_counted_by_outcome() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let app = server.create_app().await;
    let (status, answer) = server
        .admin(
            "/admin/apps",
            json!({"appid": app.appid, "push": {"url": receiver.url, "token": "PushToken123"}}),
        )
        .await;
    assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    let session = server.login(&app, "p").await;
    let buy = |out_trade_no: &'static str| {
        let data = json!({"offerId": app.offer_id, "buyQuantity": 2, "env": 0, "currencyType": "CNY",
                          "productId": "sword", "goodsPrice": 300, "outTradeNo": out_trade_no, "attach": "m"})
        .to_string();
        let signed = sign::v2::sign(
            openmidas_protocol::client::virtual_payment::PAY_SIG_URI,
            &data,
            &app.app_key,
            Some(&session),
        );
        let request = json!({"appid": app.appid, "openid": "p", "mode": "short_series_goods", "sign_data": data,
                             "pay_sig": signed.pay_sig, "signature": signed.signature, "pay": "auto"});
        let server = &server;
        async move {
            let (status, answer) = server.admin("/admin/client/virtual_payment", request).await;
            assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
        }
    };
    let before = metrics(&server).await;
    // Waits until `outcome` moved by one since `before`, and answers the metrics then.
    let wait = |outcome: &'static str| {
        let server = &server;
        let before = &before;
        async move {
            for _ in 0..300 {
                let now = metrics(server).await;
                if delta(before, &now, DELIVERIES, &[("outcome", outcome)]) >= 1.0 {
                    return now;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("no {outcome} delivery counted");
        }
    };

    buy("metrics-goods-1").await;
    wait("acknowledged").await;
    *receiver.reply.lock() = Reply::Ok("not an acknowledgement");
    buy("metrics-goods-2").await;
    wait("refused").await;
    let (status, answer) = server
        .admin(
            "/admin/faults",
            json!({"match": {"dialect": "push"}, "errcode": -1, "times": 1}),
        )
        .await;
    assert_eq!((status, &answer["errcode"]), (StatusCode::OK, &json!(0)), "{answer}");
    buy("metrics-goods-3").await;
    wait("fault").await;
    *receiver.reply.lock() = Reply::Hang;
    buy("metrics-goods-4").await;
    wait("failed").await;

    // Every delivery was counted once; nothing is in flight once they are recorded. (The
    // server's clock stands still: no retry is due.)
    let (_, pushes) = server.get_admin(&format!("/admin/pushes?appid={}", app.appid)).await;
    let pushes = pushes["items"].as_array().cloned().unwrap();
    assert_eq!(pushes.len(), 4, "{pushes:?}");
    let kind = pushes[0]["event"]
        .as_str()
        .unwrap_or_else(|| panic!("{pushes:?}"))
        .to_string();
    let mut after = metrics(&server).await;
    for _ in 0..200 {
        if after.value("openmidas_push_in_flight", &[]) == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        after = metrics(&server).await;
    }
    assert_eq!(after.value("openmidas_push_in_flight", &[]), 0.0, "{}", after.text);
    for outcome in ["acknowledged", "refused", "fault", "failed"] {
        assert_eq!(
            delta(&before, &after, DELIVERIES, &[("event", &kind), ("outcome", outcome)]),
            1.0,
            "{outcome}: {}",
            after.text
        );
    }
    assert_eq!(delta(&before, &after, DELIVERIES, &[]), 4.0);
    assert_no_secrets(
        &after,
        &[app.appid.clone(), "PushToken123".to_string(), receiver.url.clone()],
    );
}
