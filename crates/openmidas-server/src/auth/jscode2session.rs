//! `GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`.

use axum::extract::{RawQuery, State};
use axum::Json;
use openmidas_ledger::auth::CodeRefusal;
use openmidas_protocol::common::Code;
use openmidas_protocol::wire::Jscode2SessionOk;

use super::token::authenticate_app;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::{secrets, AppState};
use openmidas_ledger::StoreExt;

/// Checks in order: appid (41002), secret (41004), js_code (41008), grant_type (40002),
/// the app (40013, 40125), the code (40029 unknown/expired/other app, 40163 used).
pub async fn get(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<Jscode2SessionOk>> {
    let pairs = query_pairs(query.as_deref());
    let appid = query_param(&pairs, "appid").ok_or(Code::AppidMissing)?;
    let secret = query_param(&pairs, "secret").ok_or(Code::AppSecretMissing)?;
    let code = query_param(&pairs, "js_code").ok_or(Code::CodeMissing)?;
    if query_param(&pairs, "grant_type") != Some("authorization_code") {
        return Err(ApiError::msg(
            Code::InvalidGrantType,
            "invalid grant_type: must be authorization_code",
        ));
    }
    let app = authenticate_app(&state, appid, secret).await?;
    let now_ms = state.clock.now_ms();
    match state
        .store
        .redeem_login_code(&app.appid, code, secrets::session_key(), now_ms)
        .await?
    {
        Ok(session) => {
            tracing::info!(appid = %app.appid, openid = %session.openid, "login code exchanged");
            Ok(Json(Jscode2SessionOk {
                openid: session.openid,
                session_key: session.session_key,
            }))
        }
        Err(CodeRefusal::Invalid) => Err(Code::InvalidCode.into()),
        Err(CodeRefusal::Used) => Err(Code::CodeBeenUsed.into()),
    }
}
