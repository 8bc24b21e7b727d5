//! `GET /admin/journal?appid=&openid=&env=official&zone_id=1&after_id=0&limit=100`: an
//! account's balance movements, oldest first, for audit and debugging.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::{AccountKey, Env};
use openmidas_protocol::common::Code;
use serde_json::{json, Value};

use super::require_admin;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Most entries in one page.
const MAX_LIMIT: u32 = 1000;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let pairs = query_pairs(query.as_deref());
    let invalid = |msg: &str| ApiError::msg(Code::InvalidArgs, msg.to_string());
    let appid = query_param(&pairs, "appid").ok_or(Code::AppidMissing)?;
    let openid = query_param(&pairs, "openid").ok_or_else(|| invalid("[openid] openid is required"))?;
    let env = Env::parse(query_param(&pairs, "env").unwrap_or("official"))
        .ok_or_else(|| invalid("[env] env must be \"official\" or \"sandbox\""))?;
    let zone_id = query_param(&pairs, "zone_id").unwrap_or("1");
    let after_id = match query_param(&pairs, "after_id") {
        None => 0,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| invalid("[after_id] after_id must be an integer"))?,
    };
    let limit = match query_param(&pairs, "limit") {
        None => 100,
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| invalid("[limit] limit must be an integer in 1..=1000"))?,
    };
    let app = state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    let key = AccountKey {
        env,
        appid: app.appid.clone(),
        offer_id: app.offer_id.clone(),
        zone_id: zone_id.to_string(),
        openid: openid.to_string(),
    };
    let entries: Vec<Value> = state
        .store
        .journal(&key, after_id, limit)
        .await?
        .into_iter()
        .map(|(id, e)| {
            json!({
                "id": id, "kind": e.kind.as_str(), "order_no": e.order_no, "amount": e.amount,
                "cash_delta": e.cash_delta, "gift_delta": e.gift_delta,
                "balance_after": e.balance_after, "at_ms": e.at_ms,
            })
        })
        .collect();
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "entries": entries})))
}
