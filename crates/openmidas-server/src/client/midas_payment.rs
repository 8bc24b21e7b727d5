//! `POST /admin/client/midas_payment` (and its alias `/admin/recharge`)
//! `{appid, openid, env, offer_id?, zone_id?, buy_quantity, out_trade_no?, pay?}`: a coin
//! purchase through `wx.requestMidasPayment` (v1 and 2.0). Records the purchase (2.0
//! `queryorderinfo`, `biz_id` 1) and credits the coins once paid. Errors follow the client's
//! fail codes: -15001 missing, -15002 invalid, -15003 repeated out_trade_no.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{AccountKey, Command, Goods, Op, Outcome, PurchaseChannel, PurchaseOrder, Refusal, StoreExt};
use openmidas_protocol::client::midas_payment::Code;
use openmidas_protocol::client::{is_valid_out_trade_no, MAX_OUT_TRADE_NO_CHARS};
use openmidas_protocol::common;
use openmidas_protocol::limits::{MAX_AMOUNT, MAX_ID_BYTES};
use serde::Serialize;

use super::paid_at_once;
use crate::admin::{json_object_of, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::observe::Ctx;
use crate::{secrets, AppState};

/// The answer: the purchase's number and the balance after it.
#[derive(Serialize)]
struct MidasPaymentOk {
    errcode: i64,
    errmsg: &'static str,
    out_trade_no: String,
    balance: i64,
}

fn missing(field: &str) -> ApiError {
    ApiError::msg(Code::MissingParameter, format!("[{field}] {field} is required"))
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_admin(&state, &headers)?;
    let map = json_object_of(ctx.body(body).await)?;
    let fields = Fields {
        map: &map,
        invalid: Code::InvalidParameter,
    };
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or_else(|| missing("appid"))?;
    let openid = fields.text("openid", MAX_ID_BYTES)?.ok_or_else(|| missing("openid"))?;
    let env = fields.env("env")?.ok_or_else(|| missing("env"))?;
    let quantity = fields
        .integer("buy_quantity", 1, MAX_AMOUNT)?
        .ok_or_else(|| missing("buy_quantity"))?;
    let zone_id = fields.text("zone_id", MAX_ID_BYTES)?.unwrap_or("1");
    let out_trade_no = match fields.text("out_trade_no", MAX_OUT_TRADE_NO_CHARS)? {
        Some(text) if is_valid_out_trade_no(text) => text.to_string(),
        Some(_) => {
            return Err(fields.problem(
                "out_trade_no",
                "must be 1 to 32 characters of 0-9 A-Z a-z _ - | * and not start with _",
            ))
        }
        None => secrets::out_trade_no(),
    };
    let offer_id = fields.text("offer_id", MAX_ID_BYTES)?;
    let paid = paid_at_once(&state, &fields)?;
    let app = state.store.app(appid).await?.ok_or(common::Code::InvalidAppid)?;
    if offer_id.is_some_and(|o| o != app.offer_id) {
        return Err(fields.problem("offer_id", "is not the app's offer_id"));
    }

    let account = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: zone_id.to_string(),
        openid: openid.to_string(),
    };
    let order = PurchaseOrder {
        number: out_trade_no,
        goods: Goods::Coins { quantity },
        fee_fen: quantity.saturating_mul(i64::from(app.coin_price_fen)),
        orig_fee_fen: quantity.saturating_mul(i64::from(app.coin_price_fen)),
        channel: PurchaseChannel::MiniGame,
        wx_order_id: secrets::wx_order_id(),
        attach: String::new(),
        paid,
        push: app.push.is_some(),
    };
    let command = Command::new(account, state.clock.now_ms(), Op::Purchase(order));
    match state.store.execute(command).await? {
        Outcome::Purchased { number, balance, .. } => Ok(Json(MidasPaymentOk {
            errcode: 0,
            errmsg: "ok",
            out_trade_no: number,
            balance,
        })
        .into_response()),
        Outcome::Refused(Refusal::RepeatedPurchase) => Err(ApiError::msg(
            Code::DuplicateOrder,
            "duplicate order: out_trade_no was used before",
        )),
        Outcome::Refused(Refusal::Overflow) => Err(fields.problem("buy_quantity", "would overflow the account")),
        other => {
            tracing::error!(?other, "a coin purchase got an impossible outcome");
            Err(common::Code::SystemError.into())
        }
    }
}
