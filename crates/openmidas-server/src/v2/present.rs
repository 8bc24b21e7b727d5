//! `present`: give `amount` gift coins; `bill_no` applies at most once.

use axum::response::Response;
use openmidas_ledger::{Command, StoreExt};

use super::{Render, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, bill_no: &str, amount: i64) -> ApiResult<Response> {
    let command = Command::present(v.account, bill_no, amount, v.now_ms);
    let outcome = state.store.execute(command).await?;
    Render {
        app: &v.app,
        rid: &v.rid,
    }
    .outcome(outcome)
}
