//! Midas v1: `/cgi-bin/midas/{getbalance,pay,cancelpay,present}` and the sandbox twins.
//!
//! [`verify`] runs the checks of behaviour.md section 3 in their order; each route then
//! makes one store call and renders it.

pub mod cancelpay;
pub mod getbalance;
pub mod pay;
pub mod present;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openmidas_ledger::auth::TokenStatus;
use openmidas_ledger::command::{OriginalResult, Outcome, Refusal};
use openmidas_ledger::{AccountKey, App, DuplicateBillPolicy, Env};
use openmidas_protocol::sign::{self, hex_matches};
use openmidas_protocol::v1::{self, Endpoint, RawObject, V1Request};
use openmidas_protocol::wire::{CancelPayOk, PayOk, PresentOk};
use openmidas_protocol::ErrCode;
use serde_json::json;
use std::borrow::Cow;
use std::sync::Arc;

use super::{query_value, read_body};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A request that passed every check: what the routes need of it, owned. (The parsed
/// request itself borrows from the body, which `verify` reads and drops.)
pub(crate) struct Verified {
    pub key: AccountKey,
    bill_no: Option<String>,
    amount: Option<i64>,
    pub app: Arc<App>,
    pub now_ms: i64,
}

impl Verified {
    fn new(request: V1Request<'_>, app: Arc<App>, now_ms: i64) -> Self {
        let env = if request.endpoint.sandbox {
            Env::Sandbox
        } else {
            Env::Official
        };
        Verified {
            key: AccountKey {
                env,
                appid: request.appid.into_owned(),
                offer_id: request.offer_id.into_owned(),
                zone_id: request.zone_id.into_owned(),
                openid: request.openid.into_owned(),
            },
            bill_no: request.bill_no.map(Cow::into_owned),
            amount: request.amount,
            app,
            now_ms,
        }
    }

    /// The bill_no of a pay, cancelpay or present (`validate` requires it there).
    pub fn bill_no(&self) -> ApiResult<String> {
        self.bill_no.clone().ok_or_else(|| missing_validated("bill_no"))
    }

    /// The amount of a pay or present (`validate` requires it there).
    pub fn amount(&self) -> ApiResult<i64> {
        self.amount.ok_or_else(|| missing_validated("amount"))
    }
}

/// A field `validate` guarantees turned out missing: a bug, answered -1 rather than a panic.
fn missing_validated(field: &str) -> ApiError {
    tracing::error!(field, "validated request lacks a required field");
    ApiError::new(ErrCode::SystemError)
}

/// The checks of behaviour.md section 3, in order; the first failure answers.
pub(crate) async fn verify(
    state: &AppState,
    endpoint: Endpoint,
    query: Option<String>,
    body: Body,
) -> ApiResult<Verified> {
    // 1. The access token.
    let access_token = query_value(query.as_deref(), "access_token").ok_or(ErrCode::AccessTokenMissing)?;
    let access_token = access_token.as_ref();
    let now_ms = state.clock.now_ms();
    let token = state
        .store
        .token(access_token)
        .await?
        .ok_or(ErrCode::InvalidCredential)?;
    match token.status(now_ms) {
        TokenStatus::Valid => {}
        TokenStatus::Retired => return Err(ErrCode::InvalidCredential.into()),
        TokenStatus::Expired => return Err(ErrCode::AccessTokenExpired.into()),
    }

    // 2. The body: a JSON object within the size limit.
    let bytes = read_body(body).await?;
    let object = RawObject::parse(&bytes).map_err(|e| ApiError::msg(ErrCode::InvalidParameter, e.errmsg()))?;

    // 3. The fields.
    let request = v1::validate(endpoint, &object).map_err(|e| ApiError::msg(ErrCode::InvalidParameter, e.errmsg()))?;

    // 4. The app: the token's, with this offer.
    if request.appid != token.appid {
        return Err(ApiError::msg(
            ErrCode::NoPrivilege,
            "no privilege: appid is not the access_token's app",
        ));
    }
    let app = state
        .store
        .app(&request.appid)
        .await?
        .ok_or_else(|| ApiError::msg(ErrCode::NoPrivilege, "no privilege: the app no longer exists"))?;
    if request.offer_id != app.offer_id {
        return Err(ApiError::msg(
            ErrCode::NoPrivilege,
            "no privilege: offer_id is not this app's offer",
        ));
    }

    // 5. sig, with the AppKey of this environment.
    let uri = endpoint.uri();
    let app_key = if endpoint.sandbox {
        &app.sandbox_app_key
    } else {
        &app.app_key
    };
    if !hex_matches(
        &sign::v1::sig_digest(request.signed_pairs(), uri, app_key),
        &request.sig,
    ) {
        return Err(ErrCode::SigError.into());
    }

    // 6. mp_sig, with the player's newest session_key.
    match &request.mp_sig {
        Some(mp_sig) => {
            let session = state
                .store
                .session(&request.appid, &request.openid)
                .await?
                .ok_or(ErrCode::SessionNotFound)?;
            let digest = sign::v1::mp_sig_digest(
                request.signed_pairs(),
                access_token,
                &request.sig,
                uri,
                &session.session_key,
            );
            if !hex_matches(&digest, mp_sig.as_ref()) {
                return Err(ErrCode::MpSigError.into());
            }
        }
        None if app.require_mp_sig => {
            return Err(ApiError::msg(
                ErrCode::MpSigError,
                "mp_sig error: this app requires mp_sig",
            ));
        }
        None => {}
    }

    // ts freshness, only where the app asks for it (checked after the signatures, so an
    // unsigned request learns nothing about the server's clock).
    if let Some(window_secs) = app.ts_window_secs {
        let skew_secs = (now_ms.div_euclid(1000)).abs_diff(request.ts);
        if skew_secs > u64::from(window_secs) {
            return Err(ApiError::msg(
                ErrCode::InvalidParameter,
                format!("[ts] ts is more than {window_secs} s away from the server time"),
            ));
        }
    }

    Ok(Verified::new(request, app, now_ms))
}

/// Renders a ledger outcome as the v1 answer, applying the app's duplicate policy.
pub(crate) fn answer(outcome: Outcome, app: &App) -> Response {
    let ok = ErrCode::Ok;
    match outcome {
        Outcome::Paid {
            bill_no,
            balance,
            used_gift,
        } => Json(PayOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no,
            balance,
            used_gen_amt: used_gift,
        })
        .into_response(),
        Outcome::Presented { bill_no, balance } => Json(PresentOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no,
            balance,
        })
        .into_response(),
        Outcome::Cancelled { bill_no } => Json(CancelPayOk {
            errcode: ok.code(),
            errmsg: ok.errmsg().into(),
            bill_no,
        })
        .into_response(),
        Outcome::Recharged { .. } => {
            // Recharge is an admin command; a v1 route never executes one.
            tracing::error!("v1 route got a recharge outcome");
            ApiError::new(ErrCode::SystemError).into_response()
        }
        Outcome::Refused(refusal) => refusal_answer(refusal, app),
    }
}

fn refusal_answer(refusal: Refusal, app: &App) -> Response {
    let code = match refusal {
        Refusal::DuplicateBillNo {
            original: Some(original),
        } => {
            // Same parameters: the original result rides along (or, under "replay", is the answer).
            let code = match app.duplicate_bill_no {
                DuplicateBillPolicy::Reject => ErrCode::BillNoRepeated,
                DuplicateBillPolicy::Replay => ErrCode::Ok,
            };
            let body = match original {
                OriginalResult::Paid {
                    bill_no,
                    balance,
                    used_gift,
                } => json!({
                    "errcode": code.code(), "errmsg": code.errmsg(),
                    "bill_no": bill_no, "balance": balance, "used_gen_amt": used_gift,
                }),
                OriginalResult::Presented { bill_no, balance } => json!({
                    "errcode": code.code(), "errmsg": code.errmsg(), "bill_no": bill_no, "balance": balance,
                }),
            };
            return Json(body).into_response();
        }
        Refusal::DuplicateBillNo { original: None } => {
            return ApiError::msg(
                ErrCode::BillNoRepeated,
                "bill_no repeated: used before with other parameters",
            )
            .into_response()
        }
        Refusal::InsufficientBalance => ErrCode::InsufficientBalance,
        Refusal::Overflow => {
            return ApiError::msg(
                ErrCode::InvalidParameter,
                "amount would overflow the account's counters",
            )
            .into_response()
        }
        Refusal::OrderNotFound => ErrCode::OrderNotFound,
        Refusal::AlreadyCancelled => ErrCode::OrderAlreadyCancelled,
        Refusal::CancelWindowClosed => ErrCode::CancelWindowClosed,
        Refusal::DuplicateTradeNo => ErrCode::RechargeDuplicateOrder,
    };
    ApiError::new(code).into_response()
}
