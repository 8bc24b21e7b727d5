//! `currency_pay`: deduct `amount` coins, gift first; `order_id` applies at most once, in the
//! same book as v1's and 2.0's numbers (a repeat answers 268490004, whatever its amount:
//! "the earlier identical operation already succeeded").

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{Command, Outcome, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::CurrencyPayOk;

use super::{impossible, refused, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, order_id: &str, amount: i64) -> ApiResult<Response> {
    let command = Command::pay(v.account()?, order_id, amount, v.now_ms);
    match state.store.execute(command).await? {
        Outcome::Paid { number, balance, gift } => Ok(Json(CurrencyPayOk {
            errcode: Code::Ok.code(),
            errmsg: Code::Ok.errmsg().into(),
            order_id: number,
            balance,
            used_present_amount: gift,
        })
        .into_response()),
        Outcome::Refused(refusal) => Err(refused(refusal)),
        other => Err(impossible(&other)),
    }
}
