//! The OpenMidas HTTP server. Thin by design: a route parses the request, calls the
//! protocol crate to validate and verify it, calls the [`Store`], and renders the answer.
//! Only this crate knows HTTP.
//!
//! - [`routes`]: one module per route (mini-redis style: one file per command).
//! - [`error::ApiError`]: every failure answer, built from the errcode table.
//! - [`listener`]: the TCP listener with a bound on open connections.
//! - [`serve`]: runs the router until a shutdown signal, then drains and closes the store.

pub mod error;
pub mod listener;
pub mod routes;
pub mod secrets;
mod state;

pub use state::{AdminToken, AppState};

use std::future::Future;

use openmidas_ledger::Store;

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish, and shuts the store down (its queued writes complete).
pub async fn serve(
    listener: listener::LimitedListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let router = routes::router(state);
    let result = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    store.shutdown().await;
    result
}

/// The store a server runs on, for callers that only have the trait object.
pub type DynStore = std::sync::Arc<dyn Store>;
