//! Shared helpers of the process-level tests: run the real `openmidas` binary, find its
//! address on stdout, signal it, and talk to it as a game server would.
//!
//! A [`Process`] kills its child on drop, so a panicking test leaves nothing running.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openmidas_testkit::TestApp;
use serde_json::{json, Map, Value};

pub use openmidas_protocol::v1::{Endpoint, Op};

pub const PAY: Endpoint = Endpoint {
    op: Op::Pay,
    sandbox: false,
};
pub const PRESENT: Endpoint = Endpoint {
    op: Op::Present,
    sandbox: false,
};
pub const GETBALANCE: Endpoint = Endpoint {
    op: Op::GetBalance,
    sandbox: false,
};

/// How long a process may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `openmidas serve`.
pub struct Process {
    child: Option<Child>,
    pub pid: i32,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// Everything printed on stdout so far (the reader thread keeps appending).
    stdout: Arc<Mutex<String>>,
    /// Where stderr (the logs) goes.
    pub stderr_path: PathBuf,
}

/// How to start a process.
pub struct Launch<'a> {
    /// Working directory (the default database lands here).
    pub dir: &'a Path,
    /// `--database` (a file or a `postgres://` URL), if any.
    pub database: Option<&'a OsStr>,
    /// `OPENMIDAS_ADMIN_TOKEN`; None leaves it unset (the server generates one).
    pub admin_token: Option<&'a str>,
    /// Extra environment, e.g. `RUST_LOG`.
    pub env: Vec<(&'a str, &'a str)>,
    /// Name of the stderr log file in `dir`.
    pub log_name: &'a str,
}

impl Process {
    /// Starts the binary and waits for its "listening on http://..." line.
    pub fn start(launch: Launch<'_>) -> Process {
        Process::start_with(launch, &[])
    }

    /// [`Process::start`] with more `serve` arguments (e.g. `--tls-listen 127.0.0.1:0`).
    pub fn start_with(launch: Launch<'_>, args: &[&str]) -> Process {
        let stderr_path = launch.dir.join(launch.log_name);
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .expect("stderr log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmidas"));
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .current_dir(launch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        if let Some(database) = launch.database {
            command.arg("--database").arg(database);
        }
        command.args(args);
        for var in [
            "OPENMIDAS_ADMIN_TOKEN",
            "OPENMIDAS_DATABASE_URL",
            "OPENMIDAS_LISTEN",
            "OPENMIDAS_CONFIG",
            "OPENMIDAS_LOG_FORMAT",
            "OPENMIDAS_DRAIN_TIMEOUT_SECS",
            "OPENMIDAS_HEADER_READ_TIMEOUT_SECS",
            "OPENMIDAS_MODE",
            "OPENMIDAS_TLS",
            "OPENMIDAS_TLS_LISTEN",
            "OPENMIDAS_TLS_DIR",
            "OPENMIDAS_TLS_HOSTS",
            "RUST_LOG",
        ] {
            command.env_remove(var);
        }
        if let Some(token) = launch.admin_token {
            command.env("OPENMIDAS_ADMIN_TOKEN", token);
        }
        for (k, v) in &launch.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn openmidas");
        let pid = child.id() as i32;
        let out = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel::<String>();
        {
            let stdout = stdout.clone();
            std::thread::spawn(move || {
                let mut found = Some(found);
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split(" listening on ").nth(1) {
                        if let Some(tx) = found.take() {
                            let _ = tx.send(rest.trim().to_string());
                        }
                    }
                    let mut all = stdout.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let mut process = Process {
            child: Some(child),
            pid,
            base_url: String::new(),
            stdout,
            stderr_path,
        };
        match address.recv_timeout(START_TIMEOUT) {
            Ok(url) => {
                assert!(
                    url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
                    "unexpected address {url:?}"
                );
                process.base_url = url;
            }
            Err(_) => {
                let status = process.child.as_mut().unwrap().try_wait().ok().flatten();
                panic!(
                    "openmidas did not print its address (exit status {status:?}); logs:\n{}",
                    process.logs()
                );
            }
        }
        process
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_for_stdout(&self, needle: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(Instant::now() < deadline, "stdout never contained {needle:?}:\n{out}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The logs (stderr) so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn signal(&self, signal: i32) {
        if self.child.is_some() {
            // SAFETY: kill(2) with our own child's pid; the child has not been reaped yet
            // (it is reaped only in wait()), so the pid cannot have been reused.
            let rc = unsafe { libc::kill(self.pid, signal) };
            assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid);
        }
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        self.wait(Duration::from_secs(10)).expect("a SIGKILLed process exits")
    }

    /// Waits up to `timeout` for the process to exit; None if it is still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A keep-alive HTTP client with short timeouts (a hung server fails the test, not CI).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Talks to one process as its admin and as a game server.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base_url: String,
    pub admin_token: String,
}

impl Api {
    pub fn new(process: &Process, admin_token: &str) -> Api {
        Api {
            http: http_client(),
            base_url: process.base_url.clone(),
            admin_token: admin_token.to_string(),
        }
    }

    async fn json(response: reqwest::Response) -> Value {
        let status = response.status();
        let text = response.text().await.expect("answer body");
        assert_eq!(status, reqwest::StatusCode::OK, "{text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"))
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("admin GET");
        Api::json(response).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.admin_token)
            .body(body.to_string())
            .send()
            .await
            .expect("admin POST");
        Api::json(response).await
    }

    /// Creates the app (POST /admin/apps).
    pub async fn create_app(&self, app: &TestApp) {
        let answer = self
            .admin_post(
                "/admin/apps",
                json!({
                    "appid": app.appid, "secret": app.secret, "offer_id": app.offer_id,
                    "app_key": app.app_key, "sandbox_app_key": app.sandbox_app_key,
                }),
            )
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
    }

    pub async fn token(&self, app: &TestApp) -> String {
        let response = self
            .http
            .get(format!(
                "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                self.base_url, app.appid, app.secret
            ))
            .send()
            .await
            .expect("token");
        let answer = Api::json(response).await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_string()
    }

    pub async fn recharge(&self, app: &TestApp, openid: &str, amount: i64) -> Value {
        let answer = self
            .admin_post(
                "/admin/recharge",
                json!({"appid": app.appid, "openid": openid, "env": "official", "buy_quantity": amount}),
            )
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
        answer
    }

    /// Logs a player in (the simulated wx.login, then jscode2session): the session_key.
    pub async fn login(&self, app: &TestApp, openid: &str) -> String {
        let answer = self
            .admin_post("/admin/login", json!({"appid": app.appid, "openid": openid}))
            .await;
        let code = answer["code"].as_str().unwrap_or_else(|| panic!("no code: {answer}"));
        let response = self
            .http
            .get(format!(
                "{}/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
                self.base_url, app.appid, app.secret
            ))
            .send()
            .await
            .expect("jscode2session");
        let answer = Api::json(response).await;
        answer["session_key"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_key: {answer}"))
            .to_string()
    }

    /// POSTs a signed v1 body; Err when no complete answer came back (connection failed).
    pub async fn try_midas(&self, endpoint: Endpoint, token: &str, body: &str) -> Result<Value, String> {
        self.try_post(&format!("{}?access_token={token}", endpoint.uri()), body)
            .await
    }

    /// POSTs a body to a path with its query; Err when no complete answer came back.
    pub async fn try_post(&self, path_and_query: &str, body: &str) -> Result<Value, String> {
        self.try_post_as(path_and_query, body, false).await
    }

    /// [`Api::try_post`], with the admin token when `admin`.
    pub async fn try_post_as(&self, path_and_query: &str, body: &str, admin: bool) -> Result<Value, String> {
        let mut request = self
            .http
            .post(format!("{}{path_and_query}", self.base_url))
            .body(body.to_string());
        if admin {
            request = request.bearer_auth(&self.admin_token);
        }
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{e:?}"))?;
        assert_eq!(status, reqwest::StatusCode::OK, "{path_and_query}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}")))
    }

    pub async fn midas(&self, endpoint: Endpoint, token: &str, body: &str) -> Value {
        self.try_midas(endpoint, token, body)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", endpoint.uri()))
    }

    pub async fn balance(&self, app: &TestApp, token: &str, openid: &str) -> Value {
        let body = app.signed(GETBALANCE, token, app.fields(openid), None);
        let answer = self.midas(GETBALANCE, token, &body).await;
        assert_eq!(answer["errcode"], 0, "{answer}");
        answer
    }

    /// Every journal entry of an official zone-1 account, oldest first.
    pub async fn journal(&self, appid: &str, openid: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut after_id = 0;
        loop {
            let response = self
                .http
                .get(format!(
                    "{}/admin/journal?appid={appid}&openid={openid}&env=official&after_id={after_id}&limit=1000",
                    self.base_url
                ))
                .bearer_auth(&self.admin_token)
                .send()
                .await
                .expect("journal");
            let page = Api::json(response).await;
            assert_eq!(page["errcode"], 0, "{page}");
            let batch = page["entries"].as_array().expect("entries").clone();
            match batch.last() {
                None => return entries,
                Some(last) => after_id = last["id"].as_i64().expect("id"),
            }
            entries.extend(batch);
        }
    }
}

/// An app with fixed, recognisable credentials.
pub fn test_app(n: u32) -> TestApp {
    TestApp {
        appid: format!("wxcrashtest{n:04}"),
        secret: format!("crash-secret-{n}-0123456789abcdef"),
        offer_id: format!("14599{n:05}"),
        app_key: format!("CrashAppKey{n}zNLgAGgqsEWJOg1nFVaO"),
        sandbox_app_key: format!("CrashSandboxKey{n}8C0hiJsNb3v6HNP"),
    }
}

/// A signed pay body.
pub fn pay_body(app: &TestApp, token: &str, openid: &str, bill_no: &str, amount: i64) -> String {
    let fields = with(app.fields(openid), json!({"bill_no": bill_no, "amt": amount}));
    app.signed(PAY, token, fields, None)
}

/// A signed present body.
pub fn present_body(app: &TestApp, token: &str, openid: &str, bill_no: &str, amount: i64) -> String {
    let fields = with(
        app.fields(openid),
        json!({"bill_no": bill_no, "present_counts": amount}),
    );
    app.signed(PRESENT, token, fields, None)
}

fn with(mut fields: Map<String, Value>, extra: Value) -> Map<String, Value> {
    fields.extend(extra.as_object().expect("object").clone());
    fields
}

pub fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("no integer {field} in {v}"))
}

/// A small deterministic generator (xorshift64*), seeded per run and printed, so a
/// failing interleaving can be replayed with `OPENMIDAS_TEST_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_time() -> Rng {
        let seed = std::env::var("OPENMIDAS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("OPENMIDAS_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in lo..hi.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
