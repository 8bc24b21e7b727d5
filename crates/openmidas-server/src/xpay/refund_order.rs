//! `refund_order`: money back from a paid purchase (never coins), as a refund order of its
//! own numbered `refund_order_id` that completes after the app's `refund_delay_secs` on the
//! server's clock. The same call again answers 268490014 while it is in progress and
//! 268490004 once done, before `left_fee` is looked at; otherwise `left_fee` must be what is
//! left (268490016). behaviour.md section 10.2.

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::command::PurchaseRefund;
use openmidas_ledger::{Command, Op, Outcome, Refusal, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::RefundOrderOk;
use openmidas_protocol::xpay::OrderRef;

use super::{impossible, invalid, orders, refused, Verified};
use crate::error::ApiResult;
use crate::{secrets, AppState};

/// What the caller asked for.
pub(super) struct Asked<'a> {
    pub refund_order_id: &'a str,
    pub left_fee: i64,
    pub refund_fee: i64,
    pub biz_meta: &'a str,
}

pub(super) async fn run(state: &AppState, v: Verified, by: OrderRef<'_>, asked: Asked<'_>) -> ApiResult<Response> {
    let purchase = orders::find(state, &v, &by).await?;
    let refund = PurchaseRefund {
        number: asked.refund_order_id.to_string(),
        purchase_number: purchase.key.number.clone(),
        left_fee: asked.left_fee,
        refund_fee: asked.refund_fee,
        wx_order_id: secrets::wx_order_id(),
        biz_meta: asked.biz_meta.to_string(),
        delay_ms: i64::from(v.app.refund_delay_secs) * 1000,
        push: v.app.push.is_some(),
    };
    let command = Command::new(purchase.account(), v.now_ms, Op::RefundPurchase(refund));
    match state.store.execute(command).await? {
        Outcome::PurchaseRefundStarted {
            number,
            wx_order_id,
            purchase_number,
            purchase_wx_order_id,
            ..
        } => Ok(Json(RefundOrderOk {
            errcode: Code::Ok.code(),
            errmsg: Code::Ok.errmsg().into(),
            refund_order_id: number,
            refund_wx_order_id: wx_order_id,
            pay_order_id: purchase_number,
            pay_wx_order_id: purchase_wx_order_id,
        })
        .into_response()),
        Outcome::Refused(Refusal::PurchaseNotPaid { .. }) => {
            Err(invalid("订单未支付，不能退款 (the purchase is not paid)"))
        }
        Outcome::Refused(refusal) => Err(refused(refusal)),
        other => Err(impossible(&other)),
    }
}
