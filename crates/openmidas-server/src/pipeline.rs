//! The steps every dialect's request path shares: the access token, the query string, the
//! body, the session, the `ts` window, and the request id. Each dialect composes them in its
//! own order (behaviour.md sections 3 and 9.1) and maps their failures to its own codes.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use openmidas_ledger::auth::{App, Session, SignatureHex, TokenRecord, TokenStatus};
use openmidas_protocol::common::Code;
use openmidas_protocol::json::{BodyError, MAX_BODY_BYTES};
use openmidas_protocol::sign::HexCase;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// How long a client may take to send a body (slow-loris protection).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a body could not be read as a JSON object. Each dialect answers it with its own
/// parameter error (413 for [`BodyFailure::TooLarge`]).
#[derive(Debug)]
pub(crate) enum BodyFailure {
    /// Over [`MAX_BODY_BYTES`], or not JSON, or not an object, or a key twice.
    Json(BodyError),
    /// Not received within [`BODY_READ_TIMEOUT`].
    NotReceived,
    /// The client went away or sent a broken body.
    Unreadable,
}

impl BodyFailure {
    pub(crate) fn is_too_large(&self) -> bool {
        matches!(self, BodyFailure::Json(BodyError::TooLarge))
    }

    pub(crate) fn errmsg(&self) -> String {
        match self {
            BodyFailure::Json(e) => e.errmsg(),
            BodyFailure::NotReceived => {
                format!("request body not received within {} s", BODY_READ_TIMEOUT.as_secs())
            }
            BodyFailure::Unreadable => "request body could not be read".to_string(),
        }
    }
}

impl From<BodyError> for BodyFailure {
    fn from(e: BodyError) -> Self {
        BodyFailure::Json(e)
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`] within [`BODY_READ_TIMEOUT`].
pub(crate) async fn read_body(body: Body) -> Result<Bytes, BodyFailure> {
    read_body_up_to(body, MAX_BODY_BYTES).await
}

/// Reads a body of at most `max_bytes` within [`BODY_READ_TIMEOUT`] (the emulator's state
/// import takes more than API calls).
pub(crate) async fn read_body_up_to(body: Body, max_bytes: usize) -> Result<Bytes, BodyFailure> {
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max_bytes).collect()).await;
    let Ok(read) = read else {
        return Err(BodyFailure::NotReceived);
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyFailure::Json(BodyError::TooLarge)),
        Err(e) => {
            // The client went away or sent a broken body: nothing to answer that it would read.
            tracing::debug!(error = %e, "cannot read request body");
            Err(BodyFailure::Unreadable)
        }
    }
}

/// The query string's pairs, percent-decoded, in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).collect()
}

/// The first value of `name`, if present and non-empty.
pub(crate) fn query_param<'a>(pairs: &'a [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.is_empty())
}

/// The first value of `name` in a query string, if non-empty, without collecting the
/// other pairs (the hot path reads only `access_token`).
pub(crate) fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The access token of a payment call: missing 41001, unknown or retired 40001, expired
/// 42001 (behaviour.md section 2). The same codes in every dialect.
pub(crate) async fn access_token(state: &AppState, token: Option<&str>, now_ms: i64) -> ApiResult<Arc<TokenRecord>> {
    let token = token.ok_or(Code::AccessTokenMissing)?;
    let record = state.store.token(token).await?.ok_or(Code::InvalidCredential)?;
    match record.status(now_ms) {
        TokenStatus::Valid => Ok(record),
        TokenStatus::Retired => Err(Code::InvalidCredential.into()),
        TokenStatus::Expired => Err(Code::AccessTokenExpired.into()),
    }
}

/// The player's newest session, if it still signs (an app may give sessions a lifetime:
/// `session_ttl_secs`).
pub(crate) async fn session(state: &AppState, app: &App, openid: &str, now_ms: i64) -> ApiResult<Option<Session>> {
    let session = state.store.session(&app.appid, openid).await?;
    Ok(session.filter(|s| s.is_live(app.session_ttl_secs, now_ms)))
}

/// Which hex digits the app lets 2.0 signatures use (option `signature_hex`).
pub(crate) fn hex_case(app: &App) -> HexCase {
    match app.signature_hex {
        SignatureHex::Lower => HexCase::Lower,
        SignatureHex::Any => HexCase::Any,
    }
}

/// Whether `ts` is within the app's window around now (always, when the app sets none).
/// Checked after the signatures, so an unsigned request learns nothing about the clock.
pub(crate) fn ts_in_window(app: &App, ts: i64, now_ms: i64) -> bool {
    match app.ts_window_secs {
        None => true,
        Some(window_secs) => now_ms.div_euclid(1000).abs_diff(ts) <= u64::from(window_secs),
    }
}

static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// A request id in WeChat's shape (`<8 hex>-<8 hex>-<8 hex>`: the second, this process, a
/// counter): the ` rid: ` that ends every error of a WeChat route (behaviour.md section 8).
pub(crate) fn request_id(now_ms: i64) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let process = *PROCESS.get_or_init(rand::random);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{process:08x}-{count:08x}", now_ms.div_euclid(1000) as u32)
}

/// The counter of a request id this process made; `None` for anything else.
pub(crate) fn counter_of_own_id(id: &str) -> Option<u32> {
    let mut parts = id.split('-');
    let (_, process, counter) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || process.len() != 8 || counter.len() != 8 {
        return None;
    }
    let own = *PROCESS.get_or_init(rand::random);
    (u32::from_str_radix(process, 16).ok()? == own).then_some(())?;
    u32::from_str_radix(counter, 16).ok()
}

/// Maps a body failure with the dialect's parameter code (`invalid`) and its 413 twin.
pub(crate) fn body_error(
    failure: BodyFailure,
    invalid: impl openmidas_protocol::ErrorCode,
    too_large: impl openmidas_protocol::ErrorCode,
) -> ApiError {
    if failure.is_too_large() {
        ApiError::msg(too_large, failure.errmsg())
    } else {
        ApiError::msg(invalid, failure.errmsg())
    }
}
