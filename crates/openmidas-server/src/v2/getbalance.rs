//! `getbalance`: the account in 2.0's names. `coin_type` 1 (the top-up center) is the
//! zone-"1" account, which the field rules already required `zone_id` to be.

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::v2::answer::GetBalanceOk;

use super::Verified;
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified) -> ApiResult<Response> {
    let account = state.store.account(&v.account).await?;
    Ok(Json(GetBalanceOk {
        errcode: Code::Ok.code(),
        errmsg: Code::Ok.errmsg().into(),
        balance: account.balance(),
        present_balance: account.gift,
        sum_save: account.save_amt,
        sum_present: account.present_sum,
        sum_balance: account.save_sum,
        sum_cost: account.cost_sum,
        first_save: !account.recharged,
    })
    .into_response())
}
