//! `query_order`: a purchase (made through any of the player's purchase APIs) or one of its
//! refunds, by `order_id` or `wx_order_id`; not currency orders (behaviour.md section 10.2).

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::QueryOrderOk;
use openmidas_protocol::xpay::OrderRef;

use super::{orders, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, by: OrderRef<'_>) -> ApiResult<Response> {
    let found = orders::find(state, &v, &by).await?;
    Ok(Json(QueryOrderOk {
        errcode: Code::Ok.code(),
        errmsg: Code::Ok.errmsg().into(),
        order: orders::render(&found, v.now_ms),
    })
    .into_response())
}
