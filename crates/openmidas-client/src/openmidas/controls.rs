//! The emulator controls (behaviour.md section 13) through [`AdminClient`]: the server's
//! clock, fault rules, the request log with its signature diagnoses, reset, and the state
//! document. They exist only on a server in emulator mode; anywhere else every call here
//! fails with [`Error::LedgerMode`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), openmidas_client::Error> {
//! use openmidas_client::openmidas::{AdminClient, ClockChange, FaultRule, RequestFilter, RouteFamily};
//! let admin = AdminClient::new("http://127.0.0.1:8080", "ADMIN_TOKEN")?;
//! // Two days later: the 48 h cancel window of yesterday's pays has closed.
//! admin.move_clock(ClockChange::advance(48 * 3600)).await?;
//! // The next 2.0 pay is debited, then answered -1: the retry must not charge twice.
//! let rule = admin
//!     .add_fault(&FaultRule::error(-1).dialect(RouteFamily::V2).path("/wxa/game/pay").after().times(1))
//!     .await?;
//! // ... run the game server's code ...
//! for entry in admin.requests(&RequestFilter::default()).await? {
//!     if let Some(diagnosis) = &entry.diagnosis {
//!         println!("{} {}: {}", entry.id, diagnosis.signature, diagnosis.hint);
//!     }
//! }
//! admin.delete_fault(rule).await?;
//! # Ok(()) }
//! ```

use openmidas_protocol::common;
use openmidas_protocol::errcode::Described;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::AdminClient;
use crate::error::{ApiError, Error, Result};
use crate::http::{api_error, Tables};

/// `GET /admin/clock`: the server's time (behaviour.md section 13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    /// What the server's clock shows, in milliseconds since the UNIX epoch.
    pub now_ms: i64,
    /// How far it is from the server machine's clock, in milliseconds (0 when reset).
    pub offset_ms: i64,
    /// Whether it stands still.
    pub frozen: bool,
}

/// One `POST /admin/clock`: the server applies its parts in field order (reset, set,
/// advance, freeze). Give at least one; an empty change is refused (40097).
///
/// `set_ms` and `advance_secs` move a frozen clock too, which then stays frozen at the new
/// time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockChange {
    /// Back to the machine's time, running.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// To this time (milliseconds since the UNIX epoch, 0 to 253402300799999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_ms: Option<i64>,
    /// Forward (or back, when negative) by this many seconds (at most 100 years).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_secs: Option<i64>,
    /// `true` stops the clock where it stands; `false` lets it run on from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<bool>,
}

impl ClockChange {
    /// Back to the machine's time, running.
    pub fn reset() -> ClockChange {
        ClockChange {
            reset: true,
            ..ClockChange::default()
        }
    }

    /// To `ms` (milliseconds since the UNIX epoch).
    pub fn set(ms: i64) -> ClockChange {
        ClockChange {
            set_ms: Some(ms),
            ..ClockChange::default()
        }
    }

    /// Forward by `secs` seconds (back when negative).
    pub fn advance(secs: i64) -> ClockChange {
        ClockChange {
            advance_secs: Some(secs),
            ..ClockChange::default()
        }
    }

    /// Stops the clock where it stands.
    pub fn freeze() -> ClockChange {
        ClockChange {
            freeze: Some(true),
            ..ClockChange::default()
        }
    }

    /// Lets a frozen clock run on from where it stands.
    pub fn resume() -> ClockChange {
        ClockChange {
            freeze: Some(false),
            ..ClockChange::default()
        }
    }
}

/// The API family of a request path: what a fault rule matches, and how the request log
/// names a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteFamily {
    /// Midas v1: `/cgi-bin/midas/...`.
    V1,
    /// Virtual payment 2.0: `/wxa/...`.
    V2,
    /// `/xpay/...`: logged (as unknown paths), never matched by a fault rule.
    Xpay,
    /// `/cgi-bin/token`, `/cgi-bin/stable_token`, `/sns/jscode2session`.
    Auth,
    /// The simulated player: `/admin/client/...` and `/admin/recharge`.
    Client,
    /// A family this client does not know (a newer server's); only ever read.
    #[serde(other)]
    Other,
}

impl RouteFamily {
    /// The families a fault rule may match.
    pub const MATCHABLE: [RouteFamily; 4] = [RouteFamily::V1, RouteFamily::V2, RouteFamily::Auth, RouteFamily::Client];

    /// The wire name (`"v1"`, `"v2"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteFamily::V1 => "v1",
            RouteFamily::V2 => "v2",
            RouteFamily::Xpay => "xpay",
            RouteFamily::Auth => "auth",
            RouteFamily::Client => "client",
            RouteFamily::Other => "other",
        }
    }

    /// A family a fault rule may match, by its wire name.
    pub fn parse_matchable(name: &str) -> Option<RouteFamily> {
        RouteFamily::MATCHABLE.into_iter().find(|f| f.as_str() == name)
    }
}

/// What a fault rule matches: every request when empty; each key set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultMatch {
    #[serde(default)]
    pub dialect: Option<RouteFamily>,
    /// The request path, exactly (`/wxa/game/pay`).
    #[serde(default)]
    pub path: Option<String>,
    /// The app the request names (v1 body, 2.0 access token and body, token query, client body).
    #[serde(default)]
    pub appid: Option<String>,
    /// The player the request names (its body's `openid`).
    #[serde(default)]
    pub openid: Option<String>,
}

impl FaultMatch {
    /// Whether it matches every request.
    pub fn is_any(&self) -> bool {
        *self == FaultMatch::default()
    }
}

/// When a fault answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultWhen {
    /// Instead of running the request: nothing changes.
    #[default]
    Before,
    /// After the request ran and its change was committed: "debited, then -1".
    After,
}

impl FaultWhen {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultWhen::Before => "before",
            FaultWhen::After => "after",
        }
    }
}

/// A fault rule (`POST /admin/faults`, behaviour.md section 13.2). It needs at least one of
/// `errcode`, `delay_ms` or `drop_connection`; start from [`FaultRule::error`],
/// [`FaultRule::hang_up`] or [`FaultRule::delay`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(rename = "match", default)]
    pub matches: FaultMatch,
    /// The errcode answered (HTTP 200), never 0.
    #[serde(default)]
    pub errcode: Option<i64>,
    /// Its errmsg [default: the family's errmsg of `errcode`, or "system error"]; needs `errcode`.
    #[serde(default)]
    pub errmsg: Option<String>,
    #[serde(default)]
    pub when: FaultWhen,
    /// Waits this long first (0 to 60,000 ms); alone, it only delays the real answer.
    #[serde(default)]
    pub delay_ms: u64,
    /// Closes the connection without an answer; excludes `errcode`.
    #[serde(default)]
    pub drop_connection: bool,
    /// How often it fires (1 to 1,000,000) [default: unlimited].
    #[serde(default)]
    pub times: Option<u64>,
    /// The chance (0 to 1) that a matching request fires it, drawn from a generator seeded by `seed`.
    #[serde(default = "certain")]
    pub probability: f64,
    #[serde(default)]
    pub seed: u64,
}

fn certain() -> f64 {
    1.0
}

impl Default for FaultRule {
    /// Matches everything, does nothing yet (the server refuses it as it is).
    fn default() -> FaultRule {
        FaultRule {
            matches: FaultMatch::default(),
            errcode: None,
            errmsg: None,
            when: FaultWhen::Before,
            delay_ms: 0,
            drop_connection: false,
            times: None,
            probability: certain(),
            seed: 0,
        }
    }
}

impl FaultRule {
    /// Answers `errcode` (e.g. -1) instead of the real answer.
    pub fn error(errcode: i64) -> FaultRule {
        FaultRule {
            errcode: Some(errcode),
            ..FaultRule::default()
        }
    }

    /// Closes the connection without answering.
    pub fn hang_up() -> FaultRule {
        FaultRule {
            drop_connection: true,
            ..FaultRule::default()
        }
    }

    /// Only delays the real answer by `ms` milliseconds.
    pub fn delay(ms: u64) -> FaultRule {
        FaultRule {
            delay_ms: ms,
            ..FaultRule::default()
        }
    }

    /// Only requests to this exact path.
    pub fn path(mut self, path: impl Into<String>) -> FaultRule {
        self.matches.path = Some(path.into());
        self
    }

    /// Only requests of this family.
    pub fn dialect(mut self, family: RouteFamily) -> FaultRule {
        self.matches.dialect = Some(family);
        self
    }

    /// Only requests naming this app.
    pub fn appid(mut self, appid: impl Into<String>) -> FaultRule {
        self.matches.appid = Some(appid.into());
        self
    }

    /// Only requests naming this player.
    pub fn openid(mut self, openid: impl Into<String>) -> FaultRule {
        self.matches.openid = Some(openid.into());
        self
    }

    /// Fires after the request ran (its change is committed).
    pub fn after(mut self) -> FaultRule {
        self.when = FaultWhen::After;
        self
    }

    /// Fires at most `times` times.
    pub fn times(mut self, times: u64) -> FaultRule {
        self.times = Some(times);
        self
    }

    /// The errmsg of the fault's answer.
    pub fn errmsg(mut self, errmsg: impl Into<String>) -> FaultRule {
        self.errmsg = Some(errmsg.into());
        self
    }

    /// Waits `ms` milliseconds before answering (or dropping).
    pub fn delay_ms(mut self, ms: u64) -> FaultRule {
        self.delay_ms = ms;
        self
    }

    /// Fires on a matching request with this chance, drawn from a generator seeded by
    /// `seed`: the same requests fire it again in the next run.
    pub fn probability(mut self, probability: f64, seed: u64) -> FaultRule {
        self.probability = probability;
        self.seed = seed;
        self
    }
}

/// A rule as `GET /admin/faults` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultListed {
    pub id: u64,
    #[serde(flatten)]
    pub rule: FaultRule,
    /// How often it fired.
    pub fired: u64,
    /// How often it may still fire (`None`: unlimited; used-up rules stay listed with 0).
    pub remaining: Option<u64>,
}

/// Which request log entries `GET /admin/requests` lists; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub appid: Option<String>,
    pub openid: Option<String>,
    /// Only answers with this errcode (0: successes).
    pub errcode: Option<i64>,
    /// Only entries logged after this request id (the last one seen).
    pub after_id: Option<String>,
    /// At most this many (1 to 1000) [default: 100].
    pub limit: Option<u32>,
    /// Instead of paging: the newest this many (1 to 1000), oldest first. Excludes
    /// `after_id` and `limit`.
    pub last: Option<u32>,
}

/// Why a signature failed, as the server worked it out (behaviour.md section 13.3). Every
/// secret in it is a placeholder (`<AppKey official>`, `<session_key of openid X>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureDiagnosis {
    /// Which signature failed: `sig`, `mp_sig`, `pay_sig` or `signature`.
    pub signature: String,
    /// `hmac_sha256`.
    pub algorithm: String,
    /// The key the server used, as its placeholder.
    pub key: String,
    /// The exact message the server signed.
    pub signed: String,
    /// The signature it expected (empty when the player has no session_key).
    pub expected: String,
    /// The signature received.
    pub received: String,
    /// What the client most likely did differently, when one of the usual mistakes
    /// reproduces the received signature exactly.
    pub likely_cause: Option<String>,
    /// What to check.
    pub hint: String,
}

/// The fault rule that fired on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredFault {
    /// The rule's id.
    pub id: u64,
    pub when: FaultWhen,
    pub errcode: Option<i64>,
    pub delay_ms: u64,
    pub drop_connection: bool,
    /// The real answer an `after` fault kept from the client (secrets masked).
    pub replaced_answer: Option<String>,
}

/// One request of the request log (behaviour.md section 13.3), as the client sent it and as
/// it was answered; the access token is cut to 6 characters and secrets are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEntry {
    /// The request id: the ` rid: ` that ends the errmsg of its answer.
    pub id: String,
    /// When it arrived, on the server's clock (ms since the UNIX epoch).
    pub time_ms: i64,
    pub method: String,
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// The body as received (text).
    pub body: String,
    /// The HTTP status (`None`: the connection was dropped).
    pub status: Option<u16>,
    /// The answer body (empty when dropped).
    pub answer: String,
    /// The answer's errcode (`None`: dropped, or an answer without one).
    pub errcode: Option<i64>,
    /// From arrival to the last byte handed to the connection, in microseconds.
    pub latency_us: u64,
    pub dialect: RouteFamily,
    pub appid: Option<String>,
    pub openid: Option<String>,
    /// Why a signature failed (`None` unless one did).
    pub diagnosis: Option<SignatureDiagnosis>,
    /// The fault rule that fired on it.
    pub fault: Option<FiredFault>,
}

impl RequestEntry {
    /// Whether the client got no answer (a fault dropped the connection).
    pub fn dropped(&self) -> bool {
        self.status.is_none()
    }
}

/// What `POST /admin/reset` empties (behaviour.md section 13.4): accounts, orders, the
/// journal, tokens, sessions, login codes and the request log, of one app or of all. The
/// clock and fault rules stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetScope {
    /// One app's rows [default: every app's].
    #[serde(default)]
    pub appid: Option<String>,
    /// Keep the app itself (or every app) [default: true].
    pub keep_apps: bool,
}

impl Default for ResetScope {
    /// Everything, apps kept.
    fn default() -> ResetScope {
        ResetScope {
            appid: None,
            keep_apps: true,
        }
    }
}

impl ResetScope {
    /// Every app's state; the apps stay.
    pub fn all() -> ResetScope {
        ResetScope::default()
    }

    /// One app's state; the app stays.
    pub fn app(appid: impl Into<String>) -> ResetScope {
        ResetScope {
            appid: Some(appid.into()),
            keep_apps: true,
        }
    }

    /// Removes the app (or every app) too.
    pub fn drop_apps(mut self) -> ResetScope {
        self.keep_apps = false;
        self
    }
}

/// `{errcode, errmsg, id}` of `POST /admin/faults`.
#[derive(Deserialize)]
struct Added {
    id: u64,
}

/// `{errcode, errmsg, items}` of a list.
#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

/// `{errcode, errmsg, request}` of `GET /admin/requests/{id}`.
#[derive(Deserialize)]
struct OneRequest {
    request: RequestEntry,
}

fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}

impl AdminClient {
    /// `GET /admin/clock`: the server's time.
    pub async fn clock(&self) -> Result<ClockState> {
        read(
            self.control(self.http.client.get(self.http.url("/admin/clock")))
                .await?,
        )
    }

    /// `POST /admin/clock`: moves, freezes or resets the server's clock; answers it after the
    /// change. Every rule that reads time follows it: token and login-code expiry, session
    /// lifetime, the cancel window, the `ts` window, order and journal times.
    pub async fn move_clock(&self, change: ClockChange) -> Result<ClockState> {
        read(self.control_post("/admin/clock", json!(change).to_string()).await?)
    }

    /// `POST /admin/faults`: adds a rule; answers its id.
    pub async fn add_fault(&self, rule: &FaultRule) -> Result<u64> {
        let body = serde_json::to_string(rule).map_err(|e| Error::InvalidRequest(format!("fault rule: {e}")))?;
        let added: Added = read(self.control_post("/admin/faults", body).await?)?;
        Ok(added.id)
    }

    /// `GET /admin/faults`: the rules, lowest id first: those after `after_id`, at most
    /// `limit` (1 to 1000) [default: 100]. A node holds at most 1000 rules, so
    /// `faults(None, Some(1000))` is all of them.
    pub async fn faults(&self, after_id: Option<u64>, limit: Option<u32>) -> Result<Vec<FaultListed>> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(after_id) = after_id {
            query.push(("after_id", after_id.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        let request = self.http.client.get(self.http.url("/admin/faults")).query(&query);
        let items: Items<FaultListed> = read(self.control(request).await?)?;
        Ok(items.items)
    }

    /// `DELETE /admin/faults/{id}`; [`Error::NotFound`] when there is no such rule.
    pub async fn delete_fault(&self, id: u64) -> Result<()> {
        let url = self.http.url(&format!("/admin/faults/{id}"));
        self.control(self.http.client.delete(url)).await?;
        Ok(())
    }

    /// `DELETE /admin/faults`: removes every rule.
    pub async fn delete_faults(&self) -> Result<()> {
        self.control(self.http.client.delete(self.http.url("/admin/faults")))
            .await?;
        Ok(())
    }

    /// `GET /admin/requests`: the node's request log, oldest first, filtered and paged. An
    /// `after_id` this node never logged answers [`Error::NotFound`] (another node's, or
    /// the server restarted).
    pub async fn requests(&self, filter: &RequestFilter) -> Result<Vec<RequestEntry>> {
        let mut query: Vec<(&str, String)> = Vec::new();
        let texts = [
            ("appid", &filter.appid),
            ("openid", &filter.openid),
            ("after_id", &filter.after_id),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                query.push((name, value.clone()));
            }
        }
        if let Some(errcode) = filter.errcode {
            query.push(("errcode", errcode.to_string()));
        }
        if let Some(limit) = filter.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(last) = filter.last {
            query.push(("last", last.to_string()));
        }
        let request = self.http.client.get(self.http.url("/admin/requests")).query(&query);
        let items: Items<RequestEntry> = read(self.control(request).await?)?;
        Ok(items.items)
    }

    /// `GET /admin/requests/{id}`: one request in full; [`Error::NotFound`] when it is not in
    /// this node's log (never seen, dropped by the log's bounds, or reset).
    pub async fn request(&self, id: &str) -> Result<RequestEntry> {
        let mut url = reqwest::Url::parse(&self.http.url("/admin/requests"))
            .map_err(|e| Error::Config(format!("invalid base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| Error::Config("invalid base URL: it cannot have a path".into()))?
            .push(id);
        let one: OneRequest = read(self.control(self.http.client.get(url)).await?)?;
        Ok(one.request)
    }

    /// `POST /admin/reset`: empties the state of one app or of all (see [`ResetScope`]).
    /// An unknown appid answers 40013.
    pub async fn reset(&self, scope: &ResetScope) -> Result<()> {
        self.control_post("/admin/reset", json!(scope).to_string()).await?;
        Ok(())
    }

    /// `GET /admin/state`: the whole state (apps, tokens, codes, sessions, accounts, orders,
    /// journal), secrets included: keep it as you keep the database. The document is the
    /// server's to read: it is kept as JSON, so a newer server's document round-trips.
    pub async fn export_state(&self) -> Result<Value> {
        self.control(self.http.client.get(self.http.url("/admin/state"))).await
    }

    /// `POST /admin/state`: replaces the whole state with `document` (from
    /// [`AdminClient::export_state`]), in one transaction. An invalid document answers
    /// 40097 naming its first problem and changes nothing.
    pub async fn import_state(&self, document: &Value) -> Result<()> {
        self.control_post("/admin/state", document.to_string()).await?;
        Ok(())
    }

    async fn control_post(&self, path: &str, body: String) -> Result<Value> {
        let request = self
            .http
            .client
            .post(self.http.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.control(request).await
    }

    /// Sends a control request with the admin token; reads the errcode of its answer with
    /// its HTTP status, which tells a server without controls and an unknown id apart.
    async fn control(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let request = request.bearer_auth(self.admin_token.expose());
        let (status, answer) = self.http.send_with_status(request).await?;
        let Some(error) = api_error(&answer, Tables::Platform)? else {
            return Ok(answer);
        };
        Err(match (status, error.errcode) {
            (404, 40066) => Error::LedgerMode,
            (404, _) => Error::NotFound(error),
            // 40001 is also an access token's code; on an admin route it is the admin token.
            (401, _) => Error::Api(ApiError {
                code: Some(Described::of(common::Code::AdminUnauthorized)),
                ..error
            }),
            _ => Error::Api(error),
        })
    }
}
