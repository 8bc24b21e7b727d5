//! Pushes survive SIGKILL (behaviour.md section 12): each event is written in the
//! transaction of the change that causes it and delivered at least once, so killing the
//! real binary between a change and its delivery loses no event and invents none. After a
//! restart on the same database every change has exactly one event, and it is delivered.
//! A delivery in flight at the kill is sent again once its lease runs out, with the same
//! content.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use openmidas_protocol::xpay::Op as XpayOp;
use openmidas_testkit::TestApp;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "push-crash-admin-token-0123456789";
/// The app's push token (3 to 32 letters and digits).
const PUSH_TOKEN: &str = "PushCrashToken42";
/// Players; purchases take turns.
const PLAYERS: usize = 4;
/// Purchases of the storm of the first test.
const PURCHASES: usize = 48;
/// Concurrent clients of that storm.
const CLIENTS: usize = 6;
/// The longest wait for every event to be delivered after a restart.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

fn player(i: usize) -> String {
    format!("push-player-{i}")
}

// ---------------------------------------------------------------------------------------
// The game server: a receiver of pushes.

/// How the receiver answers a push (the URL check is always answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Reply {
    /// HTTP 500: the event stays pending.
    Fail = 0,
    /// No answer at all while it hangs (the connection closes when the mode changes).
    Hang = 1,
    /// HTTP 200 `success`.
    Success = 2,
}

impl Reply {
    fn from_u8(v: u8) -> Reply {
        match v {
            0 => Reply::Fail,
            1 => Reply::Hang,
            _ => Reply::Success,
        }
    }
}

/// One push the receiver got.
#[derive(Debug, Clone)]
struct Seen {
    out_trade_no: String,
    body: Value,
    /// Answered `success`.
    acked: bool,
}

/// A push receiver on 127.0.0.1: a thread per connection, one request per connection.
#[derive(Clone)]
struct Receiver {
    url: String,
    reply: Arc<AtomicU8>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// URL checks (GET with echostr) answered.
    checks: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(reply: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let receiver = Receiver {
            url: format!("http://{}/push", listener.local_addr().expect("address")),
            reply: Arc::new(AtomicU8::new(reply as u8)),
            seen: Arc::default(),
            checks: Arc::default(),
        };
        let accepting = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let receiver = accepting.clone();
                std::thread::spawn(move || receiver.serve(stream));
            }
        });
        receiver
    }

    fn set(&self, reply: Reply) {
        self.reply.store(reply as u8, Ordering::SeqCst);
    }

    fn mode(&self) -> Reply {
        Reply::from_u8(self.reply.load(Ordering::SeqCst))
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Some((method, target, body)) = read_request(&mut stream) else {
            return;
        };
        if method == "GET" {
            // The URL check: echo echostr.
            let echostr = target
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or("")
                .split('&')
                .find_map(|pair| pair.strip_prefix("echostr="))
                .unwrap_or("")
                .to_string();
            self.checks.fetch_add(1, Ordering::SeqCst);
            respond(&mut stream, "200 OK", &echostr);
            return;
        }
        let text = String::from_utf8_lossy(&body).to_string();
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("push is not JSON ({e}): {text}"));
        let out_trade_no = out_trade_no(&value).unwrap_or_else(|| panic!("push without an OutTradeNo: {text}"));
        let mode = self.mode();
        self.seen.lock().unwrap().push(Seen {
            out_trade_no,
            body: value,
            acked: mode == Reply::Success,
        });
        match mode {
            Reply::Success => respond(&mut stream, "200 OK", "success"),
            Reply::Fail => {
                // A slow failure, so that some deliveries are in flight at a kill.
                std::thread::sleep(Duration::from_millis(30));
                respond(&mut stream, "500 Internal Server Error", "busy");
            }
            Reply::Hang => {
                let began = Instant::now();
                while self.mode() == Reply::Hang && began.elapsed() < Duration::from_secs(30) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Closed without an answer.
            }
        }
    }
}

/// The `OutTradeNo` of an event: at the top of xpay events, inside `MiniGame.Payload` (a
/// JSON string) of mini-game events.
fn out_trade_no(message: &Value) -> Option<String> {
    if let Some(number) = message["OutTradeNo"].as_str() {
        return Some(number.to_string());
    }
    let payload: Value = serde_json::from_str(message["MiniGame"]["Payload"].as_str()?).ok()?;
    payload["OutTradeNo"].as_str().map(str::to_string)
}

/// A message as compared between deliveries: everything but `RetryTimes`.
fn content(message: &Value) -> Value {
    let mut message = message.clone();
    if let Some(object) = message.as_object_mut() {
        object.remove("RetryTimes");
    }
    message
}

/// Reads one HTTP/1.1 request: method, target and body (by Content-Length).
fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let length: usize = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((method, target, body))
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}

// ---------------------------------------------------------------------------------------
// The server and its player.

/// The config file: the app, with its pushes going to `url`.
fn write_config(dir: &Path, app: &TestApp, url: &str) -> String {
    let path = dir.join("openmidas.toml");
    let text = format!(
        "[[apps]]\nappid = \"{}\"\nsecret = \"{}\"\noffer_id = \"{}\"\napp_key = \"{}\"\nsandbox_app_key = \"{}\"\n\n\
         [apps.push]\nurl = \"{url}\"\ntoken = \"{PUSH_TOKEN}\"\n",
        app.appid, app.secret, app.offer_id, app.app_key, app.sandbox_app_key
    );
    std::fs::write(&path, text).expect("write the config file");
    path.to_str().expect("UTF-8 path").to_string()
}

/// Starts run `run` on the SQLite database in `dir`, with the config file `config`.
fn start(dir: &Path, config: &str, run: usize) -> Process {
    let database = dir.join("openmidas.db");
    Process::start(Launch {
        dir,
        database: Some(database.as_os_str()),
        admin_token: Some(ADMIN_TOKEN),
        env: vec![("OPENMIDAS_CONFIG", config)],
        log_name: &format!("stderr-{run}.log"),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `wx.requestMidasPaymentGameItem` (2.0 item).
    GameItem,
    /// `wx.requestMidasPayment` (2.0 coins).
    Coins,
    /// `wx.requestVirtualPayment` goods (xpay).
    XpayGoods,
    /// `wx.requestVirtualPayment` coins (xpay).
    XpayCoins,
}

const KINDS: [Kind; 4] = [Kind::GameItem, Kind::Coins, Kind::XpayGoods, Kind::XpayCoins];

impl Kind {
    /// The event a paid purchase of this kind causes.
    fn event(self) -> &'static str {
        match self {
            Kind::GameItem => "minigame_game_pay_goods_deliver_notify",
            Kind::Coins => "minigame_coin_deliver_completed",
            Kind::XpayGoods => "xpay_goods_deliver_notify",
            Kind::XpayCoins => "xpay_coin_pay_notify",
        }
    }

    fn is_xpay(self) -> bool {
        matches!(self, Kind::XpayGoods | Kind::XpayCoins)
    }
}

/// A purchase and its answer (None: no complete answer, or never sent).
#[derive(Debug, Clone)]
struct Purchase {
    out_trade_no: String,
    openid: String,
    kind: Kind,
    answer: Option<Value>,
}

impl Purchase {
    fn answered(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| a["errcode"] == 0)
    }
}

/// The simulated player's request for `p`: the admin path and body, signed as the real
/// client signs it.
fn purchase_request(app: &TestApp, session_key: &str, p: &Purchase) -> (&'static str, String) {
    let sign = |uri: &str, data: &str| {
        let signed = openmidas_protocol::sign::v2::sign(uri, data, &app.app_key, Some(session_key));
        (signed.pay_sig, signed.signature.expect("a signature"))
    };
    let (appid, openid, number) = (&app.appid, &p.openid, &p.out_trade_no);
    match p.kind {
        Kind::Coins => (
            "/admin/client/midas_payment",
            json!({"appid": appid, "openid": openid, "env": "official", "buy_quantity": 12, "out_trade_no": number})
                .to_string(),
        ),
        Kind::GameItem => {
            let data = json!({"mode": "goods", "offerId": app.offer_id, "buyQuantity": 2, "env": 0,
                              "currencyType": "CNY", "platform": "android", "zoneId": "1", "productId": "sword",
                              "goodsPrice": 300, "outTradeNo": number, "attach": "a"})
            .to_string();
            let (pay_sig, signature) = sign(openmidas_protocol::client::game_item::PAY_SIG_URI, &data);
            (
                "/admin/client/game_item",
                json!({"appid": appid, "openid": openid, "sign_data": data, "pay_sig": pay_sig,
                       "signature": signature})
                .to_string(),
            )
        }
        Kind::XpayGoods | Kind::XpayCoins => {
            let (mode, data) = if p.kind == Kind::XpayGoods {
                (
                    "short_series_goods",
                    json!({"offerId": app.offer_id, "buyQuantity": 3, "env": 0, "currencyType": "CNY",
                           "productId": "shield", "goodsPrice": 100, "outTradeNo": number, "attach": "b"}),
                )
            } else {
                (
                    "short_series_coin",
                    json!({"offerId": app.offer_id, "buyQuantity": 7, "env": 0, "currencyType": "CNY",
                           "outTradeNo": number, "attach": "c"}),
                )
            };
            let data = data.to_string();
            let (pay_sig, signature) = sign(openmidas_protocol::client::virtual_payment::PAY_SIG_URI, &data);
            (
                "/admin/client/virtual_payment",
                json!({"appid": appid, "openid": openid, "mode": mode, "sign_data": data, "pay_sig": pay_sig,
                       "signature": signature})
                .to_string(),
            )
        }
    }
}

/// Makes `p`; its answer, or None when no complete answer came back. Any complete answer
/// must be a success: every purchase is valid.
async fn buy(api: &Api, app: &TestApp, session_key: &str, p: &Purchase) -> Option<Value> {
    let (path, body) = purchase_request(app, session_key, p);
    let answer = api.try_post_as(path, &body, true).await.ok()?;
    assert_eq!(answer["errcode"], 0, "{p:?}: {answer}");
    Some(answer)
}

/// Where the purchase stands (xpay `query_order`'s status: 2 paid, 4 delivered), if it
/// exists. `query_order` finds purchases of every purchase API.
async fn purchase_status(api: &Api, app: &TestApp, token: &str, p: &Purchase) -> Option<i64> {
    let body = json!({"openid": p.openid, "env": 0, "order_id": p.out_trade_no}).to_string();
    let query = app.xpay_query(XpayOp::QueryOrder, token, &body, "");
    let path = format!("{}?{query}", XpayOp::QueryOrder.uri());
    let answer = api.try_post(&path, &body).await.expect("query_order");
    match answer["errcode"].as_i64() {
        Some(0) => answer["order"]["status"].as_i64(),
        _ => {
            assert_eq!(answer["errcode"], 268490002, "{}: {answer}", p.out_trade_no);
            None
        }
    }
}

/// Every event in the outbox, oldest first.
async fn pushes(api: &Api) -> Vec<Value> {
    let page = api.admin_get("/admin/pushes?limit=1000").await;
    assert_eq!(page["errcode"], 0, "{page}");
    let items = page["items"].as_array().expect("items").clone();
    assert!(items.len() < 1000, "more events than one page");
    items
}

async fn advance_clock(api: &Api, secs: i64) {
    let answer = api.admin_post("/admin/clock", json!({"advance_secs": secs})).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
}

/// Waits until every event of the outbox is delivered (at least `at_least` of them),
/// advancing the emulator clock past retry waits and leases; the events.
async fn wait_all_delivered(api: &Api, at_least: usize, process: &Process) -> Vec<Value> {
    let began = Instant::now();
    let mut last_advance = Instant::now();
    loop {
        let items = pushes(api).await;
        let pending = items.iter().filter(|i| i["status"] != "delivered").count();
        if items.len() >= at_least && pending == 0 {
            return items;
        }
        assert!(
            began.elapsed() < DELIVERY_TIMEOUT,
            "{pending} of {} events not delivered after {DELIVERY_TIMEOUT:?}: {items:#?}\nlogs:\n{}",
            items.len(),
            process.logs()
        );
        // Retries wait 15 s and leases last 30 s, on the emulator's clock.
        if last_advance.elapsed() >= Duration::from_secs(1) {
            advance_clock(api, 60).await;
            last_advance = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs in every player: their session_keys, by openid.
async fn sessions(api: &Api, app: &TestApp) -> Arc<HashMap<String, String>> {
    let mut sessions = HashMap::new();
    for p in 0..PLAYERS {
        sessions.insert(player(p), api.login(app, &player(p)).await);
    }
    Arc::new(sessions)
}

fn assert_clean_logs(dir: &Path, runs: usize) {
    for run in 0..runs {
        let logs = std::fs::read_to_string(dir.join(format!("stderr-{run}.log"))).expect("log file");
        assert!(!logs.contains("panicked"), "run {run}:\n{logs}");
    }
}

/// Every delivery of one event carried the same content (`RetryTimes` aside).
fn assert_same_content(seen: &[Seen]) {
    let mut first: HashMap<&str, &Value> = HashMap::new();
    for s in seen {
        let before = first.entry(s.out_trade_no.as_str()).or_insert(&s.body);
        assert_eq!(
            content(before),
            content(&s.body),
            "{}: one event sent with different content",
            s.out_trade_no
        );
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

/// Purchases from concurrent clients while the receiver fails every delivery; SIGKILL
/// mid-storm; restart with the receiver accepting: every change has exactly one event and
/// it is delivered; none is lost, none invented, none doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_between_change_and_delivery_loses_and_doubles_no_event() {
    let began = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::from_env_or_time();
    let app = test_app(21);
    let receiver = Receiver::start(Reply::Fail);
    let config = write_config(dir.path(), &app, &receiver.url);

    // Run 0: pushes fail (HTTP 500), so events stay pending; killed mid-storm.
    let mut process = start(dir.path(), &config, 0);
    assert!(
        receiver.checks.load(Ordering::SeqCst) >= 1,
        "the push URL is checked at start"
    );
    let api = Api::new(&process, ADMIN_TOKEN);
    let sessions = sessions(&api, &app).await;
    let purchases: Vec<Purchase> = (0..PURCHASES)
        .map(|i| Purchase {
            out_trade_no: format!("push-crash-{i:03}"),
            openid: player(i % PLAYERS),
            kind: KINDS[(i + rng.range(0, 4) as usize) % KINDS.len()],
            answer: None,
        })
        .collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let burst = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let mine: Vec<Purchase> = purchases.iter().skip(c).step_by(CLIENTS).cloned().collect();
        let (api, app, sessions, answered) = (api.clone(), app.clone(), sessions.clone(), answered.clone());
        let pace = Duration::from_millis(rng.range(60, 120));
        let burst = burst.clone();
        clients.spawn(async move {
            let mut done = Vec::new();
            let mut broken = false;
            for mut p in mine {
                // Paced, so that the worker tries (and fails) deliveries mid-storm; then a
                // burst, so that purchases are in flight at the kill.
                let paced = Instant::now();
                while !burst.load(Ordering::SeqCst) && paced.elapsed() < pace {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                if !broken {
                    p.answer = buy(&api, &app, &sessions[&p.openid], &p).await;
                    match p.answer {
                        Some(_) => {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        // The server is gone: the rest are never sent.
                        None => broken = true,
                    }
                }
                done.push(p);
            }
            done
        });
    }
    // Killed mid-storm, once a failed delivery has been recorded (that event waits for its
    // retry; others are in flight, or not tried yet), in a burst of purchases.
    let target = rng.range(8, 16) as usize;
    let extra = Duration::from_millis(rng.range(0, 5));
    let storm_began = Instant::now();
    loop {
        let safety_net = storm_began.elapsed() > Duration::from_secs(20);
        if safety_net || answered.load(Ordering::SeqCst) >= target {
            let failed = pushes(&api).await.iter().any(|i| i["last_reply"] != "");
            if failed || safety_net {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    burst.store(true, Ordering::SeqCst);
    tokio::time::sleep(extra).await;
    let status = process.kill9();
    assert_eq!(status.code(), None, "the process was killed");
    let mut purchases = Vec::new();
    while let Some(done) = clients.join_next().await {
        purchases.extend(done.expect("client task"));
    }
    let answered: Vec<&Purchase> = purchases.iter().filter(|p| p.answered()).collect();
    assert!(!answered.is_empty(), "nothing was answered before the kill");
    assert!(
        answered.len() < PURCHASES,
        "every purchase was answered before the kill: not mid-storm"
    );
    let failed_before = receiver.seen().len();
    assert!(failed_before > 0, "no delivery was tried before the kill");
    assert!(
        receiver.seen().iter().all(|s| !s.acked),
        "nothing is acknowledged while the receiver fails"
    );

    // Run 1: the receiver accepts; the events are delivered after the restart.
    receiver.set(Reply::Success);
    let checks = receiver.checks.load(Ordering::SeqCst);
    let process = start(dir.path(), &config, 1);
    assert!(
        receiver.checks.load(Ordering::SeqCst) > checks,
        "the push URL is checked again at restart"
    );
    let api = Api::new(&process, ADMIN_TOKEN);
    let at_restart = pushes(&api).await;
    let retrying = at_restart
        .iter()
        .filter(|i| i["last_reply"] != "" && i["status"] == "pending")
        .count();
    let items = wait_all_delivered(&api, answered.len(), &process).await;
    let token = api.token(&app).await;

    let sent: HashMap<&str, &Purchase> = purchases.iter().map(|p| (p.out_trade_no.as_str(), p)).collect();
    let mut events: HashMap<&str, Vec<&Value>> = HashMap::new();
    for item in &items {
        let order_id = item["order_id"].as_str().expect("order_id");
        let p = sent
            .get(order_id)
            .unwrap_or_else(|| panic!("an event for a purchase never made: {item}"));
        assert_eq!(item["event"], p.kind.event(), "{item}");
        assert_eq!(item["status"], "delivered", "{item}");
        events.entry(order_id).or_default().push(item);
    }
    for (order_id, list) in &events {
        assert_eq!(
            list.len(),
            1,
            "{order_id}: one change, {} events: {list:#?}",
            list.len()
        );
    }
    let seen = receiver.seen();
    let acked: HashSet<&str> = seen
        .iter()
        .filter(|s| s.acked)
        .map(|s| s.out_trade_no.as_str())
        .collect();
    assert_same_content(&seen);

    let (mut unanswered, mut committed_unanswered, mut in_store) = (0, 0, 0);
    for p in &purchases {
        let number = p.out_trade_no.as_str();
        let status = purchase_status(&api, &app, &token, p).await;
        let n = events.get(number).map_or(0, Vec::len);
        if p.answered() {
            assert!(status.is_some(), "{number}: answered 0 but not in the store");
        } else {
            unanswered += 1;
            committed_unanswered += usize::from(status.is_some());
        }
        match status {
            Some(status) => {
                in_store += 1;
                assert_eq!(n, 1, "{number} ({:?}, answered: {}): {n} events", p.kind, p.answered());
                assert!(
                    acked.contains(number),
                    "{number}: delivered, but the receiver never acknowledged it"
                );
                // An acknowledged item purchase is marked delivered; coins are at once.
                assert_eq!(status, 4, "{number} ({:?}): status {status}", p.kind);
            }
            None => assert_eq!(n, 0, "{number}: not in the store, yet {n} events"),
        }
    }
    assert_eq!(items.len(), in_store, "one event per paid purchase");
    // xpay's RetryTimes counts the deliveries recorded before the acknowledged one.
    for item in &items {
        let number = item["order_id"].as_str().unwrap();
        if !sent[number].kind.is_xpay() {
            continue;
        }
        let last = seen
            .iter()
            .rev()
            .find(|s| s.acked && s.out_trade_no == number)
            .expect("acknowledged");
        assert_eq!(
            last.body["RetryTimes"].as_i64(),
            Some(int(item, "attempts") - 1),
            "{number}: {item} vs {}",
            last.body
        );
    }
    let deliveries = seen.len() - failed_before;
    eprintln!(
        "{} purchases: {} answered before the kill, {unanswered} not ({committed_unanswered} of them \
         committed); {} events ({retrying} retrying at the restart), {failed_before} failed deliveries \
         before the kill, {deliveries} after the restart; {:?}",
        purchases.len(),
        answered.len(),
        items.len(),
        began.elapsed()
    );
    drop(process);
    assert_clean_logs(dir.path(), 2);
}

/// Deliveries in flight (the receiver hangs) when the server is SIGKILLed: after a restart
/// each event is sent again once its lease (30 s of the server's clock) runs out, with the
/// same content, and is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_delivery_sends_it_again_after_the_lease() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = test_app(22);
    let receiver = Receiver::start(Reply::Hang);
    let config = write_config(dir.path(), &app, &receiver.url);

    let mut process = start(dir.path(), &config, 0);
    let api = Api::new(&process, ADMIN_TOKEN);
    let sessions = sessions(&api, &app).await;
    let purchases: Vec<Purchase> = KINDS
        .iter()
        .enumerate()
        .map(|(i, kind)| Purchase {
            out_trade_no: format!("push-inflight-{i}"),
            openid: player(i % PLAYERS),
            kind: *kind,
            answer: None,
        })
        .collect();
    let bought = Instant::now();
    for p in &purchases {
        let answer = buy(&api, &app, &sessions[&p.openid], p).await;
        assert!(answer.is_some(), "{p:?}");
    }
    // Every delivery is in flight (the receiver holds it) well within the 3 s timeout.
    while receiver.seen().len() < purchases.len() {
        assert!(
            bought.elapsed() < Duration::from_secs(10),
            "the receiver got {:?}",
            receiver.seen()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = process.kill9();
    let in_flight_for = bought.elapsed();
    assert_eq!(status.code(), None, "the process was killed");
    let first = receiver.seen();
    assert_eq!(first.len(), purchases.len(), "{first:#?}");

    receiver.set(Reply::Success);
    let process = start(dir.path(), &config, 1);
    let api = Api::new(&process, ADMIN_TOKEN);
    let items = pushes(&api).await;
    assert_eq!(items.len(), purchases.len(), "{items:#?}");
    for item in &items {
        // Each delivery was started (and counted) but none was recorded: they were in
        // flight when the process died (killed after {in_flight_for:?}).
        assert_eq!(
            (
                item["status"].as_str(),
                item["attempts"].as_i64(),
                item["last_reply"].as_str()
            ),
            (Some("pending"), Some(1), Some("")),
            "killed {in_flight_for:?} after the purchases: {item}"
        );
    }
    // The lease holds them for 30 s of the server's clock: nothing is sent meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.seen().len(),
        purchases.len(),
        "sent again before the lease ran out: {:#?}",
        receiver.seen()
    );
    advance_clock(&api, 31).await;
    let items = wait_all_delivered(&api, purchases.len(), &process).await;
    for item in &items {
        // The lost delivery counts: the one after it is the second.
        assert_eq!(item["attempts"], 2, "{item}");
    }
    let seen = receiver.seen();
    assert_same_content(&seen);
    let token = api.token(&app).await;
    for p in &purchases {
        let mine: Vec<&Seen> = seen.iter().filter(|s| s.out_trade_no == p.out_trade_no).collect();
        assert_eq!(mine.len(), 2, "{}: {mine:#?}", p.out_trade_no);
        assert!(!mine[0].acked && mine[1].acked, "{mine:#?}");
        assert_eq!(purchase_status(&api, &app, &token, p).await, Some(4), "{p:?}");
    }
    drop(process);
    assert_clean_logs(dir.path(), 2);
}
