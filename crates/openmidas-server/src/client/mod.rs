//! The simulated player (behaviour.md section 11): what a phone does through
//! `wx.requestMidasPayment`, `wx.requestMidasPaymentGameItem` and `wx.requestVirtualPayment`
//! (xpay), as admin calls. Each
//! verifies what the real client verifies and answers its fail codes.
//!
//! A purchase is `paid` at once unless the body says `"pay": "manual"`; then it waits for
//! `POST /admin/client/purchases/pay` (or `.../close`: the player who walks away).

pub mod game_item;
pub mod midas_payment;
pub mod purchases;
pub mod virtual_payment;

use openmidas_protocol::ErrorCode;
use serde_json::Value;

use crate::admin::Fields;
use crate::error::ApiResult;
use crate::AppState;

/// `pay`: `"auto"` (the default: paid at once) or `"manual"` (emulator mode only: a ledger
/// records only purchases that happened, behaviour.md section 13).
pub(crate) fn paid_at_once<C: ErrorCode>(state: &AppState, fields: &Fields<'_, C>) -> ApiResult<bool> {
    match fields.map.get("pay") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::String(s)) if s == "auto" => Ok(true),
        Some(Value::String(s)) if s == "manual" && state.emulator.is_some() => Ok(false),
        Some(Value::String(s)) if s == "manual" => {
            Err(fields.problem("pay", "\"manual\" is for the emulator; this server runs in ledger mode"))
        }
        Some(_) => Err(fields.problem("pay", "must be \"auto\" or \"manual\"")),
    }
}
