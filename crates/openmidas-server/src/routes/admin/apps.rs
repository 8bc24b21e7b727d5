//! `POST /admin/apps` creates or updates an app; `GET /admin/apps` lists them (no secrets).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::{App, DuplicateBillPolicy};
use openmidas_protocol::v1::MAX_ID_BYTES;
use openmidas_protocol::ErrCode;
use serde_json::{json, Value};

use super::{json_object, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Longest secret or key, in bytes.
const MAX_KEY_BYTES: usize = 256;
/// Longest `ts_window_secs`: a year.
const MAX_TS_WINDOW_SECS: i64 = 366 * 86_400;

/// Creates an app (appid, secret, offer_id, app_key and sandbox_app_key required) or updates
/// one (any subset; the rest is kept). Options: `require_mp_sig`, `ts_window_secs` (null
/// clears it), `duplicate_bill_no` ("reject" | "replay").
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let map = json_object(body).await?;
    let fields = Fields {
        map: &map,
        invalid: ErrCode::InvalidArgs,
    };
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or(ErrCode::AppidMissing)?;
    let existing = state.store.app(appid).await?;
    let created = existing.is_none();

    let required = |field: &str, max: usize, current: Option<&str>| -> ApiResult<String> {
        match (fields.text(field, max)?, current) {
            (Some(v), _) => Ok(v.to_string()),
            (None, Some(v)) => Ok(v.to_string()),
            (None, None) => Err(ApiError::msg(
                ErrCode::InvalidArgs,
                format!("[{field}] {field} is required"),
            )),
        }
    };
    let old = existing.as_ref();
    let duplicate_bill_no = match fields.text("duplicate_bill_no", 16)? {
        Some(text) => DuplicateBillPolicy::parse(text).ok_or_else(|| {
            ApiError::msg(
                ErrCode::InvalidArgs,
                "[duplicate_bill_no] duplicate_bill_no must be \"reject\" or \"replay\"",
            )
        })?,
        None => old.map(|a| a.duplicate_bill_no).unwrap_or_default(),
    };
    let ts_window_secs = match map.get("ts_window_secs") {
        Some(Value::Null) => None,
        Some(_) => fields
            .integer("ts_window_secs", 1, MAX_TS_WINDOW_SECS)?
            .and_then(|v| u32::try_from(v).ok()),
        None => old.and_then(|a| a.ts_window_secs),
    };
    let app = App {
        appid: appid.to_string(),
        secret: required("secret", MAX_KEY_BYTES, old.map(|a| a.secret.as_str()))?,
        offer_id: required("offer_id", MAX_ID_BYTES, old.map(|a| a.offer_id.as_str()))?,
        app_key: required("app_key", MAX_KEY_BYTES, old.map(|a| a.app_key.as_str()))?,
        sandbox_app_key: required(
            "sandbox_app_key",
            MAX_KEY_BYTES,
            old.map(|a| a.sandbox_app_key.as_str()),
        )?,
        require_mp_sig: fields
            .boolean("require_mp_sig")?
            .unwrap_or(old.is_some_and(|a| a.require_mp_sig)),
        ts_window_secs,
        duplicate_bill_no,
    };
    let summary = app_summary(&app);
    state.store.upsert_app(app, state.clock.now_ms()).await?;
    tracing::info!(%appid, created, "app saved");
    Ok(Json(
        json!({"errcode": 0, "errmsg": "ok", "created": created, "app": summary}),
    ))
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let apps: Vec<Value> = state.store.apps().await?.iter().map(app_summary).collect();
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "apps": apps})))
}

/// An app without its secrets.
fn app_summary(app: &App) -> Value {
    json!({
        "appid": app.appid,
        "offer_id": app.offer_id,
        "require_mp_sig": app.require_mp_sig,
        "ts_window_secs": app.ts_window_secs,
        "duplicate_bill_no": app.duplicate_bill_no.as_str(),
    })
}
