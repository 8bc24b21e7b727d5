//! `POST /admin/client/game_item` `{appid, openid, sign_data, pay_sig, signature, pay?}`: an
//! item purchase through `wx.requestMidasPaymentGameItem` (2.0, `biz_id` 2), verified as the
//! real client verifies it: `sign_data` is a JSON string of the client's fields, `pay_sig`
//! signs `requestMidasPaymentGameItem&` + sign_data with the AppKey of its env, `signature`
//! signs sign_data with the player's session_key. The purchase is recorded paid and not
//! delivered (delivery comes with the game server's acknowledgement of the push).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{
    AccountKey, Command, Env, Goods, Op, Outcome, PurchaseChannel, PurchaseOrder, Refusal, StoreExt,
};
use openmidas_protocol::client::game_item::{self, Code};
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

/// The answer: the purchase's number and where it stands.
#[derive(Serialize)]
struct GameItemOk {
    errcode: i64,
    errmsg: &'static str,
    out_trade_no: String,
    /// `created` (unpaid) or `paid`.
    status: &'static str,
}

/// Longest sign_data, in bytes.
const MAX_SIGN_DATA_BYTES: usize = 4096;

fn missing(field: &str) -> ApiError {
    ApiError::msg(
        Code::ParamError,
        format!("{}: {field} is required", Code::ParamError.errmsg()),
    )
}

/// The client's own words, whichever signature failed (the log says which).
fn signature_invalid(detail: &str) -> ApiError {
    tracing::debug!(detail, "simulated item purchase refused");
    ApiError::new(Code::SignatureInvalid)
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
    // The client takes signData as a string; anything else is its DATA TYPE ERROR.
    let sign_data = match map.get("sign_data") {
        Some(Value::String(text)) if text.len() <= MAX_SIGN_DATA_BYTES => text.as_str(),
        Some(Value::String(_)) => return Err(fields.problem("sign_data", "is over 4096 bytes")),
        None | Some(Value::Null) => return Err(missing("sign_data")),
        Some(_) => return Err(ApiError::new(Code::DataTypeError)),
    };
    let pay_sig = fields.text("pay_sig", 128)?.ok_or_else(|| missing("pay_sig"))?;
    let signature = fields.text("signature", 128)?.ok_or_else(|| missing("signature"))?;
    let paid = paid_at_once(&state, &fields)?;
    let data = game_item::parse_sign_data(sign_data).map_err(|e| ApiError::msg(e.code, e.errmsg()))?;
    let app = state.store.app(appid).await?.ok_or(common::Code::InvalidAppid)?;
    if data.offer_id != app.offer_id {
        return Err(ApiError::msg(
            Code::ParamError,
            format!("{}: offerId is not the app's offer_id", Code::ParamError.errmsg()),
        ));
    }

    let env = if data.sandbox { Env::Sandbox } else { Env::Official };
    let case = pipeline::hex_case(&app);
    let digest = sign::v2::pay_sig_digest(app.key_for(env), game_item::PAY_SIG_URI, sign_data.as_bytes());
    let session = pipeline::session(&state, &app, openid, state.clock.now_ms()).await?;
    if !hex_matches_case(&digest, pay_sig, case) {
        // The request log's diagnosis, as for 2.0 (the client signs the same way, with the
        // API's name for a path).
        ctx.diagnose(|| {
            let secrets = crate::v1::diagnose_secrets(&app, openid, session.as_ref());
            diagnose::v2::pay_sig(
                game_item::PAY_SIG_URI,
                sign_data.as_bytes(),
                data.sandbox,
                &secrets,
                pay_sig,
                case,
            )
        });
        return Err(signature_invalid("paySig does not match"));
    }
    let session = session.ok_or_else(|| signature_invalid("the player has no session: log in first"))?;
    let digest = sign::v2::signature_digest(&session.session_key, sign_data.as_bytes());
    if !hex_matches_case(&digest, signature, case) {
        ctx.diagnose(|| {
            let secrets = crate::v1::diagnose_secrets(&app, openid, Some(&session));
            diagnose::v2::signature(sign_data.as_bytes(), &secrets, signature, case)
        });
        return Err(signature_invalid("signature does not match"));
    }

    let account = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: data.zone_id.to_string(),
        openid: openid.to_string(),
    };
    let order = PurchaseOrder {
        number: data.out_trade_no.to_string(),
        goods: Goods::Item {
            product_id: data.product_id.to_string(),
            quantity: data.buy_quantity,
        },
        fee_fen: data.goods_price.saturating_mul(data.buy_quantity),
        orig_fee_fen: data.goods_price.saturating_mul(data.buy_quantity),
        channel: PurchaseChannel::MiniGame,
        wx_order_id: secrets::wx_order_id(),
        attach: data.attach.to_string(),
        paid,
        push: app.push.is_some(),
    };
    let command = Command::new(account, state.clock.now_ms(), Op::Purchase(order));
    match state.store.execute(command).await? {
        Outcome::Purchased { number, status, .. } => Ok(Json(GameItemOk {
            errcode: 0,
            errmsg: "ok",
            out_trade_no: number,
            status: status.as_str(),
        })
        .into_response()),
        Outcome::Refused(Refusal::RepeatedPurchase) => Err(ApiError::new(Code::DuplicateOrder)),
        other => {
            tracing::error!(?other, "an item purchase got an impossible outcome");
            Err(common::Code::SystemError.into())
        }
    }
}
