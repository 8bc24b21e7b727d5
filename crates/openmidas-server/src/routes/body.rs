//! Request plumbing shared by the routes: bounded body reads and query parsing.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use openmidas_protocol::v1::{BodyError, MAX_BODY_BYTES};
use openmidas_protocol::ErrCode;

use crate::error::ApiError;

/// How long a client may take to send a body (slow-loris protection).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a body of at most [`MAX_BODY_BYTES`] within [`BODY_READ_TIMEOUT`]; a larger one is
/// 413 with 90018.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await;
    let Ok(read) = read else {
        return Err(ApiError::msg(
            ErrCode::InvalidParameter,
            format!("request body not received within {} s", BODY_READ_TIMEOUT.as_secs()),
        ));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::msg(ErrCode::InvalidParameter, BodyError::TooLarge.errmsg())
                .with_status(StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(e) => {
            // The client went away or sent a broken body: nothing to answer that it would read.
            tracing::debug!(error = %e, "cannot read request body");
            Err(ApiError::msg(
                ErrCode::InvalidParameter,
                "request body could not be read",
            ))
        }
    }
}

/// The query string's pairs, percent-decoded, in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name`, if present and non-empty.
pub(crate) fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The first non-empty value of `name` in a query string, without collecting the others.
pub(crate) fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}
