//! `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::Json;
use openmidas_ledger::App;
use openmidas_protocol::common::Code;
use openmidas_protocol::wire::AccessTokenOk;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::{secrets, AppState};
use openmidas_ledger::StoreExt;

/// Finds the app and checks its secret in constant time: 40013 unknown, 40125 wrong.
pub(crate) async fn authenticate_app(state: &AppState, appid: &str, secret: &str) -> ApiResult<Arc<App>> {
    let app = state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    if !bool::from(app.secret.as_bytes().ct_eq(secret.as_bytes())) {
        return Err(Code::InvalidAppSecret.into());
    }
    Ok(app)
}

/// The checks both token endpoints share, in order: grant_type (40002), appid (41002),
/// secret (41004), then the app (40013, 40125).
pub(crate) async fn check_client_credential(
    state: &AppState,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
) -> ApiResult<Arc<App>> {
    if grant_type != Some("client_credential") {
        return Err(ApiError::msg(
            Code::InvalidGrantType,
            "invalid grant_type: must be client_credential",
        ));
    }
    let appid = appid.ok_or(Code::AppidMissing)?;
    let secret = secret.ok_or(Code::AppSecretMissing)?;
    authenticate_app(state, appid, secret).await
}

pub async fn get(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Json<AccessTokenOk>> {
    let pairs = query_pairs(query.as_deref());
    let app = check_client_credential(
        &state,
        query_param(&pairs, "grant_type"),
        query_param(&pairs, "appid"),
        query_param(&pairs, "secret"),
    )
    .await?;
    let now_ms = state.clock.now_ms();
    let record = state
        .store
        .issue_basic_token(&app.appid, secrets::access_token(), now_ms)
        .await?;
    tracing::info!(appid = %app.appid, token = %openmidas_ledger::auth::redact_token(&record.token), "issued access_token");
    Ok(Json(AccessTokenOk {
        expires_in: record.expires_in_secs(now_ms),
        access_token: record.token,
    }))
}
