//! Test harness (crates.io style): a real OpenMidas server on 127.0.0.1:0, in process,
//! with a [`ManualClock`], plus a small client that signs requests the way a game server
//! does. Tests talk to it over real HTTP only.
//!
//! ```no_run
//! # async fn demo() {
//! use openmidas_testkit::{TestServer, GETBALANCE};
//! let server = TestServer::start().await;
//! let app = server.create_app().await;
//! let token = server.token(&app).await;
//! server.recharge(&app, "player", "official", 100).await;
//! let body = app.signed(GETBALANCE, &token, app.fields("player"), None);
//! let (status, answer) = server.midas(GETBALANCE, &token, &body).await;
//! # }
//! ```

pub mod postgres;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openmidas_ledger::{Clock, ManualClock, Store};
use openmidas_protocol::sign;
use openmidas_protocol::v1::{Endpoint, Op};
use openmidas_protocol::{v2, xpay};
pub use openmidas_server::controls::EmulatorOptions;
use openmidas_server::listener::LimitedListener;
use openmidas_server::{AdminToken, AppState};
use openmidas_store_sqlite::{SqliteConfig, SqliteStore};
use serde_json::{json, Map, Value};

pub use reqwest::StatusCode;

pub const GETBALANCE: Endpoint = Endpoint {
    op: Op::GetBalance,
    sandbox: false,
};
pub const PAY: Endpoint = Endpoint {
    op: Op::Pay,
    sandbox: false,
};
pub const CANCELPAY: Endpoint = Endpoint {
    op: Op::CancelPay,
    sandbox: false,
};
pub const PRESENT: Endpoint = Endpoint {
    op: Op::Present,
    sandbox: false,
};
pub const SANDBOX_GETBALANCE: Endpoint = Endpoint {
    op: Op::GetBalance,
    sandbox: true,
};
pub const SANDBOX_PAY: Endpoint = Endpoint {
    op: Op::Pay,
    sandbox: true,
};
pub const SANDBOX_CANCELPAY: Endpoint = Endpoint {
    op: Op::CancelPay,
    sandbox: true,
};
pub const SANDBOX_PRESENT: Endpoint = Endpoint {
    op: Op::Present,
    sandbox: true,
};

/// The admin token of every test server.
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// Where the manual clock starts: 2026-01-01T00:00:00Z.
pub const START_MS: i64 = 1_767_225_600_000;

/// A running server. Dropping it stops the server.
pub struct TestServer {
    pub base_url: String,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database of a `Backend::Postgres*` server.
    pub database: Option<postgres::TestDatabase>,
    next_app: AtomicU64,
}

/// An app's credentials, as the test created them.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub appid: String,
    pub secret: String,
    pub offer_id: String,
    pub app_key: String,
    pub sandbox_app_key: String,
}

impl TestServer {
    /// A server on a fresh SQLite database in a temporary directory.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(SqliteConfig::new(dir.path().join("openmidas.db"))).expect("open SQLite store");
        let mut server = TestServer::start_on(Arc::new(store)).await;
        server._dir = Some(dir);
        server
    }

    /// A server on the given store, in emulator mode.
    pub async fn start_on(store: Arc<dyn Store>) -> TestServer {
        TestServer::start_on_mode(store, Mode::Emulator(EmulatorOptions::default())).await
    }

    /// A server on the given store, in the given mode. Its machine clock is a
    /// [`ManualClock`] at [`START_MS`].
    pub async fn start_on_mode(store: Arc<dyn Store>, mode: Mode) -> TestServer {
        let clock = Arc::new(ManualClock::new(START_MS));
        let listener = LimitedListener::bind("127.0.0.1:0", 1024)
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let admin_token = AdminToken::new(ADMIN_TOKEN);
        let state = match mode {
            Mode::Emulator(options) => {
                AppState::emulator(store.clone(), clock.clone() as Arc<dyn Clock>, admin_token, options)
                    .await
                    .expect("read the emulator clock")
            }
            Mode::Ledger => AppState::ledger(store.clone(), clock.clone() as Arc<dyn Clock>, admin_token),
        };
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = openmidas_server::serve(listener, state, async move {
                let _ = signal.await;
            })
            .await;
        });
        TestServer {
            base_url: format!("http://{addr}"),
            clock,
            store,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: None,
            database: None,
            next_app: AtomicU64::new(1),
        }
    }

    /// Stops the server and waits until it has drained and closed the store.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base_url, path_and_query)
    }

    /// GET, answering status and JSON body.
    pub async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path_and_query)).send().await.expect("GET");
        read(response).await
    }

    /// POST of raw bytes, answering status and JSON body.
    pub async fn post_raw(&self, path_and_query: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path_and_query))
            .body(body)
            .send()
            .await
            .expect("POST");
        read(response).await
    }

    /// GET of an admin route with the admin token.
    pub async fn get_admin(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path_and_query))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin GET");
        read(response).await
    }

    /// POST to an admin route with the admin token.
    pub async fn admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .body(body.to_string())
            .send()
            .await
            .expect("admin POST");
        read(response).await
    }

    /// Creates a new app with random-looking credentials through the admin API.
    pub async fn create_app(&self) -> TestApp {
        let n = self.next_app.fetch_add(1, Ordering::Relaxed);
        self.create_app_with(n, json!({})).await
    }

    /// Creates app number `n` with extra options (e.g. `{"require_mp_sig": true}`).
    pub async fn create_app_with(&self, n: u64, options: Value) -> TestApp {
        let app = TestApp {
            appid: format!("wxtestapp{n:04}"),
            secret: format!("secret-{n}-0123456789abcdef"),
            offer_id: format!("14500{n:05}"),
            app_key: format!("AppKey{n}zNLgAGgqsEWJOg1nFVaO5r7f"),
            sandbox_app_key: format!("SandboxKey{n}8C0hiJsNb3v6HNPnyZ2J"),
        };
        let mut body = json!({
            "appid": app.appid, "secret": app.secret, "offer_id": app.offer_id,
            "app_key": app.app_key, "sandbox_app_key": app.sandbox_app_key,
        });
        if let (Some(b), Some(o)) = (body.as_object_mut(), options.as_object()) {
            b.extend(o.clone());
        }
        let (status, answer) = self.admin("/admin/apps", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["errcode"], 0, "{answer}");
        app
    }

    /// An access token from `/cgi-bin/token`.
    pub async fn token(&self, app: &TestApp) -> String {
        let (status, answer) = self
            .get(&format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                app.appid, app.secret
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_string()
    }

    /// A login code from `/admin/login`.
    pub async fn login_code(&self, app: &TestApp, openid: &str) -> String {
        let (_, answer) = self
            .admin("/admin/login", json!({"appid": app.appid, "openid": openid}))
            .await;
        answer["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {answer}"))
            .to_string()
    }

    /// Logs a player in (login code, then jscode2session) and answers the session_key.
    pub async fn login(&self, app: &TestApp, openid: &str) -> String {
        let code = self.login_code(app, openid).await;
        let (_, answer) = self
            .get(&format!(
                "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
                app.appid, app.secret
            ))
            .await;
        answer["session_key"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_key: {answer}"))
            .to_string()
    }

    /// Recharges through `/admin/recharge`; answers the JSON.
    pub async fn recharge(&self, app: &TestApp, openid: &str, env: &str, amount: i64) -> Value {
        let (_, answer) = self
            .admin(
                "/admin/recharge",
                json!({"appid": app.appid, "openid": openid, "env": env, "buy_quantity": amount}),
            )
            .await;
        answer
    }

    /// POSTs a v1 body to an endpoint with an access token.
    pub async fn midas(&self, endpoint: Endpoint, access_token: &str, body: &str) -> (StatusCode, Value) {
        self.post_raw(
            &format!("{}?access_token={access_token}", endpoint.uri()),
            body.to_string(),
        )
        .await
    }

    /// POSTs a 2.0 body exactly as given, signed as a game server signs it: `pay_sig` with
    /// the AppKey of the body's `env`, `signature` with `session_key`.
    pub async fn v2(
        &self,
        app: &TestApp,
        op: v2::Op,
        access_token: &str,
        body: &str,
        session_key: &str,
    ) -> (StatusCode, Value) {
        let query = app.v2_query(op, access_token, body, session_key);
        self.post_raw(&format!("{}?{query}", op.uri()), body.to_string()).await
    }

    /// POSTs an xpay body exactly as given, signed as a mini program's server signs it:
    /// `pay_sig` with the AppKey of the body's `env`, and `signature` with `session_key` on
    /// the operations that take one.
    pub async fn xpay(
        &self,
        app: &TestApp,
        op: xpay::Op,
        access_token: &str,
        body: &str,
        session_key: &str,
    ) -> (StatusCode, Value) {
        let query = app.xpay_query(op, access_token, body, session_key);
        self.post_raw(&format!("{}?{query}", op.uri()), body.to_string()).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("answer is not JSON ({status}): {text:?}"));
    (status, value)
}

impl TestApp {
    /// The common fields of a v1 body for `openid` (zone 1, pf android, a fixed ts).
    pub fn fields(&self, openid: &str) -> Map<String, Value> {
        let value = json!({
            "appid": self.appid, "offer_id": self.offer_id, "openid": openid,
            "zone_id": "1", "pf": "android", "ts": START_MS / 1000,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// The common fields of a 2.0 body for `openid` (zone 1, env 0, a fixed ts).
    pub fn v2_fields(&self, openid: &str) -> Map<String, Value> {
        let value = json!({
            "openid": openid, "offer_id": self.offer_id, "ts": START_MS / 1000, "zone_id": "1", "env": 0,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// The query string of a 2.0 request: the token and both signatures of `body` (the
    /// AppKey chosen by the body's `env`, 1 being the sandbox).
    pub fn v2_query(&self, op: v2::Op, access_token: &str, body: &str, session_key: &str) -> String {
        let sandbox = serde_json::from_str::<Value>(body).ok().and_then(|v| v["env"].as_i64()) == Some(1);
        let key = if sandbox { &self.sandbox_app_key } else { &self.app_key };
        sign::v2::sign(op.uri(), body, key, Some(session_key)).query(access_token)
    }

    /// The query string of an xpay request: the token, `signature` where the operation
    /// takes one, and `pay_sig` (the AppKey chosen by the body's `env`).
    pub fn xpay_query(&self, op: xpay::Op, access_token: &str, body: &str, session_key: &str) -> String {
        let sandbox = serde_json::from_str::<Value>(body).ok().and_then(|v| v["env"].as_i64()) == Some(1);
        let key = if sandbox { &self.sandbox_app_key } else { &self.app_key };
        let signed = sign::v2::sign(op.uri(), body, key, Some(session_key));
        let mut query = format!("access_token={access_token}");
        if op.needs_signature() {
            query.push_str(&format!("&signature={}", signed.signature.unwrap_or_default()));
        }
        query.push_str(&format!("&pay_sig={}", signed.pay_sig));
        query
    }

    /// The AppKey for an endpoint's environment.
    pub fn key_for(&self, endpoint: Endpoint) -> &str {
        if endpoint.sandbox {
            &self.sandbox_app_key
        } else {
            &self.app_key
        }
    }

    /// Serializes `fields`, signs exactly those bytes (sig with this app's key for the
    /// endpoint; mp_sig too when a session_key is given) and answers the body to send.
    pub fn signed(
        &self,
        endpoint: Endpoint,
        access_token: &str,
        fields: Map<String, Value>,
        session_key: Option<&str>,
    ) -> String {
        sign_body(endpoint, self.key_for(endpoint), access_token, fields, session_key)
    }
}

/// Signs a body with any key (a wrong one, for negative tests), through the one signer
/// ([`sign::v1::sign_json`]): the fields as serialized, then `sig` (and `mp_sig`).
pub fn sign_body(
    endpoint: Endpoint,
    app_key: &str,
    access_token: &str,
    mut fields: Map<String, Value>,
    session_key: Option<&str>,
) -> String {
    fields.remove("sig");
    fields.remove("mp_sig");
    let body = Value::Object(fields).to_string();
    sign::v1::sign_json(
        &body,
        endpoint.uri(),
        app_key,
        session_key.map(|key| (access_token, key)),
    )
    .expect("own body is a JSON object")
    .body
}

/// Adds fields to a map, builder style.
pub fn with(mut fields: Map<String, Value>, extra: Value) -> Map<String, Value> {
    if let Some(extra) = extra.as_object() {
        fields.extend(extra.clone());
    }
    fields
}

/// How a test server runs (behaviour.md section 13).
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// The default: clock, faults, request log and state controls, within these bounds.
    Emulator(EmulatorOptions),
    /// No emulator controls.
    Ledger,
}

/// The storage backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database (see [`postgres`]) at its default isolation, READ
    /// COMMITTED: the store's row locks do the work.
    Postgres,
    /// The same with `default_transaction_isolation = serializable` set on the database, as
    /// CockroachDB runs: conflicts surface as 40001 and the store's retries do the work.
    PostgresSerializable,
}

impl TestServer {
    /// A server on a fresh database of the given backend, in emulator mode.
    pub async fn start_backend(backend: Backend) -> TestServer {
        TestServer::start_backend_mode(backend, Mode::Emulator(EmulatorOptions::default())).await
    }

    /// A server on a fresh database of the given backend, in the given mode.
    pub async fn start_backend_mode(backend: Backend, mode: Mode) -> TestServer {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let store =
                    SqliteStore::open(SqliteConfig::new(dir.path().join("openmidas.db"))).expect("open SQLite store");
                let mut server = TestServer::start_on_mode(Arc::new(store), mode).await;
                server._dir = Some(dir);
                server
            }
            Backend::Postgres => TestServer::start_postgres_mode(false, mode).await,
            Backend::PostgresSerializable => TestServer::start_postgres_mode(true, mode).await,
        }
    }

    /// A server on a fresh PostgreSQL database. Fails (never skips) when PostgreSQL cannot
    /// be had.
    pub async fn start_postgres(serializable: bool) -> TestServer {
        TestServer::start_postgres_mode(serializable, Mode::Emulator(EmulatorOptions::default())).await
    }

    async fn start_postgres_mode(serializable: bool, mode: Mode) -> TestServer {
        let database = postgres::fresh_database(serializable).await;
        let store = open_postgres(&database.url).await;
        let mut server = TestServer::start_on_mode(Arc::new(store), mode).await;
        server.database = Some(database);
        server
    }

    /// Another server (node) on this server's PostgreSQL database, in emulator mode; `None`
    /// on SQLite, which one process owns.
    pub async fn another_node(&self) -> Option<TestServer> {
        let database = self.database.as_ref()?;
        let store = open_postgres(&database.url).await;
        Some(TestServer::start_on(Arc::new(store)).await)
    }

    /// DELETE of an admin route with the admin token.
    pub async fn delete_admin(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .delete(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin DELETE");
        read(response).await
    }
}

async fn open_postgres(url: &str) -> openmidas_store_postgres::PostgresStore {
    let config = openmidas_store_postgres::PgConfig {
        writers: 2,
        pool_size: 8,
        ..openmidas_store_postgres::PgConfig::new(url)
    };
    openmidas_store_postgres::PostgresStore::open(config)
        .await
        .unwrap_or_else(|e| panic!("open the PostgreSQL store on {url}: {e}"))
}

/// Runs each named `async fn NAME(server: TestServer)` once per backend, as tests
/// `NAME::sqlite`, `NAME::postgres` and `NAME::postgres_serializable`. Every behaviour test
/// is written once and holds on every backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::TestServer::start_backend($crate::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::TestServer::start_backend($crate::Backend::Postgres).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_serializable() {
                    super::$name($crate::TestServer::start_backend($crate::Backend::PostgresSerializable).await)
                        .await
                }
            }
        )*
    };
}

/// The answer with its request id shown as `<rid>`, for snapshots (an errmsg without one is
/// left as it is: the snapshot then shows that it has none). Panics on a malformed id.
pub fn redact_rid(body: &Value) -> Value {
    let mut body = body.clone();
    let errmsg = body["errmsg"].as_str().unwrap_or_default().to_string();
    if let Some((head, rid)) = errmsg.rsplit_once(" rid: ") {
        assert!(is_request_id(rid), "rid {rid:?} is not <8 hex>-<8 hex>-<8 hex>");
        body["errmsg"] = json!(format!("{head} rid: <rid>"));
    }
    body
}

/// [`redact_rid`], first checking that a nonzero errcode's errmsg ends with a request id, as
/// every error of a WeChat route does (behaviour.md section 8).
pub fn redact_required_rid(body: &Value) -> Value {
    if body["errcode"] != 0 {
        let errmsg = body["errmsg"].as_str().unwrap_or_default();
        assert!(
            errmsg.rsplit_once(" rid: ").is_some_and(|(_, rid)| is_request_id(rid)),
            "no request id at the end of {errmsg:?}"
        );
    }
    redact_rid(body)
}

/// The request id of an error answer (the ` rid: ` that ends its errmsg).
pub fn rid_of(body: &Value) -> String {
    let errmsg = body["errmsg"].as_str().unwrap_or_default();
    let (_, rid) = errmsg
        .rsplit_once(" rid: ")
        .unwrap_or_else(|| panic!("no request id in {body}"));
    assert!(is_request_id(rid), "{rid:?}");
    rid.to_string()
}

/// `<8 hex>-<8 hex>-<8 hex>`.
pub fn is_request_id(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

/// The answer without the ` rid: ...` that ends a nonzero errcode's errmsg (checked to be
/// there), for comparing with a model's answer.
pub fn strip_rid(answer: &Value) -> Value {
    let mut answer = redact_required_rid(answer);
    if let Some(head) = answer["errmsg"].as_str().and_then(|m| m.strip_suffix(" rid: <rid>")) {
        answer["errmsg"] = json!(head);
    }
    answer
}
