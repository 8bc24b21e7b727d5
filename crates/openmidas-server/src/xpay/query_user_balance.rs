//! `query_user_balance`: the player's zone-"1" account in xpay's names (the same numbers as
//! 2.0's getbalance).

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::QueryUserBalanceOk;

use super::Verified;
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified) -> ApiResult<Response> {
    let account = state.store.account(&v.account()?).await?;
    Ok(Json(QueryUserBalanceOk {
        errcode: Code::Ok.code(),
        errmsg: Code::Ok.errmsg().into(),
        balance: account.balance(),
        present_balance: account.gift,
        sum_save: account.save_amt,
        sum_present: account.present_sum,
        sum_balance: account.save_sum,
        sum_cost: account.cost_sum,
        first_save_flag: !account.recharged,
    })
    .into_response())
}
