//! `POST /admin/apps` creates or updates an app; `GET /admin/apps` lists them (no secrets).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::auth::{
    DEFAULT_CANCEL_WINDOW_SECS, DEFAULT_COIN_PRICE_FEN, DEFAULT_TOKEN_DAILY_LIMIT, MAX_COIN_PRICE_FEN, MAX_KEY_BYTES,
    MAX_OPTION_SECS, MAX_TOKEN_DAILY_LIMIT,
};
use openmidas_ledger::push::{PushAck, PushFormat, PushMode, PushSettings, MAX_PUSH_URL_BYTES};
use openmidas_ledger::{App, BillNoCharset, DuplicateBillPolicy, SignatureHex, StoreExt};
use openmidas_protocol::common::Code;
use openmidas_protocol::limits::MAX_ID_BYTES;
use serde_json::{json, Map, Value};

use super::{json_object, require_admin, Fields};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The longest duration option (`ts_window_secs`, `cancel_window_secs`, `session_ttl_secs`).
const MAX_SECS: i64 = MAX_OPTION_SECS as i64;

/// One of an option's names, or the option's current (or default) value.
fn choice<T: Copy>(
    fields: &Fields<'_, Code>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    names: &str,
    current: T,
) -> ApiResult<T> {
    match fields.text(field, 16)? {
        Some(text) => parse(text).ok_or_else(|| fields.problem(field, &format!("must be {names}"))),
        None => Ok(current),
    }
}

/// Creates an app (appid, secret, offer_id, app_key and sandbox_app_key required) or updates
/// one (any subset; the rest is kept). Options: `require_mp_sig`, `ts_window_secs` (null
/// clears it), `duplicate_bill_no` ("reject" | "replay"), `cancel_window_secs`,
/// `signature_hex` ("lower" | "any"), `bill_no_charset` ("v2" | "v1"), `coin_price_fen`,
/// `session_ttl_secs` (null clears it), `refund_delay_secs`, `token_daily_limit`, `push` (null clears it; new
/// settings are saved only once the URL passes WeChat's check, behaviour.md section 12).
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let map = json_object(body).await?;
    let (created, summary) = save(&state, &map).await?;
    Ok(Json(
        json!({"errcode": 0, "errmsg": "ok", "created": created, "app": summary}),
    ))
}

/// What `POST /admin/apps` does with its body (the dashboard's app form posts through it
/// too): answers whether the app was created, and the app without its secrets.
pub(crate) async fn save(state: &AppState, map: &Map<String, Value>) -> ApiResult<(bool, Value)> {
    let fields = Fields {
        map,
        invalid: Code::InvalidArgs,
    };
    let appid = fields.text("appid", MAX_ID_BYTES)?.ok_or(Code::AppidMissing)?;
    let existing = state.store.app(appid).await?;
    let created = existing.is_none();

    let required = |field: &str, max: usize, current: Option<&str>| -> ApiResult<String> {
        match (fields.text(field, max)?, current) {
            (Some(v), _) => Ok(v.to_string()),
            (None, Some(v)) => Ok(v.to_string()),
            (None, None) => Err(ApiError::msg(
                Code::InvalidArgs,
                format!("[{field}] {field} is required"),
            )),
        }
    };
    let old = existing.as_deref();
    let duplicate_bill_no = choice(
        &fields,
        "duplicate_bill_no",
        DuplicateBillPolicy::parse,
        "\"reject\" or \"replay\"",
        old.map(|a| a.duplicate_bill_no).unwrap_or_default(),
    )?;
    let signature_hex = choice(
        &fields,
        "signature_hex",
        SignatureHex::parse,
        "\"lower\" or \"any\"",
        old.map(|a| a.signature_hex).unwrap_or_default(),
    )?;
    let bill_no_charset = choice(
        &fields,
        "bill_no_charset",
        BillNoCharset::parse,
        "\"v2\" or \"v1\"",
        old.map(|a| a.bill_no_charset).unwrap_or_default(),
    )?;
    let ts_window_secs = match map.get("ts_window_secs") {
        Some(Value::Null) => None,
        Some(_) => fields
            .integer("ts_window_secs", 1, MAX_SECS)?
            .and_then(|v| u32::try_from(v).ok()),
        None => old.and_then(|a| a.ts_window_secs),
    };
    let session_ttl_secs = match map.get("session_ttl_secs") {
        Some(Value::Null) => None,
        Some(_) => fields
            .integer("session_ttl_secs", 1, MAX_SECS)?
            .and_then(|v| u32::try_from(v).ok()),
        None => old.and_then(|a| a.session_ttl_secs),
    };
    let cancel_window_secs = fields
        .integer("cancel_window_secs", 0, MAX_SECS)?
        .and_then(|v| u32::try_from(v).ok())
        .or(old.map(|a| a.cancel_window_secs))
        .unwrap_or(DEFAULT_CANCEL_WINDOW_SECS);
    let coin_price_fen = fields
        .integer("coin_price_fen", 1, i64::from(MAX_COIN_PRICE_FEN))?
        .and_then(|v| u32::try_from(v).ok())
        .or(old.map(|a| a.coin_price_fen))
        .unwrap_or(DEFAULT_COIN_PRICE_FEN);
    let refund_delay_secs = fields
        .integer("refund_delay_secs", 0, MAX_SECS)?
        .and_then(|v| u32::try_from(v).ok())
        .or(old.map(|a| a.refund_delay_secs))
        .unwrap_or(0);
    let token_daily_limit = fields
        .integer("token_daily_limit", 1, i64::from(MAX_TOKEN_DAILY_LIMIT))?
        .and_then(|v| u32::try_from(v).ok())
        .or(old.map(|a| a.token_daily_limit))
        .unwrap_or(DEFAULT_TOKEN_DAILY_LIMIT);
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
        cancel_window_secs,
        signature_hex,
        bill_no_charset,
        coin_price_fen,
        session_ttl_secs,
        refund_delay_secs,
        token_daily_limit,
        push: match map.get("push") {
            None => old.and_then(|a| a.push.clone()),
            Some(Value::Null) => None,
            Some(value) => Some(push_settings(value)?),
        },
    };
    // The fields were checked one by one above; the whole app by the rules the config file
    // meets too.
    app.validate()
        .map_err(|problem| ApiError::msg(Code::InvalidArgs, problem))?;
    // New push settings are checked as WeChat checks them: the URL must echo echostr.
    if let Some(push) = app
        .push
        .as_ref()
        .filter(|p| old.and_then(|a| a.push.as_ref()) != Some(*p))
    {
        crate::push::verify::check(&crate::push::http_client(), push, state.clock.now_ms())
            .await
            .map_err(|why| {
                ApiError::msg(
                    Code::InvalidArgs,
                    format!("[push] push.url failed the URL check: {why}"),
                )
            })?;
    }
    let summary = app_summary(&app);
    state.store.upsert_app(app, state.clock.now_ms()).await?;
    tracing::info!(%appid, created, "app saved");
    Ok((created, summary))
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
        "cancel_window_secs": app.cancel_window_secs,
        "signature_hex": app.signature_hex.as_str(),
        "bill_no_charset": app.bill_no_charset.as_str(),
        "coin_price_fen": app.coin_price_fen,
        "session_ttl_secs": app.session_ttl_secs,
        "refund_delay_secs": app.refund_delay_secs,
        "token_daily_limit": app.token_daily_limit,
        // The URL and how; never the token or the key.
        "push": app.push.as_ref().map(|p| json!({
            "url": p.url,
            "mode": p.mode.as_str(),
            "format": p.format.as_str(),
            "ack": p.ack.as_str(),
        })),
    })
}

/// `push`: `{url, token, encoding_aes_key?, mode?: "plain" | "safe", format?: "json" | "xml",
/// ack?: "strict" | "lenient"}` (behaviour.md section 12); checked by [`PushSettings::check`].
fn push_settings(value: &Value) -> ApiResult<PushSettings> {
    let invalid = |problem: &str| ApiError::msg(Code::InvalidArgs, format!("[push] {problem}"));
    let object = value
        .as_object()
        .ok_or_else(|| invalid("push must be an object or null"))?;
    for name in object.keys() {
        if !["url", "token", "encoding_aes_key", "mode", "format", "ack"].contains(&name.as_str()) {
            return Err(invalid(&format!("push.{name} is not a push setting")));
        }
    }
    let text = |name: &str| -> ApiResult<Option<&str>> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.len() <= MAX_PUSH_URL_BYTES => Ok(Some(text.as_str())),
            Some(_) => Err(invalid(&format!(
                "push.{name} must be a string of at most {MAX_PUSH_URL_BYTES} bytes"
            ))),
        }
    };
    fn named<T>(text: Option<&str>, parse: fn(&str) -> Option<T>, field: &str, names: &str) -> ApiResult<T>
    where
        T: Default,
    {
        match text {
            None => Ok(T::default()),
            Some(text) => parse(text)
                .ok_or_else(|| ApiError::msg(Code::InvalidArgs, format!("[push] push.{field} must be {names}"))),
        }
    }
    let settings = PushSettings {
        url: text("url")?.ok_or_else(|| invalid("push.url is required"))?.to_string(),
        token: text("token")?
            .ok_or_else(|| invalid("push.token is required"))?
            .to_string(),
        encoding_aes_key: text("encoding_aes_key")?.map(str::to_string),
        mode: named(text("mode")?, PushMode::parse, "mode", "\"plain\" or \"safe\"")?,
        format: named(text("format")?, PushFormat::parse, "format", "\"json\" or \"xml\"")?,
        ack: named(text("ack")?, PushAck::parse, "ack", "\"strict\" or \"lenient\"")?,
    };
    settings
        .check()
        .map_err(|problem| ApiError::msg(Code::InvalidArgs, format!("[push] {problem}")))?;
    Ok(settings)
}
