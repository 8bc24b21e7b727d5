//! Scale-out: three `openmidas serve` processes (the real binary) on one PostgreSQL
//! database, as stateless nodes behind a load balancer.
//!
//! An app is created through node 1, a token from node 1 works on nodes 2 and 3; clients
//! spread over the nodes pay, present and cancel on shared accounts, sometimes sending the
//! same bill_no to two nodes at once; one node is SIGKILLed mid-run and unanswered requests
//! are retried, with the same bill_no, on the survivors. At the end the journal, the
//! balances and what the clients were told must agree exactly: no bill_no applied twice,
//! no acknowledged write lost, no balance negative.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openmidas_protocol::v1::Endpoint;
use openmidas_testkit::postgres::fresh_database;
use openmidas_testkit::{TestApp, CANCELPAY, GETBALANCE, PAY, PRESENT};
use serde_json::{json, Value};

const ADMIN: &str = "scale-out-admin-token";
const ACCOUNTS: [&str; 3] = ["shared-a", "shared-b", "shared-c"];
const CLIENTS: usize = 8;
const OPS_PER_CLIENT: usize = 60;
const RECHARGE: i64 = 600;

/// A running node; killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(database_url: &str) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openmidas"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database_url])
            .env("OPENMIDAS_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start openmidas serve");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            // Keep reading to the end so the node never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(at) = line.find("listening on http://") {
                        let addr = line[at + "listening on http://".len()..].trim().to_string();
                        let _ = sender.send(addr);
                        sent = true;
                    }
                }
            }
        });
        let addr = match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("openmidas serve did not print its address within 30 s");
            }
        };
        Node {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn sigkill(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill failed");
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request of a client, resent until some node answers it.
#[derive(Clone)]
enum Op {
    Pay {
        openid: String,
        bill_no: String,
        amount: i64,
    },
    Present {
        openid: String,
        bill_no: String,
        amount: i64,
    },
    Cancel {
        openid: String,
        bill_no: String,
    },
}

/// What the clients were told, per account: the movements acknowledged.
#[derive(Default, Debug)]
struct Acked {
    pays: BTreeMap<String, i64>,
    presents: BTreeMap<String, i64>,
    cancels: BTreeMap<String, i64>,
}

struct Cluster {
    http: reqwest::Client,
    bases: Vec<String>,
    /// Requests resent to another node after a transport error (the killed node).
    resent: AtomicUsize,
    /// `-1` answers (e.g. retries exhausted), each resent too.
    system_errors: AtomicUsize,
    /// Requests cut off after they reached a node (not refused connections).
    cut_off: AtomicUsize,
    app: TestApp,
    token: String,
}

impl Cluster {
    /// Sends a v1 request to node `first`, then to the next live nodes, until one answers
    /// with anything but a transport error or -1.
    async fn midas(&self, first: usize, endpoint: Endpoint, fields: serde_json::Map<String, Value>) -> Value {
        let body = self.app.signed(endpoint, &self.token, fields, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut node = first;
        loop {
            assert!(Instant::now() < deadline, "no node answered {} in 20 s", endpoint.uri());
            let index = node % self.bases.len();
            node += 1;
            let url = format!("{}{}?access_token={}", self.bases[index], endpoint.uri(), self.token);
            match self.http.post(url).body(body.clone()).send().await {
                Ok(response) => {
                    let answer: Value = match response.json().await {
                        Ok(v) => v,
                        Err(_) => {
                            // The node died mid-answer.
                            self.cut_off.fetch_add(1, Ordering::SeqCst);
                            self.resent.fetch_add(1, Ordering::SeqCst);
                            continue;
                        }
                    };
                    if answer["errcode"] == -1 {
                        self.system_errors.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    return answer;
                }
                Err(e) => {
                    if !e.is_connect() {
                        self.cut_off.fetch_add(1, Ordering::SeqCst);
                    }
                    self.resent.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    /// Runs an op, once or (every few ops) on two nodes at once, and answers whether it
    /// applied, judging from every answer it got.
    async fn run(&self, op: &Op, node: usize, twice: bool) -> Option<i64> {
        let (endpoint, fields) = match op {
            Op::Pay {
                openid,
                bill_no,
                amount,
            } => {
                let mut f = self.app.fields(openid);
                f.insert("bill_no".into(), json!(bill_no));
                f.insert("amt".into(), json!(amount));
                (PAY, f)
            }
            Op::Present {
                openid,
                bill_no,
                amount,
            } => {
                let mut f = self.app.fields(openid);
                f.insert("bill_no".into(), json!(bill_no));
                f.insert("present_counts".into(), json!(amount));
                (PRESENT, f)
            }
            Op::Cancel { openid, bill_no } => {
                let mut f = self.app.fields(openid);
                f.insert("bill_no".into(), json!(bill_no));
                (CANCELPAY, f)
            }
        };
        let answers = if twice {
            let (a, b) = tokio::join!(
                self.midas(node, endpoint, fields.clone()),
                self.midas(node + 1, endpoint, fields)
            );
            vec![a, b]
        } else {
            vec![self.midas(node, endpoint, fields).await]
        };
        let mut applied = false;
        for answer in &answers {
            let errcode = answer["errcode"].as_i64().unwrap_or(i64::MIN);
            match (op, errcode) {
                (_, 0) => applied = true,
                // A repeat of our own bill_no: it carries the original result.
                (Op::Pay { .. } | Op::Present { .. }, 90012) => {
                    assert!(
                        answer.get("balance").is_some(),
                        "90012 of an identical retry carries the original: {answer}"
                    );
                    applied = true;
                }
                (Op::Pay { .. }, 90013) => {}
                // Our own earlier attempt (or the twin) cancelled it.
                (Op::Cancel { .. }, 90015) => applied = true,
                _ => panic!("unexpected answer to {}: {answer}", endpoint.uri()),
            }
        }
        if answers.len() == 2 {
            // Of two sends of one bill_no, at most one is the first.
            let zeros = answers.iter().filter(|a| a["errcode"] == 0).count();
            assert!(zeros <= 1, "one bill_no applied twice: {answers:?}");
        }
        let amount = match op {
            Op::Pay { amount, .. } | Op::Present { amount, .. } => *amount,
            Op::Cancel { .. } => 0,
        };
        applied.then_some(amount)
    }
}

async fn admin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    http.post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .body(body.to_string())
        .send()
        .await
        .expect("admin request")
        .json()
        .await
        .expect("admin JSON")
}

async fn journal(http: &reqwest::Client, base: &str, appid: &str, openid: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0i64;
    loop {
        let page: Value = http
            .get(format!(
                "{base}/admin/journal?appid={appid}&openid={openid}&after_id={after}&limit=1000"
            ))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("journal")
            .json()
            .await
            .expect("journal JSON");
        let batch = page["entries"].as_array().cloned().unwrap_or_else(|| panic!("{page}"));
        if batch.is_empty() {
            return entries;
        }
        after = batch.last().and_then(|e| e["id"].as_i64()).expect("id");
        entries.extend(batch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_one_database_survive_a_sigkill() {
    scale_out(false).await
}

/// The same on a database whose default isolation is SERIALIZABLE (as CockroachDB runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_a_serializable_database_survive_a_sigkill() {
    scale_out(true).await
}

async fn scale_out(serializable: bool) {
    let started = Instant::now();
    let db = fresh_database(serializable).await;
    let url = db.url.clone();
    let mut nodes: Vec<Node> = tokio::task::spawn_blocking(move || {
        // Start them at once: they migrate the fresh database concurrently.
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || Node::start(&url))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("node start")).collect()
    })
    .await
    .expect("start nodes");
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // The app, through node 1; a token from node 1, used on nodes 2 and 3.
    let app = TestApp {
        appid: "wxscaleout000001".into(),
        secret: "scale-out-secret-0123456789".into(),
        offer_id: "1450099999".into(),
        app_key: "ScaleOutAppKey0123456789abcdefgh".into(),
        sandbox_app_key: "ScaleOutSandboxKey0123456789abcd".into(),
    };
    let created = admin(
        &http,
        &bases[0],
        "/admin/apps",
        json!({"appid": app.appid, "secret": app.secret, "offer_id": app.offer_id,
               "app_key": app.app_key, "sandbox_app_key": app.sandbox_app_key}),
    )
    .await;
    assert_eq!(created["errcode"], 0, "{created}");
    let token: Value = http
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            bases[0], app.appid, app.secret
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let token = token["access_token"].as_str().expect("access_token").to_string();
    for base in &bases[1..] {
        let body = app.signed(GETBALANCE, &token, app.fields("shared-a"), None);
        let answer: Value = http
            .post(format!("{base}{}?access_token={token}", GETBALANCE.uri()))
            .body(body)
            .send()
            .await
            .expect("getbalance")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["errcode"], 0, "node 1's token on {base}: {answer}");
    }

    // Money in, on every node (a repeated out_trade_no on another node is refused).
    let mut recharged: HashMap<&str, i64> = HashMap::new();
    for (i, openid) in ACCOUNTS.iter().enumerate() {
        let body = json!({"appid": app.appid, "openid": openid, "env": "official",
                          "buy_quantity": RECHARGE, "out_trade_no": format!("rc-{openid}")});
        let first = admin(&http, &bases[i % 3], "/admin/recharge", body.clone()).await;
        assert_eq!(first["errcode"], 0, "{first}");
        let again = admin(&http, &bases[(i + 1) % 3], "/admin/recharge", body).await;
        assert_eq!(again["errcode"], -15003, "{again}");
        recharged.insert(openid, RECHARGE);
    }

    let cluster = Arc::new(Cluster {
        http: http.clone(),
        bases: bases.clone(),
        resent: AtomicUsize::new(0),
        system_errors: AtomicUsize::new(0),
        cut_off: AtomicUsize::new(0),
        app: app.clone(),
        token,
    });
    let done_ops = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let cluster = cluster.clone();
            let done_ops = done_ops.clone();
            tokio::spawn(async move {
                let mut acked: HashMap<String, Acked> = HashMap::new();
                let mut my_pays: Vec<(String, String)> = Vec::new();
                for i in 0..OPS_PER_CLIENT {
                    let openid = ACCOUNTS[(c + i) % ACCOUNTS.len()].to_string();
                    let bill_no = format!("c{c}-op{i}");
                    let op = match i % 5 {
                        0 | 1 | 3 => Op::Pay {
                            openid: openid.clone(),
                            bill_no: bill_no.clone(),
                            amount: 1 + ((c * 7 + i * 13) % 40) as i64,
                        },
                        2 => Op::Present {
                            openid: openid.clone(),
                            bill_no: bill_no.clone(),
                            amount: 1 + ((c + i) % 9) as i64,
                        },
                        _ => match my_pays.pop() {
                            Some((openid, bill_no)) => Op::Cancel { openid, bill_no },
                            None => Op::Present {
                                openid: openid.clone(),
                                bill_no: bill_no.clone(),
                                amount: 3,
                            },
                        },
                    };
                    let node = c + i;
                    let twice = i % 4 == 1;
                    if let Some(amount) = cluster.run(&op, node, twice).await {
                        match &op {
                            Op::Pay { openid, bill_no, .. } => {
                                acked
                                    .entry(openid.clone())
                                    .or_default()
                                    .pays
                                    .insert(bill_no.clone(), amount);
                                my_pays.push((openid.clone(), bill_no.clone()));
                            }
                            Op::Present { openid, bill_no, .. } => {
                                acked
                                    .entry(openid.clone())
                                    .or_default()
                                    .presents
                                    .insert(bill_no.clone(), amount);
                            }
                            Op::Cancel { openid, bill_no } => {
                                let entry = acked.entry(openid.clone()).or_default();
                                let paid = entry.pays.get(bill_no).copied().expect("cancelled a known pay");
                                entry.cancels.insert(bill_no.clone(), paid);
                            }
                        }
                    }
                    done_ops.fetch_add(1, Ordering::SeqCst);
                }
                acked
            })
        })
        .collect();

    // SIGKILL node 3 mid-run.
    let total = CLIENTS * OPS_PER_CLIENT;
    while done_ops.load(Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The clients are not told: their requests to it fail and go to the next node.
    nodes[2].sigkill();
    let killed_at = done_ops.load(Ordering::SeqCst);

    let mut acked: HashMap<String, Acked> = HashMap::new();
    for client in clients {
        for (openid, a) in client.await.expect("client task") {
            let entry = acked.entry(openid).or_default();
            entry.pays.extend(a.pays);
            entry.presents.extend(a.presents);
            entry.cancels.extend(a.cancels);
        }
    }
    assert!(killed_at < total, "the kill happened after the run ended");
    let resent = cluster.resent.load(Ordering::SeqCst);
    assert!(resent > 0, "no request was resent to a survivor");

    // The truth, from the survivors: journal and balances.
    let mut total_pays = 0;
    for openid in ACCOUNTS {
        let entries = journal(&http, &bases[0], &app.appid, openid).await;
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut sums: HashMap<String, i64> = HashMap::new();
        let mut balance = 0i64;
        for e in &entries {
            let kind = e["kind"].as_str().expect("kind").to_string();
            let order_no = e["order_no"].as_str().expect("order_no").to_string();
            assert!(
                seen.insert((kind.clone(), order_no.clone())),
                "{openid}: {kind} {order_no} applied twice"
            );
            *sums.entry(kind).or_default() += e["amount"].as_i64().expect("amount");
            balance += e["cash_delta"].as_i64().expect("cash") + e["gift_delta"].as_i64().expect("gift");
            assert_eq!(
                e["balance_after"].as_i64(),
                Some(balance),
                "{openid}: journal deltas add up"
            );
            assert!(balance >= 0, "{openid}: negative balance in the journal");
        }
        let sum = |k: &str| sums.get(k).copied().unwrap_or(0);
        let expected = sum("recharge") + sum("present") - sum("pay") + sum("cancelpay");
        assert_eq!(
            balance, expected,
            "{openid}: balance = recharges + presents - pays + cancels"
        );
        for (kind, order_no) in &seen {
            if kind == "cancelpay" {
                assert!(
                    seen.contains(&("pay".to_string(), order_no.clone())),
                    "{openid}: cancel of no pay"
                );
            }
        }

        // What the clients were told is exactly what the journal holds.
        let a = acked.remove(openid).unwrap_or_default();
        let journal_of = |kind: &str| -> BTreeMap<String, i64> {
            entries
                .iter()
                .filter(|e| e["kind"] == kind)
                .map(|e| {
                    (
                        e["order_no"].as_str().unwrap_or("").to_string(),
                        e["amount"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        };
        assert_eq!(journal_of("pay"), a.pays, "{openid}: acknowledged pays");
        assert_eq!(journal_of("present"), a.presents, "{openid}: acknowledged presents");
        assert_eq!(journal_of("cancelpay"), a.cancels, "{openid}: acknowledged cancels");
        assert_eq!(sum("recharge"), recharged[openid]);
        total_pays += a.pays.len();

        // Every survivor answers the same balance, and it is the journal's.
        for base in &bases[..2] {
            let body = app.signed(GETBALANCE, &cluster.token, app.fields(openid), None);
            let answer: Value = http
                .post(format!("{base}{}?access_token={}", GETBALANCE.uri(), cluster.token))
                .body(body)
                .send()
                .await
                .expect("getbalance")
                .json()
                .await
                .expect("JSON");
            assert_eq!(answer["errcode"], 0, "{answer}");
            assert_eq!(answer["balance"].as_i64(), Some(balance), "{openid} on {base}");
            assert!(answer["gen_balance"].as_i64().unwrap_or(-1) >= 0);
        }
    }
    assert!(total_pays > 20, "the run did little: {total_pays} pays");

    // And straight from the database: no order number twice in the journal.
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let doubled: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT kind, order_no FROM journal GROUP BY env, appid, offer_id, kind, order_no
             HAVING count(*) > 1) d",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(doubled, 0);
    let negative: i64 = client
        .query_one("SELECT count(*) FROM accounts WHERE cash < 0 OR gift < 0", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(negative, 0);
    drop(nodes);
    eprintln!(
        "scale-out (serializable: {serializable}): {total} ops, {total_pays} pays acknowledged, node 3 killed after \
         {killed_at} ops, {resent} requests resent after transport errors ({} cut off in flight), {} -1 answers, {:?}",
        cluster.cut_off.load(Ordering::SeqCst),
        cluster.system_errors.load(Ordering::SeqCst),
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "scale-out run took {:?}",
        started.elapsed()
    );
}
