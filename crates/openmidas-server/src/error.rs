//! Failure answers. Every one is a JSON `{"errcode","errmsg"}` from the protocol's errcode
//! table; HTTP status 200 as the real service answers, except 404, 405, 413 and 401 (admin).

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::StoreError;
use openmidas_protocol::wire::ErrorBody;
use openmidas_protocol::ErrCode;

/// A failure answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrCode,
    pub errmsg: Cow<'static, str>,
}

impl ApiError {
    /// The code with its default errmsg.
    pub fn new(code: ErrCode) -> Self {
        ApiError {
            status: StatusCode::OK,
            code,
            errmsg: Cow::Borrowed(code.errmsg()),
        }
    }

    /// The code with an errmsg that names the problem.
    pub fn msg(code: ErrCode, errmsg: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status: StatusCode::OK,
            code,
            errmsg: errmsg.into(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<ErrCode> for ApiError {
    fn from(code: ErrCode) -> Self {
        ApiError::new(code)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Overloaded => {
                tracing::warn!("write queue full; answering system error");
                ApiError::msg(
                    ErrCode::SystemError,
                    "system error: server busy, retry with the same bill_no",
                )
            }
            StoreError::ShuttingDown => ApiError::msg(ErrCode::SystemError, "system error: server shutting down"),
            StoreError::Backend(_) | StoreError::Invariant(_) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(ErrCode::SystemError)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            errcode: self.code.code(),
            errmsg: self.errmsg.into_owned(),
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
