//! `GET /healthz`: 200 once the server takes requests.

use axum::Json;
use serde_json::{json, Value};

pub async fn get() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
