//! `cancel_currency_pay`: give back `amount` coins of the currency_pay `pay_order_id`, as an
//! order of its own numbered `order_id` (cash back first, partial and repeated refunds up to
//! the pay, within the app's cancel window: behaviour.md section 8). A pay refunded in full
//! answers 268490005; more than is left, 268490006.

use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{Command, Op, OrderKey, Outcome, Refusal, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::xpay::answer::CancelCurrencyPayOk;

use super::{impossible, refused, Verified};
use crate::error::ApiResult;
use crate::AppState;

pub(super) async fn run(
    state: &AppState,
    v: Verified,
    order_id: &str,
    pay_order_id: &str,
    amount: i64,
) -> ApiResult<Response> {
    let account = v.account()?;
    let pay_key = OrderKey::currency(&account, pay_order_id);
    let op = Op::Refund {
        number: order_id.to_string(),
        pay_number: pay_order_id.to_string(),
        amount,
        window_ms: v.app.cancel_window_ms(),
    };
    match state.store.execute(Command::new(account, v.now_ms, op)).await? {
        Outcome::Refunded { number, .. } => Ok(Json(CancelCurrencyPayOk {
            errcode: Code::Ok.code(),
            errmsg: Code::Ok.errmsg().into(),
            order_id: number,
        })
        .into_response()),
        Outcome::Refused(Refusal::RefundTooLarge) => {
            // Nothing left of the pay is its own code.
            let pay = state.store.order(&pay_key).await?;
            let nothing_left = pay.is_some_and(|p| p.left_to_refund() == 0);
            Err(refused(if nothing_left {
                Refusal::NothingLeft
            } else {
                Refusal::RefundTooLarge
            }))
        }
        Outcome::Refused(refusal) => Err(refused(refusal)),
        other => Err(impossible(&other)),
    }
}
