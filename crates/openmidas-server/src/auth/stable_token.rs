//! `POST /cgi-bin/stable_token` `{grant_type, appid, secret, force_refresh?}`.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use openmidas_protocol::common::Code;
use openmidas_protocol::wire::AccessTokenOk;
use serde_json::Value;

use super::token::check_client_credential;
use crate::error::{ApiError, ApiResult};
use crate::observe::Ctx;
use crate::pipeline;
use crate::{secrets, AppState};
use openmidas_ledger::StoreExt;

fn data_format_error(detail: &str) -> ApiError {
    ApiError::msg(Code::DataFormatError, format!("data format error: {detail}"))
}

pub(crate) async fn post(State(state): State<AppState>, Ctx(ctx): Ctx, body: Body) -> ApiResult<Json<AccessTokenOk>> {
    let bytes = ctx
        .body(body)
        .await
        .map_err(|e| pipeline::body_error(e, Code::DataFormatError, Code::BodyTooLarge))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| data_format_error(&e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| data_format_error("body must be a JSON object"))?;
    let text = |field: &str| -> ApiResult<Option<&str>> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(data_format_error(&format!("{field} must be a string"))),
        }
    };
    let force_refresh = match object.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(data_format_error("force_refresh must be a boolean")),
    };
    let app = check_client_credential(&state, text("grant_type")?, text("appid")?, text("secret")?).await?;
    let now_ms = state.clock.now_ms();
    let record = state
        .store
        .stable_token(
            &app.appid,
            secrets::access_token(),
            force_refresh,
            app.token_daily_limit,
            now_ms,
        )
        .await?
        .map_err(|_| Code::ApiDailyQuotaReached)?;
    Ok(Json(AccessTokenOk {
        expires_in: record.expires_in_secs(now_ms),
        access_token: record.token,
    }))
}
