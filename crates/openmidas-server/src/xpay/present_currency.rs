//! `present_currency`: give `amount` gift coins; `order_id` applies at most once (a repeat
//! answers 268490004: xpay has no lookup of a present, so clients retry until 0 or that).

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{Command, Outcome, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::PresentCurrencyOk;

use super::{impossible, refused, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, order_id: &str, amount: i64) -> ApiResult<Response> {
    let command = Command::present(v.account()?, order_id, amount, v.now_ms);
    match state.store.execute(command).await? {
        Outcome::Presented { number, balance, gift } => Ok(Json(PresentCurrencyOk {
            errcode: Code::Ok.code(),
            errmsg: Code::Ok.errmsg().into(),
            balance,
            order_id: number,
            present_balance: gift,
        })
        .into_response()),
        Outcome::Refused(refusal) => Err(refused(refusal)),
        other => Err(impossible(&other)),
    }
}
