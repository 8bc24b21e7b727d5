//! Lists and ids of the control routes (behaviour.md section 13): `after_id` and `limit`
//! pages, and the 404 of an id that names nothing.

use openmidas_protocol::common::Code;

use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};

/// Default and largest page of a list.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

/// `after_id` and `limit` of a list.
pub(crate) struct Page {
    pub after_id: Option<String>,
    pub limit: usize,
}

impl Page {
    pub(crate) fn parse(query: Option<&str>) -> ApiResult<Page> {
        let pairs = query_pairs(query);
        let limit = match query_param(&pairs, "limit") {
            None => DEFAULT_PAGE,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(ApiError::msg(
                        Code::InvalidArgs,
                        format!("[limit] limit must be an integer from 1 to {MAX_PAGE}"),
                    ))
                }
            },
        };
        Ok(Page {
            after_id: query_param(&pairs, "after_id").map(str::to_string),
            limit,
        })
    }
}

/// 404 with 40097: a path's id names nothing here.
pub(crate) fn unknown_id(what: &str, id: &str) -> ApiError {
    let mut shown: String = id.chars().take(64).collect();
    if shown.len() < id.len() {
        shown.push_str("...");
    }
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        ..ApiError::msg(
            Code::InvalidArgs,
            format!("invalid args: no {what} {shown:?} on this node"),
        )
    }
}
