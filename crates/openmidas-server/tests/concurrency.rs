//! Many concurrent clients against ONE account with limited funds: the balance never goes
//! negative, exactly the affordable pays succeed, every bill_no applies once even when
//! several clients send it at the same moment, and the journal agrees with the account.
//!
//! Runs on every backend through `backend_tests!`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use openmidas_protocol::v1::Endpoint;
use openmidas_testkit::*;
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

/// Concurrent client tasks.
const TASKS: usize = 64;
/// Cash bought before the storm.
const RECHARGE: i64 = 1000;
/// Gift coins presented during the storm: PRESENTS presents of PRESENT_AMOUNT.
const PRESENTS: usize = 8;
const PRESENT_AMOUNT: i64 = 25;
/// Every pay asks for this much.
const PAY_AMOUNT: i64 = 7;
/// Total funds; floor(FUNDS / PAY_AMOUNT) pays can succeed.
const FUNDS: i64 = RECHARGE + PRESENTS as i64 * PRESENT_AMOUNT;
const AFFORDABLE: usize = (FUNDS / PAY_AMOUNT) as usize;
/// Distinct pay bill_nos: 3x more than affordable.
const PAY_BILLS: usize = AFFORDABLE * 3;
/// The first DUPLICATED bill_nos (while funds are plentiful) are sent by COPIES clients at once.
const DUPLICATED: usize = 40;
const COPIES: usize = 4;

const OPENID: &str = "storm-player";

/// A client that POSTs v1 bodies; cheap to clone (one keep-alive pool).
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base_url: String,
    app: TestApp,
    token: String,
}

impl Client {
    async fn call(&self, endpoint: Endpoint, fields: Map<String, Value>) -> Value {
        let body = self.app.signed(endpoint, &self.token, fields, None);
        let response = self
            .http
            .post(format!(
                "{}{}?access_token={}",
                self.base_url,
                endpoint.uri(),
                self.token
            ))
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e}", endpoint.uri()));
        let status = response.status();
        let text = response.text().await.expect("answer body");
        assert_eq!(status, StatusCode::OK, "{}: {text}", endpoint.uri());
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"))
    }

    async fn pay(&self, bill_no: &str, amount: i64) -> Value {
        let fields = with(self.app.fields(OPENID), json!({"bill_no": bill_no, "amt": amount}));
        self.call(PAY, fields).await
    }

    async fn present(&self, bill_no: &str, amount: i64) -> Value {
        let fields = with(
            self.app.fields(OPENID),
            json!({"bill_no": bill_no, "present_counts": amount}),
        );
        self.call(PRESENT, fields).await
    }

    async fn cancelpay(&self, bill_no: &str) -> Value {
        let fields = with(self.app.fields(OPENID), json!({"bill_no": bill_no}));
        self.call(CANCELPAY, fields).await
    }

    async fn balance(&self) -> Value {
        let answer = self.call(GETBALANCE, self.app.fields(OPENID)).await;
        assert_eq!(answer["errcode"], 0, "getbalance: {answer}");
        answer
    }
}

fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("no integer {field} in {v}"))
}

/// Every journal entry of the account, oldest first, following the pages.
async fn journal(server: &TestServer, app: &TestApp) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after_id = 0;
    loop {
        let response = server
            .http
            .get(server.url(&format!(
                "/admin/journal?appid={}&openid={OPENID}&env=official&after_id={after_id}&limit=1000",
                app.appid
            )))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("journal");
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.expect("journal JSON");
        assert_eq!(page["errcode"], 0, "{page}");
        let batch = page["entries"].as_array().expect("entries").clone();
        if batch.is_empty() {
            return entries;
        }
        after_id = int(batch.last().unwrap(), "id");
        entries.extend(batch);
    }
}

/// Checks the invariants every consistent getbalance snapshot must satisfy.
fn check_snapshot(b: &Value) {
    let balance = int(b, "balance");
    let gift = int(b, "gen_balance");
    assert!(
        balance >= 0 && gift >= 0 && gift <= balance,
        "negative or impossible balance: {b}"
    );
    assert_eq!(
        balance,
        int(b, "save_sum") - int(b, "cost_sum"),
        "balance != save_sum - cost_sum: {b}"
    );
    assert!(gift <= int(b, "present_sum"), "gift above present_sum: {b}");
}

/// What happened to one pay bill_no: its final answers (one per copy sent).
#[derive(Default)]
struct PayRecord {
    answers: Vec<Value>,
}

async fn pay_storm_on_one_account(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let recharged = server.recharge(&app, OPENID, "official", RECHARGE).await;
    assert_eq!(recharged["errcode"], 0, "{recharged}");
    let client = Client {
        http: server.http.clone(),
        base_url: server.base_url.clone(),
        app: app.clone(),
        token,
    };

    // The work: presents first in the queue, then the pay bill_nos in order.
    let next_present = Arc::new(AtomicUsize::new(0));
    let next_pay = Arc::new(AtomicUsize::new(0));
    let presents_done = Arc::new(AtomicUsize::new(0));
    let records: Arc<Mutex<BTreeMap<usize, PayRecord>>> = Arc::default();
    let present_answers: Arc<Mutex<Vec<Value>>> = Arc::default();
    let storm_over = Arc::new(AtomicBool::new(false));

    // A reader polls getbalance during the whole storm.
    let poller = {
        let client = client.clone();
        let storm_over = storm_over.clone();
        tokio::spawn(async move {
            let mut polls = 0;
            while !storm_over.load(Ordering::Acquire) {
                let b = client.balance().await;
                check_snapshot(&b);
                let cost = int(&b, "cost_sum");
                assert!(cost <= FUNDS && cost % PAY_AMOUNT == 0, "{b}");
                polls += 1;
            }
            polls
        })
    };

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let client = client.clone();
        let (next_present, next_pay, presents_done) = (next_present.clone(), next_pay.clone(), presents_done.clone());
        let (records, present_answers) = (records.clone(), present_answers.clone());
        tasks.spawn(async move {
            loop {
                let p = next_present.fetch_add(1, Ordering::Relaxed);
                if p < PRESENTS {
                    let answer = client.present(&format!("present-{p}"), PRESENT_AMOUNT).await;
                    assert_eq!(answer["errcode"], 0, "present-{p}: {answer}");
                    presents_done.fetch_add(1, Ordering::AcqRel);
                    present_answers.lock().await.push(answer);
                    continue;
                }
                let i = next_pay.fetch_add(1, Ordering::Relaxed);
                if i >= PAY_BILLS {
                    return;
                }
                let bill_no = format!("pay-{i}");
                let copies = if i < DUPLICATED { COPIES } else { 1 };
                // 90013 is only final when every present had committed before the pay was
                // sent; otherwise the same bill_no is tried again (a refused pay leaves no order).
                let answers = loop {
                    let all_presented = presents_done.load(Ordering::Acquire) == PRESENTS;
                    let mut copies_in_flight = tokio::task::JoinSet::new();
                    for _ in 0..copies {
                        let (client, bill_no) = (client.clone(), bill_no.clone());
                        copies_in_flight.spawn(async move { client.pay(&bill_no, PAY_AMOUNT).await });
                    }
                    let answers: Vec<Value> = copies_in_flight.join_all().await;
                    let refused = answers.iter().any(|a| a["errcode"] == 90013);
                    if !refused || all_presented {
                        break answers;
                    }
                    assert!(copies == 1, "a duplicated bill_no was refused for funds: {answers:?}");
                };
                records.lock().await.insert(i, PayRecord { answers });
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task");
    }
    storm_over.store(true, Ordering::Release);
    let polls = poller.await.expect("poller");
    assert!(polls > 0, "getbalance was never polled during the storm");

    // Exactly one errcode 0 per bill_no; duplicates 90012 with the original result.
    let records = records.lock().await;
    assert_eq!(records.len(), PAY_BILLS);
    let mut paid: HashMap<String, Value> = HashMap::new();
    let mut refused = 0;
    let mut used_gift = 0;
    for (i, record) in records.iter() {
        let bill_no = format!("pay-{i}");
        let winners: Vec<&Value> = record.answers.iter().filter(|a| a["errcode"] == 0).collect();
        if *i < DUPLICATED {
            assert_eq!(
                winners.len(),
                1,
                "{bill_no}: not exactly one success: {:?}",
                record.answers
            );
            let winner = winners[0];
            for other in record.answers.iter().filter(|a| a["errcode"] != 0) {
                assert_eq!(other["errcode"], 90012, "{bill_no}: {other}");
                for field in ["bill_no", "balance", "used_gen_amt"] {
                    assert_eq!(
                        other[field], winner[field],
                        "{bill_no}: duplicate without the original {field}"
                    );
                }
            }
        } else {
            assert_eq!(record.answers.len(), 1);
        }
        match winners.first() {
            Some(winner) => {
                assert_eq!(winner["bill_no"], bill_no.as_str());
                assert!(
                    int(winner, "balance") >= 0 && int(winner, "used_gen_amt") >= 0,
                    "{winner}"
                );
                used_gift += int(winner, "used_gen_amt");
                paid.insert(bill_no, (*winner).clone());
            }
            None => {
                assert_eq!(record.answers[0]["errcode"], 90013, "{bill_no}: {:?}", record.answers);
                refused += 1;
            }
        }
    }
    assert_eq!(paid.len(), AFFORDABLE, "successful pays");
    assert_eq!(refused, PAY_BILLS - AFFORDABLE);

    // Final totals.
    let b = client.balance().await;
    check_snapshot(&b);
    let cost = AFFORDABLE as i64 * PAY_AMOUNT;
    let presented = PRESENTS as i64 * PRESENT_AMOUNT;
    assert_eq!(int(&b, "balance"), FUNDS - cost, "{b}");
    assert_eq!(int(&b, "cost_sum"), cost, "{b}");
    assert_eq!(int(&b, "present_sum"), presented, "{b}");
    assert_eq!(int(&b, "save_sum"), FUNDS, "{b}");
    assert_eq!(int(&b, "save_amt"), RECHARGE, "{b}");
    assert_eq!(int(&b, "gen_balance"), presented - used_gift, "{b}");
    assert_eq!(present_answers.lock().await.len(), PRESENTS);

    // The journal: one recharge, one entry per present, exactly one pay per successful
    // bill_no, and it sums to the account.
    let entries = journal(&server, &app).await;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut pay_entries: HashMap<String, Vec<&Value>> = HashMap::new();
    let (mut cash, mut gift) = (0, 0);
    for e in &entries {
        *by_kind.entry(e["kind"].as_str().unwrap().to_string()).or_default() += 1;
        cash += int(e, "cash_delta");
        gift += int(e, "gift_delta");
        if e["kind"] == "pay" {
            pay_entries
                .entry(e["order_no"].as_str().unwrap().to_string())
                .or_default()
                .push(e);
        }
    }
    assert_eq!(by_kind.get("recharge"), Some(&1), "{by_kind:?}");
    assert_eq!(by_kind.get("present"), Some(&PRESENTS), "{by_kind:?}");
    assert_eq!(by_kind.get("pay"), Some(&AFFORDABLE), "{by_kind:?}");
    assert_eq!(entries.len(), 1 + PRESENTS + AFFORDABLE, "{by_kind:?}");
    for (bill_no, answer) in &paid {
        let found = pay_entries.get(bill_no).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(found.len(), 1, "{bill_no}: {} pay entries", found.len());
        let e = found[0];
        assert_eq!(int(e, "amount"), PAY_AMOUNT);
        assert_eq!(
            e["balance_after"], answer["balance"],
            "{bill_no}: journal {e} vs answer {answer}"
        );
        assert_eq!(
            -int(e, "gift_delta"),
            int(answer, "used_gen_amt"),
            "{bill_no}: {e} vs {answer}"
        );
    }
    assert_eq!(cash + gift, int(&b, "balance"));
    assert_eq!(gift, int(&b, "gen_balance"));
    // Entries are in commit order: balance_after follows from the deltas.
    let mut running = 0;
    for e in &entries {
        running += int(e, "cash_delta") + int(e, "gift_delta");
        assert_eq!(running, int(e, "balance_after"), "journal out of order at {e}");
        assert!(running >= 0);
    }

    // A repeat with other parameters carries no original result and changes nothing.
    let (some_bill, _) = paid.iter().next().unwrap();
    let other = client.pay(some_bill, PAY_AMOUNT + 1).await;
    assert_eq!(other["errcode"], 90012, "{other}");
    assert!(
        other.get("balance").is_none() && other.get("used_gen_amt").is_none(),
        "{other}"
    );
    assert_eq!(client.balance().await, b);
}

/// The same cancelpay from many clients at once: one reverses the pay, the rest 90015;
/// and cancels of different pays racing new pays keep the totals exact.
async fn concurrent_cancelpay(server: TestServer) {
    let app = server.create_app().await;
    let token = server.token(&app).await;
    let recharged = server.recharge(&app, OPENID, "official", 500).await;
    assert_eq!(recharged["errcode"], 0, "{recharged}");
    let client = Client {
        http: server.http.clone(),
        base_url: server.base_url.clone(),
        app: app.clone(),
        token,
    };
    // 20 pays of 10; then the 20 cancels (each sent 4 times at once) race 20 new pays of 10.
    for i in 0..20 {
        let answer = client.pay(&format!("first-{i}"), 10).await;
        assert_eq!(answer["errcode"], 0, "{answer}");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        for _ in 0..4 {
            let client = client.clone();
            tasks.spawn(async move { (format!("first-{i}"), client.cancelpay(&format!("first-{i}")).await) });
        }
        let client = client.clone();
        tasks.spawn(async move { (format!("second-{i}"), client.pay(&format!("second-{i}"), 10).await) });
    }
    let mut cancels: HashMap<String, Vec<i64>> = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (bill_no, answer) = done.expect("task");
        if bill_no.starts_with("second") {
            assert_eq!(answer["errcode"], 0, "{bill_no}: {answer}");
        } else {
            cancels.entry(bill_no).or_default().push(int(&answer, "errcode"));
        }
    }
    for (bill_no, mut codes) in cancels {
        codes.sort_unstable();
        assert_eq!(codes, vec![0, 90015, 90015, 90015], "{bill_no}");
    }
    let b = client.balance().await;
    check_snapshot(&b);
    assert_eq!(int(&b, "balance"), 300, "{b}");
    assert_eq!(int(&b, "cost_sum"), 200, "{b}");
    let entries = journal(&server, &app).await;
    let cancelled = entries.iter().filter(|e| e["kind"] == "cancelpay").count();
    assert_eq!(cancelled, 20);
    assert_eq!(entries.len(), 1 + 20 + 20 + 20);
}

backend_tests!(pay_storm_on_one_account, concurrent_cancelpay);
