//! `POST /admin/client/purchases/pay` and `.../close` `{appid, env, out_trade_no}`: the
//! player pays a purchase made with `"pay": "manual"`, or walks away from it (closed). Only
//! a purchase waiting to be paid can be either.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::{AccountKey, Book, Command, Op, OrderKey, OrderStatus, Outcome, Refusal, StoreExt};
use openmidas_protocol::client::MAX_OUT_TRADE_NO_CHARS;
use openmidas_protocol::common::Code;
use openmidas_protocol::limits::MAX_ID_BYTES;
use serde_json::{json, Value};

use crate::admin::{json_object_of, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::observe::Ctx;
use crate::AppState;

pub(crate) async fn pay(state: State<AppState>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    settle(state, ctx, headers, body, true).await
}

pub(crate) async fn close(state: State<AppState>, ctx: Ctx, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    settle(state, ctx, headers, body, false).await
}

async fn settle(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    body: Body,
    pay: bool,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let map = json_object_of(ctx.body(body).await)?;
    let fields = Fields {
        map: &map,
        invalid: Code::InvalidArgs,
    };
    let required = |field: &str| fields.problem(field, "is required");
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or(Code::AppidMissing)?;
    let env = fields.env("env")?.ok_or_else(|| required("env"))?;
    let number = fields
        .text("out_trade_no", MAX_OUT_TRADE_NO_CHARS)?
        .ok_or_else(|| required("out_trade_no"))?;
    let app = state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    let key = OrderKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        book: Book::Purchase,
        number: number.to_string(),
    };
    let not_found = || fields.problem("out_trade_no", "is not a purchase of this app in this env");
    // A purchase never changes player: read it to know whose account the command is on.
    let order = state.store.order(&key).await?.ok_or_else(not_found)?;
    let account = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: order.zone_id,
        openid: order.openid,
    };
    let number = number.to_string();
    let op = if pay {
        Op::PayPurchase {
            number,
            push: app.push.is_some(),
        }
    } else {
        Op::ClosePurchase { number }
    };
    match state
        .store
        .execute(Command::new(account, state.clock.now_ms(), op))
        .await?
    {
        Outcome::PurchasePaid {
            number,
            balance,
            status,
        } => Ok(Json(json!({
            "errcode": 0, "errmsg": "ok", "out_trade_no": number, "status": status.as_str(), "balance": balance,
        }))),
        Outcome::PurchaseClosed { number } => Ok(Json(json!({
            "errcode": 0, "errmsg": "ok", "out_trade_no": number, "status": OrderStatus::Closed.as_str(),
        }))),
        Outcome::Refused(Refusal::PurchaseNotFound) => Err(not_found()),
        Outcome::Refused(Refusal::PurchaseNotPending { status }) => {
            Err(fields.problem("out_trade_no", &format!("is {status}, not waiting to be paid")))
        }
        Outcome::Refused(Refusal::Overflow) => Err(fields.problem("out_trade_no", "would overflow the account")),
        other => {
            tracing::error!(?other, "settling a purchase got an impossible outcome");
            Err(ApiError::new(Code::SystemError))
        }
    }
}
