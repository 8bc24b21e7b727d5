//! `/ui`: the dashboard, served by the server itself (behaviour.md section 14). Pages are
//! rendered on the server (maud); the stylesheet and one small script (the request log's
//! live refresh) are embedded in the binary, so it works offline with nothing to build.
//!
//! Every page needs the admin token: `/ui/login` takes it and sets a session cookie
//! (HttpOnly, SameSite=Strict, signed with a key derived from the token; see [`auth`]);
//! every form that changes state carries the session's CSRF token. No page ever shows a
//! secret: AppSecrets, AppKeys, push tokens and keys are masked ([`layout::mask`]); the
//! request log is masked already when it is written.
//!
//! - [`apps`]: apps, their form (through `POST /admin/apps`'s own logic);
//! - [`players`]: an app's accounts by openid prefix, keyset-paged;
//! - [`account`]: one account: balances in each dialect's names, orders, the journal and its
//!   chart;
//! - [`purchases`]: an app's purchases;
//! - [`requests`], [`faults`], [`clock`]: the emulator controls (absent in ledger mode);
//! - [`pushes`]: the outbox, with redelivery.

mod account;
mod apps;
pub(crate) mod auth;
mod clock;
mod faults;
mod layout;
mod players;
mod purchases;
mod pushes;
mod requests;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::error::ApiError;
use crate::AppState;

pub(crate) use auth::Ui;

/// The dashboard's routes: the emulator pages only in emulator mode (in ledger mode they
/// are unknown paths, as the controls are). Also `POST /admin/ui/login-links` (admin token):
/// a one-time login link.
pub fn routes(state: &AppState) -> Router<AppState> {
    let ui = Arc::new(Ui::new(&state.admin_token));
    let mut router = Router::new()
        .route("/ui", get(apps::home))
        .route("/ui/", get(|| async { Redirect::to("/ui") }))
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/assets/ui.css", get(css))
        .route("/ui/assets/ui.js", get(js))
        .route("/ui/search", get(apps::search))
        .route("/ui/apps", get(apps::list).post(apps::save))
        .route("/ui/apps/new", get(apps::new))
        .route("/ui/apps/{appid}", get(apps::edit))
        .route("/ui/apps/{appid}/players", get(players::page))
        .route("/ui/apps/{appid}/purchases", get(purchases::page))
        .route("/ui/account", get(account::page))
        .route("/ui/pushes", get(pushes::page))
        .route("/ui/pushes/{id}/redeliver", post(pushes::redeliver))
        .route("/admin/ui/login-links", post(auth::mint_link));
    if state.emulator.is_some() {
        router = router
            .route("/ui/requests", get(requests::list))
            .route("/ui/requests/rows", get(requests::rows))
            .route("/ui/requests/{id}", get(requests::one))
            .route("/ui/faults", get(faults::page).post(faults::add))
            .route("/ui/faults/{id}/delete", post(faults::remove))
            .route("/ui/clock", get(clock::page).post(clock::change));
    }
    router.layer(Extension(ui))
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/ui.css"))
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("assets/ui.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// A failure while rendering a page: a page of its own saying what failed.
pub(crate) struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> UiError {
        UiError::new(StatusCode::NOT_FOUND, what)
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> UiError {
        let status = if e.status == StatusCode::OK {
            StatusCode::BAD_REQUEST
        } else {
            e.status
        };
        UiError::new(status, format!("{} (errcode {})", e.errmsg, e.code))
    }
}

impl From<openmidas_ledger::StoreError> for UiError {
    fn from(e: openmidas_ledger::StoreError) -> UiError {
        UiError::from(ApiError::from(e))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        layout::bare_page(self.status, "Error", &self.message)
    }
}

pub(crate) type UiResult<T = Response> = Result<T, UiError>;

/// Whether this server has the emulator controls.
pub(crate) fn emulator(state: &State<AppState>) -> bool {
    state.emulator.is_some()
}
