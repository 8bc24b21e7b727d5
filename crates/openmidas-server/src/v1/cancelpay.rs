//! `cancelpay`: give back whatever is left of this account's pay `bill_no` (all of it,
//! unless 2.0 refunds took some back already) and close it, within the cancel window.

use axum::response::Response;
use openmidas_ledger::{Command, Op, StoreExt};

use super::{answer, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(state: &AppState, v: Verified, bill_no: &str) -> ApiResult<Response> {
    let op = Op::CancelPay {
        pay_number: bill_no.to_string(),
        window_ms: v.app.cancel_window_ms(),
    };
    let outcome = state.store.execute(Command::new(v.account, v.now_ms, op)).await?;
    answer(outcome, &v.app, &v.rid)
}
