//! `/admin/...`: the simulated client side (login codes, recharges) and administration.
//! Every route needs `Authorization: Bearer <admin token>`.

pub mod apps;
pub mod journal;
pub mod login;
pub mod recharge;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use openmidas_protocol::ErrCode;
use serde_json::{Map, Value};

use super::read_body;
use crate::error::{ApiError, ApiResult};
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
            ErrCode::InvalidCredential,
            "invalid credential: admin routes need Authorization: Bearer <admin token>",
        )
        .with_status(StatusCode::UNAUTHORIZED)),
    }
}

/// The body as a JSON object: 47001 otherwise, 413 over the size limit.
pub(crate) async fn json_object(body: Body) -> ApiResult<Map<String, Value>> {
    let bytes = read_body(body).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::msg(
            ErrCode::DataFormatError,
            "data format error: body must be a JSON object",
        )),
        Err(e) => Err(ApiError::msg(
            ErrCode::DataFormatError,
            format!("data format error: {e}"),
        )),
    }
}

/// Typed access to an admin body's fields; every problem names the field and answers `code`.
pub(crate) struct Fields<'a> {
    pub map: &'a Map<String, Value>,
    /// The errcode of a wrong type or value.
    pub invalid: ErrCode,
}

impl<'a> Fields<'a> {
    fn invalid(&self, field: &str, problem: &str) -> ApiError {
        ApiError::msg(self.invalid, format!("[{field}] {field} {problem}"))
    }

    /// A string of 1..=max_bytes bytes, if present (null counts as absent).
    pub fn text(&self, field: &str, max_bytes: usize) -> ApiResult<Option<&'a str>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= max_bytes => Ok(Some(s.as_str())),
            Some(Value::String(_)) => Err(self.invalid(
                field,
                &format!("must be a non-empty string of at most {max_bytes} bytes"),
            )),
            Some(_) => Err(self.invalid(field, "must be a string")),
        }
    }

    pub fn integer(&self, field: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(self.invalid(field, &format!("must be an integer in {min}..={max}"))),
            },
            Some(_) => Err(self.invalid(field, "must be an integer")),
        }
    }

    pub fn boolean(&self, field: &str) -> ApiResult<Option<bool>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(field, "must be a boolean")),
        }
    }
}
