//! The OpenMidas HTTP server. Thin by design: a route parses the request, calls the
//! protocol crate to validate and verify it, calls the [`Store`], and renders the answer.
//! Only this crate knows HTTP.
//!
//! - [`routes`]: one module per route (mini-redis style: one file per command).
//! - [`error::ApiError`]: every failure answer, built from the errcode table.
//! - [`listener`]: the TCP listener with a bound on open connections.
//! - [`cache`]: a short-TTL cache of token and app lookups in front of the store.
//! - [`serve`]: runs the router until a shutdown signal, then drains and closes the store.

pub mod cache;
pub mod error;
pub mod listener;
pub mod routes;
pub mod secrets;
mod state;

pub use state::{AdminToken, AppState};

use std::future::{Future, IntoFuture};
use std::time::Duration;

use openmidas_ledger::Store;

/// How long [`serve`] waits for in-flight requests after the shutdown signal.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (for at most [`DEFAULT_DRAIN_TIMEOUT`]), and shuts the store
/// down (its queued writes complete).
pub async fn serve(
    listener: listener::LimitedListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_drain_timeout(listener, state, shutdown, DEFAULT_DRAIN_TIMEOUT).await
}

/// [`serve`] with a bound on the drain: a client that stalls mid-request (half its headers
/// or body sent) would otherwise hold the process up for ever. Past `drain_timeout` the
/// connections still open are abandoned; what their requests already handed to the store
/// still completes (as when a client disconnects), and nothing unanswered was promised.
pub async fn serve_with_drain_timeout(
    listener: listener::LimitedListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> std::io::Result<()> {
    let store = state.store.clone();
    // Token and app lookups go through a short-lived cache (see `cache`); money never does.
    let cached: std::sync::Arc<dyn Store> = std::sync::Arc::new(cache::CachingStore::new(store.clone(), cache::DEFAULT_TTL));
    let router = routes::router(AppState { store: cached, ..state });
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send(());
    };
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .into_future();
    let deadline = async move {
        match on_signal.await {
            Ok(()) => tokio::time::sleep(drain_timeout).await,
            // The server stopped without a signal (an accept error): it wins the race below.
            Err(_) => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?drain_timeout, "drain timeout: abandoning connections still open");
            Ok(())
        }
    };
    store.shutdown().await;
    result
}

/// The store a server runs on, for callers that only have the trait object.
pub type DynStore = std::sync::Arc<dyn Store>;
