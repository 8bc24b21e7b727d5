//! `cancelpay`: a refund of `amount` coins of the pay `pay_bill_no`, an order of its own
//! numbered `bill_no` (cash back first, then gift; partial and repeated refunds allowed up to
//! the pay, within the cancel window). behaviour.md sections 8 and 9.2.

use axum::response::Response;
use openmidas_ledger::{Command, Op, StoreExt};

use super::{Render, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(
    state: &AppState,
    v: Verified,
    bill_no: &str,
    pay_bill_no: &str,
    amount: i64,
) -> ApiResult<Response> {
    let op = Op::Refund {
        number: bill_no.to_string(),
        pay_number: pay_bill_no.to_string(),
        amount,
        window_ms: v.app.cancel_window_ms(),
    };
    let outcome = state.store.execute(Command::new(v.account, v.now_ms, op)).await?;
    Render {
        app: &v.app,
        rid: &v.rid,
    }
    .outcome(outcome)
}
