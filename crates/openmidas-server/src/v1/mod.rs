//! Midas v1: `/cgi-bin/midas/{getbalance,pay,cancelpay,present}` and the sandbox twins.
//!
//! [`handle`] runs the checks of behaviour.md section 3 in their order over the shared steps
//! of [`crate::pipeline`], then hands the typed call to its operation's file, which builds
//! the ledger command; [`answer`] renders every outcome in v1's words.

mod cancelpay;
mod getbalance;
mod pay;
mod present;

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::auth::Session;
use openmidas_ledger::{AccountKey, App, DuplicateBillPolicy, Env, Original, Outcome, Refusal};
use openmidas_protocol::common;
use openmidas_protocol::diagnose::{self, Secrets};
use openmidas_protocol::json::RawObject;
use openmidas_protocol::sign::{self, hex_matches};
use openmidas_protocol::v1::answer::{CancelPayOk, PayOk, PresentOk};
use openmidas_protocol::v1::{self, Call, Code, Endpoint};

use crate::error::{ApiError, ApiResult};
use crate::observe::RequestContext;
use crate::pipeline::{self, query_value};
use crate::AppState;

/// A request that passed every check.
pub(crate) struct Verified {
    pub account: AccountKey,
    pub app: Arc<App>,
    pub now_ms: i64,
    /// This request's id: a repeat's 90012 carries the original result and ends with it.
    pub rid: String,
}

/// Serves one v1 request.
pub(crate) async fn handle(
    state: AppState,
    ctx: Arc<RequestContext>,
    endpoint: Endpoint,
    query: Option<String>,
    body: Body,
) -> Response {
    match run(&state, &ctx, endpoint, query.as_deref(), body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// The checks of behaviour.md section 3, in order (the first failure answers), then the
/// operation.
async fn run(
    state: &AppState,
    ctx: &RequestContext,
    endpoint: Endpoint,
    query: Option<&str>,
    body: Body,
) -> ApiResult<Response> {
    // 1. The access token.
    let access_token = query_value(query, "access_token");
    let now_ms = state.clock.now_ms();
    let token = pipeline::access_token(state, access_token.as_deref(), now_ms).await?;

    // 2. The body: a JSON object within the size limit.
    let bytes = ctx
        .body(body)
        .await
        .map_err(|e| pipeline::body_error(e, Code::InvalidParameter, Code::BodyTooLarge))?;
    let object = RawObject::parse(&bytes)
        .map_err(|e| pipeline::body_error(e.into(), Code::InvalidParameter, Code::BodyTooLarge))?;

    // 3. The fields.
    let request = v1::parse(endpoint, &object).map_err(|e| ApiError::msg(Code::InvalidParameter, e.errmsg()))?;

    // 4. The app: the token's, with this offer.
    if request.appid != token.appid {
        return Err(ApiError::msg(
            Code::NoPrivilege,
            "no privilege: appid is not the access_token's app",
        ));
    }
    let app = state
        .store
        .app(&request.appid)
        .await?
        .ok_or_else(|| ApiError::msg(Code::NoPrivilege, "no privilege: the app no longer exists"))?;
    if request.offer_id != app.offer_id {
        return Err(ApiError::msg(
            Code::NoPrivilege,
            "no privilege: offer_id is not this app's offer",
        ));
    }

    // 5. sig, with the AppKey of this environment.
    let env = if endpoint.sandbox { Env::Sandbox } else { Env::Official };
    let uri = endpoint.uri();
    if !hex_matches(
        &sign::v1::sig_digest(request.signed_pairs(), uri, app.key_for(env)),
        &request.sig,
    ) {
        let session = pipeline::session(state, &app, &request.openid, now_ms).await?;
        ctx.diagnose(|| {
            let pairs: Vec<(&str, &str)> = request.signed_pairs().collect();
            let secrets = diagnose_secrets(&app, &request.openid, session.as_ref());
            diagnose::v1::sig(
                &pairs,
                uri,
                endpoint.sandbox,
                access_token.as_deref().unwrap_or_default(),
                &secrets,
                &request.sig,
            )
        });
        return Err(Code::SigError.into());
    }

    // 6. mp_sig, with the player's newest session_key.
    match &request.mp_sig {
        Some(mp_sig) => {
            let session = pipeline::session(state, &app, &request.openid, now_ms)
                .await?
                .ok_or(Code::SessionNotFound)?;
            let digest = sign::v1::mp_sig_digest(
                request.signed_pairs(),
                access_token.as_deref().unwrap_or_default(),
                &request.sig,
                uri,
                &session.session_key,
            );
            if !hex_matches(&digest, mp_sig.as_ref()) {
                ctx.diagnose(|| {
                    let pairs: Vec<(&str, &str)> = request.signed_pairs().collect();
                    let secrets = diagnose_secrets(&app, &request.openid, Some(&session));
                    diagnose::v1::mp_sig(
                        &pairs,
                        uri,
                        access_token.as_deref().unwrap_or_default(),
                        &request.sig,
                        &secrets,
                        mp_sig,
                    )
                });
                return Err(Code::MpSigError.into());
            }
        }
        None if app.require_mp_sig => {
            return Err(ApiError::msg(
                Code::MpSigError,
                "mp_sig error: this app requires mp_sig",
            ));
        }
        None => {}
    }

    // The optional ts window.
    if !pipeline::ts_in_window(&app, request.ts, now_ms) {
        let window_secs = app.ts_window_secs.unwrap_or_default();
        return Err(ApiError::msg(
            Code::InvalidParameter,
            format!("[ts] ts is more than {window_secs} s away from the server time"),
        ));
    }

    let verified = Verified {
        account: AccountKey {
            env,
            appid: request.appid.into_owned(),
            offer_id: request.offer_id.into_owned(),
            zone_id: request.zone_id.into_owned(),
            openid: request.openid.into_owned(),
        },
        app,
        now_ms,
        rid: ctx.rid.clone(),
    };
    match request.call {
        Call::GetBalance => getbalance::run(state, verified).await,
        Call::Pay { bill_no, amt, .. } => pay::run(state, verified, &bill_no, amt).await,
        Call::CancelPay { bill_no, .. } => cancelpay::run(state, verified, &bill_no).await,
        Call::Present {
            bill_no,
            present_counts,
        } => present::run(state, verified, &bill_no, present_counts).await,
    }
}

/// What a diagnosis may try: the app's keys and secret, the player's session_key.
pub(crate) fn diagnose_secrets<'a>(app: &'a App, openid: &'a str, session: Option<&'a Session>) -> Secrets<'a> {
    Secrets {
        app_key: &app.app_key,
        sandbox_app_key: &app.sandbox_app_key,
        app_secret: &app.secret,
        openid,
        session_key: session.map(|s| s.session_key.as_str()),
    }
}

/// Renders a ledger outcome as the v1 answer, applying the app's duplicate policy.
pub(crate) fn answer(outcome: Outcome, app: &App, rid: &str) -> ApiResult<Response> {
    let ok = common::Code::Ok;
    Ok(match outcome {
        Outcome::Paid { number, balance, gift } => Json(PayOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no: number,
            balance,
            used_gen_amt: gift,
        })
        .into_response(),
        Outcome::Presented { number, balance, .. } => Json(PresentOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no: number,
            balance,
        })
        .into_response(),
        Outcome::Cancelled { pay_number, .. } => Json(CancelPayOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no: pay_number,
        })
        .into_response(),
        Outcome::Refused(refusal) => return refused(refusal, app, rid),
        other => return Err(impossible(&other)),
    })
}

/// An outcome no v1 command has: a bug, answered -1 rather than a panic.
fn impossible(what: &dyn std::fmt::Debug) -> ApiError {
    tracing::error!(outcome = ?what, "a v1 route got an outcome of another command");
    ApiError::new(common::Code::SystemError)
}

fn refused(refusal: Refusal, app: &App, rid: &str) -> ApiResult<Response> {
    let code = match refusal {
        Refusal::Repeated {
            original: Some(original),
        } => {
            // Same parameters: the original result rides along (or, under "replay", is the answer).
            let (errcode, errmsg) = match app.duplicate_bill_no {
                DuplicateBillPolicy::Reject => (
                    Code::BillNoRepeated.code(),
                    format!("{} rid: {rid}", Code::BillNoRepeated.errmsg()),
                ),
                DuplicateBillPolicy::Replay => (common::Code::Ok.code(), common::Code::Ok.errmsg().to_string()),
            };
            return Ok(match original {
                Original::Paid { number, balance, gift } => Json(PayOk {
                    errcode,
                    errmsg,
                    bill_no: number,
                    balance,
                    used_gen_amt: gift,
                })
                .into_response(),
                Original::Presented { number, balance } => Json(PresentOk {
                    errcode,
                    errmsg,
                    bill_no: number,
                    balance,
                })
                .into_response(),
                // A v1 pay or present never repeats a refund with the same parameters.
                other => return Err(impossible(&other)),
            });
        }
        Refusal::Repeated { original: None } => {
            return Err(ApiError::msg(
                Code::BillNoRepeated,
                "bill_no repeated: used before with other parameters",
            ))
        }
        Refusal::InsufficientBalance => Code::InsufficientBalance,
        Refusal::Overflow => {
            return Err(ApiError::msg(
                Code::InvalidParameter,
                "amount would overflow the account's counters",
            ))
        }
        Refusal::PayNotFound => Code::OrderNotFound,
        Refusal::NothingLeft => Code::OrderAlreadyCancelled,
        Refusal::WindowClosed => Code::CancelWindowClosed,
        other => return Err(impossible(&other)),
    };
    Err(ApiError::new(code))
}
