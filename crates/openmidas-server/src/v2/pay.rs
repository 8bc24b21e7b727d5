//! `pay`: deduct `amount` coins, gift coins first; `bill_no` applies at most once, in the
//! same book as v1's (a v1 pay's number repeats here).

use axum::response::Response;
use openmidas_ledger::{Command, StoreExt};

use super::{Render, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, bill_no: &str, amount: i64) -> ApiResult<Response> {
    let command = Command::pay(v.account, bill_no, amount, v.now_ms);
    let outcome = state.store.execute(command).await?;
    Render {
        app: &v.app,
        rid: &v.rid,
    }
    .outcome(outcome)
}
