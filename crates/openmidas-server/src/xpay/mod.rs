//! xpay: `POST /xpay/{query_user_balance,currency_pay,cancel_currency_pay,present_currency,
//! query_order,refund_order,notify_provide_goods,download_bill}`, and `GET /xpay/bills/<token>`.
//!
//! [`handle`] runs the checks of behaviour.md section 10.1 in their order over the shared
//! steps of [`crate::pipeline`], then hands the typed call to its operation's file. The
//! currency operations work on the app's zone-"1" account of v1 and 2.0 (section 8); the
//! order operations on the purchase book (section 11). Every error ends with ` rid: ` (the
//! `observe` middleware appends it).

mod bills;
mod cancel_currency_pay;
mod currency_pay;
mod download_bill;
mod notify_provide_goods;
mod orders;
mod present_currency;
mod query_order;
mod query_user_balance;
mod refund_order;

pub(crate) use bills::get as bill;

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use openmidas_ledger::{AccountKey, App, Env, Refusal};
use openmidas_protocol::common;
use openmidas_protocol::diagnose;
use openmidas_protocol::json::RawObject;
use openmidas_protocol::sign::{self, hex_matches_case};
use openmidas_protocol::xpay::{self, Call, Code, Op, Query, SignatureParam};

use crate::error::{ApiError, ApiResult};
use crate::observe::RequestContext;
use crate::pipeline::{self, query_pairs, query_param};
use crate::v1::diagnose_secrets;
use crate::AppState;

/// The zone of an xpay player's account: the one v1 and 2.0 call "1" (behaviour.md section
/// 8).
const XPAY_ZONE: &str = "1";

/// A request that passed every check.
pub(crate) struct Verified {
    pub app: Arc<App>,
    pub env: Env,
    /// The player's account (operations that name a player).
    pub account: Option<AccountKey>,
    pub now_ms: i64,
}

impl Verified {
    /// The player's account; only operations that take an openid use it.
    fn account(&self) -> ApiResult<AccountKey> {
        self.account
            .clone()
            .ok_or_else(|| ApiError::new(common::Code::SystemError))
    }
}

/// Serves one xpay request.
pub(crate) async fn handle(
    state: AppState,
    ctx: Arc<RequestContext>,
    op: Op,
    headers: HeaderMap,
    query: Option<String>,
    body: Body,
) -> Response {
    match run(&state, &ctx, op, &headers, query.as_deref(), body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// A field problem, or a not-found, in xpay's parameter code.
pub(crate) fn invalid(errmsg: impl Into<String>) -> ApiError {
    ApiError::msg(Code::InvalidParameter, errmsg.into())
}

/// `数据不存在`: no such order (of this player).
pub(crate) fn not_found() -> ApiError {
    invalid(xpay::NOT_FOUND_ERRMSG)
}

/// The checks of behaviour.md section 10.1, in order (the first failure answers), then the
/// operation.
async fn run(
    state: &AppState,
    ctx: &RequestContext,
    op: Op,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> ApiResult<Response> {
    // 1. The access token.
    let now_ms = state.clock.now_ms();
    let pairs = query_pairs(query);
    let token = pipeline::access_token(state, query_param(&pairs, "access_token"), now_ms).await?;

    // 2. The signature parameters of the query.
    let signatures = Query::check(query_param(&pairs, "pay_sig"), query_param(&pairs, "signature"), op)
        .map_err(|e| ApiError::msg(e.code(), e.errmsg()))?;

    // 3. The body: a JSON object within the size limit.
    let bytes = ctx
        .body(body)
        .await
        .map_err(|e| pipeline::body_error(e, Code::InvalidParameter, Code::BodyTooLarge))?;
    let object = RawObject::parse(&bytes)
        .map_err(|e| pipeline::body_error(e.into(), Code::InvalidParameter, Code::BodyTooLarge))?;

    // 4. The fields.
    let request = xpay::parse(op, &object).map_err(|e| ApiError::msg(e.code(), e.errmsg()))?;

    // The token's app (xpay bodies name no offer).
    let app = state
        .store
        .app(&token.appid)
        .await?
        .ok_or_else(|| invalid("应用不存在 (the access_token's app no longer exists)"))?;

    // 5. pay_sig over path & body with the AppKey of the body's env; then the player's
    //    signature where the operation takes one.
    let env = if request.sandbox { Env::Sandbox } else { Env::Official };
    let openid = request.openid.as_deref();
    let case = pipeline::hex_case(&app);
    let digest = sign::v2::pay_sig_digest(app.key_for(env), op.uri(), &bytes);
    if !hex_matches_case(&digest, signatures.pay_sig, case) {
        let session = match openid {
            Some(openid) => pipeline::session(state, &app, openid, now_ms).await?,
            None => None,
        };
        ctx.diagnose(|| {
            let secrets = diagnose_secrets(&app, openid.unwrap_or_default(), session.as_ref());
            diagnose::v2::pay_sig_with_query(
                op.uri(),
                query.unwrap_or_default(),
                &bytes,
                request.sandbox,
                &secrets,
                signatures.pay_sig,
                case,
            )
        });
        return Err(ApiError::msg(
            Code::SignatureInvalid,
            xpay::signature_errmsg(SignatureParam::PaySig, &bytes),
        ));
    }
    if let (Some(signature), Some(openid)) = (signatures.signature, openid) {
        let session = pipeline::session(state, &app, openid, now_ms)
            .await?
            .ok_or(Code::SessionNotFound)?;
        let digest = sign::v2::signature_digest(&session.session_key, &bytes);
        if !hex_matches_case(&digest, signature, case) {
            ctx.diagnose(|| {
                let secrets = diagnose_secrets(&app, openid, Some(&session));
                diagnose::v2::signature(&bytes, &secrets, signature, case)
            });
            return Err(ApiError::msg(
                Code::SignatureInvalid,
                xpay::signature_errmsg(SignatureParam::Signature, &bytes),
            ));
        }
    }

    let verified = Verified {
        account: openid.map(|openid| AccountKey {
            env,
            appid: app.appid.clone(),
            offer_id: app.offer_id.clone(),
            zone_id: XPAY_ZONE.to_string(),
            openid: openid.to_string(),
        }),
        app,
        env,
        now_ms,
    };
    match request.call {
        Call::QueryUserBalance => query_user_balance::run(state, verified).await,
        Call::CurrencyPay { amount, order_id, .. } => currency_pay::run(state, verified, &order_id, amount).await,
        Call::CancelCurrencyPay {
            pay_order_id,
            order_id,
            amount,
        } => cancel_currency_pay::run(state, verified, &order_id, &pay_order_id, amount).await,
        Call::PresentCurrency { order_id, amount } => present_currency::run(state, verified, &order_id, amount).await,
        Call::QueryOrder { order } => query_order::run(state, verified, order).await,
        Call::RefundOrder {
            order,
            refund_order_id,
            left_fee,
            refund_fee,
            biz_meta,
            ..
        } => {
            let refund = refund_order::Asked {
                refund_order_id: &refund_order_id,
                left_fee,
                refund_fee,
                biz_meta: biz_meta.as_deref().unwrap_or_default(),
            };
            refund_order::run(state, verified, order, refund).await
        }
        Call::NotifyProvideGoods { order } => notify_provide_goods::run(state, verified, order).await,
        Call::DownloadBill { range } => download_bill::run(state, verified, headers, range).await,
    }
}

/// A refusal of the ledger in xpay's codes, for the operations that can meet it.
pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Repeated { .. } | Refusal::RefundRepeated | Refusal::RepeatedPurchase => ApiError::new(Code::Repeated),
        Refusal::InsufficientBalance | Refusal::RefundTooLarge => ApiError::new(Code::InsufficientBalance),
        Refusal::Overflow => invalid("amount超出账户上限 (the account's counters would overflow)"),
        Refusal::PayNotFound | Refusal::PurchaseNotFound => not_found(),
        Refusal::NothingLeft => ApiError::new(Code::AlreadyRefunded),
        Refusal::WindowClosed => invalid("订单已超过可退款时间 (the pay is older than the cancel window)"),
        Refusal::RefundInProgress => ApiError::new(Code::RefundInProgress),
        Refusal::LeftFeeMismatch { left_fee } => ApiError::msg(
            Code::LeftFeeMismatch,
            format!("{} (left_fee is {left_fee})", Code::LeftFeeMismatch.errmsg()),
        ),
        Refusal::PurchaseNotPaid { .. } | Refusal::PurchaseNotPending { .. } => invalid(xpay::NOT_PAID_ERRMSG),
    }
}

/// An outcome no xpay command has: a bug, answered -1 rather than a panic.
pub(crate) fn impossible(what: &dyn std::fmt::Debug) -> ApiError {
    tracing::error!(outcome = ?what, "an xpay route got an outcome of another command");
    ApiError::new(common::Code::SystemError)
}

/// Milliseconds as xpay's UNIX seconds.
pub(crate) fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}
