//! Virtual payment 2.0: `POST /wxa/game/{getbalance,pay,cancelpay,present,queryorderinfo}`.
//!
//! [`handle`] runs the checks of behaviour.md section 9.1 in their order over the shared
//! steps of [`crate::pipeline`], then hands the typed call to its operation's file. Every
//! error ends with ` rid: <request id>`; [`Render`] writes every answer in 2.0's words.

mod cancelpay;
mod getbalance;
mod pay;
mod present;
mod queryorderinfo;

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::{AccountKey, App, BillNoCharset, DuplicateBillPolicy, Env, Original, Outcome, Refusal};
use openmidas_protocol::common;
use openmidas_protocol::diagnose;
use openmidas_protocol::json::RawObject;
use openmidas_protocol::sign::{self, hex_matches_case};
use openmidas_protocol::v2::answer::{CancelPayOk, PayOk, PresentOk};
use openmidas_protocol::v2::{self, BillNoRule, Call, Code, Op, Query};
use openmidas_protocol::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::observe::RequestContext;
use crate::pipeline::{self, query_pairs, query_param};
use crate::v1::diagnose_secrets;
use crate::AppState;

/// A request that passed every check.
pub(crate) struct Verified {
    pub account: AccountKey,
    pub app: Arc<App>,
    pub now_ms: i64,
    /// This request's id, which ends every errmsg.
    pub rid: String,
}

/// Serves one 2.0 request.
pub(crate) async fn handle(
    state: AppState,
    ctx: Arc<RequestContext>,
    op: Op,
    query: Option<String>,
    body: Body,
) -> Response {
    let now_ms = state.clock.now_ms();
    match run(&state, &ctx, op, query.as_deref(), body, now_ms).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn invalid(field: &str) -> ApiError {
    ApiError::msg(Code::InvalidParameter, format!("[{field}] {field} is invalid"))
}

/// The checks of behaviour.md section 9.1, in order (the first failure answers), then the
/// operation.
async fn run(
    state: &AppState,
    ctx: &RequestContext,
    op: Op,
    query: Option<&str>,
    body: Body,
    now_ms: i64,
) -> ApiResult<Response> {
    // 1. The access token.
    let pairs = query_pairs(query);
    let token = pipeline::access_token(state, query_param(&pairs, "access_token"), now_ms).await?;

    // 2. The signature parameters of the query.
    let signatures = Query::check(
        query_param(&pairs, "signature"),
        query_param(&pairs, "sig_method"),
        query_param(&pairs, "pay_sig"),
    )
    .map_err(|e| ApiError::msg(Code::InvalidParameter, e.errmsg()))?;

    // 3. The body: a JSON object within the size limit.
    let bytes = ctx
        .body(body)
        .await
        .map_err(|e| pipeline::body_error(e, Code::InvalidParameter, Code::BodyTooLarge))?;
    let object = RawObject::parse(&bytes)
        .map_err(|e| pipeline::body_error(e.into(), Code::InvalidParameter, Code::BodyTooLarge))?;

    // 4. The fields (the app's options say which bill_no charset applies).
    let app = state.store.app(&token.appid).await?;
    let rule = match app.as_ref().map(|a| a.bill_no_charset) {
        Some(BillNoCharset::V1) => BillNoRule::V1,
        _ => BillNoRule::V2,
    };
    let request = v2::parse(op, &object, rule).map_err(|e| ApiError::msg(Code::InvalidParameter, e.errmsg()))?;

    // 5. The offer: the token's app's.
    let app = app
        .filter(|app| app.offer_id == request.offer_id)
        .ok_or_else(|| invalid("offer_id"))?;

    // 6. pay_sig: path & body bytes, with the AppKey of the body's env.
    let env = if request.sandbox { Env::Sandbox } else { Env::Official };
    let digest = sign::v2::pay_sig_digest(app.key_for(env), op.uri(), &bytes);
    if !hex_matches_case(&digest, signatures.pay_sig, pipeline::hex_case(&app)) {
        let session = pipeline::session(state, &app, &request.openid, now_ms).await?;
        ctx.diagnose(|| {
            let secrets = diagnose_secrets(&app, &request.openid, session.as_ref());
            diagnose::v2::pay_sig_with_query(
                op.uri(),
                query.unwrap_or_default(),
                &bytes,
                request.sandbox,
                &secrets,
                signatures.pay_sig,
                pipeline::hex_case(&app),
            )
        });
        return Err(ApiError::msg(
            Code::PaySigInvalid,
            v2::signature_errmsg("pay_sig", &bytes),
        ));
    }

    // 7. signature: the body bytes, with the player's newest session_key.
    let session = pipeline::session(state, &app, &request.openid, now_ms)
        .await?
        .ok_or(Code::SessionNotFound)?;
    let digest = sign::v2::signature_digest(&session.session_key, &bytes);
    if !hex_matches_case(&digest, signatures.signature, pipeline::hex_case(&app)) {
        ctx.diagnose(|| {
            let secrets = diagnose_secrets(&app, &request.openid, Some(&session));
            diagnose::v2::signature(&bytes, &secrets, signatures.signature, pipeline::hex_case(&app))
        });
        return Err(ApiError::msg(
            Code::SignatureInvalid,
            v2::signature_errmsg("signature", &bytes),
        ));
    }

    // 8. The optional ts window.
    if !pipeline::ts_in_window(&app, request.ts, now_ms) {
        return Err(invalid("ts"));
    }

    let verified = Verified {
        account: AccountKey {
            env,
            appid: app.appid.clone(),
            offer_id: app.offer_id.clone(),
            zone_id: request.zone_id.into_owned(),
            openid: request.openid.into_owned(),
        },
        app,
        now_ms,
        rid: ctx.rid.clone(),
    };
    match request.call {
        Call::GetBalance { .. } => getbalance::run(state, verified).await,
        Call::Pay { amount, bill_no, .. } => pay::run(state, verified, &bill_no, amount).await,
        Call::CancelPay {
            bill_no,
            pay_bill_no,
            amount,
        } => cancelpay::run(state, verified, &bill_no, &pay_bill_no, amount).await,
        Call::Present { amount, bill_no } => present::run(state, verified, &bill_no, amount).await,
        Call::QueryOrderInfo { out_trade_no, biz_id } => {
            queryorderinfo::run(state, verified, &out_trade_no, biz_id).await
        }
    }
}

/// Renders ledger outcomes in 2.0's words.
pub(crate) struct Render<'a> {
    pub app: &'a App,
    pub rid: &'a str,
}

impl Render<'_> {
    /// The answer of a pay, present or refund (cancelpay).
    pub(crate) fn outcome(&self, outcome: Outcome) -> ApiResult<Response> {
        match outcome {
            Outcome::Paid { number, balance, gift } => {
                Ok(self.original(common::Code::Ok, Original::Paid { number, balance, gift }))
            }
            Outcome::Presented { number, balance, .. } => {
                Ok(self.original(common::Code::Ok, Original::Presented { number, balance }))
            }
            Outcome::Refunded { number, balance, gift } => {
                Ok(self.original(common::Code::Ok, Original::Refunded { number, balance, gift }))
            }
            Outcome::Refused(refusal) => self.refused(refusal),
            other => Err(impossible(&other)),
        }
    }

    /// A success answer, or a repeat's 90012 carrying the original result.
    fn original(&self, code: impl ErrorCode, original: Original) -> Response {
        let errcode = code.code();
        let errmsg = if errcode == 0 {
            code.errmsg().to_string()
        } else {
            format!("{} rid: {}", code.errmsg(), self.rid)
        };
        match original {
            Original::Paid { number, balance, gift } => Json(PayOk {
                errcode,
                errmsg,
                bill_no: number,
                balance,
                used_present_amount: gift,
            })
            .into_response(),
            Original::Presented { number, balance } => Json(PresentOk {
                errcode,
                errmsg,
                bill_no: number,
                balance,
            })
            .into_response(),
            Original::Refunded { number, balance, gift } => Json(CancelPayOk {
                errcode,
                errmsg,
                bill_no: number,
                balance,
                used_present_amount: gift,
            })
            .into_response(),
        }
    }

    fn refused(&self, refusal: Refusal) -> ApiResult<Response> {
        let code = match refusal {
            Refusal::Repeated {
                original: Some(original),
            } => {
                return Ok(match self.app.duplicate_bill_no {
                    DuplicateBillPolicy::Reject => self.original(Code::BillNoRepeated, original),
                    DuplicateBillPolicy::Replay => self.original(common::Code::Ok, original),
                })
            }
            Refusal::Repeated { original: None } => Code::BillNoRepeated,
            Refusal::InsufficientBalance => Code::InsufficientBalance,
            Refusal::Overflow | Refusal::RefundTooLarge => return Err(invalid("amount")),
            Refusal::PayNotFound => Code::OrderNotFound,
            Refusal::WindowClosed => Code::CancelWindowClosed,
            other => return Err(impossible(&other)),
        };
        Err(ApiError::new(code))
    }
}

/// An outcome no 2.0 command has: a bug, answered -1 rather than a panic.
fn impossible(what: &dyn std::fmt::Debug) -> ApiError {
    tracing::error!(outcome = ?what, "a 2.0 route got an outcome of another command");
    ApiError::new(common::Code::SystemError)
}
