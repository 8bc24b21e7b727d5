//! Reset, export and import (behaviour.md section 13.4): `POST /admin/reset`,
//! `GET /admin/state` and `POST /admin/state`.
//!
//! The document is the ledger's [`StateDoc`] in JSON: `{version, <table>: [{<column>:
//! <value>}]}` after [`TABLES`]. This file only converts; what a valid document is, the
//! ledger decides ([`StateDoc::check`], run by [`StoreExt::replace_state`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use openmidas_ledger::state::{type_name, Cell, ColumnType, ResetScope, StateDoc, StateProblem, STATE_VERSION, TABLES};
use openmidas_ledger::StoreExt;
use openmidas_protocol::common::Code;
use openmidas_protocol::limits::MAX_ID_BYTES;
use serde_json::{json, Map, Value};

use super::emulator;
use crate::admin::{json_object, Fields};
use crate::error::{ApiError, ApiResult};
use crate::pipeline;
use crate::AppState;

/// The largest document `POST /admin/state` takes.
pub const MAX_STATE_BYTES: usize = 64 << 20;

pub async fn reset(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    let emulator = emulator(&state, &headers)?;
    let map = json_object(body).await?;
    let fields = Fields {
        map: &map,
        invalid: Code::InvalidArgs,
    };
    if let Some(unknown) = map.keys().find(|k| !["appid", "keep_apps"].contains(&k.as_str())) {
        return Err(fields.problem(unknown, "is not a reset option (appid, keep_apps)"));
    }
    let appid = fields.text("appid", MAX_ID_BYTES)?;
    if let Some(appid) = appid {
        state.store.app(appid).await?.ok_or(Code::InvalidAppid)?;
    }
    let scope = ResetScope {
        appid: appid.map(str::to_string),
        keep_apps: fields.boolean("keep_apps")?.unwrap_or(true),
    };
    state.store.reset(scope.clone()).await?;
    emulator.log.clear(scope.appid.as_deref());
    tracing::info!(appid = ?scope.appid, keep_apps = scope.keep_apps, "emulator state reset");
    Ok(Json(json!({"errcode": 0, "errmsg": "ok"})))
}

pub async fn export(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    emulator(&state, &headers)?;
    let doc = state.store.export().await?;
    Ok(Json(to_json(&doc)))
}

pub async fn import(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Json<Value>> {
    emulator(&state, &headers)?;
    let bytes = pipeline::read_body_up_to(body, MAX_STATE_BYTES)
        .await
        .map_err(|e| pipeline::body_error(e, Code::DataFormatError, Code::BodyTooLarge))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::msg(Code::DataFormatError, format!("data format error: {e}")))?;
    let invalid = |p: StateProblem| ApiError::msg(Code::InvalidArgs, p.to_string());
    let doc = from_json(&value).map_err(invalid)?;
    let rows: usize = doc.tables.iter().map(Vec::len).sum();
    state.store.replace_state(doc).await?.map_err(invalid)?;
    tracing::info!(rows, "emulator state imported");
    Ok(Json(json!({"errcode": 0, "errmsg": "ok"})))
}

/// The document as JSON: the version, then each table's rows as objects, in schema order.
pub fn to_json(doc: &StateDoc) -> Value {
    let mut out = Map::new();
    out.insert("version".into(), json!(STATE_VERSION));
    for (table, rows) in TABLES.iter().zip(&doc.tables) {
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| {
                let object: Map<String, Value> = table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(column, cell)| (column.name.to_string(), cell_json(cell)))
                    .collect();
                Value::Object(object)
            })
            .collect();
        out.insert(table.name.into(), Value::Array(rows));
    }
    Value::Object(out)
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Boolean(b) => json!(b),
        Cell::Integer(i) => json!(i),
        Cell::Text(t) => json!(t),
    }
}

/// Reads a document's shape: the version, known tables (an absent one is empty), rows of
/// exactly the table's columns, each of its column's JSON type.
pub fn from_json(value: &Value) -> Result<StateDoc, StateProblem> {
    let object = value
        .as_object()
        .ok_or_else(|| StateProblem::new("document", "must be a JSON object"))?;
    // Older documents import too: a column added since takes its default.
    let version = match object.get("version").and_then(Value::as_i64) {
        Some(version) if (1..=STATE_VERSION).contains(&version) => version,
        _ => {
            return Err(StateProblem::new(
                "version",
                format!("must be 1 to {STATE_VERSION} (the document versions this server reads)"),
            ))
        }
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "version" && !TABLES.iter().any(|t| t.name == k.as_str()))
    {
        return Err(StateProblem::new(unknown.as_str(), "is not a table of the state"));
    }
    let mut doc = StateDoc::default();
    for (table, rows) in TABLES.iter().zip(&mut doc.tables) {
        let Some(value) = object.get(table.name) else { continue };
        let items = value
            .as_array()
            .ok_or_else(|| StateProblem::new(table.name, "must be a list of rows"))?;
        for (n, item) in items.iter().enumerate() {
            let at = format!("{}[{n}]", table.name);
            let fields = item
                .as_object()
                .ok_or_else(|| StateProblem::new(at.as_str(), "must be an object"))?;
            if let Some(unknown) = fields.keys().find(|k| table.index(k).is_none()) {
                return Err(StateProblem::new(
                    format!("{at}.{unknown}"),
                    format!("is not a column of {}", table.name),
                ));
            }
            let mut row = Vec::with_capacity(table.columns.len());
            for column in table.columns {
                let at = || format!("{at}.{}", column.name);
                let wrong = || StateProblem::new(at(), format!("must be {}", type_name(column.ty, column.nullable)));
                let cell = match (fields.get(column.name), column.ty) {
                    (None, _) if column.added_in > version => column.default_cell(),
                    (None, _) => return Err(StateProblem::new(at(), "is required")),
                    (Some(Value::Null), _) => Cell::Null,
                    (Some(Value::String(s)), ColumnType::Text) => Cell::Text(s.clone()),
                    (Some(Value::Number(n)), ColumnType::Integer) => Cell::Integer(n.as_i64().ok_or_else(wrong)?),
                    (Some(Value::Bool(b)), ColumnType::Boolean) => Cell::Boolean(*b),
                    _ => return Err(wrong()),
                };
                row.push(cell);
            }
            rows.push(row);
        }
    }
    Ok(doc)
}
