//! `getbalance`: the seven fields of the account. Reads only; never queued behind writes.

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::v1::answer::GetBalanceOk;

use super::Verified;
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified) -> ApiResult<Response> {
    let account = state.store.account(&v.account).await?;
    Ok(Json(GetBalanceOk {
        errcode: Code::Ok.code(),
        errmsg: Code::Ok.errmsg().into(),
        balance: account.balance(),
        gen_balance: account.gen_balance(),
        first_save: account.first_save(),
        save_amt: account.save_amt,
        save_sum: account.save_sum,
        cost_sum: account.cost_sum,
        present_sum: account.present_sum,
    })
    .into_response())
}
