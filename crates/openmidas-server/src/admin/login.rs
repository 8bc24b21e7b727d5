//! `POST /admin/login` `{appid, openid?}`: the simulated `wx.login`. Mints a single-use code
//! (5 minutes) for `/sns/jscode2session`; a fresh openid when none is given.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::auth::{LoginCode, LOGIN_CODE_TTL_MS};
use openmidas_ledger::StoreExt;
use openmidas_protocol::common::Code;
use openmidas_protocol::limits::MAX_ID_BYTES;
use openmidas_protocol::wire::AdminLoginOk;

use super::{json_object, require_admin, Fields};
use crate::error::ApiResult;
use crate::{secrets, AppState};

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<AdminLoginOk>> {
    require_admin(&state, &headers)?;
    let map = json_object(body).await?;
    let fields = Fields {
        map: &map,
        invalid: Code::InvalidArgs,
    };
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or(Code::AppidMissing)?;
    let openid = fields
        .text("openid", MAX_ID_BYTES)?
        .map(str::to_string)
        .unwrap_or_else(secrets::openid);
    let app = state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    let now_ms = state.clock.now_ms();
    let code = LoginCode {
        code: secrets::login_code(),
        appid: app.appid.clone(),
        openid: openid.clone(),
        created_at_ms: now_ms,
        expires_at_ms: now_ms + LOGIN_CODE_TTL_MS,
    };
    let code_text = code.code.clone();
    state.store.insert_login_code(code).await?;
    Ok(Json(AdminLoginOk {
        errcode: 0,
        errmsg: "ok".into(),
        code: code_text,
        openid,
    }))
}
