//! The router: the payment routes of every dialect from the protocol's route table, the
//! token and session routes, the simulated player and the admin API.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use openmidas_protocol::common::Code;
use openmidas_protocol::route::{Operation, ROUTES};

use crate::error::ApiError;
use crate::observe::Ctx;
use crate::{admin, auth, client, controls, health, metrics, observe, openapi, ui, v1, v2, xpay, AppState};

/// The routes that take GET only (a wrong method there answers 43001; on any other route,
/// 43002: behaviour.md section 5).
const GET_ONLY: [&str; 8] = [
    "/healthz",
    "/cgi-bin/token",
    "/sns/jscode2session",
    "/admin/journal",
    "/admin/requests",
    "/admin/pushes",
    "/metrics",
    "/openapi.json",
];

/// Which routes a listener serves (behaviour.md section 14.4): all of them, or, with
/// `--admin-listen`, the WeChat side on the public listeners and the admin API, the dashboard
/// and the metrics on the admin listener only. `/healthz` is on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    All,
    Public,
    Admin,
}

impl Surface {
    /// Whether a listener of this surface serves `path`.
    pub fn serves(self, path: &str) -> bool {
        let admin = path == "/metrics"
            || path == "/admin"
            || path.starts_with("/admin/")
            || path == "/ui"
            || path.starts_with("/ui/");
        match self {
            Surface::All => true,
            Surface::Public => !admin,
            Surface::Admin => admin || path == "/healthz",
        }
    }
}

/// A path this listener does not serve answers as an unknown path does (404, 40066): the
/// public side shows no sign of the admin routes.
async fn guard_surface(request: Request, next: Next) -> Response {
    let surface = request.extensions().get::<Surface>().copied().unwrap_or(Surface::All);
    if surface.serves(request.uri().path()) {
        next.run(request).await
    } else {
        ApiError::new(Code::InvalidUrl).into_response()
    }
}

/// Failed admin authentications, per client address (`admin::lockout`, behaviour.md
/// section 14.5): a locked-out address gets 429 (45011) on the admin routes and the
/// dashboard's login; a 401 there counts a failure.
async fn admin_lockout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let guarded = path == "/admin" || path.starts_with("/admin/") || path == "/ui/login";
    let peer = request.extensions().get::<crate::PeerAddr>().map(|p| p.0.ip());
    let (true, Some(ip)) = (guarded, peer) else {
        return next.run(request).await;
    };
    let lockout = state.admin_token.lockout();
    let now = Instant::now();
    if let Some(wait) = lockout.locked_for(ip, now) {
        let secs = wait.as_secs().max(1);
        // A person at the dashboard's login gets the page, saying why; the API gets JSON.
        if path == "/ui/login" {
            return ui::auth::login_form(
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed logins from this address: try again in {secs} s."
                )),
            );
        }
        return ApiError::msg(
            Code::AdminLockedOut,
            format!("too many failed admin authentications from this address: retry in {secs} s"),
        )
        .into_response();
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        lockout.failed(ip, now);
    }
    response
}

/// Every route, with the fallbacks that keep unknown paths and methods on JSON answers. The
/// emulator controls exist only in emulator mode (in ledger mode they are unknown paths).
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route(GET_ONLY[0], get(health::get))
        .route(GET_ONLY[6], get(metrics::get))
        .route(GET_ONLY[7], get(openapi::get))
        .route(GET_ONLY[1], get(auth::token::get))
        .route("/cgi-bin/stable_token", post(auth::stable_token::post))
        .route(GET_ONLY[2], get(auth::jscode2session::get))
        .route("/admin/apps", post(admin::apps::post).get(admin::apps::get))
        .route("/admin/login", post(admin::login::post))
        .route(GET_ONLY[3], get(admin::journal::get))
        .route("/admin/recharge", post(client::midas_payment::post))
        .route("/admin/client/midas_payment", post(client::midas_payment::post))
        .route("/admin/client/game_item", post(client::game_item::post))
        .route("/admin/client/virtual_payment", post(client::virtual_payment::post))
        .route("/admin/client/purchases/pay", post(client::purchases::pay))
        .route("/admin/client/purchases/close", post(client::purchases::close))
        .route(GET_ONLY[5], get(admin::pushes::list))
        .route("/admin/pushes/{id}/redeliver", post(admin::pushes::redeliver))
        .route("/xpay/bills/{token}", get(xpay::bill));
    if state.emulator.is_some() {
        router = router
            .route("/admin/clock", get(controls::clock::get).post(controls::clock::post))
            .route(
                "/admin/faults",
                post(controls::faults::post)
                    .get(controls::faults::list)
                    .delete(controls::faults::delete_all),
            )
            .route("/admin/faults/{id}", delete(controls::faults::delete_one))
            .route(GET_ONLY[4], get(controls::log::list))
            .route("/admin/requests/{id}", get(controls::log::get))
            .route("/admin/reset", post(controls::state::reset))
            .route(
                "/admin/state",
                get(controls::state::export).post(controls::state::import),
            );
    }
    // The dashboard (behaviour.md section 14): its emulator pages only in emulator mode.
    router = router.merge(ui::routes(&state));
    for route in ROUTES {
        let handler = match route.operation {
            Operation::V1(endpoint) => post(
                move |State(state): State<AppState>, Ctx(ctx): Ctx, RawQuery(query): RawQuery, body: Body| {
                    v1::handle(state, ctx, endpoint, query, body)
                },
            ),
            Operation::V2(op) => post(
                move |State(state): State<AppState>, Ctx(ctx): Ctx, RawQuery(query): RawQuery, body: Body| {
                    v2::handle(state, ctx, op, query, body)
                },
            ),
            Operation::Xpay(op) => post(
                move |State(state): State<AppState>,
                      Ctx(ctx): Ctx,
                      headers: HeaderMap,
                      RawQuery(query): RawQuery,
                      body: Body| { xpay::handle(state, ctx, op, headers, query, body) },
            ),
        };
        router = router.route(route.path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe::observe))
        .layer(middleware::from_fn(log_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), admin_lockout))
        .layer(middleware::from_fn(guard_surface))
        .with_state(state)
}

// A failure outside any handler. On a WeChat path it ends with a request id like any other
// (`observe` appends it).
async fn not_found() -> ApiError {
    ApiError::new(Code::InvalidUrl)
}

async fn method_not_allowed(uri: Uri) -> ApiError {
    let get_only = GET_ONLY.contains(&uri.path())
        || uri.path().starts_with("/admin/requests/")
        || uri.path().starts_with("/xpay/bills/");
    ApiError::new(if get_only {
        Code::RequireGetMethod
    } else {
        Code::RequirePostMethod
    })
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked: this is a bug");
    ApiError::new(Code::Panic).into_response()
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
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR || response.status().is_server_error() {
        tracing::warn!(%method, path = uri.path(), status, latency_us, "request");
    } else {
        tracing::debug!(%method, path = uri.path(), status, latency_us, "request");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::Surface;

    #[test]
    fn the_admin_surface_is_admin_ui_and_metrics() {
        for path in ["/admin/apps", "/admin", "/ui", "/ui/apps", "/metrics"] {
            assert!(Surface::Admin.serves(path), "{path}");
            assert!(!Surface::Public.serves(path), "{path}");
            assert!(Surface::All.serves(path), "{path}");
        }
        for path in [
            "/cgi-bin/token",
            "/wxa/game/pay",
            "/xpay/query_user_balance",
            "/openapi.json",
            "/uix",
            "/administer",
        ] {
            assert!(Surface::Public.serves(path), "{path}");
            assert!(!Surface::Admin.serves(path), "{path}");
        }
        assert!(Surface::Public.serves("/healthz") && Surface::Admin.serves("/healthz"));
    }
}
