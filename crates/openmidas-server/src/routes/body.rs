//! Request plumbing shared by the routes: bounded body reads and query parsing.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use openmidas_protocol::v1::{BodyError, MAX_BODY_BYTES};
use openmidas_protocol::ErrCode;

use crate::error::ApiError;

/// Reads a body of at most [`MAX_BODY_BYTES`]; a larger one is 413 with 90018.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
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
