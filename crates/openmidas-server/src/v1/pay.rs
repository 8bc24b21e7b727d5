//! `pay`: deduct `amt` coins, gift coins first; `bill_no` applies at most once.

use axum::response::Response;
use openmidas_ledger::{Command, StoreExt};

use super::{answer, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, bill_no: &str, amt: i64) -> ApiResult<Response> {
    let outcome = state
        .store
        .execute(Command::pay(v.account, bill_no, amt, v.now_ms))
        .await?;
    answer(outcome, &v.app, &v.rid)
}
