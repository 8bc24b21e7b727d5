//! Failure answers. Every one is a JSON `{"errcode","errmsg"}` with a code from one of the
//! protocol's errcode tables, answered with that code's HTTP status (200 as the real service
//! answers, except 404, 405, 413 and 401 on admin routes).

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::StoreError;
use openmidas_protocol::common::Code;
use openmidas_protocol::wire::ErrorBody;
use openmidas_protocol::ErrorCode;

/// A failure answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub errmsg: Cow<'static, str>,
}

impl ApiError {
    /// The code with its default errmsg.
    pub fn new(code: impl ErrorCode) -> Self {
        ApiError::msg(code, code.errmsg())
    }

    /// The code with an errmsg that names the problem.
    pub fn msg(code: impl ErrorCode, errmsg: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status: StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::OK),
            code: code.code(),
            errmsg: errmsg.into(),
        }
    }
}

/// What an error answer said, kept on the response so that [`crate::observe`] can end its
/// errmsg with the request id without parsing the body.
#[derive(Debug, Clone)]
pub struct ErrorAnswer {
    pub code: i64,
    pub errmsg: String,
}

/// Any row of these tables is a failure answer with its default errmsg.
macro_rules! from_codes {
    ($($table:ty),*) => {
        $(impl From<$table> for ApiError {
            fn from(code: $table) -> Self {
                ApiError::new(code)
            }
        })*
    };
}

from_codes!(
    Code,
    openmidas_protocol::v1::Code,
    openmidas_protocol::v2::Code,
    openmidas_protocol::xpay::Code,
    openmidas_protocol::client::virtual_payment::Code,
    openmidas_protocol::client::midas_payment::Code,
    openmidas_protocol::client::game_item::Code
);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Overloaded => {
                tracing::warn!("write queue full; answering system error");
                ApiError::msg(
                    Code::SystemError,
                    "system error: server busy, retry with the same bill_no",
                )
            }
            StoreError::ShuttingDown => ApiError::msg(Code::SystemError, "system error: server shutting down"),
            StoreError::Backend(_) | StoreError::Invariant(_) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(Code::SystemError)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errmsg = self.errmsg.into_owned();
        let marker = ErrorAnswer {
            code: self.code,
            errmsg: errmsg.clone(),
        };
        let body = ErrorBody {
            errcode: self.code,
            errmsg,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(marker);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
