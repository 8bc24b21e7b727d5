//! `pay`: deduct `amt` coins, gift coins first; `bill_no` applies at most once.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use openmidas_ledger::LedgerCommand;
use openmidas_protocol::v1::Endpoint;

use super::{answer, verify};
use crate::error::ApiResult;
use crate::AppState;

pub async fn handle(
    State(state): State<AppState>,
    endpoint: Endpoint,
    RawQuery(query): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    let v = verify(&state, endpoint, query, body).await?;
    let command = LedgerCommand::Pay {
        bill_no: v.bill_no()?,
        amount: v.amount()?,
        now_ms: v.now_ms,
        key: v.key,
    };
    let outcome = state.store.execute(command).await?;
    Ok(answer(outcome, &v.app))
}
