//! `/admin/...`: administration (apps, login codes, the journal). Every route needs
//! `Authorization: Bearer <admin token>`. The simulated player's purchases are in
//! [`crate::client`].

pub mod apps;
pub mod journal;
pub mod lockout;
pub mod login;
pub mod pushes;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use openmidas_ledger::Env;
use openmidas_protocol::common::Code;
use openmidas_protocol::ErrorCode;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::pipeline::{self, BodyFailure};
use crate::AppState;

/// 401 unless the request carries the admin token.
pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if state.admin_token.matches(token) => Ok(()),
        _ => Err(ApiError::msg(
            Code::AdminUnauthorized,
            "invalid credential: admin routes need Authorization: Bearer <admin token>",
        )),
    }
}

/// The body as a JSON object: 47001 otherwise, 413 over the size limit.
pub(crate) async fn json_object(body: Body) -> ApiResult<Map<String, Value>> {
    json_object_of(pipeline::read_body(body).await)
}

/// [`json_object`] of a body already read (an observed route's, from its context).
pub(crate) fn json_object_of(read: Result<Bytes, BodyFailure>) -> ApiResult<Map<String, Value>> {
    let bytes = read.map_err(|e| pipeline::body_error(e, Code::DataFormatError, Code::BodyTooLarge))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::msg(
            Code::DataFormatError,
            "data format error: body must be a JSON object",
        )),
        Err(e) => Err(ApiError::msg(Code::DataFormatError, format!("data format error: {e}"))),
    }
}

/// Typed access to an admin body's fields; every problem names the field and answers
/// `invalid`.
pub(crate) struct Fields<'a, C> {
    pub map: &'a Map<String, Value>,
    /// The errcode of a wrong type or value.
    pub invalid: C,
}

impl<'a, C: ErrorCode> Fields<'a, C> {
    pub fn problem(&self, field: &str, problem: &str) -> ApiError {
        ApiError::msg(self.invalid, format!("[{field}] {field} {problem}"))
    }

    /// A string of 1..=max_bytes bytes, if present (null counts as absent).
    pub fn text(&self, field: &str, max_bytes: usize) -> ApiResult<Option<&'a str>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= max_bytes => Ok(Some(s.as_str())),
            Some(Value::String(_)) => Err(self.problem(
                field,
                &format!("must be a non-empty string of at most {max_bytes} bytes"),
            )),
            Some(_) => Err(self.problem(field, "must be a string")),
        }
    }

    pub fn integer(&self, field: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(self.problem(field, &format!("must be an integer in {min}..={max}"))),
            },
            Some(_) => Err(self.problem(field, "must be an integer")),
        }
    }

    pub fn boolean(&self, field: &str) -> ApiResult<Option<bool>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.problem(field, "must be a boolean")),
        }
    }

    /// An environment: `"official"` / `"sandbox"`, or 2.0's `0` / `1`.
    pub fn env(&self, field: &str) -> ApiResult<Option<Env>> {
        let invalid = || self.problem(field, "must be \"official\" or \"sandbox\"");
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Env::parse(s).map(Some).ok_or_else(invalid),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(Some(Env::Official)),
                Some(1) => Ok(Some(Env::Sandbox)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }
}
