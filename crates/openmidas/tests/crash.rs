//! Durability of the real binary: SIGKILL mid-storm (v1 pays and presents, 2.0 pays and
//! partial refunds on the same accounts), restart on the same database, and check that
//! every answered request is in the journal exactly once, nothing is applied twice, refunds
//! never exceed their pays, the journal replays to the accounts, and retries of unanswered
//! requests finish correctly. Also: SIGTERM drains in-flight requests and exits 0.

mod common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use openmidas_protocol::v2::Op as V2Op;
use openmidas_protocol::xpay::Op as XpayOp;
use openmidas_testkit::TestApp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN_TOKEN: &str = "crash-test-admin-token-0123456789";
/// Players; every request picks one at random, so accounts are contended.
const PLAYERS: usize = 6;
/// Cash each player buys up front: enough that no pay is refused.
const RECHARGE: i64 = 10_000_000;
/// Concurrent clients of a storm.
const TASKS: usize = 32;
/// Kill/restart cycles.
const ROUNDS: usize = 4;

fn player(i: usize) -> String {
    format!("crash-player-{i}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// v1 pay.
    Pay,
    /// v1 present.
    Present,
    /// 2.0 pay.
    PayV2,
    /// 2.0 cancelpay: a refund of part of the pay `pay`.
    Refund { pay: String },
    /// xpay currency_pay.
    PayXpay,
    /// xpay cancel_currency_pay: a refund of part of the pay `pay`.
    RefundXpay { pay: String },
    /// The player buys goods through xpay (`wx.requestVirtualPayment`): a purchase, no
    /// coins move.
    BuyGoods,
}

impl Kind {
    /// The journal's kind of the movement.
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Pay | Kind::PayV2 | Kind::PayXpay => "pay",
            Kind::Present => "present",
            Kind::Refund { .. } | Kind::RefundXpay { .. } => "refund",
            Kind::BuyGoods => "purchase",
        }
    }

    fn is_pay(&self) -> bool {
        matches!(self, Kind::Pay | Kind::PayV2 | Kind::PayXpay)
    }

    fn is_refund_of(&self) -> Option<&str> {
        match self {
            Kind::Refund { pay } | Kind::RefundXpay { pay } => Some(pay),
            _ => None,
        }
    }

    fn is_xpay(&self) -> bool {
        matches!(self, Kind::PayXpay | Kind::RefundXpay { .. })
    }
}

/// One request of a storm and what came back.
#[derive(Debug, Clone)]
struct Sent {
    bill_no: String,
    openid: String,
    kind: Kind,
    amount: i64,
    /// The exact path, query and body sent; a retry sends them again.
    path: String,
    body: String,
    /// None: no complete answer (the connection broke).
    answer: Option<Value>,
    /// Sent with the admin token (the simulated player's purchase).
    admin: bool,
}

/// A 2.0 request: the path with its signed query, and the body.
fn v2_request(app: &TestApp, token: &str, session_key: &str, op: V2Op, openid: &str, extra: Value) -> (String, String) {
    let fields = openmidas_testkit::with(app.v2_fields(openid), extra);
    let body = Value::Object(fields).to_string();
    let query = app.v2_query(op, token, &body, session_key);
    (format!("{}?{query}", op.uri()), body)
}

/// An xpay request: the path with its signed query, and the body.
fn xpay_request(
    app: &TestApp,
    token: &str,
    session_key: &str,
    op: XpayOp,
    openid: &str,
    extra: Value,
) -> (String, String) {
    let mut fields = serde_json::Map::new();
    fields.insert("openid".into(), json!(openid));
    fields.insert("env".into(), json!(0));
    let body = Value::Object(openmidas_testkit::with(fields, extra)).to_string();
    let query = app.xpay_query(op, token, &body, session_key);
    (format!("{}?{query}", op.uri()), body)
}

/// A goods purchase through `wx.requestVirtualPayment`, signed as the client signs it.
fn buy_goods_request(
    app: &TestApp,
    session_key: &str,
    openid: &str,
    out_trade_no: &str,
    quantity: i64,
) -> (String, String) {
    let sign_data = json!({"offerId": app.offer_id, "buyQuantity": quantity, "env": 0, "currencyType": "CNY",
                           "productId": "sword", "goodsPrice": 100, "outTradeNo": out_trade_no, "attach": ""})
    .to_string();
    let signed = openmidas_protocol::sign::v2::sign(
        openmidas_protocol::client::virtual_payment::PAY_SIG_URI,
        &sign_data,
        &app.app_key,
        Some(session_key),
    );
    let body = json!({"appid": app.appid, "openid": openid, "mode": "short_series_goods", "sign_data": sign_data,
                      "pay_sig": signed.pay_sig, "signature": signed.signature})
    .to_string();
    ("/admin/client/virtual_payment".to_string(), body)
}

/// Everything sent so far, over all rounds.
type Log = Arc<Mutex<Vec<Sent>>>;

/// A storm's shared state: the log, how many answers came back, and the stop flag.
#[derive(Clone, Default)]
struct Storm {
    log: Log,
    answered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// The players' session_keys, by openid (2.0 signs every call with one).
type Sessions = Arc<HashMap<String, String>>;

/// A pay a storm client made and may refund: its number, player, amount, and what its
/// refunds gave back so far.
struct Refundable {
    bill_no: String,
    openid: String,
    left: i64,
}

/// Runs `TASKS` clients until `stop` is set or their connection fails: v1 pays and
/// presents, 2.0 pays, and 2.0 refunds of parts of the pays the same client made (so two
/// clients never refund one pay), all with unique numbers. Every request is logged with its
/// answer (or none).
fn storm(
    api: &Api,
    app: &TestApp,
    token: &str,
    sessions: &Sessions,
    label: &str,
    seed: u64,
    state: &Storm,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (api, app, token, label) = (api.clone(), app.clone(), token.to_string(), label.to_string());
        let sessions = sessions.clone();
        let Storm { log, answered, stop } = state.clone();
        let mut rng = Rng::seeded(seed.wrapping_add(t as u64 * 0x9e37_79b9));
        tasks.spawn(async move {
            let mut i = 0;
            let mut refundable: Vec<Refundable> = Vec::new();
            while !stop.load(Ordering::Acquire) {
                let mut openid = player(rng.range(0, PLAYERS as u64) as usize);
                // At least 8 characters: xpay's order_id and outTradeNo rule.
                let bill_no = format!("{label}-t{t}-{i:04}");
                i += 1;
                let dice = rng.range(0, 12);
                let (kind, amount) = if dice < 2 {
                    (Kind::Present, rng.range(1, 20) as i64)
                } else if dice < 4 {
                    (Kind::Pay, rng.range(1, 50) as i64)
                } else if dice < 6 || refundable.is_empty() {
                    (Kind::PayV2, rng.range(1, 50) as i64)
                } else if dice < 7 {
                    (Kind::PayXpay, rng.range(1, 50) as i64)
                } else if dice < 8 {
                    (Kind::BuyGoods, rng.range(1, 5) as i64)
                } else {
                    let pick = rng.range(0, refundable.len() as u64) as usize;
                    let pay = &refundable[pick];
                    openid = pay.openid.clone();
                    let amount = rng.range(1, pay.left.min(12) as u64 + 1) as i64;
                    // Either dialect refunds any pay: one book.
                    let pay = pay.bill_no.clone();
                    let kind = if rng.range(0, 2) == 0 {
                        Kind::Refund { pay }
                    } else {
                        Kind::RefundXpay { pay }
                    };
                    (kind, amount)
                };
                let session = &sessions[&openid];
                let (path, body) = match &kind {
                    Kind::Pay => (
                        format!("{}?access_token={token}", PAY.uri()),
                        pay_body(&app, &token, &openid, &bill_no, amount),
                    ),
                    Kind::Present => (
                        format!("{}?access_token={token}", PRESENT.uri()),
                        present_body(&app, &token, &openid, &bill_no, amount),
                    ),
                    Kind::PayV2 => v2_request(
                        &app,
                        &token,
                        session,
                        V2Op::Pay,
                        &openid,
                        json!({"bill_no": bill_no, "amount": amount}),
                    ),
                    Kind::Refund { pay } => v2_request(
                        &app,
                        &token,
                        session,
                        V2Op::CancelPay,
                        &openid,
                        json!({"bill_no": bill_no, "pay_bill_no": pay, "amount": amount}),
                    ),
                    Kind::PayXpay => xpay_request(
                        &app,
                        &token,
                        session,
                        XpayOp::CurrencyPay,
                        &openid,
                        json!({"order_id": bill_no, "amount": amount}),
                    ),
                    Kind::RefundXpay { pay } => xpay_request(
                        &app,
                        &token,
                        session,
                        XpayOp::CancelCurrencyPay,
                        &openid,
                        json!({"order_id": bill_no, "pay_order_id": pay, "amount": amount}),
                    ),
                    Kind::BuyGoods => buy_goods_request(&app, session, &openid, &bill_no, amount),
                };
                let admin = kind == Kind::BuyGoods;
                let answer = api.try_post_as(&path, &body, admin).await.ok();
                let failed = answer.is_none();
                if answer.as_ref().is_some_and(|a| a["errcode"] == 0) {
                    answered.fetch_add(1, Ordering::AcqRel);
                    match &kind {
                        Kind::Pay | Kind::PayV2 | Kind::PayXpay => refundable.push(Refundable {
                            bill_no: bill_no.clone(),
                            openid: openid.clone(),
                            left: amount,
                        }),
                        Kind::Refund { pay } | Kind::RefundXpay { pay } => {
                            if let Some(p) = refundable.iter_mut().find(|p| p.bill_no == *pay) {
                                p.left -= amount;
                            }
                            refundable.retain(|p| p.left > 0);
                        }
                        Kind::Present | Kind::BuyGoods => {}
                    }
                }
                log.lock().unwrap().push(Sent {
                    bill_no,
                    openid,
                    kind,
                    amount,
                    path,
                    body,
                    answer,
                    admin,
                });
                if failed {
                    return;
                }
            }
        });
    }
    tasks
}

/// The journal of every player, by order number.
async fn journals(api: &Api, app: &TestApp) -> HashMap<String, Vec<Value>> {
    let mut all = HashMap::new();
    for p in 0..PLAYERS {
        all.insert(player(p), api.journal(&app.appid, &player(p)).await);
    }
    all
}

fn entries_of<'a>(journals: &'a HashMap<String, Vec<Value>>, sent: &Sent) -> Vec<&'a Value> {
    journals[&sent.openid]
        .iter()
        .filter(|e| e["order_no"] == sent.bill_no.as_str())
        .collect()
}

/// Checks an answered request against its (single) journal entry.
fn check_applied(sent: &Sent, entry: &Value, answer: &Value) {
    assert_eq!(entry["kind"], sent.kind.as_str(), "{sent:?}: {entry}");
    assert_eq!(int(entry, "amount"), sent.amount, "{sent:?}: {entry}");
    if sent.kind.is_xpay() {
        assert_eq!(answer["order_id"], sent.bill_no.as_str(), "{sent:?}");
        if sent.kind == Kind::PayXpay {
            assert_eq!(
                answer["balance"], entry["balance_after"],
                "{}: {answer} vs {entry}",
                sent.bill_no
            );
            assert_eq!(
                int(answer, "used_present_amount"),
                -int(entry, "gift_delta"),
                "{answer} vs {entry}"
            );
        } else {
            assert_eq!(
                int(entry, "cash_delta") + int(entry, "gift_delta"),
                sent.amount,
                "{entry}"
            );
        }
        return;
    }
    assert_eq!(answer["bill_no"], sent.bill_no.as_str(), "{sent:?}");
    assert_eq!(
        answer["balance"], entry["balance_after"],
        "{}: answered balance differs from the journal's: {answer} vs {entry}",
        sent.bill_no
    );
    let gift_delta = int(entry, "gift_delta");
    match sent.kind {
        Kind::Pay => assert_eq!(int(answer, "used_gen_amt"), -gift_delta, "{answer} vs {entry}"),
        Kind::PayV2 => assert_eq!(int(answer, "used_present_amount"), -gift_delta, "{answer} vs {entry}"),
        Kind::Refund { .. } => {
            assert_eq!(int(answer, "used_present_amount"), gift_delta, "{answer} vs {entry}");
            assert_eq!(int(entry, "cash_delta") + gift_delta, sent.amount, "{entry}");
        }
        Kind::Present | Kind::PayXpay | Kind::RefundXpay { .. } | Kind::BuyGoods => {}
    }
}

/// After a restart: the answered requests are applied exactly once as answered; the
/// unanswered ones at most once; retries (same bodies) finish them; then every request is
/// applied exactly once and the journal replays to each account.
/// Where the purchase `out_trade_no` of `openid` stands (xpay `query_order`'s status), if
/// it exists.
async fn purchase_status(api: &Api, app: &TestApp, token: &str, openid: &str, out_trade_no: &str) -> Option<i64> {
    let (path, body) = xpay_request(
        app,
        token,
        "",
        XpayOp::QueryOrder,
        openid,
        json!({"order_id": out_trade_no}),
    );
    let answer = api.try_post(&path, &body).await.expect("query_order");
    match answer["errcode"].as_i64() {
        Some(0) => answer["order"]["status"].as_i64(),
        _ => {
            assert_eq!(answer["errcode"], 268490002, "{answer}");
            None
        }
    }
}

/// The purchases of the storms: an answered one exists (paid); an unanswered one existed at
/// most once and its retry (the same request) finishes it: -15002 if it had been made.
async fn verify_purchases(api: &Api, app: &TestApp, token: &str, log: &Log) -> (usize, usize) {
    let (mut unanswered, mut were_applied) = (0, 0);
    let sent: Vec<(usize, Sent)> = log
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, s)| s.kind == Kind::BuyGoods)
        .collect();
    for (index, s) in sent {
        let status = purchase_status(api, app, token, &s.openid, &s.bill_no).await;
        match &s.answer {
            Some(answer) if answer.is_null() => assert_eq!(status, Some(2), "{}", s.bill_no),
            Some(answer) => {
                assert_eq!(answer["errcode"], 0, "{s:?}");
                assert_eq!(status, Some(2), "{}: answered 0 but not recorded", s.bill_no);
            }
            None => {
                unanswered += 1;
                were_applied += usize::from(status.is_some());
                let answer = api
                    .try_post_as(&s.path, &s.body, s.admin)
                    .await
                    .expect("retry the purchase");
                let expected = if status.is_some() { -15002 } else { 0 };
                assert_eq!(answer["errcode"], expected, "{}: {answer}", s.bill_no);
                assert_eq!(purchase_status(api, app, token, &s.openid, &s.bill_no).await, Some(2));
                log.lock().unwrap()[index].answer = Some(Value::Null);
            }
        }
    }
    (unanswered, were_applied)
}

async fn verify_and_finish(api: &Api, app: &TestApp, token: &str, log: &Log) -> (usize, usize) {
    let (unanswered_purchases, applied_purchases) = verify_purchases(api, app, token, log).await;
    let before = journals(api, app).await;
    // Purchases move no coins: the journal checks are of the rest (with their places in the
    // log, which the retries below update).
    let indexed: Vec<(usize, Sent)> = log
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, s)| s.kind != Kind::BuyGoods)
        .collect();
    let sent: Vec<Sent> = indexed.iter().map(|(_, s)| s.clone()).collect();
    let known: std::collections::HashSet<&str> = sent.iter().map(|s| s.bill_no.as_str()).collect();
    for (openid, entries) in &before {
        for e in entries {
            let order_no = e["order_no"].as_str().unwrap();
            assert!(
                e["kind"] == "recharge" || known.contains(order_no),
                "{openid}: journal entry for a request never sent: {e}"
            );
        }
    }

    let mut retries = tokio::task::JoinSet::new();
    let mut unanswered = 0;
    for (index, s) in indexed.iter().map(|(index, s)| (*index, s)) {
        let entries = entries_of(&before, s);
        match &s.answer {
            Some(answer) if answer.is_null() => {
                // Unanswered in an earlier round, found applied then: still exactly once.
                assert_eq!(entries.len(), 1, "{}: {} journal entries", s.bill_no, entries.len());
            }
            Some(answer) => {
                assert_eq!(answer["errcode"], 0, "{s:?}");
                assert_eq!(
                    entries.len(),
                    1,
                    "{}: answered 0 but {} journal entries",
                    s.bill_no,
                    entries.len()
                );
                check_applied(s, entries[0], answer);
            }
            None => {
                assert!(entries.len() <= 1, "{}: applied {} times", s.bill_no, entries.len());
                unanswered += 1;
                let applied = entries.first().map(|e| (*e).clone());
                let (api, s) = (api.clone(), s.clone());
                retries.spawn(async move {
                    let answer = api
                        .try_post(&s.path, &s.body)
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", s.path));
                    match &applied {
                        // Applied before the crash: xpay answers the repeat 268490004, bare.
                        Some(_) if s.kind.is_xpay() => {
                            assert_eq!(answer["errcode"], 268490004, "{}: {answer}", s.bill_no);
                        }
                        Some(entry) => {
                            // Applied before the crash: the retry is a duplicate carrying the original.
                            assert_eq!(answer["errcode"], 90012, "{}: {answer}", s.bill_no);
                            check_applied(&s, entry, &answer);
                        }
                        None => assert_eq!(answer["errcode"], 0, "{}: {answer}", s.bill_no),
                    }
                    (index, answer, applied.is_some())
                });
            }
        }
    }
    let mut retried_ok = Vec::new();
    let mut were_applied = 0;
    while let Some(done) = retries.join_next().await {
        let (index, answer, was_applied) = done.expect("retry");
        were_applied += usize::from(was_applied);
        if !was_applied {
            retried_ok.push((index, answer));
        }
    }
    {
        // From now on every request counts as answered with its final result.
        let mut log = log.lock().unwrap();
        for (index, answer) in retried_ok {
            log[index].answer = Some(answer);
        }
        for s in log.iter_mut() {
            if s.answer.is_none() {
                s.answer = Some(Value::Null); // applied before the crash; checked above
            }
        }
    }

    let after = journals(api, app).await;
    let sent: Vec<Sent> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.kind != Kind::BuyGoods)
        .cloned()
        .collect();
    for s in &sent {
        let entries = entries_of(&after, s);
        assert_eq!(entries.len(), 1, "{}: applied {} times", s.bill_no, entries.len());
        if let Some(answer) = s.answer.as_ref().filter(|a| !a.is_null()) {
            check_applied(s, entries[0], answer);
        }
    }
    // Refunds never give back more than their pay took.
    for pay in sent.iter().filter(|s| s.kind.is_pay()) {
        let refunded: i64 = sent
            .iter()
            .filter(|s| s.kind.is_refund_of() == Some(pay.bill_no.as_str()))
            .map(|s| s.amount)
            .sum();
        assert!(
            refunded <= pay.amount,
            "{}: refunded {refunded} of {}",
            pay.bill_no,
            pay.amount
        );
    }
    for p in 0..PLAYERS {
        let openid = player(p);
        let mine = || sent.iter().filter(|s| s.openid == openid);
        let paid: i64 = mine().filter(|s| s.kind.is_pay()).map(|s| s.amount).sum();
        let refunded: i64 = mine()
            .filter(|s| s.kind.is_refund_of().is_some())
            .map(|s| s.amount)
            .sum();
        let cost = paid - refunded;
        let presented: i64 = mine().filter(|s| s.kind == Kind::Present).map(|s| s.amount).sum();
        let b = api.balance(app, token, &openid).await;
        assert_eq!(int(&b, "save_amt"), RECHARGE, "{openid}: {b}");
        assert_eq!(int(&b, "cost_sum"), cost, "{openid}: {b}");
        assert_eq!(int(&b, "present_sum"), presented, "{openid}: {b}");
        assert_eq!(int(&b, "save_sum"), RECHARGE + presented, "{openid}: {b}");
        assert_eq!(
            int(&b, "balance"),
            int(&b, "save_sum") - int(&b, "cost_sum"),
            "{openid}: {b}"
        );
        let entries = &after[&openid];
        assert_eq!(entries.len(), 1 + mine().count(), "{openid}: journal length");
        let (mut cash, mut gift) = (0, 0);
        for e in entries {
            cash += int(e, "cash_delta");
            gift += int(e, "gift_delta");
            assert!(cash >= 0 && gift >= 0, "{openid}: negative replay at {e}");
            assert_eq!(cash + gift, int(e, "balance_after"), "{openid}: replay differs at {e}");
        }
        assert_eq!(
            cash + gift,
            int(&b, "balance"),
            "{openid}: journal does not replay to {b}"
        );
        assert_eq!(gift, int(&b, "gen_balance"), "{openid}: {b}");
    }
    (unanswered + unanswered_purchases, were_applied + applied_purchases)
}

/// Starts run `round` on `database` (None: an SQLite file in `dir`).
fn start_on(dir: &Path, database: Option<&str>, round: usize) -> Process {
    let file = dir.join("openmidas.db");
    Process::start(Launch {
        dir,
        database: Some(database.map(OsStr::new).unwrap_or(file.as_os_str())),
        admin_token: Some(ADMIN_TOKEN),
        env: vec![],
        log_name: &format!("stderr-{round}.log"),
    })
}

fn start(dir: &Path, round: usize) -> Process {
    start_on(dir, None, round)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_storm_loses_and_doubles_nothing() {
    sigkill_rounds(None).await;
}

/// The same on PostgreSQL (a throwaway database of the testkit's cluster): the process
/// dies, the database does not; what was acknowledged must be committed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_storm_loses_and_doubles_nothing_on_postgres() {
    let database = openmidas_testkit::postgres::fresh_database(false).await;
    sigkill_rounds(Some(&database.url)).await;
}

/// ROUNDS times: a storm, SIGKILL, restart on the same database, verify and finish.
async fn sigkill_rounds(database: Option<&str>) {
    let began = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::from_env_or_time();
    let app = test_app(1);

    let mut process = start_on(dir.path(), database, 0);
    let mut api = Api::new(&process, ADMIN_TOKEN);
    api.create_app(&app).await;
    let token = api.token(&app).await;
    let mut sessions = HashMap::new();
    for p in 0..PLAYERS {
        api.recharge(&app, &player(p), RECHARGE).await;
        sessions.insert(player(p), api.login(&app, &player(p)).await);
    }
    let sessions: Sessions = Arc::new(sessions);
    let log: Log = Arc::default();

    for round in 1..=ROUNDS {
        let state = Storm {
            log: log.clone(),
            ..Storm::default()
        };
        let (answered, stop) = (state.answered.clone(), state.stop.clone());
        let mut tasks = storm(&api, &app, &token, &sessions, &format!("r{round}"), rng.next(), &state);
        // Kill after a random number of answers, or after a random short delay.
        let by_count = rng.range(0, 2) == 0;
        let target = rng.range(20, 400) as usize;
        let delay = Duration::from_millis(rng.range(20, 400));
        let storm_start = Instant::now();
        loop {
            let n = answered.load(Ordering::Acquire);
            let due = if by_count {
                n >= target
            } else {
                // Mid-storm: at least one answer, however slow the machine.
                storm_start.elapsed() >= delay && n > 0
            };
            // A safety net: never wait for ever if the server answers nothing.
            if due || storm_start.elapsed() > Duration::from_secs(20) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let status = process.kill9();
        stop.store(true, Ordering::Release);
        assert_eq!(
            status.code(),
            None,
            "the process was killed, it did not exit on its own"
        );
        while let Some(done) = tasks.join_next().await {
            done.expect("client task");
        }
        let answered = answered.load(Ordering::Acquire);
        assert!(answered > 0, "round {round}: nothing was answered before the kill");

        process = start_on(dir.path(), database, round);
        api = Api::new(&process, ADMIN_TOKEN);
        let (unanswered, were_applied) = verify_and_finish(&api, &app, &token, &log).await;
        eprintln!(
            "round {round}: killed after {answered} answers ({}); {unanswered} unanswered, of which {were_applied} had been applied",
            if by_count { "by count" } else { "by delay" }
        );
    }
    let (total, v2_pays, refunds, xpay_pays, xpay_refunds, purchases) = {
        let log = log.lock().unwrap();
        let count = |f: fn(&Kind) -> bool| log.iter().filter(|s| f(&s.kind)).count();
        (
            log.len(),
            count(|k| *k == Kind::PayV2),
            count(|k| matches!(k, Kind::Refund { .. })),
            count(|k| *k == Kind::PayXpay),
            count(|k| matches!(k, Kind::RefundXpay { .. })),
            count(|k| *k == Kind::BuyGoods),
        )
    };
    eprintln!(
        "{total} requests ({v2_pays} 2.0 pays, {refunds} 2.0 refunds, {xpay_pays} xpay pays, {xpay_refunds} xpay \
         refunds, {purchases} xpay purchases) over {ROUNDS} crashes in {:?}",
        began.elapsed()
    );
    assert!(v2_pays > 0 && refunds > 0, "the storms covered 2.0 pays and refunds");
    assert!(
        xpay_pays > 0 && xpay_refunds > 0 && purchases > 0,
        "the storms covered xpay pays, refunds and purchases"
    );
    // The logs of every run: no panic, and none of the secrets the clients used.
    assert!(
        !process.stdout().contains(ADMIN_TOKEN),
        "a configured admin token is never printed"
    );
    for round in 0..=ROUNDS {
        let logs = std::fs::read_to_string(dir.path().join(format!("stderr-{round}.log"))).expect("log file");
        assert!(!logs.contains("panicked"), "round {round}:\n{logs}");
        for secret in [ADMIN_TOKEN, &app.secret, &app.app_key, &app.sandbox_app_key, &token] {
            assert!(!logs.contains(secret), "round {round}: the logs contain {secret:?}");
        }
    }
}

/// Sends a request's head and half its body on a raw connection, so the request is in
/// flight (the server is reading it) until [`finish_slow_request`].
async fn start_slow_request(addr: &str, path: &str, body: &str) -> (tokio::net::TcpStream, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let half = body.len() / 2;
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&body.as_bytes()[..half]).await.expect("write half");
    stream.flush().await.expect("flush");
    (stream, body[half..].to_string())
}

/// Sends the rest of the body and reads the complete answer (until the server closes).
async fn finish_slow_request(mut stream: tokio::net::TcpStream, rest: &str) -> Value {
    stream.write_all(rest.as_bytes()).await.expect("write rest");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("the answer came within 20 s")
        .expect("read answer");
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete answer: {text:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    assert_eq!(body.len(), length, "truncated answer: {text:?}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::from_env_or_time();
    let app = test_app(2);
    let mut process = start(dir.path(), 0);
    let api = Api::new(&process, ADMIN_TOKEN);
    api.create_app(&app).await;
    let token = api.token(&app).await;
    let mut sessions = HashMap::new();
    for p in 0..PLAYERS {
        api.recharge(&app, &player(p), RECHARGE).await;
        sessions.insert(player(p), api.login(&app, &player(p)).await);
    }
    let sessions: Sessions = Arc::new(sessions);
    let log: Log = Arc::default();

    // Requests the server is in the middle of reading when SIGTERM arrives.
    let addr = process.base_url.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for i in 0..8 {
        let openid = player(i % PLAYERS);
        let bill_no = format!("slow-{i}");
        let body = pay_body(&app, &token, &openid, &bill_no, 10);
        let path = format!("{}?access_token={token}", PAY.uri());
        let (stream, rest) = start_slow_request(&addr, &path, &body).await;
        slow.push((stream, rest));
        log.lock().unwrap().push(Sent {
            bill_no,
            openid,
            kind: Kind::Pay,
            amount: 10,
            path,
            body,
            answer: None,
            admin: false,
        });
    }
    // And a storm over keep-alive connections.
    let state = Storm {
        log: log.clone(),
        ..Storm::default()
    };
    let (answered, stop) = (state.answered.clone(), state.stop.clone());
    let mut tasks = storm(&api, &app, &token, &sessions, "term", rng.next(), &state);
    let wait_start = Instant::now();
    while answered.load(Ordering::Acquire) < 100 && wait_start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    process.signal(libc::SIGTERM);
    // The storm goes on for a moment against the draining server, then the slow requests end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Release);
    let mut slow_answers = Vec::new();
    for (stream, rest) in slow {
        slow_answers.push(finish_slow_request(stream, &rest).await);
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task");
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = process.wait(Duration::from_secs(20));
        (process, status)
    })
    .await
    .expect("wait");
    let (process, status) = status;
    let status = status.unwrap_or_else(|| panic!("still running 20 s after SIGTERM:\n{}", process.logs()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; logs:\n{}",
        process.logs()
    );
    assert!(process.logs().contains("stopped cleanly"), "{}", process.logs());
    for (i, answer) in slow_answers.iter().enumerate() {
        assert_eq!(answer["errcode"], 0, "slow-{i}: {answer}");
        log.lock().unwrap()[i].answer = Some(answer.clone());
    }

    // Every answer was complete, and nothing unanswered was applied: a drained server
    // answers each request it read.
    let restarted = start(dir.path(), 1);
    let api = Api::new(&restarted, ADMIN_TOKEN);
    let before = journals(&api, &app).await;
    let unanswered: Vec<Sent> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.answer.is_none())
        .cloned()
        .collect();
    for s in &unanswered {
        assert!(
            entries_of(&before, s).is_empty(),
            "{}: applied but its client got no answer (not drained)",
            s.bill_no
        );
    }
    let (n, were_applied) = verify_and_finish(&api, &app, &token, &log).await;
    assert_eq!((n, were_applied), (unanswered.len(), 0));
    eprintln!(
        "{} storm answers before and during the drain, {} requests without an answer (none applied)",
        answered.load(Ordering::Acquire),
        unanswered.len()
    );
}

/// A client that stalls mid-request (half its headers, or half its body) cannot hold the
/// process up: past the drain timeout it exits 0 anyway, after answering what completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stalled_clients_exits_after_the_drain_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = test_app(3);
    let mut process = Process::start(Launch {
        dir: dir.path(),
        database: Some(dir.path().join("openmidas.db").as_os_str()),
        admin_token: Some(ADMIN_TOKEN),
        env: vec![("OPENMIDAS_DRAIN_TIMEOUT_SECS", "1")],
        log_name: "stderr-0.log",
    });
    let api = Api::new(&process, ADMIN_TOKEN);
    api.create_app(&app).await;
    let token = api.token(&app).await;
    let openid = player(0);
    api.recharge(&app, &openid, 1000).await;
    let addr = process.base_url.trim_start_matches("http://").to_string();
    let path = format!("{}?access_token={token}", PAY.uri());

    // Half the headers, never the rest.
    let mut half_head = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    half_head
        .write_all(format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .expect("write");
    // A whole head and half a body, never the rest.
    let stalled_body = pay_body(&app, &token, &openid, "stalled", 10);
    let (_stalled, _never_sent) = start_slow_request(&addr, &path, &stalled_body).await;
    // A slow request that completes within the drain.
    let slow_body = pay_body(&app, &token, &openid, "slow", 20);
    let (slow, rest) = start_slow_request(&addr, &path, &slow_body).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    process.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = finish_slow_request(slow, &rest).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["balance"], 980, "{answer}");
    let (process, status) = tokio::task::spawn_blocking(move || {
        let status = process.wait(Duration::from_secs(20));
        (process, status)
    })
    .await
    .expect("wait");
    let status = status.unwrap_or_else(|| panic!("still running 20 s after SIGTERM:\n{}", process.logs()));
    assert_eq!(status.code(), Some(0), "exit status; logs:\n{}", process.logs());
    assert!(
        signalled.elapsed() >= Duration::from_millis(900),
        "exited before the drain timeout"
    );
    assert!(process.logs().contains("drain timeout"), "{}", process.logs());
    drop(half_head);

    let restarted = start(dir.path(), 1);
    let api = Api::new(&restarted, ADMIN_TOKEN);
    let journal = api.journal(&app.appid, &openid).await;
    let orders: Vec<&str> = journal.iter().map(|e| e["order_no"].as_str().unwrap()).collect();
    assert_eq!(orders.iter().filter(|o| **o == "slow").count(), 1, "{orders:?}");
    assert!(!orders.contains(&"stalled"), "{orders:?}");
    let b = api.balance(&app, &token, &openid).await;
    assert_eq!(int(&b, "balance"), 980, "{b}");
}

/// Waits until the server closes `stream` (EOF or reset), reading and discarding whatever
/// it answers first (e.g. a 408); false if it is still open after `limit`.
async fn closed_by_server(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Connections that stall before a complete request head (half the headers, nothing at
/// all, or idle keep-alive after an answer) are closed after the header-read timeout, so
/// they cannot pile up to `--max-connections`; the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_idle_connections_are_closed_by_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let process = Process::start(Launch {
        dir: dir.path(),
        database: Some(dir.path().join("openmidas.db").as_os_str()),
        admin_token: Some(ADMIN_TOKEN),
        env: vec![("OPENMIDAS_HEADER_READ_TIMEOUT_SECS", "1")],
        log_name: "stderr-0.log",
    });
    let addr = process.base_url.trim_start_matches("http://").to_string();
    let connect = || tokio::net::TcpStream::connect(addr.clone());

    let mut half_head = connect().await.expect("connect");
    half_head
        .write_all(format!("POST /cgi-bin/midas/pay HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .expect("write");
    let mut silent = connect().await.expect("connect");
    let mut kept_alive = connect().await.expect("connect");
    kept_alive
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");

    // The limit is generous: this checks that they are closed at all, not how fast.
    for (name, stream) in [
        ("half a request head", &mut half_head),
        ("a silent connection", &mut silent),
        ("an idle keep-alive connection", &mut kept_alive),
    ] {
        assert!(
            closed_by_server(stream, Duration::from_secs(20)).await,
            "{name} is still open 20 s later (header-read timeout 1 s)"
        );
    }
    let health = http_client()
        .get(process.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
}
