//! `queryorderinfo`: a client purchase of this player (behaviour.md sections 9.2 and 11), by
//! `out_trade_no` and `biz_id` (1 coins, 2 item). Another player's, the other env's or the
//! other kind's purchase is not found (90019).

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{OrderKey, OrderKind};
use openmidas_protocol::common;
use openmidas_protocol::v2::answer::QueryOrderInfoOk;
use openmidas_protocol::v2::{BizId, Code};

use super::Verified;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, out_trade_no: &str, biz_id: BizId) -> ApiResult<Response> {
    let kind = match biz_id {
        BizId::Coins => OrderKind::CoinPurchase,
        BizId::Item => OrderKind::ItemPurchase,
    };
    let purchase = state
        .store
        .order(&OrderKey::purchase(&v.account, out_trade_no))
        .await?
        .filter(|o| o.kind == kind && o.is_of(&v.account))
        .and_then(|o| o.purchase)
        .ok_or_else(|| ApiError::new(Code::PurchaseNotFound))?;
    let state_of = |done: bool| if done { 2 } else { 1 };
    Ok(Json(QueryOrderInfoOk {
        errcode: common::Code::Ok.code(),
        errmsg: common::Code::Ok.errmsg().into(),
        product_id: purchase.product_id.clone(),
        pay_state: state_of(purchase.paid_at_ms.is_some()),
        deliver_state: state_of(purchase.delivered_at_ms.is_some()),
        pay_finish_time: purchase.paid_at_ms.map_or(0, |ms| ms.div_euclid(1000)),
        out_trade_no: out_trade_no.to_string(),
        mch_order_no: purchase.mch_order_no(),
        transaction_id: purchase.transaction_id(),
    })
    .into_response())
}
