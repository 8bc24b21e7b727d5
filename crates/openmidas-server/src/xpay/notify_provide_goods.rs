//! `notify_provide_goods`: a paid item purchase's goods were delivered (status 4); the call
//! the game server makes when the delivery push did not reach it. A purchase not paid
//! answers 268490002. behaviour.md section 10.2.

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{Command, Op, Outcome, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::NotifyProvideGoodsOk;
use openmidas_protocol::xpay::OrderRef;

use super::{impossible, orders, refused, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, by: OrderRef<'_>) -> ApiResult<Response> {
    let purchase = orders::find(state, &v, &by).await?;
    let op = Op::DeliverPurchase {
        number: purchase.key.number.clone(),
    };
    match state
        .store
        .execute(Command::new(purchase.account(), v.now_ms, op))
        .await?
    {
        Outcome::PurchaseDelivered { .. } => Ok(Json(NotifyProvideGoodsOk {
            errcode: Code::Ok.code(),
            errmsg: Code::Ok.errmsg().into(),
        })
        .into_response()),
        Outcome::Refused(refusal) => Err(refused(refusal)),
        other => Err(impossible(&other)),
    }
}
