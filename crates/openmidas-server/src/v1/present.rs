//! `present`: give `present_counts` gift coins; `bill_no` applies at most once.

use axum::response::Response;
use openmidas_ledger::{Command, StoreExt};

use super::{answer, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, bill_no: &str, present_counts: i64) -> ApiResult<Response> {
    let command = Command::present(v.account, bill_no, present_counts, v.now_ms);
    let outcome = state.store.execute(command).await?;
    answer(outcome, &v.app, &v.rid)
}
