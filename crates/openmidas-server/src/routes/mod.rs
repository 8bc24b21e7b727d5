//! The router: every route of behaviour.md, one module each.

pub mod admin;
mod body;
pub mod health;
pub mod jscode2session;
pub mod midas;
pub mod stable_token;
pub mod token;

use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use openmidas_protocol::v1::{Endpoint, Op};
use openmidas_protocol::ErrCode;

use crate::error::ApiError;
use crate::AppState;

pub(crate) use body::{query_pairs, query_param, query_value, read_body};

/// Every route, with the fallbacks that keep unknown paths and methods on JSON answers.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::get))
        .route("/cgi-bin/token", get(token::get))
        .route("/cgi-bin/stable_token", post(stable_token::post))
        .route("/sns/jscode2session", get(jscode2session::get))
        .route("/admin/apps", post(admin::apps::post).get(admin::apps::get))
        .route("/admin/login", post(admin::login::post))
        .route("/admin/recharge", post(admin::recharge::post))
        .route("/admin/journal", get(admin::journal::get));
    for endpoint in Endpoint::all() {
        router = router.route(
            endpoint.uri(),
            post(move |state: State<AppState>, query: RawQuery, body: Body| async move {
                match endpoint.op {
                    Op::GetBalance => midas::getbalance::handle(state, endpoint, query, body).await,
                    Op::Pay => midas::pay::handle(state, endpoint, query, body).await,
                    Op::CancelPay => midas::cancelpay::handle(state, endpoint, query, body).await,
                    Op::Present => midas::present::handle(state, endpoint, query, body).await,
                }
            }),
        );
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrCode::InvalidUrl).with_status(StatusCode::NOT_FOUND)
}

async fn method_not_allowed(method: Method) -> ApiError {
    // Every route takes exactly one method; a GET sent to a POST route wants POST.
    let code = if method == Method::GET || method == Method::HEAD {
        ErrCode::RequirePostMethod
    } else {
        ErrCode::RequireGetMethod
    };
    ApiError::new(code).with_status(StatusCode::METHOD_NOT_ALLOWED)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked: this is a bug");
    ApiError::new(ErrCode::SystemError)
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

/// One debug line per request: method, path (never the query: it carries access_token),
/// status and latency.
async fn log_request(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    // A Uri clone shares its bytes: no allocation on the hot path.
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_us = start.elapsed().as_micros() as u64;
    if response.status().is_server_error() {
        tracing::warn!(%method, path = uri.path(), status, latency_us, "request");
    } else {
        tracing::debug!(%method, path = uri.path(), status, latency_us, "request");
    }
    response
}
