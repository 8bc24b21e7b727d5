//! `GET /admin/pushes?appid&status&after_id&limit` lists events of the outbox;
//! `POST /admin/pushes/{id}/redeliver` sends one again now, whatever its status
//! (behaviour.md section 12).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::push::{Push, PushFilter, PushStatus};
use openmidas_protocol::common::Code;
use serde_json::{json, Value};

use super::require_admin;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::{query_pairs, query_param};
use crate::AppState;

/// Most events in one page.
const MAX_LIMIT: u32 = 1000;

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let pairs = query_pairs(query.as_deref());
    let invalid = |msg: &str| ApiError::msg(Code::InvalidArgs, msg.to_string());
    let status = match query_param(&pairs, "status") {
        None => None,
        Some(text) => Some(
            PushStatus::parse(text)
                .ok_or_else(|| invalid("[status] status must be \"pending\", \"delivered\" or \"failed\""))?,
        ),
    };
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
    let filter = PushFilter {
        appid: query_param(&pairs, "appid").map(str::to_string),
        status,
        after_id,
        limit,
    };
    let now_ms = state.clock.now_ms();
    let items: Vec<Value> = state
        .store
        .pushes(&filter)
        .await?
        .iter()
        .map(|p| item(p, now_ms))
        .collect();
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "items": items})))
}

pub async fn redeliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_admin(&state, &headers)?;
    let after = redeliver_one(&state, &id).await?;
    Ok(Json(
        json!({"errcode": 0, "errmsg": "ok", "push": item(&after, state.clock.now_ms())}),
    ))
}

/// Sends event `id` now, whatever its status (the dashboard's redeliver button too);
/// answers the event after the delivery.
pub(crate) async fn redeliver_one(state: &AppState, id: &str) -> ApiResult<Push> {
    let unknown = || ApiError::msg(Code::InvalidArgs, format!("[id] there is no push {id}"));
    let id: i64 = id.parse().map_err(|_| unknown())?;
    let push = state.store.push(id).await?.ok_or_else(unknown)?;
    crate::push::deliver::deliver(state, &crate::push::http_client(), &push, false)
        .await?
        .ok_or_else(unknown)
}

/// An event as listed: its wire name, where its delivery is, the last reply.
fn item(push: &Push, now_ms: i64) -> Value {
    json!({
        "id": push.id,
        "appid": push.appid,
        "env": push.env.as_str(),
        "event": crate::push::content::event_name(push),
        "order_id": push.number,
        "status": push.status.as_str(),
        "attempts": push.attempts,
        // A node holds it: a delivery is under way (or its node died: until the lease ends).
        "delivering": push.lease_until_ms > now_ms,
        "next_attempt_ms": push.next_attempt_ms,
        "last_reply": push.last_reply,
        "created_ms": push.created_ms,
    })
}
