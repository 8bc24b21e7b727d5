//! `getbalance`: the seven fields of the account. Reads only; never queued behind writes.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_protocol::v1::Endpoint;
use openmidas_protocol::wire::GetBalanceOk;
use openmidas_protocol::ErrCode;

use super::verify;
use crate::error::ApiResult;
use crate::AppState;

pub async fn handle(
    State(state): State<AppState>,
    endpoint: Endpoint,
    RawQuery(query): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    let verified = verify(&state, endpoint, query, body).await?;
    let account = state.store.account(&verified.key).await?;
    Ok(Json(GetBalanceOk {
        errcode: ErrCode::Ok.code(),
        errmsg: ErrCode::Ok.errmsg().into(),
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
