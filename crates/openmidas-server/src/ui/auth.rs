//! The dashboard's sessions. `POST /ui/login` takes the admin token (compared in constant
//! time, as every admin route compares it) and sets `om_session`: HttpOnly, SameSite=Strict,
//! Path=/ui, never in a URL. Its value is `<nonce>.<expiry>.<mac>`, the MAC an HMAC-SHA256
//! keyed by a key derived from the admin token ([`crate::AdminToken::derive_key`]): it
//! reveals nothing of the token, holds on every node with the same token, ends after 12 h,
//! at logout (this node forgets it) or when the token changes. Each session's CSRF token is
//! an HMAC of its nonce; every form that changes state carries it.
//!
//! One-time links: `POST /admin/ui/login-links` (admin token) mints a nonce valid once for
//! 60 s, kept in this node's memory; `GET /ui/login?once=<nonce>` exchanges it for the
//! cookie (what `openmidas ui` prints when it cannot open a browser).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use hmac::{Hmac, Mac};
use maud::html;
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::layout;
use crate::admin::require_admin;
use crate::error::ApiResult;
use crate::pipeline::{query_pairs, query_param};
use crate::{AdminToken, AppState};

/// The session cookie's name.
pub const COOKIE: &str = "om_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a one-time link lasts.
const LINK_TTL: Duration = Duration::from_secs(60);
/// Most one-time links waiting at once, and most logged-out sessions remembered.
const MAX_LINKS: usize = 1000;
const MAX_REVOKED: usize = 10_000;

/// The dashboard's keys and memory, one per router.
pub struct Ui {
    session_key: [u8; 32],
    csrf_key: [u8; 32],
    links: Mutex<HashMap<String, Instant>>,
    /// Logged-out sessions (nonce to expiry, UNIX ms) until they would have expired.
    revoked: Mutex<HashMap<String, i64>>,
}

fn hmac_hex(key: &[u8; 32], message: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The machine's time: sessions do not follow the emulator's clock (moving it must not log
/// anyone out).
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Ui {
    pub fn new(token: &AdminToken) -> Ui {
        Ui {
            session_key: token.derive_key("openmidas ui session"),
            csrf_key: token.derive_key("openmidas ui csrf"),
            links: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// A new session cookie's value.
    fn new_session(&self) -> String {
        let nonce = random_hex(16);
        let expires = unix_ms() + SESSION_TTL.as_millis() as i64;
        let signed = format!("{nonce}.{expires}");
        let mac = hmac_hex(&self.session_key, &signed);
        format!("{signed}.{mac}")
    }

    /// The session of a cookie value, if it is one of ours, unexpired and not logged out.
    pub(crate) fn session(&self, value: &str) -> Option<Session> {
        let (signed, mac) = value.rsplit_once('.')?;
        if !equal(&hmac_hex(&self.session_key, signed), mac) {
            return None;
        }
        let (nonce, expires) = signed.split_once('.')?;
        let expires: i64 = expires.parse().ok()?;
        if expires <= unix_ms() || self.revoked.lock().contains_key(nonce) {
            return None;
        }
        Some(Session {
            nonce: nonce.to_string(),
            expires,
            csrf: hmac_hex(&self.csrf_key, nonce),
        })
    }

    /// The session of a request that carries the admin token itself (a bearer, not a
    /// cookie: nothing a browser sends on its own), for scripts; logging it out does nothing.
    pub(crate) fn bearer_session(&self) -> Session {
        Session {
            nonce: String::new(),
            expires: i64::MAX,
            csrf: hmac_hex(&self.csrf_key, ""),
        }
    }

    fn revoke(&self, session: &Session) {
        if session.nonce.is_empty() {
            return;
        }
        let now = unix_ms();
        let mut revoked = self.revoked.lock();
        revoked.retain(|_, expires| *expires > now);
        if revoked.len() < MAX_REVOKED {
            revoked.insert(session.nonce.clone(), session.expires);
        }
    }

    /// A one-time login nonce, or `None` when too many wait.
    fn mint_link(&self) -> Option<String> {
        let now = Instant::now();
        let mut links = self.links.lock();
        links.retain(|_, expires| *expires > now);
        if links.len() >= MAX_LINKS {
            return None;
        }
        let nonce = random_hex(24);
        links.insert(nonce.clone(), now + LINK_TTL);
        Some(nonce)
    }

    /// Uses a one-time nonce up: true once, within its 60 s.
    fn redeem_link(&self, nonce: &str) -> bool {
        let now = Instant::now();
        match self.links.lock().remove(nonce) {
            Some(expires) => expires > now,
            None => false,
        }
    }
}

/// A logged-in dashboard user.
#[derive(Debug, Clone)]
pub struct Session {
    nonce: String,
    expires: i64,
    /// The token every state-changing form must carry.
    pub csrf: String,
}

impl Session {
    /// Whether a form's CSRF token is this session's (constant time).
    pub(crate) fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| equal(p, &self.csrf))
    }
}

/// The value of a cookie in the request.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Every page but the login page needs a session: without one, a redirect to the login
/// page.
impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, Response> {
        let ui = parts.extensions.get::<std::sync::Arc<Ui>>().cloned();
        let session = ui.and_then(|ui| require_admin_or_session(state, &parts.headers, &ui));
        session.ok_or_else(|| Redirect::to("/ui/login").into_response())
    }
}

fn set_cookie(value: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .expect("cookie text is ASCII")
}

/// `GET /ui/login`: the form; `?once=<nonce>` exchanges a one-time link for a session.
pub async fn login_page(Extension(ui): Extension<std::sync::Arc<Ui>>, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    if let Some(once) = query_param(&pairs, "once") {
        if !ui.redeem_link(once) {
            return login_form(
                StatusCode::FORBIDDEN,
                Some("This login link was used already or has expired. Mint a new one with `openmidas ui`, or enter the admin token."),
            );
        }
        // A page, not a 303: a SameSite=Strict cookie set by a navigation that came from
        // elsewhere (a terminal, another site) is sent on the next navigation this page
        // starts itself.
        let mut response = layout::bare_redirect("/ui");
        response
            .headers_mut()
            .insert(header::SET_COOKIE, set_cookie(&ui.new_session(), SESSION_TTL.as_secs()));
        return response;
    }
    login_form(StatusCode::OK, None)
}

/// The login page, with `problem` shown above the form (also the lockout's answer).
pub(crate) fn login_form(status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        h1 { "OpenMidas dashboard" }
        @if let Some(problem) = problem {
            p.error role="alert" { (problem) }
        }
        form method="post" action="/ui/login" {
            label for="token" { "Admin token" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Log in" }
        }
        p.note { "The admin token is the one the server was started with (--admin-token, OPENMIDAS_ADMIN_TOKEN or the config file). The session lasts 12 hours." }
    };
    layout::login_page(status, body)
}

/// `POST /ui/login` `token=<admin token>`.
pub async fn login(
    Extension(ui): Extension<std::sync::Arc<Ui>>,
    State(state): State<AppState>,
    body: Bytes,
) -> Response {
    let form = super::layout::Form::parse(&body);
    match form.get("token") {
        Some(token) if state.admin_token.matches(token) => {
            let mut response = Redirect::to("/ui").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie(&ui.new_session(), SESSION_TTL.as_secs()));
            response
        }
        _ => login_form(StatusCode::UNAUTHORIZED, Some("That is not the admin token.")),
    }
}

/// `POST /ui/logout`: this node forgets the session; the cookie is cleared.
pub async fn logout(Extension(ui): Extension<std::sync::Arc<Ui>>, session: Session, body: Bytes) -> Response {
    let form = super::layout::Form::parse(&body);
    if !session.csrf_ok(form.get("csrf")) {
        return super::UiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    ui.revoke(&session);
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0));
    response
}

/// `POST /admin/ui/login-links` (admin token): `{errcode, errmsg, path, expires_in}`, a
/// login path valid once for 60 s.
pub async fn mint_link(
    Extension(ui): Extension<std::sync::Arc<Ui>>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_admin(&state, &headers)?;
    let Some(nonce) = ui.mint_link() else {
        return Err(crate::error::ApiError::msg(
            openmidas_protocol::common::Code::InvalidArgs,
            "invalid args: too many login links wait; use one first",
        ));
    };
    Ok(Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "path": format!("/ui/login?once={nonce}"),
        "expires_in": LINK_TTL.as_secs(),
    }))
    .into_response())
}

/// The dashboard's check (`/ui` routes only): the admin token as on every admin route, or
/// the session cookie that `/ui/login` set after checking the token. `None`: neither.
fn require_admin_or_session(state: &AppState, headers: &HeaderMap, ui: &super::Ui) -> Option<Session> {
    if crate::admin::require_admin(state, headers).is_ok() {
        return Some(ui.bearer_session());
    }
    cookie(headers, COOKIE).and_then(|value| ui.session(value))
}
