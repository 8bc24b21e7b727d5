//! The simulated player (behaviour.md section 11): what a phone does through
//! `wx.requestMidasPayment` and `wx.requestMidasPaymentGameItem`, as admin calls. Each
//! verifies what the real client verifies and answers its fail codes.
//!
//! A purchase is `paid` at once unless the body says `"pay": "manual"`; then it waits for
//! `POST /admin/client/purchases/pay` (or `.../close`: the player who walks away).

pub mod game_item;
pub mod midas_payment;
pub mod purchases;

use openmidas_protocol::ErrorCode;
use serde_json::Value;

use crate::admin::Fields;
use crate::error::ApiResult;

/// `pay`: `"auto"` (the default: paid at once) or `"manual"`.
pub(crate) fn paid_at_once<C: ErrorCode>(fields: &Fields<'_, C>) -> ApiResult<bool> {
    match fields.map.get("pay") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::String(s)) if s == "auto" => Ok(true),
        Some(Value::String(s)) if s == "manual" => Ok(false),
        Some(_) => Err(fields.problem("pay", "must be \"auto\" or \"manual\"")),
    }
}
