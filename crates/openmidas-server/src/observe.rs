//! What happens around every request to a WeChat route or a simulated client route
//! (behaviour.md sections 8 and 13), in one middleware, [`observe`]:
//!
//! 1. the request gets its id; every nonzero errcode's errmsg then ends with ` rid: <id>`
//!    (handlers answer [`ApiError`]s without it; [`with_rid`] appends it here, once);
//! 2. in emulator mode, the body is read first (so the log has it; the handler takes it from
//!    the [`RequestContext`], in its own check order), a fault rule may fire before or after
//!    the handler, and the request, its answer and any signature diagnosis are logged with
//!    every secret masked ([`Masks`]);
//! 3. in both modes, the answer is counted in the metrics (`crate::metrics`: dialect, route
//!    path, errcode, latency).
//!
//! Other routes (the admin API, `/healthz`) pass through untouched.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openmidas_protocol::diagnose::Diagnosis;
use parking_lot::Mutex;
use serde_json::Value;

use crate::controls::dialect::Dialect;
use crate::controls::faults::{Firing, Subject, When};
use crate::controls::log::{Entry, FaultNote};
use crate::controls::Emulator;
use crate::error::{ApiError, ErrorAnswer};
use crate::metrics;
use crate::pipeline::{self, BodyFailure};
use crate::AppState;

/// What a handler shares with [`observe`] about its request.
pub(crate) struct RequestContext {
    /// The request id (section 8's ` rid: `).
    pub rid: String,
    /// Whether the request is logged (emulator mode): only then is a diagnosis worth making.
    logged: bool,
    /// The body, when [`observe`] read it first.
    body: Mutex<Option<Result<Bytes, BodyFailure>>>,
    diagnosis: Mutex<Option<Diagnosis>>,
}

impl RequestContext {
    fn new(rid: String, logged: bool, body: Option<Result<Bytes, BodyFailure>>) -> RequestContext {
        RequestContext {
            rid,
            logged,
            body: Mutex::new(body),
            diagnosis: Mutex::new(None),
        }
    }

    /// The request body: as [`observe`] read it, or read now (within the usual limits).
    pub(crate) async fn body(&self, body: Body) -> Result<Bytes, BodyFailure> {
        let read = self.body.lock().take();
        match read {
            Some(read) => read,
            None => pipeline::read_body(body).await,
        }
    }

    /// Records why a signature failed, when the request is logged (`make` runs only then).
    pub(crate) fn diagnose(&self, make: impl FnOnce() -> Diagnosis) {
        if self.logged {
            *self.diagnosis.lock() = Some(make());
        }
    }
}

/// A handler's view of its [`RequestContext`]. A route [`observe`] does not cover gets a
/// fresh one (its own id, nothing logged).
pub(crate) struct Ctx(pub Arc<RequestContext>);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Ctx(parts
            .extensions
            .get::<Arc<RequestContext>>()
            .cloned()
            .unwrap_or_else(|| {
                Arc::new(RequestContext::new(
                    pipeline::request_id(state.clock.now_ms()),
                    false,
                    None,
                ))
            })))
    }
}

/// Marks a response whose connection is to be closed without sending it (a fault's
/// `drop_connection`): the server's connection loop drops it.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The middleware of the module doc.
pub(crate) async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(dialect) = Dialect::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let rid = pipeline::request_id(state.clock.now_ms());
    let route = metrics::Route::of(request.extensions());
    match state.emulator.clone() {
        None => {
            let start = Instant::now();
            request
                .extensions_mut()
                .insert(Arc::new(RequestContext::new(rid.clone(), false, None)));
            let (response, errcode) = errcode_of(with_rid(next.run(request).await, &rid)).await;
            metrics::request(dialect, &route, errcode, start.elapsed());
            response
        }
        Some(emulator) => emulate(&state, &emulator, dialect, route, rid, request, next).await,
    }
}

/// The errcode of an answer, for the metrics: an error's (kept on the response), else the
/// body's `errcode` (a repeated number answers a nonzero one with the original result), else
/// 0 for a success without one (a bill file).
async fn errcode_of(response: Response) -> (Response, Option<i64>) {
    if let Some(error) = response.extensions().get::<ErrorAnswer>() {
        let code = error.code;
        return (response, Some(code));
    }
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    // Answers are small; one that might not be is not held back to be read.
    let small = axum::body::HttpBody::size_hint(response.body())
        .upper()
        .is_some_and(|n| n <= MAX_ANSWER_BYTES as u64);
    if !json || !small {
        let errcode = errcode_of_status(response.status());
        return (response, errcode);
    }
    let (head, answer) = buffer(response).await;
    #[derive(serde::Deserialize)]
    struct Errcode {
        errcode: Option<i64>,
    }
    let errcode = serde_json::from_slice::<Errcode>(&answer)
        .ok()
        .and_then(|a| a.errcode)
        .or_else(|| errcode_of_status(head.status));
    (Response::from_parts(head, Body::from(answer)), errcode)
}

/// 0 for a success answered without an errcode; none otherwise.
fn errcode_of_status(status: StatusCode) -> Option<i64> {
    status.is_success().then_some(0)
}

/// Ends an error answer's errmsg with ` rid: <rid>`.
fn with_rid(response: Response, rid: &str) -> Response {
    match response.extensions().get::<ErrorAnswer>() {
        Some(error) => ApiError {
            status: response.status(),
            code: error.code,
            errmsg: format!("{} rid: {rid}", error.errmsg).into(),
        }
        .into_response(),
        None => response,
    }
}

/// The largest answer a handler gives, buffered for the log.
const MAX_ANSWER_BYTES: usize = 1 << 20;

async fn emulate(
    state: &AppState,
    emulator: &Emulator,
    dialect: Dialect,
    route: metrics::Route,
    rid: String,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let time_ms = state.clock.now_ms();
    let (parts, body) = request.into_parts();
    let body = pipeline::read_body(body).await;
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let body_json: Option<Value> = body.as_ref().ok().and_then(|b| serde_json::from_slice(b).ok());
    let body_text = match &body {
        Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Err(failure) => format!("<not kept: {}>", failure.errmsg()),
    };
    let named = Named::of(state, &query, body_json.as_ref()).await;
    let firing = emulator.faults.draw(&Subject {
        dialect,
        path: &path,
        appid: named.appid.as_deref(),
        openid: named.openid.as_deref(),
    });

    let ctx = Arc::new(RequestContext::new(rid.clone(), true, Some(body)));
    let mut request = Request::from_parts(parts, Body::empty());
    request.extensions_mut().insert(ctx.clone());
    let method = request.method().to_string();

    if let Some(firing) = &firing {
        if firing.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(firing.delay_ms)).await;
        }
    }
    let (response, replaced) = match &firing {
        Some(f) if f.answers() && f.when == When::Before => (fault_answer(dialect, f, &rid), None),
        Some(f) if f.answers() => {
            let (_, real) = buffer(with_rid(next.run(request).await, &rid)).await;
            (fault_answer(dialect, f, &rid), Some(real))
        }
        _ => (with_rid(next.run(request).await, &rid), None),
    };
    let dropped = firing.as_ref().is_some_and(|f| f.drop_connection);
    let (head, answer) = buffer(response).await;
    let status = head.status;

    let answer_json: Option<Value> = serde_json::from_slice(&answer).ok();
    let mut masks = Masks::default();
    masks
        .add_request_secrets(state, emulator, &named, &query, body_json.as_ref())
        .await;
    masks.add_answer_secrets(emulator, named.appid.as_deref(), answer_json.as_ref());
    let errcode = match answer_json.as_ref().and_then(|a| a.get("errcode")) {
        Some(code) => code.as_i64(),
        None if status.is_success() => Some(0),
        None => None,
    };
    let openid = named.openid.clone().or_else(|| {
        answer_json
            .as_ref()
            .and_then(|a| a.get("openid"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let answer_text = String::from_utf8_lossy(&answer).into_owned();
    let latency = start.elapsed();
    metrics::request(dialect, &route, if dropped { None } else { errcode }, latency);
    let entry = Entry {
        id: rid,
        time_ms,
        method,
        path,
        query: masks.apply_to_query(&query),
        body: masks.apply(&body_text),
        status: (!dropped).then_some(status.as_u16()),
        answer: if dropped {
            String::new()
        } else {
            masks.apply(&answer_text)
        },
        errcode: if dropped { None } else { errcode },
        latency_us: latency.as_micros() as u64,
        dialect,
        appid: named.appid,
        openid,
        diagnosis: ctx.diagnosis.lock().take(),
        fault: firing.map(|f| FaultNote {
            id: f.rule,
            when: f.when,
            errcode: f.errcode,
            delay_ms: f.delay_ms,
            drop_connection: f.drop_connection,
            replaced_answer: replaced.map(|r| masks.apply(&String::from_utf8_lossy(&r))),
        }),
    };
    emulator.log.push(entry);

    // The answer as the handler made it: its status and headers, the bytes logged.
    let mut response = Response::from_parts(head, Body::from(answer));
    if dropped {
        response.extensions_mut().insert(DropConnection);
    }
    response
}

/// A fault's answer: HTTP 200, its errcode and errmsg, and the request id.
fn fault_answer(dialect: Dialect, firing: &Firing, rid: &str) -> Response {
    let Some(code) = firing.errcode else {
        // A dropped connection: nothing is sent.
        return StatusCode::OK.into_response();
    };
    let errmsg = firing
        .errmsg
        .clone()
        .unwrap_or_else(|| dialect.errmsg_of(code).to_string());
    let body = openmidas_protocol::wire::ErrorBody {
        errcode: code,
        errmsg: format!("{errmsg} rid: {rid}"),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A response's status and body bytes, read into memory (answers are small).
/// A response's head (status, headers: the content type) and body bytes, read into memory
/// (answers are small).
async fn buffer(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(bytes) => (parts, bytes),
        Err(e) => {
            tracing::error!(error = %e, "an answer could not be buffered for the request log");
            let (parts, _) = ApiError::new(openmidas_protocol::common::Code::SystemError)
                .into_response()
                .into_parts();
            let error = ApiError::new(openmidas_protocol::common::Code::SystemError);
            let body = serde_json::json!({"errcode": error.code, "errmsg": error.errmsg});
            (parts, Bytes::from(body.to_string()))
        }
    }
}

/// The app and player a request names, as fault rules match them: the query's `appid`, the
/// body's `appid`, or the access token's app; the body's `openid`.
struct Named {
    appid: Option<String>,
    openid: Option<String>,
}

impl Named {
    async fn of(state: &AppState, query: &str, body: Option<&Value>) -> Named {
        let field = |name: &str| {
            body.and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let pairs = pipeline::query_pairs(Some(query));
        let mut appid = pipeline::query_param(&pairs, "appid")
            .map(str::to_string)
            .or_else(|| field("appid"));
        if appid.is_none() {
            if let Some(token) = pipeline::query_param(&pairs, "access_token") {
                appid = match state.store.token(token).await {
                    Ok(record) => record.map(|r| r.appid.clone()),
                    Err(_) => None,
                };
            }
        }
        Named {
            appid,
            openid: field("openid"),
        }
    }
}

/// The secrets a log entry might show, each with what shows instead.
#[derive(Default)]
struct Masks {
    replacements: Vec<(String, String)>,
}

/// Shorter values are not masked: they could not be secrets OpenMidas accepts, and masking
/// them would garble unrelated text.
const MIN_MASKED_CHARS: usize = 6;

/// An access token cut to its first 6 characters (one that short shows nothing of itself,
/// as in `protocol::diagnose`).
fn cut_token(token: &str) -> String {
    if token.chars().count() <= 6 {
        return "...".to_string();
    }
    let head: String = token.chars().take(6).collect();
    format!("{head}...")
}

impl Masks {
    /// Masks `text` wherever it appears, however short.
    fn add_exact(&mut self, text: String, shown: &str) {
        if !text.is_empty() && !self.replacements.iter().any(|(s, _)| *s == text) {
            self.replacements.push((text, shown.to_string()));
        }
    }

    /// The query with `access_token` cut and `secret` masked by name, whatever their
    /// length, then every other mask applied.
    fn apply_to_query(&self, query: &str) -> String {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("access_token", value)) => format!("access_token={}", cut_token(value)),
                Some(("secret", _)) => "secret=<AppSecret>".to_string(),
                _ => pair.to_string(),
            })
            .collect();
        self.apply(&pairs.join("&"))
    }

    fn add(&mut self, secret: &str, shown: impl Into<String>) {
        if secret.chars().count() >= MIN_MASKED_CHARS && !self.replacements.iter().any(|(s, _)| s == secret) {
            self.replacements.push((secret.to_string(), shown.into()));
        }
    }

    /// The token and secret of the query (raw, as they appear in it), a secret in the body,
    /// the named app's secret and keys, and the named player's session_key.
    async fn add_request_secrets(
        &mut self,
        state: &AppState,
        emulator: &Emulator,
        named: &Named,
        query: &str,
        body: Option<&Value>,
    ) {
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "access_token" => self.add(value, cut_token(value)),
                "secret" => self.add(value, "<AppSecret>"),
                _ => {}
            }
            // The decoded form too, in case it differs.
            let decoded: String = form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match key {
                "access_token" => self.add(&decoded, cut_token(&decoded)),
                "secret" => self.add(&decoded, "<AppSecret>"),
                _ => {}
            }
        }
        if let Some(secret) = body.and_then(|b| b.get("secret")).and_then(Value::as_str) {
            self.add(secret, "<AppSecret>");
            // However short (a wrong secret may be a near miss of the right one): as a
            // JSON string, which cannot garble other text.
            if let Ok(quoted) = serde_json::to_string(secret) {
                self.add_exact(quoted, "\"<AppSecret>\"");
            }
        }
        let Some(appid) = &named.appid else { return };
        if let Ok(Some(app)) = state.store.app(appid).await {
            self.add(&app.secret, "<AppSecret>");
            self.add(&app.app_key, "<AppKey official>");
            self.add(&app.sandbox_app_key, "<AppKey sandbox>");
        }
        if let Some(openid) = &named.openid {
            let key = format!("{appid}\n{openid}");
            let session_key = match emulator.session_keys.get(key.as_str()) {
                Some(known) => known,
                None => {
                    let read = match state.store.session(appid, openid).await {
                        Ok(session) => session.map(|s| Arc::from(s.session_key.as_str())),
                        Err(_) => None,
                    };
                    emulator.session_keys.put(key, read.clone());
                    read
                }
            };
            if let Some(session_key) = session_key {
                self.add(&session_key, format!("<session_key of openid {openid}>"));
            }
        }
    }

    /// The access token and session_key an answer hands out (a new session_key is the
    /// player's from now on: remembered for masking).
    fn add_answer_secrets(&mut self, emulator: &Emulator, appid: Option<&str>, answer: Option<&Value>) {
        let field = |name: &str| answer.and_then(|a| a.get(name)).and_then(Value::as_str);
        if let Some(token) = field("access_token") {
            self.add(token, cut_token(token));
        }
        if let Some(key) = field("session_key") {
            self.add(key, "<session_key>");
            if let (Some(appid), Some(openid)) = (appid, field("openid")) {
                emulator
                    .session_keys
                    .put(format!("{appid}\n{openid}"), Some(Arc::from(key)));
            }
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut replacements: Vec<&(String, String)> = self.replacements.iter().collect();
        // Longest first, so a secret containing another is masked whole.
        replacements.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
        let mut out = text.to_string();
        for (secret, shown) in replacements {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), shown);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_masks_by_name_whatever_the_length() {
        let masks = Masks::default();
        assert_eq!(
            masks.apply_to_query("appid=wx1&secret=wrong&access_token=abcdefghij&x=1"),
            "appid=wx1&secret=<AppSecret>&access_token=abcdef...&x=1"
        );
    }

    #[test]
    fn masks_cover_every_occurrence_longest_first() {
        let mut masks = Masks::default();
        masks.add("ACCESSTOKEN1234567890", cut_token("ACCESSTOKEN1234567890"));
        masks.add("ACCESSTOKEN1234567890XYZ", "<long>");
        masks.add("abc", "<short>");
        assert_eq!(
            masks.apply("a=ACCESSTOKEN1234567890XYZ&b=ACCESSTOKEN1234567890&c=abc"),
            "a=<long>&b=ACCESS...&c=abc"
        );
    }
}
