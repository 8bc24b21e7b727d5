//! `POST /admin/client/virtual_payment` `{appid, openid, mode, sign_data, pay_sig, signature,
//! pay?}`: a purchase through `wx.requestVirtualPayment` (xpay), verified as the real client
//! verifies it (behaviour.md section 11): `sign_data` is a JSON string, `pay_sig` signs
//! `requestVirtualPayment&` + sign_data with the AppKey of its env, `signature` signs
//! sign_data with the player's session_key. `short_series_coin` credits `buyQuantity` coins
//! once paid (status 4); `short_series_goods` is paid and waits for delivery (status 2,
//! then 4 after `notify_provide_goods`). The player is the app's zone-"1" account.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{
    AccountKey, Command, Env, Goods, Op, Outcome, PurchaseChannel, PurchaseOrder, Refusal, StoreExt,
};
use openmidas_protocol::client::virtual_payment::{self, ClientError, Code, Mode, Product};
use openmidas_protocol::common;
use openmidas_protocol::diagnose;
use openmidas_protocol::limits::MAX_ID_BYTES;
use openmidas_protocol::sign::{self, hex_matches_case};
use serde::Serialize;
use serde_json::Value;

use super::paid_at_once;
use crate::admin::{json_object_of, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::observe::Ctx;
use crate::{pipeline, secrets, AppState};

/// The answer: the purchase's numbers and where it stands.
#[derive(Serialize)]
struct VirtualPaymentOk {
    errcode: i64,
    errmsg: &'static str,
    out_trade_no: String,
    /// The platform's id, which xpay's `query_order` also finds it by.
    wx_order_id: String,
    /// `created` (unpaid), `paid` (goods waiting for delivery) or `delivered` (coins).
    status: &'static str,
    balance: i64,
}

/// Longest sign_data, in bytes.
const MAX_SIGN_DATA_BYTES: usize = 4096;

fn client_error(e: ClientError) -> ApiError {
    ApiError::msg(e.code, e.errmsg())
}

fn missing(field: &str) -> ApiError {
    client_error(ClientError::param(field, "is required"))
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
        invalid: Code::ParamError,
    };
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or_else(|| missing("appid"))?;
    let openid = fields.text("openid", MAX_ID_BYTES)?.ok_or_else(|| missing("openid"))?;
    let mode = Mode::parse(fields.text("mode", 64)?.ok_or_else(|| missing("mode"))?).map_err(client_error)?;
    // The client takes signData as a string only.
    let sign_data = match map.get("sign_data") {
        Some(Value::String(text)) if text.len() <= MAX_SIGN_DATA_BYTES => text.as_str(),
        Some(Value::String(_)) => return Err(client_error(ClientError::param("sign_data", "is over 4096 bytes"))),
        None | Some(Value::Null) => return Err(missing("sign_data")),
        Some(_) => return Err(ApiError::new(Code::SignDataNotString)),
    };
    let pay_sig = fields.text("pay_sig", 128)?.ok_or_else(|| missing("pay_sig"))?;
    let signature = fields.text("signature", 128)?.ok_or_else(|| missing("signature"))?;
    let paid = paid_at_once(&state, &fields)?;
    let data = virtual_payment::parse_sign_data(sign_data, mode).map_err(client_error)?;
    let app = state.store.app(appid).await?.ok_or(common::Code::InvalidAppid)?;
    if data.offer_id != app.offer_id {
        return Err(client_error(ClientError::param("offerId", "is not the app's offer_id")));
    }

    let env = if data.sandbox { Env::Sandbox } else { Env::Official };
    let case = pipeline::hex_case(&app);
    let session = pipeline::session(&state, &app, openid, state.clock.now_ms()).await?;
    let digest = sign::v2::pay_sig_digest(app.key_for(env), virtual_payment::PAY_SIG_URI, sign_data.as_bytes());
    if !hex_matches_case(&digest, pay_sig, case) {
        ctx.diagnose(|| {
            let secrets = crate::v1::diagnose_secrets(&app, openid, session.as_ref());
            diagnose::v2::pay_sig(
                virtual_payment::PAY_SIG_URI,
                sign_data.as_bytes(),
                data.sandbox,
                &secrets,
                pay_sig,
                case,
            )
        });
        return Err(ApiError::new(Code::PaySigInvalid));
    }
    let session = session.ok_or(Code::SessionExpired)?;
    let digest = sign::v2::signature_digest(&session.session_key, sign_data.as_bytes());
    if !hex_matches_case(&digest, signature, case) {
        ctx.diagnose(|| {
            let secrets = crate::v1::diagnose_secrets(&app, openid, Some(&session));
            diagnose::v2::signature(sign_data.as_bytes(), &secrets, signature, case)
        });
        return Err(ApiError::new(Code::SignatureInvalid));
    }

    let fee_fen = data
        .order_fee(i64::from(app.coin_price_fen))
        .ok_or_else(|| client_error(ClientError::param("buyQuantity", "makes the fee overflow")))?;
    let goods = match &data.product {
        Product::Coins => Goods::Coins {
            quantity: data.buy_quantity,
        },
        Product::Goods { product_id, .. } => Goods::Item {
            product_id: product_id.to_string(),
            quantity: data.buy_quantity,
        },
    };
    let account = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: "1".to_string(),
        openid: openid.to_string(),
    };
    let wx_order_id = secrets::wx_order_id();
    let orig_fee_fen = data
        .original_unit_price(i64::from(app.coin_price_fen))
        .saturating_mul(data.buy_quantity);
    let order = PurchaseOrder {
        number: data.out_trade_no.to_string(),
        goods,
        fee_fen,
        orig_fee_fen,
        channel: PurchaseChannel::Xpay,
        wx_order_id: wx_order_id.clone(),
        attach: data.attach.to_string(),
        paid,
        push: app.push.is_some(),
    };
    let command = Command::new(account, state.clock.now_ms(), Op::Purchase(order));
    match state.store.execute(command).await? {
        Outcome::Purchased {
            number,
            status,
            balance,
        } => Ok(Json(VirtualPaymentOk {
            errcode: 0,
            errmsg: "ok",
            out_trade_no: number,
            wx_order_id,
            status: status.as_str(),
            balance,
        })
        .into_response()),
        Outcome::Refused(Refusal::RepeatedPurchase) => Err(ApiError::new(Code::DuplicateOutTradeNo)),
        Outcome::Refused(Refusal::Overflow) => Err(client_error(ClientError::param(
            "buyQuantity",
            "would overflow the account",
        ))),
        other => {
            tracing::error!(?other, "a virtual payment got an impossible outcome");
            Err(common::Code::SystemError.into())
        }
    }
}
