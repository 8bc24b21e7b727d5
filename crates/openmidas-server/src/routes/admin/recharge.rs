//! `POST /admin/recharge` `{appid, openid, env, buy_quantity, zone_id?, out_trade_no?}`: the
//! effect of a successful `wx.requestMidasPayment`. Errors follow its fail codes: -15001
//! missing, -15002 invalid, -15003 repeated out_trade_no.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::command::{Outcome, Refusal};
use openmidas_ledger::{AccountKey, Env, LedgerCommand};
use openmidas_protocol::v1::{MAX_AMOUNT, MAX_ID_BYTES};
use openmidas_protocol::wire::AdminRechargeOk;
use openmidas_protocol::ErrCode;

use super::{json_object, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::{secrets, AppState};

/// Longest out_trade_no, in characters.
const MAX_OUT_TRADE_NO_CHARS: usize = 32;

fn missing(field: &str) -> ApiError {
    ApiError::msg(
        ErrCode::RechargeMissingParameter,
        format!("[{field}] {field} is required"),
    )
}

/// `out_trade_no`: 1..=32 characters of `0-9 A-Z a-z _ - | *`, not starting with `_`
/// (that prefix is the platform's, for orders it numbers itself).
fn valid_out_trade_no(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_OUT_TRADE_NO_CHARS
        && !text.starts_with('_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'))
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<AdminRechargeOk>> {
    require_admin(&state, &headers)?;
    let map = json_object(body).await?;
    let fields = Fields {
        map: &map,
        invalid: ErrCode::RechargeInvalidParameter,
    };
    let invalid = |msg: &str| ApiError::msg(ErrCode::RechargeInvalidParameter, msg.to_string());

    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or_else(|| missing("appid"))?;
    let openid = fields.text("openid", MAX_ID_BYTES)?.ok_or_else(|| missing("openid"))?;
    let env_text = fields.text("env", 16)?.ok_or_else(|| missing("env"))?;
    let env = Env::parse(env_text).ok_or_else(|| invalid("[env] env must be \"official\" or \"sandbox\""))?;
    let amount = fields
        .integer("buy_quantity", 1, MAX_AMOUNT)?
        .ok_or_else(|| missing("buy_quantity"))?;
    let zone_id = fields.text("zone_id", MAX_ID_BYTES)?.unwrap_or("1");
    let out_trade_no =
        match fields.text("out_trade_no", MAX_OUT_TRADE_NO_CHARS)? {
            Some(text) if valid_out_trade_no(text) => text.to_string(),
            Some(_) => return Err(invalid(
                "[out_trade_no] out_trade_no must be 1 to 32 characters of 0-9 A-Z a-z _ - | * and not start with _",
            )),
            None => secrets::out_trade_no(),
        };
    let app = state.store.app(appid).await?.ok_or(ErrCode::InvalidAppid)?;

    let key = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: zone_id.to_string(),
        openid: openid.to_string(),
    };
    let command = LedgerCommand::Recharge {
        key,
        amount,
        out_trade_no,
        now_ms: state.clock.now_ms(),
    };
    match state.store.execute(command).await? {
        Outcome::Recharged { out_trade_no, balance } => Ok(Json(AdminRechargeOk {
            errcode: 0,
            errmsg: "ok".into(),
            out_trade_no,
            balance,
        })),
        Outcome::Refused(Refusal::DuplicateTradeNo) => Err(ApiError::msg(
            ErrCode::RechargeDuplicateOrder,
            "duplicate order: out_trade_no was used before",
        )),
        Outcome::Refused(Refusal::Overflow) => Err(invalid("[buy_quantity] buy_quantity would overflow the account")),
        other => {
            tracing::error!(?other, "recharge got an impossible outcome");
            Err(ErrCode::SystemError.into())
        }
    }
}
